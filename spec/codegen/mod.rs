//! The part of the generator that `classroom-spec` and the `classroom` SDK share: the discovery
//! model, Rust names, doc comments, the `Scope` enum, the method table, and how a generated file
//! is formatted and written. The SDK's own generator (types, request builders, scope checks)
//! builds on it.
//!
//! Used by this crate's `build.rs` (through `#[path]`) and, with the `codegen` feature, by the
//! SDK's `build.rs` and tests.

pub mod discovery;
pub mod docs;
pub mod names;
pub mod scopes;
pub mod table;

use std::path::Path;

use proc_macro2::TokenStream;

pub use discovery::Document;

/// One generated file: its path under `$OUT_DIR` and its formatted text.
pub struct File {
    pub path: String,
    pub text: String,
}

/// The files of `classroom-spec`: the `Scope` enum and the method table. `source` names the
/// document in the do-not-edit header.
pub fn generate(doc: &Document, source: &str) -> Result<Vec<File>, String> {
    Ok(vec![
        format_file("scopes.rs", scopes::scopes(doc), doc, source)?,
        format_file("methods.rs", table::table(doc), doc, source)?,
    ])
}

/// `code` as a Rust file with the do-not-edit header, formatted by prettyplease (a build
/// machine may lack rustfmt).
pub fn format_file(
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

/// Writes `files` under `out`, leaving unchanged files alone so that their timestamps do not
/// trigger needless rebuilds.
pub fn write(out: &Path, files: &[File]) -> Result<(), String> {
    for file in files {
        let path = out.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(file.text.as_str()) {
            std::fs::write(&path, &file.text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
    }
    Ok(())
}
