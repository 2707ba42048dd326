//! Partial responses: the `fields` parameter (`courses(id,name),nextPageToken`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// How deep a selection may nest, counting both `a/b` and `a(b)` as one level each.
///
/// Classroom's deepest response field is about seven levels down
/// (`studentSubmissions/submissionHistory/gradeHistory/...`); 32 leaves room and keeps the
/// parser's recursion, [`Selection::apply`] and the selection's drop far from the end of the
/// stack whatever a client sends: a selection nested thousands of levels deep once aborted the
/// whole emulator with a stack overflow.
pub(crate) const MAX_DEPTH: usize = 32;

/// A field selection: each named field, with a sub-selection or everything (`None`).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Selection(BTreeMap<String, Option<Selection>>);

impl Selection {
    /// Parses Google's syntax: comma-separated paths (`a/b`), each optionally followed by a
    /// parenthesized sub-selection. At most [`MAX_DEPTH`] levels deep.
    pub(crate) fn parse(text: &str) -> Result<Selection, String> {
        let mut chars = text.chars().filter(|c| !c.is_whitespace()).peekable();
        let selection = parse_list(&mut chars, 0)?;
        match chars.next() {
            None => Ok(selection),
            Some(c) => Err(format!(
                "Invalid field selection {}: unexpected '{c}'",
                excerpt(text)
            )),
        }
    }

    /// The parts of `value` the selection names; arrays are filtered element by element.
    pub(crate) fn apply(&self, value: &Value) -> Value {
        match value {
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(map) => {
                let mut out = Map::new();
                for (name, sub) in &self.0 {
                    if let Some(v) = map.get(name) {
                        let v = match sub {
                            Some(sub) => sub.apply(v),
                            None => v.clone(),
                        };
                        out.insert(name.clone(), v);
                    }
                }
                Value::Object(out)
            }
            other => other.clone(),
        }
    }

    fn merge(&mut self, path: Vec<String>, leaf: Option<Selection>) {
        let mut node = self;
        let last = path.len() - 1;
        for (i, name) in path.into_iter().enumerate() {
            if i == last {
                node.0.insert(name, leaf);
                return;
            }
            let entry = node
                .0
                .entry(name)
                .or_insert_with(|| Some(Selection::default()));
            match entry {
                Some(sub) => node = sub,
                // Already selected whole: a narrower path adds nothing.
                None => return,
            }
        }
    }
}

/// At most this many characters of a selection are quoted back in an error.
fn excerpt(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// A comma-separated list whose fields sit `depth` levels below the top. Recursion happens
/// only after at least one more level, so it is at most [`MAX_DEPTH`] deep.
fn parse_list(
    chars: &mut std::iter::Peekable<impl Iterator<Item = char>>,
    depth: usize,
) -> Result<Selection, String> {
    let too_deep = || format!("Invalid field selection: nested more than {MAX_DEPTH} levels deep.");
    let mut selection = Selection::default();
    loop {
        let mut path = Vec::new();
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '.' {
                name.push(c);
                chars.next();
            } else if c == '/' {
                path.push(std::mem::take(&mut name));
                if depth + path.len() >= MAX_DEPTH {
                    return Err(too_deep());
                }
                chars.next();
            } else {
                break;
            }
        }
        path.push(name);
        if path.iter().any(String::is_empty) {
            return Err("Invalid field selection: empty field name".into());
        }
        let leaf = if chars.peek() == Some(&'(') {
            chars.next();
            let below = depth + path.len();
            if below >= MAX_DEPTH {
                return Err(too_deep());
            }
            let sub = parse_list(chars, below)?;
            if chars.next() != Some(')') {
                return Err("Invalid field selection: unbalanced parentheses".into());
            }
            Some(sub)
        } else {
            None
        };
        selection.merge(path, leaf);
        if chars.peek() == Some(&',') {
            chars.next();
        } else {
            return Ok(selection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_nested_fields_through_arrays() {
        let value = json!({
            "courses": [{"id": "1", "name": "A", "room": "x"}, {"id": "2", "room": "y"}],
            "nextPageToken": "t",
        });
        let selection = Selection::parse("courses(id,name), nextPageToken").unwrap();
        assert_eq!(
            selection.apply(&value),
            json!({"courses": [{"id": "1", "name": "A"}, {"id": "2"}], "nextPageToken": "t"})
        );
        let slashed = Selection::parse("courses/id").unwrap();
        assert_eq!(
            slashed.apply(&value),
            json!({"courses": [{"id": "1"}, {"id": "2"}]})
        );
    }

    #[test]
    fn refuses_selections_nested_too_deep_without_recursing_on_them() {
        // Deep enough to overflow a worker thread's stack if parsed recursively.
        let deep = 100_000;
        let parens = format!("{}a{}", "a(".repeat(deep), ")".repeat(deep));
        let slashes = vec!["a"; deep].join("/");
        let mixed = format!("{}a{}", "a/a(".repeat(deep), ")".repeat(deep));
        for text in [&parens, &slashes, &mixed] {
            let err = Selection::parse(text).unwrap_err();
            assert!(err.contains("nested more than 32 levels"), "{err}");
        }
        let ok = |n: usize| format!("{}a{}", "a(".repeat(n - 1), ")".repeat(n - 1));
        assert!(
            Selection::parse(&ok(MAX_DEPTH)).is_ok(),
            "32 levels are fine"
        );
        assert!(Selection::parse(&ok(MAX_DEPTH + 1)).is_err());
        assert!(Selection::parse(&vec!["a"; MAX_DEPTH].join("/")).is_ok());
        assert!(Selection::parse(&vec!["a"; MAX_DEPTH + 1].join("/")).is_err());
        let unexpected = Selection::parse(&format!("a){}", "b".repeat(10_000))).unwrap_err();
        assert!(
            unexpected.len() < 200,
            "errors quote an excerpt: {unexpected}"
        );
    }

    #[test]
    fn rejects_malformed_selections() {
        for bad in ["courses(id", "a,,b", "a)", "(a)", "a//b"] {
            assert!(Selection::parse(bad).is_err(), "{bad}");
        }
    }
}
