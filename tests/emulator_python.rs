//! Google's Python client (google-api-python-client, from PyPI) against the standalone
//! emulator: tests/python/third_party_client.py does the checks; this test starts the
//! `emulator` example, hands the script its line, and fails if the script does.
//!
//! Without python3 or the package the test fails under CI (`.ci/run` installs it from PyPI) and
//! otherwise is skipped with a `SKIPPED` line in `cargo test`'s output (see `peers/mod.rs`).

#[path = "peers/mod.rs"]
mod peers;

use std::path::PathBuf;
use std::process::Command;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string())
}

fn skip_or_fail(reason: &str) {
    peers::skip_or_fail(
        reason,
        "`python3 -m pip install google-api-python-client` (or .ci/run) installs it",
    );
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
    let emulator = peers::start_emulator();

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/third_party_client.py");
    let output = Command::new(python())
        .arg(script)
        .args(["--line", &emulator.line])
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
