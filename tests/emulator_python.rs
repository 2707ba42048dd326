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

#[test]
fn google_api_python_client_against_the_standalone_emulator() {
    let Some(python) = peers::python_with_google_client() else {
        return;
    };
    let emulator = peers::start_emulator();

    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/third_party_client.py");
    let output = Command::new(&python)
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
