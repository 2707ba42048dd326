//! Generates the Classroom API surface into `$OUT_DIR` from the discovery document that
//! `classroom-spec` embeds, so that the SDK and the spec (its scopes and method table) always
//! come from one document.
//!
//! `CLASSROOM_DISCOVERY` (another discovery document, used by CI to check that a newer one
//! regenerates with no code change) is read by `classroom-spec`'s build script: when it
//! changes, that build dependency is rebuilt, and with it this script is rebuilt and rerun.

use std::env;
use std::path::PathBuf;

#[allow(dead_code)]
#[path = "codegen/mod.rs"]
mod codegen;

fn main() {
    println!("cargo:rerun-if-changed=codegen");
    let doc = codegen::Document::parse(classroom_spec::DISCOVERY_DOCUMENT)
        .unwrap_or_else(|e| panic!("classroom_spec::DISCOVERY_DOCUMENT: {e}"));
    let files = codegen::generate(&doc, "classroom_spec::DISCOVERY_DOCUMENT")
        .unwrap_or_else(|e| panic!("{e}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    classroom_spec::codegen::write(&out, &files).unwrap_or_else(|e| panic!("{e}"));
}
