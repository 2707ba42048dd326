//! Google's Node client (`@googleapis/classroom` with `google-auth-library`, from npm) against
//! the standalone emulator: tests/node/third_party_client.mjs does the checks; this test
//! starts the `emulator` example, hands the script its line, and fails if the script does.
//!
//! Needs node and the packages tests/node/package-lock.json pins, installed in
//! tests/node/node_modules (`npm ci` there, which `.ci/run` does; the test itself never
//! downloads anything). Without them the test fails under CI and otherwise is skipped with a
//! `SKIPPED` line in `cargo test`'s output (see `peers/mod.rs`).

#[path = "peers/mod.rs"]
mod peers;

use std::path::PathBuf;
use std::process::Command;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

fn skip_or_fail(reason: &str) {
    peers::skip_or_fail(
        reason,
        "`(cd tests/node && npm ci)` (or .ci/run) installs @googleapis/classroom",
    );
}

#[test]
fn googleapis_node_client_against_the_standalone_emulator() {
    // Resolved from tests/node, as the script's imports are.
    let probe = Command::new("node")
        .current_dir(dir())
        .args([
            "-e",
            "require.resolve('@googleapis/classroom'); require.resolve('google-auth-library')",
        ])
        .output();
    match probe {
        Err(e) => return skip_or_fail(&format!("node cannot run: {e}")),
        Ok(out) if !out.status.success() => {
            return skip_or_fail(&format!(
                "@googleapis/classroom is not installed in tests/node/node_modules ({})",
                // Node's message: `Error: Cannot find module '...'`.
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .find(|l| l.contains("Cannot find module"))
                    .unwrap_or("node failed")
                    .trim()
            ));
        }
        Ok(_) => {}
    }
    let emulator = peers::start_emulator();

    let mut node = Command::new("node");
    node.current_dir(dir())
        .arg("third_party_client.mjs")
        .args(["--line", &emulator.line]);
    // gaxios sends through a proxy named in the environment; the emulator is on 127.0.0.1.
    for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        node.env_remove(proxy);
    }
    let output = node.output().expect("node runs");
    drop(emulator);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Node client's checks failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}
