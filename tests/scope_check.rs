//! The `scope-check` feature: what a client typed with a static scope set compiles, and the
//! compiler's words when it does not (checked in as `tests/ui/*.stderr`).
//!
//! The calls that must compile (`tests/scope_check/pass_*.rs`) are modules of this test binary,
//! so they compile against the crate cargo has already built; a regression there fails
//! `cargo test` at build time.
//!
//! The calls that must *not* compile (`tests/ui/fail_*.rs`) are each checked by `rustc`,
//! against the very `classroom` rlib and dependency graph cargo built for this test: cargo
//! names them (`cargo test --no-run --message-format=json` for this test, which is up to date
//! by the time it runs, so it builds nothing). trybuild would check the whole graph again in a
//! target directory of its own, under its own flags: about a minute on 2 cores, for three
//! files that take milliseconds. Its `.stderr` format is kept, so the files read the same.
//!
//! `BLESS=1 cargo test --test scope_check` rewrites the `.stderr` files from what rustc says.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;

#[path = "scope_check/pass_readonly_lists_courses.rs"]
mod pass_readonly_lists_courses;
#[path = "scope_check/pass_rosters_with_emails_lists_students.rs"]
mod pass_rosters_with_emails_lists_students;
#[path = "scope_check/pass_several_scopes_cover_each_method.rs"]
mod pass_several_scopes_cover_each_method;
#[path = "scope_check/pass_write_scope_lists_courses.rs"]
mod pass_write_scope_lists_courses;

#[test]
fn a_static_scope_set_compiles_the_calls_it_authorizes() {
    // Compiling is the check; running them checks that building the requests does not panic
    // and that a static set is what the consent screen asks for.
    pass_readonly_lists_courses::main();
    pass_rosters_with_emails_lists_students::main();
    pass_several_scopes_cover_each_method::main();
    pass_write_scope_lists_courses::main();
}

#[test]
fn a_static_scope_set_refuses_to_compile_the_calls_it_does_not_authorize() {
    let built = &*BUILT;
    let bless = std::env::var_os("BLESS").is_some();
    let mut wrong = Vec::new();
    let cases = files("tests/ui", "fail_");
    assert!(
        cases.len() >= 3,
        "the compile-fail cases are missing: {cases:?}"
    );
    for case in cases {
        let output = built.rustc(&case);
        if output.status.success() {
            wrong.push(format!("{}: compiled, but must not", case.display()));
            continue;
        }
        let actual = normalize(&String::from_utf8_lossy(&output.stderr), &built.out_dir);
        let expected_file = case.with_extension("stderr");
        if bless {
            std::fs::write(&expected_file, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_file).unwrap_or_default();
        if actual != expected {
            wrong.push(format!(
                "{}: the compiler's words differ from {}\n--- expected\n{expected}\n--- actual\n{actual}",
                case.display(),
                expected_file.display()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// The check above could pass by failing to compile anything at all (a wrong `--extern`, a
/// stale rlib): the same invocation must compile every call that is authorized.
#[test]
fn the_compile_fail_check_compiles_the_calls_that_are_authorized() {
    let built = &*BUILT;
    let cases = files("tests/scope_check", "pass_");
    assert!(cases.len() >= 4, "the pass cases are missing: {cases:?}");
    for case in cases {
        let output = built.rustc(&case);
        assert!(
            output.status.success(),
            "{} did not compile:\n{}",
            case.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Found once for the tests that need it (asking cargo takes it a moment and its lock).
static BUILT: LazyLock<Built> = LazyLock::new(Built::find);

/// What cargo built for this test binary: the `classroom` library, the directory holding its
/// dependencies, and its build script's output (where the generated code lives).
struct Built {
    rlib: PathBuf,
    deps: PathBuf,
    out_dir: PathBuf,
    scratch: PathBuf,
}

impl Built {
    fn find() -> Built {
        // Ask cargo for the same build as this binary's: same target directory and profile,
        // and the features it was built with (`cfg!(feature)` is the package's set).
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap();
        let target_dir = profile_dir.parent().unwrap();
        // `target/debug` is `cargo test`'s own profile; anything else was asked for.
        let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => Vec::new(),
            Some(other) => vec!["--profile", other],
        };
        let mut features = Vec::new();
        if cfg!(feature = "scope-check") {
            features.push("scope-check");
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let mut command = Command::new(cargo);
        // Without what cargo sets for this test process: build scripts that watch a variable
        // such as CARGO_MANIFEST_DIR (ring's does) would otherwise rerun, and rebuild the graph.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let per_crate = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ];
            if per_crate.iter().any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*name)
            {
                command.env_remove(&*name);
            }
        }
        let output = command
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["test", "--no-run", "--quiet", "--message-format=json"])
            .args(["--package", env!("CARGO_PKG_NAME"), "--test", "scope_check"])
            .args(profile)
            .args(["--features", &features.join(",")])
            .arg("--target-dir")
            .arg(target_dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "cargo could not name this test's build:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let (mut rlib, mut out_dir) = (None, None);
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let message: serde_json::Value = serde_json::from_str(line).unwrap();
            // This package, as a path dependency: `path+file:///…#classroom@0.1.0`.
            let package = concat!("#", env!("CARGO_PKG_NAME"), "@", env!("CARGO_PKG_VERSION"));
            let id = message["package_id"].as_str().unwrap_or_default();
            if !(id.starts_with("path+") && id.ends_with(package)) {
                continue;
            }
            match message["reason"].as_str() {
                Some("compiler-artifact") if message["target"]["kind"][0] == "lib" => {
                    rlib = message["filenames"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter_map(|file| file.as_str())
                        .find(|file| file.ends_with(".rlib"))
                        .map(PathBuf::from);
                }
                Some("build-script-executed") => {
                    out_dir = message["out_dir"].as_str().map(PathBuf::from);
                }
                _ => {}
            }
        }
        let rlib = rlib.expect("cargo named no rlib of the library");
        let scratch = target_dir.join("tests").join("scope_check");
        std::fs::create_dir_all(&scratch).unwrap();
        Built {
            deps: rlib.parent().unwrap().to_path_buf(),
            rlib,
            out_dir: out_dir.expect("cargo named no build-script output of the library"),
            scratch,
        }
    }

    /// Checks `case` as a binary crate against the built library (no code generated).
    fn rustc(&self, case: &Path) -> Output {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        Command::new(rustc)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["--edition=2024", "--crate-type=bin", "--emit=metadata"])
            .args(["--color=never", "--diagnostic-width=140", "-Adead_code"])
            .arg("--out-dir")
            .arg(&self.scratch)
            .arg("-L")
            .arg(format!("dependency={}", self.deps.display()))
            .arg("--extern")
            .arg(format!("classroom={}", self.rlib.display()))
            .arg(case)
            .output()
            .unwrap()
    }
}

/// `dir`'s `.rs` files whose names start with `prefix`, relative to the package, in order.
fn files(dir: &str, prefix: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(prefix) && name.ends_with(".rs"))
        .map(|name| Path::new(dir).join(name))
        .collect();
    files.sort();
    files
}

/// rustc's words, without what changes from one build or codegen change to the next: the
/// generated code's path and line numbers become `$OUT_DIR[classroom]/file.rs` with no line
/// numbers (so the gutter narrows to the case's own line numbers), and the closing summary
/// ("aborting due to ...", "For more information ...") goes.
fn normalize(stderr: &str, out_dir: &Path) -> String {
    let out_dir = format!("{}/", out_dir.display());
    // Pass 1: split each line into its gutter's line number (if any), its marker and the rest;
    // drop line numbers inside snippets of generated code.
    let mut lines: Vec<(Option<String>, Line)> = Vec::new();
    let mut in_generated = false;
    for line in stderr.lines() {
        if line.starts_with("error: aborting due to") {
            break;
        }
        let trimmed = line.trim_start();
        if let Some(location) = trimmed.strip_prefix("--> ") {
            in_generated = location.starts_with(&out_dir);
            let location = match location.strip_prefix(&out_dir) {
                Some(file) => {
                    let file = file.split(':').next().unwrap_or(file);
                    format!("$OUT_DIR[classroom]/{file}")
                }
                None => location.to_owned(),
            };
            lines.push((None, Line::Arrow(location)));
            continue;
        }
        let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
        let after_number = trimmed[digits..].trim_start();
        if let Some(rest) = after_number.strip_prefix('|') {
            let number = (digits > 0 && !in_generated).then(|| trimmed[..digits].to_owned());
            lines.push((number, Line::Bar(rest.to_owned())));
        } else if digits == 0 && trimmed.starts_with("= ") && line.starts_with(' ') {
            lines.push((None, Line::Equals(trimmed.to_owned())));
        } else {
            in_generated &= line == "...";
            lines.push((None, Line::Text(line.to_owned())));
        }
    }
    // Pass 2: re-indent the gutter to the widest line number left.
    let width = lines
        .iter()
        .filter_map(|(number, _)| number.as_ref())
        .map(String::len)
        .max();
    let width = width.unwrap_or(0);
    let mut normalized = String::new();
    for (number, line) in &lines {
        let number = number.as_deref().unwrap_or("");
        let text = match line {
            Line::Arrow(location) => format!("{:width$}--> {location}", ""),
            Line::Bar(rest) => format!("{number:>width$} |{rest}"),
            Line::Equals(rest) => format!("{:width$} {rest}", ""),
            Line::Text(text) => text.clone(),
        };
        normalized.push_str(text.trim_end());
        normalized.push('\n');
    }
    while normalized.ends_with("\n\n") {
        normalized.pop();
    }
    normalized
}

/// One line of a rustc diagnostic, by what its gutter holds.
enum Line {
    /// ` --> file:line:column`
    Arrow(String),
    /// `12 | code` or `   | ^^^ label`
    Bar(String),
    /// `   = note: ...`
    Equals(String),
    /// Anything else: the message lines, `...`.
    Text(String),
}
