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
fn python_drives_the_accounts_file_admin_endpoint_and_quota_day() {
    let probe = Command::new(python())
        .args(["-c", "import googleapiclient, google.oauth2.credentials"])
        .output();
    match probe {
        Err(e) => return skip_or_fail(&format!("{} cannot run: {e}", python())),
        Ok(out) if !out.status.success() => {
            return skip_or_fail(&format!(
                "google-api-python-client is not importable ({})",
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("")
            ));
        }
        Ok(_) => {}
    }
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/python/admin_endpoint.py");
    let output = Command::new(python())
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
