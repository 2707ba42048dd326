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

use std::io::Write;

use classroom::emulator::Emulator;

fn main() {
    let mut port = 0u16;
    let mut empty = false;
    let mut args = std::env::args().skip(1);
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
    let _ = writeln!(
        out,
        "root={} token_url={} client_id={} client_secret={}",
        emulator.root_url(),
        emulator.token_url(),
        emulator.client_id(),
        emulator.client_secret()
    );
    let _ = out.flush();
    drop(out);
    eprintln!(
        "Classroom emulator with the demo school; authorize at {}. Stop with Ctrl-C.",
        emulator.auth_url()
    );
    loop {
        std::thread::park();
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("{problem}");
    }
    eprintln!("usage: emulator [--port PORT] [--empty]");
    std::process::exit(if problem.is_empty() { 0 } else { 2 });
}
