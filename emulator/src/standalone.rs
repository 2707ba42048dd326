//! The emulator as a server for clients in any language: what the `classroom-emulator` binary
//! (and the SDK's `emulator` example) runs.
//!
//! The contract, which tests in other languages depend on and which is kept across versions:
//!
//! - `--port P` listens on 127.0.0.1 port `P`; `--port 0` (the default) on any free port.
//! - `--empty` starts with no data instead of the [demo school](crate::demo).
//! - The first line on stdout, printed once the server accepts connections, is
//!
//!   ```text
//!   root=http://127.0.0.1:PORT/ token_url=http://127.0.0.1:PORT/token client_id=ID client_secret=SECRET
//!   ```
//!
//!   four `key=value` fields separated by single spaces, in this order, values with no spaces
//!   ([`Emulator::standalone_line`]). Nothing else is written to stdout.
//! - Human-readable notes go to stderr. The server runs until the process is killed.
//! - `--help` prints the usage on stderr and exits 0; a bad argument exits 2 and a port that
//!   cannot be bound exits 1, each with a message on stderr.

use std::io::Write;

use crate::Emulator;

/// Runs the standalone server with the process's arguments, as the contract above says; never
/// returns.
pub fn main() -> ! {
    let mut args = std::env::args();
    let program = args
        .next()
        .as_deref()
        .and_then(|p| {
            std::path::Path::new(p)
                .file_stem()?
                .to_str()
                .map(String::from)
        })
        .unwrap_or_else(|| "classroom-emulator".to_string());
    let usage = |problem: &str| -> ! {
        if !problem.is_empty() {
            eprintln!("{problem}");
        }
        eprintln!("usage: {program} [--port PORT] [--empty]");
        eprintln!();
        eprintln!("A local Classroom API and Google OAuth server on 127.0.0.1, for tests.");
        eprintln!("  --port PORT  the port to listen on; 0 (the default) for any free port");
        eprintln!("  --empty      no demo school: start with no users, courses or data");
        eprintln!();
        eprintln!("The first line on stdout is");
        eprintln!("  root=URL token_url=URL client_id=ID client_secret=SECRET");
        eprintln!("then it serves until killed.");
        std::process::exit(if problem.is_empty() { 0 } else { 2 });
    };
    let mut port = 0u16;
    let mut empty = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage("--port needs a number"));
            }
            "--empty" => empty = true,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let mut builder = Emulator::builder().port(port);
    if empty {
        builder = builder.empty();
    }
    let emulator = builder.start().unwrap_or_else(|e| {
        eprintln!("cannot start the emulator on 127.0.0.1:{port}: {e}");
        std::process::exit(1);
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", emulator.standalone_line());
    let _ = out.flush();
    drop(out);
    eprintln!(
        "Classroom emulator{}; authorize at {}. Stop with Ctrl-C.",
        if empty {
            ", empty"
        } else {
            " with the demo school"
        },
        emulator.auth_url()
    );
    loop {
        std::thread::park();
    }
}
