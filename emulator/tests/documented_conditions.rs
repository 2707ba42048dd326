mod conditions;

use conditions::table;

fn document() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../discovery/classroom.v1.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("the discovery document is JSON")
}

#[test]
fn dump() {
    for c in table::table(&document()) {
        println!("{:<60} {}", c.method, c.key());
    }
}
