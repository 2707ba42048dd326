//! Generates the Classroom API surface from the discovery document into `$OUT_DIR`.
//!
//! `CLASSROOM_DISCOVERY` may name another discovery document (used by CI to check that a newer
//! document regenerates with no code change).

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
    let files = codegen::generate(&doc, &name).unwrap_or_else(|e| panic!("{e}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::create_dir_all(out.join("resources")).expect("OUT_DIR is writable");
    // The document itself, for `resources::DISCOVERY_DOCUMENT`.
    let copy = out.join("discovery.json");
    if fs::read_to_string(&copy).ok().as_deref() != Some(json.as_str()) {
        fs::write(&copy, &json).unwrap_or_else(|e| panic!("cannot write {}: {e}", copy.display()));
    }
    for file in files {
        let path = out.join(&file.path);
        // Leave unchanged files alone so their timestamps do not trigger needless rebuilds.
        if fs::read_to_string(&path).ok().as_deref() != Some(file.text.as_str()) {
            fs::write(&path, file.text)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        }
    }
}
