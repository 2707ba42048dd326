//! Generates the `Scope` enum and the method table into `$OUT_DIR` from the discovery document,
//! and copies the document there for `DISCOVERY_DOCUMENT`.
//!
//! `CLASSROOM_DISCOVERY` may name another discovery document (used by CI to check that a newer
//! document regenerates with no code change). The SDK's build script reads the document from
//! this crate, so the variable reaches it too.

use std::path::{Path, PathBuf};
use std::{env, fs};

#[allow(dead_code)]
#[path = "codegen/mod.rs"]
mod codegen;

fn main() {
    let source = env::var("CLASSROOM_DISCOVERY")
        .unwrap_or_else(|_| "discovery/classroom.v1.json".to_string());
    println!("cargo:rerun-if-env-changed=CLASSROOM_DISCOVERY");
    println!("cargo:rerun-if-changed={source}");
    println!("cargo:rerun-if-changed=codegen");
    let json = fs::read_to_string(&source).unwrap_or_else(|e| panic!("cannot read {source}: {e}"));
    let doc = codegen::Document::parse(&json).unwrap_or_else(|e| panic!("{source}: {e}"));
    let name = Path::new(&source).file_name().map_or(source.clone(), |n| {
        format!("discovery/{}", n.to_string_lossy())
    });
    let mut files = codegen::generate(&doc, &name).unwrap_or_else(|e| panic!("{e}"));
    // The document itself, for `DISCOVERY_DOCUMENT`.
    files.push(codegen::File {
        path: "discovery.json".to_string(),
        text: json,
    });
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    codegen::write(&out, &files).unwrap_or_else(|e| panic!("{e}"));
}
