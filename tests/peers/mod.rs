//! Tests whose peer is a program we did not write (Google's Python client, node's
//! `oidc-provider`): what happens when the peer is not installed.
//!
//! On a developer's machine the test is skipped and says so where the person running
//! `cargo test` looks: the line goes straight to the process's stderr, which libtest does not
//! capture (it captures only `print!`/`eprint!`), so it shows among the test results and not
//! only under `--nocapture`. Under CI (`CI` set to anything but `false` or `0`, as CI services
//! set `CI=true`) a missing peer fails the test: CI installs the peers (`.ci/run`), and a
//! test that silently passes there protects nothing.

#![allow(dead_code)]

use std::io::Write;

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
