//! Runs the Classroom emulator on its own, with the demo school, for tools in any language.
//!
//! ```text
//! cargo run --example emulator -- --port 8080
//! ```
//!
//! prints one line that scripts can read, then serves until killed:
//!
//! ```text
//! root=http://127.0.0.1:8080/ token_url=http://127.0.0.1:8080/token client_id=... client_secret=...
//! ```
//!
//! This is the `classroom-emulator` crate's binary (`cargo install classroom-emulator`), kept as
//! an example so that the SDK's repository runs it with no install; the contract is documented
//! in `classroom_emulator::standalone`.

fn main() {
    classroom_emulator::standalone::main()
}
