//! Tests whose peer is a program we did not write (Google's Python and Node clients, node's
//! `oidc-provider`): what happens when the peer is not installed, and the standalone emulator
//! the client scripts talk to.
//!
//! On a developer's machine the test is skipped and says so where the person running
//! `cargo test` looks: the line goes straight to the process's stderr, which libtest does not
//! capture (it captures only `print!`/`eprint!`), so it shows among the test results and not
//! only under `--nocapture`. Under CI (`CI` set to anything but `false` or `0`, as CI services
//! set `CI=true`) a missing peer fails the test: CI installs the peers (`.ci/run`), and a
//! test that silently passes there protects nothing.

#![allow(dead_code)]

pub mod postgres;
pub mod redis;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A new directory under the system's temporary one, named for `name`, this process and the
/// time, so that runs and tests never share one.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "classroom-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Whether the tests run under CI, where every peer must be present.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Skips the calling test with a visible `SKIPPED` line, or fails it under CI.
/// `why` says what is missing, `install` how to get it.
pub fn skip_or_fail(why: &str, install: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    if under_ci() {
        panic!("CI must run {test}, but {why}; {install}");
    }
    // Not eprintln!: libtest would capture it and report the skipped test as a plain `ok`.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIPPED {test}: {why}; {install} (with CI=true this is a failure)"
    );
}

/// The Python to run Google's Python client with (`$PYTHON`, else `python3`); `None`, after
/// [`skip_or_fail`], when it cannot run or cannot import google-api-python-client.
pub fn python_with_google_client() -> Option<String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let install = "`python3 -m pip install google-api-python-client` (or .ci/run) installs it";
    let probe = Command::new(&python)
        .args(["-c", "import googleapiclient, google.oauth2.credentials"])
        .output();
    match probe {
        Err(e) => skip_or_fail(&format!("{python} cannot run: {e}"), install),
        Ok(out) if !out.status.success() => skip_or_fail(
            &format!(
                "google-api-python-client is not importable ({})",
                // The traceback's last line: `ModuleNotFoundError: No module named ...`.
                String::from_utf8_lossy(&out.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("")
            ),
            install,
        ),
        Ok(_) => return Some(python),
    }
    None
}

/// The emulator a third-party client's script talks to; stopped when dropped.
pub struct StandaloneEmulator {
    /// The line the standalone server prints first (`root=... token_url=... client_id=...
    /// client_secret=...`), without its newline: what the scripts take as `--line`.
    pub line: String,
    _process: Option<KillOnDrop>,
    _in_process: Option<classroom_emulator::Emulator>,
}

/// Kills the standalone emulator, by its own handle, however the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `emulator` example binary `cargo test` built next to the test's executable.
fn example_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.parent()?.join("examples");
    let path = dir.join(format!("emulator{}", std::env::consts::EXE_SUFFIX));
    path.exists().then_some(path)
}

/// Starts the `emulator` example as its own process, as another language's tests run it.
/// `cargo test` builds the example; `cargo test --test NAME` alone may not, and then the same
/// server runs in-process, printing the same line.
pub fn start_emulator() -> StandaloneEmulator {
    let emulator = match example_binary() {
        Some(binary) => {
            let mut child = Command::new(binary)
                .args(["--port", "0"])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("the emulator example starts");
            let stdout = child.stdout.take().unwrap();
            let process = KillOnDrop(child);
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).unwrap();
            StandaloneEmulator {
                line: line.trim_end().to_string(),
                _process: Some(process),
                _in_process: None,
            }
        }
        None => {
            eprintln!("examples/emulator is not built; running the emulator in-process");
            let e = classroom_emulator::Emulator::start().unwrap();
            StandaloneEmulator {
                line: e.standalone_line(),
                _process: None,
                _in_process: Some(e),
            }
        }
    };
    assert!(
        emulator.line.starts_with("root=http://127.0.0.1:"),
        "the emulator's line: {:?}",
        emulator.line
    );
    emulator
}
