//! The code's shape, checked: `src/auth/` stands below the client. It may use what every
//! connection shares (`net`), the error types and the scopes, but never the client, the
//! executor (`request`), batches, the limiter or paging; and inside it, `http` (the one place
//! token calls are sent) does not reach back into `provider`, which uses it. Across crates, the
//! emulator stands beside the SDK, not on it: both build on `classroom-spec`.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The lines of code (not comments or docs) in `file` that use one of `forbidden`.
fn uses(file: &Path, forbidden: &[&str]) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim_start().starts_with("//"))
        .filter(|(_, line)| forbidden.iter().any(|f| line.contains(f)))
        .map(|(n, line)| format!("{}:{}: {}", file.display(), n + 1, line.trim()))
        .collect()
}

#[test]
fn auth_never_imports_the_client_the_executor_or_batches() {
    let auth = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/auth");
    let forbidden = [
        "crate::client",
        "crate::request",
        "crate::batch",
        "crate::limit",
        "crate::paging",
        "crate::Classroom",
        "crate::RequestOptions",
    ];
    let found: Vec<String> = sources(&auth)
        .iter()
        .flat_map(|f| uses(f, &forbidden))
        .collect();
    assert!(
        found.is_empty(),
        "src/auth/ must not depend on the layers above it; move what it needs down to \
         src/net.rs:\n{}",
        found.join("\n")
    );
    assert!(sources(&auth).len() > 10, "the walk found the auth sources");
}

#[test]
fn token_calls_do_not_reach_back_into_providers() {
    let http = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/auth/http.rs");
    let found = uses(&http, &["super::provider", "crate::auth::provider"]);
    assert!(
        found.is_empty(),
        "auth/http.rs uses provider.rs:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_emulator_builds_on_the_spec_not_on_the_sdk() {
    let tree = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "classroom-emulator",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .arg("--offline")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&tree.stderr);
    assert!(tree.status.success(), "cargo tree failed: {stderr}");
    let tree = String::from_utf8(tree.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"classroom-spec"),
        "the tree lists the emulator's dependencies:\n{tree}"
    );
    let forbidden: Vec<&str> = crates
        .into_iter()
        .filter(|c| ["classroom", "reqwest", "rustls", "rusqlite"].contains(c))
        .collect();
    assert!(
        forbidden.is_empty(),
        "the emulator depends on {forbidden:?}; what it shares with the SDK belongs in \
         classroom-spec (spec/):\n{tree}"
    );
}
