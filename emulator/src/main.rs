//! `classroom-emulator [--port PORT] [--empty] [--accounts FILE]... [--daily-invitations N]`:
//! the emulator as a server for clients in any
//! language. Its first line on stdout is `root=… token_url=… client_id=… client_secret=…`; see
//! [`classroom_emulator::standalone`] for the whole contract.

fn main() {
    classroom_emulator::standalone::main()
}
