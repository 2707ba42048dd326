//! Partial responses: the `fields` parameter (`courses(id,name),nextPageToken`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A field selection: each named field, with a sub-selection or everything (`None`).
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Selection(BTreeMap<String, Option<Selection>>);

impl Selection {
    /// Parses Google's syntax: comma-separated paths (`a/b`), each optionally followed by a
    /// parenthesized sub-selection.
    pub(crate) fn parse(text: &str) -> Result<Selection, String> {
        let mut chars = text.chars().filter(|c| !c.is_whitespace()).peekable();
        let selection = parse_list(&mut chars)?;
        match chars.next() {
            None => Ok(selection),
            Some(c) => Err(format!("Invalid field selection {text}: unexpected '{c}'")),
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

fn parse_list(
    chars: &mut std::iter::Peekable<impl Iterator<Item = char>>,
) -> Result<Selection, String> {
    let mut selection = Selection::default();
    loop {
        let mut path = vec![String::new()];
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' || c == '@' || c == '.' {
                path.last_mut().unwrap().push(c);
                chars.next();
            } else if c == '/' {
                path.push(String::new());
                chars.next();
            } else {
                break;
            }
        }
        if path.iter().any(String::is_empty) {
            return Err("Invalid field selection: empty field name".into());
        }
        let leaf = if chars.peek() == Some(&'(') {
            chars.next();
            let sub = parse_list(chars)?;
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
    fn rejects_malformed_selections() {
        for bad in ["courses(id", "a,,b", "a)", "(a)", "a//b"] {
            assert!(Selection::parse(bad).is_err(), "{bad}");
        }
    }
}
