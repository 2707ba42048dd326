//! Google's Python client (google-api-python-client, from PyPI) against the standalone
//! emulator: tests/python/third_party_client.py does the checks; this test starts the
//! `emulator` example, hands the script its line, and fails if the script does.
//!
//! Without python3 or the package the test fails under CI (`.ci/run` installs it from PyPI) and
//! otherwise is skipped with a `SKIPPED` line in `cargo test`'s output (see `peers/mod.rs`).

#[path = "peers/mod.rs"]
mod peers;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Kills the standalone emulator, by its own handle, however the test ends.
struct Standalone(Child);

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn skip_or_fail(reason: &str) {
    peers::skip_or_fail(
        reason,
        "`python3 -m pip install google-api-python-client` (or .ci/run) installs it",
    );
}

/// The `emulator` example binary `cargo test` built next to this test's executable.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?.join("examples");
    let path = dir.join(format!("emulator{}", std::env::consts::EXE_SUFFIX));
    path.exists().then_some(path)
}

#[test]
fn google_api_python_client_against_the_standalone_emulator() {
    let probe = Command::new(python())
        .args(["-c", "import googleapiclient, google.oauth2.credentials"])
        .output();
    match probe {
        Err(e) => return skip_or_fail(&format!("{} cannot run: {e}", python())),
        Ok(out) if !out.status.success() => {
            return skip_or_fail(&format!(
                "google-api-python-client is not importable ({})",
                // The traceback's last line: `ModuleNotFoundError: No module named ...`.
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
        Ok(_) => {}
    }
    // `cargo test` builds the example; `cargo test --test emulator_python` alone may not, and
    // then the same server runs in-process, printing the same line.
    let (line, emulator) = match example_binary() {
        Some(binary) => {
            let mut child = Command::new(binary)
                .args(["--port", "0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("the emulator example starts");
            let stdout = child.stdout.take().unwrap();
            let standalone = Standalone(child);
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).unwrap();
            (line, (Some(standalone), None))
        }
        None => {
            eprintln!("examples/emulator is not built; running the emulator in-process");
            let e = classroom_emulator::Emulator::start().unwrap();
            let line = e.standalone_line();
            (line, (None, Some(e)))
        }
    };
    assert!(
        line.starts_with("root=http://127.0.0.1:"),
        "the emulator's line: {line:?}"
    );

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/third_party_client.py");
    let output = Command::new(python())
        .arg(script)
        .args(["--line", line.trim()])
        .output()
        .expect("python runs");
    drop(emulator);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python client's checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
