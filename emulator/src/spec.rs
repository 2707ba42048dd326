//! What the emulator knows about the API, read from the same discovery document the SDK is
//! generated from: routes (path templates matched against requests), query parameters, request
//! schemas for validation, list field names, and the fields each patch may touch.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use classroom_spec::{DISCOVERY_DOCUMENT as DISCOVERY, METHODS, MethodInfo};

/// Decoded path parameters, by name, in template order.
pub(crate) type PathParams = Vec<(String, String)>;

/// One segment of a path template.
#[derive(Debug)]
enum Segment {
    Literal(String),
    Param(String),
}

/// A method of the API as the emulator routes and checks it.
#[derive(Debug)]
pub(crate) struct Route {
    pub(crate) info: &'static MethodInfo,
    segments: Vec<Segment>,
    /// A custom verb after the last segment (`turnIn` in `{id}:turnIn`).
    verb: Option<String>,
    /// The method-specific query parameters and whether each repeats.
    pub(crate) query: HashMap<String, bool>,
    /// The request body's schema.
    pub(crate) request: Option<String>,
    /// The response's schema.
    pub(crate) response: Option<String>,
    /// For patch methods: the fields `updateMask` may name (camelCase).
    pub(crate) patchable: Vec<String>,
}

impl Route {
    /// The method id without the `classroom.` prefix, e.g. `courses.courseWork.list`.
    pub(crate) fn name(&self) -> &'static str {
        self.info
            .id
            .strip_prefix("classroom.")
            .unwrap_or(self.info.id)
    }

    /// The last part of the method id, e.g. `list`, `turnIn`.
    pub(crate) fn action(&self) -> &'static str {
        self.info.id.rsplit('.').next().unwrap_or("")
    }

    /// The path parameter names, in order.
    pub(crate) fn param_names(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(p) => Some(p.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The literal segments and parameter names, in order (`None` for a literal's name).
    pub(crate) fn template(&self) -> impl Iterator<Item = (bool, &str)> {
        self.segments.iter().map(|s| match s {
            Segment::Literal(l) => (false, l.as_str()),
            Segment::Param(p) => (true, p.as_str()),
        })
    }

    /// Matches raw (still percent-encoded) path segments after the leading `/`; returns the
    /// decoded path parameters.
    fn matches(&self, raw: &[&str]) -> Option<PathParams> {
        if raw.len() != self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        let last = self.segments.len() - 1;
        for (i, (segment, raw)) in self.segments.iter().zip(raw).enumerate() {
            let mut raw = *raw;
            if i == last
                && let Some(verb) = &self.verb
            {
                raw = raw.strip_suffix(verb.as_str())?.strip_suffix(':')?;
            }
            match segment {
                Segment::Literal(l) if l == raw => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    let value = percent_encoding::percent_decode_str(raw)
                        .decode_utf8()
                        .ok()?
                        .into_owned();
                    if value.is_empty() {
                        return None;
                    }
                    params.push((name.clone(), value));
                }
            }
        }
        Some(params)
    }
}

/// The API as the emulator sees it.
#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) routes: Vec<Route>,
    pub(crate) schemas: Map<String, Value>,
    /// Query parameters every method accepts (`alt`, `fields`, `prettyPrint`, ...).
    pub(crate) global_params: Vec<String>,
}

/// The parsed discovery document, read once per process.
pub(crate) fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| Spec::parse(DISCOVERY))
}

impl Spec {
    fn parse(text: &str) -> Spec {
        let doc: Value = serde_json::from_str(text).expect("the bundled discovery document parses");
        let mut methods = HashMap::new();
        collect_methods(&doc["resources"], &mut methods);
        let schemas = doc["schemas"].as_object().cloned().unwrap_or_default();
        let mut routes: Vec<Route> = METHODS
            .iter()
            .map(|info| {
                let m = methods.get(info.id).cloned().unwrap_or(Value::Null);
                route(info, &m, &schemas)
            })
            .collect();
        // Templates with a custom verb first, then the longest: the most specific wins.
        routes.sort_by_key(|r| (r.verb.is_none(), std::cmp::Reverse(r.segments.len())));
        let global_params = doc["parameters"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        Spec {
            routes,
            schemas,
            global_params,
        }
    }

    /// The route for a request, with its path parameters; `Err(true)` when the path exists
    /// with another HTTP method.
    pub(crate) fn route(&self, verb: &str, path: &str) -> Result<(&Route, PathParams), bool> {
        let raw: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let mut other_verb = false;
        for route in &self.routes {
            if let Some(params) = route.matches(&raw) {
                if route.info.http_method.as_str() == verb {
                    return Ok((route, params));
                }
                other_verb = true;
            }
        }
        Err(other_verb)
    }

    /// The route of a method by id (`classroom.courses.list`).
    pub(crate) fn by_id(&self, id: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.info.id == id)
    }

    /// A schema's properties.
    pub(crate) fn properties(&self, schema: &str) -> Option<&Map<String, Value>> {
        self.schemas.get(schema)?.get("properties")?.as_object()
    }

    /// Whether a schema has a property.
    pub(crate) fn has(&self, schema: &str, property: &str) -> bool {
        self.properties(schema)
            .is_some_and(|p| p.contains_key(property))
    }

    /// The array field of a list response (`courses` in `ListCoursesResponse`).
    pub(crate) fn list_field(&self, schema: &str) -> Option<&str> {
        self.properties(schema)?
            .iter()
            .find(|(_, v)| v.get("type").and_then(Value::as_str) == Some("array"))
            .map(|(k, _)| k.as_str())
    }

    /// Checks a JSON value against a schema: known fields only, right JSON types, known enum
    /// values. Returns Google's message for the first problem.
    pub(crate) fn validate(&self, schema: &str, value: &Value) -> Result<(), String> {
        let root = lower_first(schema);
        self.check_ref(schema, value, &root)
    }

    fn check_ref(&self, schema: &str, value: &Value, at: &str) -> Result<(), String> {
        let Some(def) = self.schemas.get(schema) else {
            return Ok(());
        };
        self.check(def, value, at)
    }

    fn check(&self, def: &Value, value: &Value, at: &str) -> Result<(), String> {
        if value.is_null() {
            return Ok(());
        }
        if let Some(r) = def.get("$ref").and_then(Value::as_str) {
            return self.check_ref(r, value, at);
        }
        let kind = def.get("type").and_then(Value::as_str).unwrap_or("any");
        let bad = |expected: &str| {
            Err(format!(
                "Invalid value at '{at}' ({expected}), {}",
                excerpt(value)
            ))
        };
        match kind {
            "object" => {
                let Some(object) = value.as_object() else {
                    return Err(format!(
                        "Invalid JSON payload received. Expected an object at '{at}', got {}",
                        excerpt(value)
                    ));
                };
                let properties = def.get("properties").and_then(Value::as_object);
                let additional = def.get("additionalProperties");
                for (key, v) in object {
                    let sub = format!("{at}.{}", snake(key));
                    match (properties.and_then(|p| p.get(key)), additional) {
                        (Some(d), _) | (None, Some(d)) => self.check(d, v, &sub)?,
                        (None, None) if properties.is_some() => {
                            return Err(format!(
                                "Invalid JSON payload received. Unknown name \"{key}\" at '{at}': Cannot find field."
                            ));
                        }
                        (None, None) => {}
                    }
                }
                Ok(())
            }
            "array" => {
                let Some(items) = value.as_array() else {
                    return bad("TYPE_LIST");
                };
                let item_def = def.get("items").cloned().unwrap_or(Value::Null);
                for (i, v) in items.iter().enumerate() {
                    self.check(&item_def, v, &format!("{at}[{i}]"))?;
                }
                Ok(())
            }
            "string" => {
                let format = def.get("format").and_then(Value::as_str);
                let ok = value.is_string()
                    || (matches!(format, Some("int64" | "uint64")) && value.is_i64());
                if !ok {
                    return bad("TYPE_STRING");
                }
                if let (Some(values), Some(s)) =
                    (def.get("enum").and_then(Value::as_array), value.as_str())
                    && !values.iter().any(|v| v.as_str() == Some(s))
                {
                    return bad("TYPE_ENUM");
                }
                if format == Some("google-datetime")
                    && value
                        .as_str()
                        .is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_err())
                {
                    return bad("TYPE_TIMESTAMP");
                }
                Ok(())
            }
            "integer" => {
                if value.is_i64()
                    || value.is_u64()
                    || value.as_str().is_some_and(|s| s.parse::<i64>().is_ok())
                {
                    Ok(())
                } else {
                    bad("TYPE_INT32")
                }
            }
            "number" => {
                if value.is_number() {
                    Ok(())
                } else {
                    bad("TYPE_DOUBLE")
                }
            }
            "boolean" => {
                if value.is_boolean() {
                    Ok(())
                } else {
                    bad("TYPE_BOOL")
                }
            }
            _ => Ok(()),
        }
    }
}

fn excerpt(value: &Value) -> String {
    let mut text = value.to_string();
    if text.len() > 80 {
        let mut end = 80;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `dueDate` -> `due_date`, as Google names fields in error messages.
pub(crate) fn snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `due_date` -> `dueDate`: update masks may use either spelling.
pub(crate) fn camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn collect_methods(resources: &Value, out: &mut HashMap<String, Value>) {
    let Some(resources) = resources.as_object() else {
        return;
    };
    for resource in resources.values() {
        if let Some(methods) = resource.get("methods").and_then(Value::as_object) {
            for method in methods.values() {
                if let Some(id) = method.get("id").and_then(Value::as_str) {
                    out.insert(id.to_string(), method.clone());
                }
            }
        }
        collect_methods(&resource["resources"], out);
    }
}

fn route(info: &'static MethodInfo, method: &Value, schemas: &Map<String, Value>) -> Route {
    let mut path = info.path.to_string();
    let mut verb = None;
    if let Some(last) = path.rsplit('/').next()
        && let Some((_, v)) = last.split_once("}:")
    {
        verb = Some(v.to_string());
        let cut = path.len() - v.len() - 1;
        path.truncate(cut);
    }
    let segments = path
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(p) => Segment::Param(p.trim_start_matches('+').to_string()),
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect();
    let query = method["parameters"]
        .as_object()
        .map(|p| {
            p.iter()
                .filter(|(_, v)| v["location"] == "query")
                .map(|(k, v)| (k.clone(), v["repeated"].as_bool().unwrap_or(false)))
                .collect()
        })
        .unwrap_or_default();
    let request = method["request"]["$ref"].as_str().map(str::to_string);
    let response = method["response"]["$ref"].as_str().map(str::to_string);
    // The fields a patch may name are listed, in backquotes, in updateMask's description.
    let mut patchable = Vec::new();
    if let (Some(description), Some(schema)) = (
        method["parameters"]["updateMask"]["description"].as_str(),
        request.as_deref(),
    ) {
        let properties = schemas
            .get(schema)
            .and_then(|s| s.get("properties"))
            .and_then(Value::as_object);
        for (i, part) in description.split('`').enumerate() {
            let field = camel(part);
            if i % 2 == 1
                && properties.is_some_and(|p| p.contains_key(&field))
                && !patchable.contains(&field)
            {
                patchable.push(field);
            }
        }
    }
    Route {
        info,
        segments,
        verb,
        query,
        request,
        response,
        patchable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_routed_to_itself() {
        let spec = spec();
        assert_eq!(spec.routes.len(), METHODS.len());
        for info in METHODS {
            let path = info.path.replace("{+", "{").replace(['{', '}'], "");
            let (route, _) = spec
                .route(info.http_method.as_str(), &format!("/{path}"))
                .unwrap_or_else(|_| panic!("{} is not routed", info.id));
            assert_eq!(route.info.id, info.id, "{path} routes to the wrong method");
        }
    }

    #[test]
    fn patchable_fields_come_from_the_update_mask_description() {
        let spec = spec();
        let course = spec.by_id("classroom.courses.patch").unwrap();
        assert!(course.patchable.contains(&"name".to_string()));
        assert!(!course.patchable.contains(&"id".to_string()));
        let work = spec.by_id("classroom.courses.courseWork.patch").unwrap();
        assert!(work.patchable.contains(&"dueDate".to_string()));
    }

    #[test]
    fn validation_names_unknown_fields_and_bad_enums() {
        let spec = spec();
        let err = spec
            .validate("Course", &serde_json::json!({"nmae": "x"}))
            .unwrap_err();
        assert!(err.contains("Unknown name \"nmae\""), "{err}");
        let err = spec
            .validate("Course", &serde_json::json!({"courseState": "NOPE"}))
            .unwrap_err();
        assert!(err.contains("course.course_state"), "{err}");
        spec.validate(
            "Course",
            &serde_json::json!({"name": "ok", "courseState": "ACTIVE"}),
        )
        .unwrap();
    }
}
