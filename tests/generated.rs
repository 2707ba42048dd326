//! Every method and every schema of the discovery document, over real HTTP on loopback.
//!
//! The calls come from the generator (one per method, every optional query parameter set by a
//! fixed rule); what the server must receive, and what the client must decode, is worked out
//! here from the discovery document itself. A method that is missing, misrouted, drops a
//! parameter or loses a field fails.

mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use classroom::Classroom;
use common::{Reply, TestServer, encode, sample};
use serde_json::{Value, json};

type CallFuture = Pin<Box<dyn Future<Output = classroom::Result<Value>> + Send>>;

pub struct MethodCase {
    id: &'static str,
    call: fn(Classroom, Value) -> CallFuture,
}

pub struct SchemaCase {
    name: &'static str,
    round_trip: fn(Value) -> Result<Value, String>,
}

include!(concat!(env!("OUT_DIR"), "/test_cases.rs"));

fn methods(doc: &Value) -> BTreeMap<String, Value> {
    fn walk(resources: &Value, out: &mut BTreeMap<String, Value>) {
        for resource in resources.as_object().into_iter().flatten().map(|(_, r)| r) {
            for method in resource["methods"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(_, m)| m)
            {
                out.insert(method["id"].as_str().unwrap().to_string(), method.clone());
            }
            walk(&resource["resources"], out);
        }
    }
    let mut out = BTreeMap::new();
    walk(&doc["resources"], &mut out);
    out
}

/// The query pairs the value rule in codegen/cases.rs gives a method, plus the global ones.
fn expected_query(method: &Value) -> Vec<(String, String)> {
    let order: Vec<&str> = method["parameterOrder"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut pairs = vec![
        ("prettyPrint".to_string(), "false".to_string()),
        ("fields".to_string(), "*".to_string()),
        ("quotaUser".to_string(), "quota user".to_string()),
    ];
    for (name, p) in method["parameters"].as_object().unwrap() {
        if p["location"] != "query" || order.contains(&name.as_str()) {
            continue;
        }
        let repeated = p["repeated"] == true;
        let values: Vec<String> = if let Some(values) = p["enum"].as_array() {
            values
                .iter()
                .skip(1)
                .take(if repeated { 2 } else { 1 })
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        } else {
            let one = match (p["type"].as_str().unwrap(), p["format"].as_str()) {
                ("string", Some("google-fieldmask")) => "a,b.c".to_string(),
                ("integer", _) => "7".to_string(),
                ("number", _) => "2.5".to_string(),
                ("boolean", _) => "true".to_string(),
                _ => format!("v {name}&=/é"),
            };
            if repeated {
                vec![one.clone(), one]
            } else {
                vec![one]
            }
        };
        pairs.extend(values.into_iter().map(|v| (name.clone(), v)));
    }
    pairs.sort();
    pairs
}

fn expected_path(method: &Value) -> String {
    let mut path = format!("/{}", method["path"].as_str().unwrap());
    for name in method["parameterOrder"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        path = path.replace(&format!("{{{name}}}"), &encode(&format!("{name} /?#%é")));
        path = path.replace(&format!("{{+{name}}}"), &encode(&format!("{name} /?#%é")));
    }
    path
}

#[tokio::test]
async fn every_method_sends_the_documented_request_and_decodes_the_response() {
    let doc = common::discovery();
    let methods = methods(&doc);
    let cases = method_cases();
    assert_eq!(
        cases.len(),
        methods.len(),
        "one generated call per method of the document"
    );
    assert_eq!(
        cases.len(),
        105,
        "Classroom v1 has 105 methods in this revision"
    );

    let reply = Arc::new(Mutex::new(json!({})));
    let replying = reply.clone();
    let server = TestServer::start(move |_| Reply::json(200, &replying.lock().unwrap())).await;
    let client = common::client(&server);

    for case in cases {
        let method = &methods[case.id];
        let request_body = method["request"]["$ref"]
            .as_str()
            .map(|r| sample(&doc, &json!({ "$ref": r }), "body", 0).unwrap());
        let response = sample(&doc, &method["response"], "response", 0).unwrap();
        *reply.lock().unwrap() = response.clone();

        let decoded = (case.call)(client.clone(), request_body.clone().unwrap_or(Value::Null))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.id));

        let requests = server.take_requests();
        assert_eq!(requests.len(), 1, "{}: exactly one request", case.id);
        let sent = &requests[0];
        assert_eq!(
            sent.method,
            method["httpMethod"].as_str().unwrap(),
            "{}: verb",
            case.id
        );
        assert_eq!(sent.path, expected_path(method), "{}: path", case.id);
        let mut query = sent.query.clone();
        query.sort();
        assert_eq!(query, expected_query(method), "{}: query", case.id);
        assert_eq!(
            sent.header("authorization"),
            Some("Bearer test-token"),
            "{}: token",
            case.id
        );
        match request_body {
            Some(body) => {
                assert_eq!(
                    sent.header("content-type"),
                    Some("application/json"),
                    "{}",
                    case.id
                );
                let got: Value = serde_json::from_slice(&sent.body).unwrap();
                assert_eq!(got, body, "{}: body", case.id);
            }
            None => assert!(sent.body.is_empty(), "{}: no body", case.id),
        }
        assert_eq!(
            decoded, response,
            "{}: response decoded without loss",
            case.id
        );
    }
}

#[test]
fn every_schema_round_trips_a_fully_populated_value() {
    let doc = common::discovery();
    let cases = schema_cases();
    assert_eq!(cases.len(), doc["schemas"].as_object().unwrap().len());
    assert_eq!(
        cases.len(),
        85,
        "Classroom v1 has 85 schemas in this revision"
    );
    for case in cases {
        let value = sample(&doc, &json!({ "$ref": case.name }), case.name, 0).unwrap();
        let back =
            (case.round_trip)(value.clone()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(back, value, "{} loses nothing in a round trip", case.name);
    }
}

pub struct ScopeCase {
    method: &'static classroom::MethodInfo,
    dynamic: bool,
    empty: bool,
    single: Vec<(classroom::Scope, bool)>,
}

#[test]
fn every_methods_compile_time_requirement_matches_its_run_time_one() {
    let cases = scope_cases();
    assert_eq!(cases.len(), 105);
    for case in cases {
        let id = case.method.id;
        // The builder's METHOD and classroom-spec's table (which the emulator routes by) are
        // generated apart, from one document by one function: they must agree.
        assert!(
            classroom::resources::METHODS.contains(&case.method),
            "{id}: the builder's METHOD is not the one in resources::METHODS"
        );
        assert!(case.dynamic, "{id}: the dynamic client compiles every call");
        assert!(!case.empty, "{id}: the empty set authorizes nothing");
        assert_eq!(case.single.len(), classroom::Scope::ALL.len());
        for (scope, statically) in case.single {
            let at_run_time = case.method.authorizing_scopes().any(|s| s == scope);
            assert_eq!(statically, at_run_time, "{id} with only {scope}");
        }
    }
}
