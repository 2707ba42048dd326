//! The standalone binary's accounts file, admin endpoint and daily invitation quota from
//! Python: `tests/python/admin_endpoint.py` (in the SDK's repository) starts this package's
//! `classroom-emulator` binary itself, with a generated `--accounts` file, and drives it with
//! `urllib` and google-api-python-client; this test hands it the binary and fails if it does.
//!
//! Without python3 or the package the test fails under CI and otherwise is skipped with a
//! `SKIPPED` line in `cargo test`'s output, as the SDK's other peer tests (`tests/peers`).

#[path = "../../tests/peers/mod.rs"]
mod peers;

use std::path::PathBuf;
use std::process::Command;

#[test]
fn python_drives_the_accounts_file_admin_endpoint_and_quota_day() {
    let Some(python) = peers::python_with_google_client() else {
        return;
    };
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/python/admin_endpoint.py");
    let output = Command::new(&python)
        .arg(&script)
        .args(["--binary", env!("CARGO_BIN_EXE_classroom-emulator")])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python checks failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("admin endpoint: all checks passed"),
        "{stdout}"
    );
}
