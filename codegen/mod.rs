//! The SDK's generator: a plain function from a parsed discovery document to formatted Rust
//! files. It builds on the part `classroom-spec` shares (its `codegen` feature): the discovery
//! model, names, doc comments, scopes and the method table, which keep their paths here.
//!
//! Used by `build.rs` at build time and by the tests, which call [`generate`] directly.

pub mod cases;
pub mod methods;
pub mod scope_check;
pub mod scope_table;
pub mod types;

pub use classroom_spec::codegen::{
    Document, File, discovery, docs, format_file, names, scopes, table,
};

/// Generates every file for `doc`. `source` names the document in the do-not-edit header.
pub fn generate(doc: &Document, source: &str) -> Result<Vec<File>, String> {
    let types = types::Types::new(doc);
    let (resources, resource_files) = methods::resources(doc, &types);
    let mut out = vec![
        format_file("models.rs", types.models(), doc, source)?,
        format_file("scope_check.rs", scope_check::scope_check(doc), doc, source)?,
        format_file("resources.rs", resources, doc, source)?,
    ];
    for (path, code) in resource_files {
        out.push(format_file(&path, code, doc, source)?);
    }
    // Markdown, not Rust: the method and scope tables of the `resources` module's docs.
    out.push(File {
        path: "scope_table.md".to_string(),
        text: scope_table::scope_table(doc),
    });
    out.push(format_file(
        "test_cases.rs",
        cases::cases(doc),
        doc,
        source,
    )?);
    Ok(out)
}
