//! The `scope-check` feature: what a client typed with a static scope set compiles, and the
//! compiler's words when it does not (checked in as `tests/ui/*.stderr`).

#[test]
fn a_static_scope_set_decides_what_compiles() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass_*.rs");
    cases.compile_fail("tests/ui/fail_*.rs");
}
