//! A newer discovery document regenerates with no code change: the generator is a plain
//! function over the document, called here directly.

#[allow(dead_code)]
#[path = "../codegen/mod.rs"]
mod codegen;

use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(classroom::resources::DISCOVERY_DOCUMENT).unwrap()
}

/// The shipped document with `tests/fixtures/discovery_extension.json` merged in: one more
/// schema (`Widget`) and one more method (`courses.widgets.get`). `.ci/regenerate` merges the
/// same file and compiles the crate from the result.
fn extended() -> Value {
    fn merge(into: &mut Value, from: &Value) {
        match (into, from) {
            (Value::Object(into), Value::Object(from)) => {
                for (k, v) in from {
                    merge(into.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
            (into, from) => *into = from.clone(),
        }
    }
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/discovery_extension.json"
    ))
    .unwrap();
    let mut doc = document();
    merge(&mut doc, &serde_json::from_str(&text).unwrap());
    doc
}

/// Every file generated from `doc`: classroom-spec's (scopes, method table) and the SDK's.
fn generate(doc: &Value) -> Vec<codegen::File> {
    let parsed = codegen::Document::parse(&doc.to_string()).unwrap();
    let mut files = classroom_spec::codegen::generate(&parsed, "test").unwrap();
    files.extend(codegen::generate(&parsed, "test").unwrap());
    files
}

fn file<'a>(files: &'a [codegen::File], path: &str) -> &'a str {
    &files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} was generated"))
        .text
}

#[test]
fn an_added_schema_and_method_are_generated() {
    let files = generate(&extended());
    let models = file(&files, "models.rs");
    assert!(
        models.contains("pub struct Widget {"),
        "the new schema is a struct"
    );
    assert!(
        models.contains("pub enum WidgetHue {"),
        "its enum is an enum, named after its owner (one word says too little)"
    );
    assert!(
        models.contains("pub parts: ::std::vec::Vec<crate::models::Widget>"),
        "self-reference through a list"
    );
    assert!(
        models.contains("serialize_with = \"crate::wire::int_string::serialize\"")
            && models.contains("crate::wire::IntString"),
        "int64 travels as a string, both ways"
    );

    let widgets = file(&files, "resources/courses.widgets.rs");
    assert!(
        widgets.contains("pub struct Get {"),
        "the new method has a builder"
    );
    assert!(widgets.contains("id: \"classroom.courses.widgets.get\""));
    assert!(widgets.contains("pub fn verbose(mut self, value: bool) -> Self"));
    let courses = file(&files, "resources/courses.rs");
    assert!(
        courses.contains("pub fn widgets(&self) -> widgets::WidgetsResource"),
        "reached from courses()"
    );
    assert!(
        file(&files, "methods.rs").contains("&crate::MethodInfo; 106]"),
        "the method table grows"
    );
}

#[test]
fn generation_is_deterministic_and_every_file_parses() {
    let first = generate(&document());
    let second = generate(&document());
    assert_eq!(first.len(), second.len());
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a.path, b.path);
        assert!(a.text == b.text, "{} differs between runs", a.path);
        if a.path.ends_with(".rs") {
            syn::parse_file(&a.text).unwrap_or_else(|e| panic!("{} does not parse: {e}", a.path));
        }
    }
    // One module per resource node, plus models, scopes, the method table, scope sets, the
    // root, the test glue and the scope table (Markdown) of the resources docs.
    assert_eq!(first.len(), 24 + 6 + 1);
}

#[test]
fn an_added_method_gets_a_row_in_the_scope_table() {
    let files = generate(&extended());
    assert!(
        file(&files, "scope_table.md")
            .contains("| [`classroom.courses.widgets.get`](courses::widgets::Get) |"),
        "the method table in the resources docs lists the new method and links its builder"
    );
}
