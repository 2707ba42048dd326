//! The generator: a plain function from a parsed discovery document to formatted Rust files.
//!
//! Used by `build.rs` at build time and by the tests, which call [`generate`] directly.

pub mod cases;
pub mod discovery;
pub mod docs;
pub mod methods;
pub mod names;
pub mod scope_check;
pub mod scope_table;
pub mod scopes;
pub mod types;

use proc_macro2::TokenStream;

pub use discovery::Document;

/// One generated file: its path under `$OUT_DIR` and its formatted text.
pub struct File {
    pub path: String,
    pub text: String,
}

/// Generates every file for `doc`. `source` names the document in the do-not-edit header.
pub fn generate(doc: &Document, source: &str) -> Result<Vec<File>, String> {
    let types = types::Types::new(doc);
    let (resources, resource_files) = methods::resources(doc, &types);
    let mut out = vec![
        format_file("models.rs", types.models(), doc, source)?,
        format_file("scopes.rs", scopes::scopes(doc), doc, source)?,
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

fn format_file(
    path: &str,
    code: TokenStream,
    doc: &Document,
    source: &str,
) -> Result<File, String> {
    let file: syn::File =
        syn::parse2(code).map_err(|e| format!("generated {path} is not valid Rust: {e}"))?;
    let header = format!(
        "// Generated from {source} ({} {}, revision {}) by codegen/. Do not edit.\n\n",
        doc.name, doc.version, doc.revision
    );
    Ok(File {
        path: path.to_string(),
        text: header + &prettyplease::unparse(&file),
    })
}
