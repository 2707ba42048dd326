//! The `scope-check` feature: what a client typed with a static scope set compiles, and the
//! compiler's words when it does not (checked in as `tests/ui/*.stderr`).
//!
//! The calls that must compile (`tests/scope_check/pass_*.rs`) are modules of this test binary,
//! so they compile against the crate cargo has already built, at no extra cost; a regression
//! there fails `cargo test` at build time. Only the calls that must *not* compile go through
//! trybuild. trybuild builds its own project in `target/tests/trybuild` (its own target
//! directory, with its own `--cfg trybuild` flags, so nothing of `target/debug` can be reused);
//! with no pass cases it runs `cargo check` there instead of `cargo build`, which builds
//! no machine code for the dependency graph and links nothing. The first run pays for the
//! metadata of the graph; later runs only recheck the cases.

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
    // The first run checks the whole dependency graph again in trybuild's own directory; say
    // so where the person running `cargo test` sees it (libtest does not capture this write).
    let trybuild_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("tests/trybuild")));
    if trybuild_dir.is_some_and(|dir| !dir.exists()) {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr().lock(),
            "scope_check: first run: trybuild checks the crate and its dependencies in \
             target/tests/trybuild (about a minute on 2 cores); later runs take seconds"
        );
    }
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail_*.rs");
}
