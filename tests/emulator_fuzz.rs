//! Property tests of the emulator's request parsing: arbitrary and mutated paths, queries,
//! `fields` selectors, JSON bodies and batch parts, sent over loopback HTTP to one emulator.
//!
//! What must hold for every request: an answer comes (within seconds), it is never a 500 (a
//! handler that panics answers 500 `INTERNAL`), and every refusal is Google-shaped,
//! `{"error": {"code", "message", "status"}}` with `code` the HTTP status, inside batch replies
//! too. After the run, the emulator still serves a normal request.
//!
//! Cases are bounded (a few hundred in all, a few seconds on two cores); raise them for a longer
//! hunt with `PROPTEST_CASES=5000 cargo test --test emulator_fuzz`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use classroom::Scope;
use classroom::resources::METHODS;
use classroom_emulator::{Emulator, demo};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

/// One emulator for every case, as a client in CI would meet it: long-lived.
fn emulator() -> &'static (Emulator, String) {
    static EMULATOR: OnceLock<(Emulator, String)> = OnceLock::new();
    EMULATOR.get_or_init(|| {
        let emulator = Emulator::start().expect("the emulator starts");
        let token = emulator.token_for(demo::ADMIN, &Scope::ALL);
        (emulator, token)
    })
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(cases),
        // Each case is a request: a failure is kept small by few shrink steps, and not
        // written to a regressions file in the source tree.
        max_shrink_iters: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A raw HTTP/1.1 exchange on a fresh connection; returns the status, headers and body.
fn exchange(request: &[u8]) -> (u16, String, Vec<u8>) {
    let (emulator, _) = emulator();
    let mut stream = TcpStream::connect(emulator.addr()).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).expect("the request is sent");
    let mut reply = Vec::new();
    stream
        .read_to_end(&mut reply)
        .expect("the emulator answers and closes within 20 s");
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("a full answer: {:.300}", String::from_utf8_lossy(&reply)));
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head:.300}"));
    (status, head, reply[split + 4..].to_vec())
}

/// Checks one answer (status and body) of the API or of a batch part.
fn check_answer(status: u16, body: &[u8], context: &str) -> Result<(), TestCaseError> {
    prop_assert!(
        status != 500,
        "a 500 (a panic in a handler) for {context:.500}: {:.300}",
        String::from_utf8_lossy(body)
    );
    prop_assert!((200..600).contains(&status), "status {status}");
    if status < 400 {
        return Ok(());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        TestCaseError::fail(format!(
            "a {status} refusal is not JSON ({e}) for {context:.500}: {:.300}",
            String::from_utf8_lossy(body)
        ))
    })?;
    let error = &value["error"];
    prop_assert_eq!(
        error["code"].as_u64(),
        Some(u64::from(status)),
        "code is the HTTP status: {} for {:.500}",
        value,
        context
    );
    prop_assert!(error["message"].is_string(), "a message: {value}");
    let canonical = [
        "INVALID_ARGUMENT",
        "FAILED_PRECONDITION",
        "OUT_OF_RANGE",
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "NOT_FOUND",
        "ABORTED",
        "ALREADY_EXISTS",
        "RESOURCE_EXHAUSTED",
        "CANCELLED",
        "DATA_LOSS",
        "UNKNOWN",
        "INTERNAL",
        "UNIMPLEMENTED",
        "UNAVAILABLE",
        "DEADLINE_EXCEEDED",
    ];
    prop_assert!(
        error["status"]
            .as_str()
            .is_some_and(|s| canonical.contains(&s)),
        "a canonical status: {value}"
    );
    Ok(())
}

/// Sends a request and checks its answer, and each part's answer for a batch.
fn send_and_check(request: &[u8]) -> Result<(), TestCaseError> {
    let context = String::from_utf8_lossy(request);
    let (status, head, body) = exchange(request);
    if request.starts_with(b"HEAD ") {
        // No body by HTTP's rules: only the status can be checked.
        prop_assert!(status != 500, "a 500 for {context:.500}");
        return Ok(());
    }
    check_answer(status, &body, &context)?;
    let batch_reply = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("content-type: multipart/mixed")
    });
    if status == 200 && batch_reply {
        let text = String::from_utf8_lossy(&body);
        for part in text.split("\r\nHTTP/1.1 ").skip(1) {
            let part_status: u16 = part
                .get(..3)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| TestCaseError::fail(format!("a part status: {part:.200}")))?;
            let part_body = part
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.split("\r\n--batch_").next().unwrap_or_default())
                .unwrap_or_default();
            check_answer(part_status, part_body.as_bytes(), &context)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Strategies

/// Characters a request target may hold as they are (hyper refuses the others before the
/// emulator sees the request).
const TARGET_CHARS: &str = "[a-zA-Z0-9._~%:@!$'()*+,;=-]";

fn junk(max: usize) -> BoxedStrategy<String> {
    proptest::string::string_regex(&format!("{TARGET_CHARS}{{0,{max}}}"))
        .expect("a valid regex")
        .boxed()
}

/// A path parameter: real ids, aliases, `me`, `-`, escapes, junk.
fn param_value() -> BoxedStrategy<String> {
    prop_oneof![
        select(vec![
            "d%3Amath-101",
            "d:math-101",
            "me",
            "-",
            "0",
            "%00",
            "%FF%FE",
            "%E2%82",
            "%",
            "%%",
            "99999999999999999999999",
            "-1",
            "admin%40school.example",
            "grace.hopper@school.example",
        ])
        .prop_map(str::to_string),
        junk(12),
    ]
    .boxed()
}

/// A path: a real method's template filled with arbitrary values, or arbitrary segments.
fn path() -> BoxedStrategy<(String, String)> {
    let from_template = (
        select(METHODS),
        prop::collection::vec(param_value(), 4),
        any::<bool>(),
    )
        .prop_map(|(info, values, same_verb)| {
            let mut path = String::from("/");
            let mut values = values.into_iter().cycle();
            let mut rest = info.path;
            while let Some(open) = rest.find('{') {
                path.push_str(&rest[..open]);
                let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
                path.push_str(&values.next().unwrap_or_default());
                rest = &rest[close..];
            }
            path.push_str(rest);
            let verb = if same_verb {
                info.http_method.as_str()
            } else {
                "PUT"
            };
            (verb.to_string(), path)
        });
    let segment = prop_oneof![
        select(vec![
            "v1",
            "courses",
            "students",
            "teachers",
            "courseWork",
            "studentSubmissions",
            "announcements",
            "topics",
            "aliases",
            "invitations",
            "userProfiles",
            "guardians",
            "guardianInvitations",
            "registrations",
            "rubrics",
            "addOnAttachments",
            "batch",
            "",
            "x:turnIn",
            "x:modifyAssignees",
            "..",
            ".",
        ])
        .prop_map(str::to_string),
        param_value(),
    ];
    let arbitrary = (
        select(vec![
            "GET", "POST", "PATCH", "PUT", "DELETE", "HEAD", "OPTIONS",
        ]),
        prop::collection::vec(segment, 0..8),
    )
        .prop_map(|(verb, segments)| (verb.to_string(), format!("/{}", segments.join("/"))));
    prop_oneof![3 => from_template, 1 => arbitrary].boxed()
}

/// A `fields` selector: well-formed ones of Google's grammar, deep ones, and mutations.
fn fields() -> BoxedStrategy<String> {
    let name = select(vec![
        "courses",
        "id",
        "name",
        "nextPageToken",
        "*",
        "a",
        "students",
        "profile",
    ]);
    let leaf = name.prop_map(str::to_string);
    let grammar = leaf.prop_recursive(6, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(|v| v.join(",")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}/{b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a}({b})")),
        ]
    });
    let deep = (1usize..12_000, 0usize..3).prop_map(|(depth, kind)| match kind {
        0 => format!("{}a{}", "a(".repeat(depth), ")".repeat(depth)),
        1 => vec!["a"; depth].join("/"),
        // Unbalanced: all opened, none closed.
        _ => "a(".repeat(depth),
    });
    let mutated = (
        grammar.clone(),
        any::<prop::sample::Index>(),
        select(vec![
            "(", ")", ",", "/", "%2C", "%28", "%20", "", "((", "))",
        ]),
    )
        .prop_map(|(text, at, insert)| {
            let at = at.index(text.len() + 1);
            let at = (0..=at)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{}{insert}{}", &text[..at], &text[at..])
        });
    prop_oneof![3 => grammar, 1 => deep, 2 => mutated, 1 => junk(40)].boxed()
}

/// Query pairs, by known and unknown names, with hostile values.
fn query() -> BoxedStrategy<String> {
    let value = prop_oneof![
        select(vec![
            "0",
            "-1",
            "1",
            "1000",
            "1001",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            "-9223372036854775808",
            "1e3",
            "",
            "ACTIVE",
            "me",
            "cDE6MTg0NDY3NDQwNzM3MDk1NTE2MTU6MA",
            "cDE6OTk5OTk5OTk5OTk5OTk5OTk5Ojk5",
            "name,section",
            "updateTime%20desc",
            "dueDate%20asc,updateTime",
            "x%20sideways",
        ])
        .prop_map(str::to_string),
        junk(20),
    ];
    let pair = prop_oneof![
        (
            select(vec![
                "pageSize",
                "pageToken",
                "updateMask",
                "courseStates",
                "teacherId",
                "studentId",
                "orderBy",
                "alt",
                "prettyPrint",
                "courseWorkStates",
                "userId",
                "states",
                "invitedEmailAddress",
                "materialLink",
                "$.xgafv",
                "quotaUser",
                "nope",
            ]),
            value.clone()
        )
            .prop_map(|(k, v)| format!("{k}={v}")),
        fields().prop_map(|f| format!("fields={f}")),
        (junk(8), value).prop_map(|(k, v)| format!("{k}={v}")),
        junk(10),
    ];
    prop::collection::vec(pair, 0..4)
        .prop_map(|pairs| pairs.join("&"))
        .boxed()
}

/// JSON values shaped like Classroom's, with its field names and enum values.
fn json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        select(vec![
            "ACTIVE",
            "ARCHIVED",
            "PUBLISHED",
            "DRAFT",
            "ASSIGNMENT",
            "me",
            "d:math-101",
            "p:x",
            "INDIVIDUAL_STUDENTS",
            "2024-01-01T00:00:00Z",
            "not a date",
            "",
            "grace.hopper@school.example",
        ])
        .prop_map(Value::from),
        "[a-zA-Z0-9 _:-]{0,12}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        select(vec![
            "name",
            "ownerId",
            "id",
            "section",
            "courseState",
            "title",
            "state",
            "workType",
            "maxPoints",
            "dueDate",
            "year",
            "month",
            "day",
            "dueTime",
            "hours",
            "materials",
            "link",
            "url",
            "assigneeMode",
            "individualStudentsOptions",
            "studentIds",
            "userId",
            "alias",
            "courseId",
            "invitedEmailAddress",
            "role",
            "criteria",
            "levels",
            "description",
            "addStudentIds",
            "modifyIndividualStudentsOptions",
            "assignedGrade",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z]{1,8}",
    ];
    leaf.prop_recursive(5, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A request body: JSON objects, deep nestings, mutated and arbitrary bytes.
fn body() -> BoxedStrategy<Vec<u8>> {
    let objects = json().prop_map(|v| {
        let v = if v.is_object() {
            v
        } else {
            serde_json::json!({"name": "Fuzzed", "ownerId": "me", "x": v})
        };
        serde_json::to_vec(&v).unwrap()
    });
    let deep = (1usize..6000, select(vec!["[", "{\"a\":"])).prop_map(|(depth, open)| {
        let close = if open == "[" { "]" } else { "}" };
        format!("{}1{}", open.repeat(depth), close.repeat(depth)).into_bytes()
    });
    let mutated = (
        json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut bytes, flips, cut)| {
            for (at, byte) in flips {
                if !bytes.is_empty() {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            let cut = cut.index(bytes.len() + 1);
            bytes.truncate(cut);
            bytes
        });
    prop_oneof![
        4 => objects,
        1 => deep,
        2 => mutated,
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(Vec::new()),
    ]
    .boxed()
}

/// Authorization as a client may send it: a valid token, none, a bogus or malformed one.
fn authorization() -> BoxedStrategy<Option<String>> {
    let (_, token) = emulator();
    let token = token.clone();
    prop_oneof![
        4 => Just(Some(format!("Bearer {token}"))),
        1 => Just(None),
        1 => select(vec!["Bearer", "Bearer ", "Basic Zm9vOmJhcg==", "bearer ya29.nope", "Token x", "Bearer %00"])
            .prop_map(|s| Some(s.to_string())),
    ]
    .boxed()
}

/// One HTTP request as text, without the framing headers.
fn request_parts() -> BoxedStrategy<(String, String, Option<String>, Vec<u8>)> {
    (path(), query(), authorization(), body())
        .prop_map(|((verb, path), query, auth, body)| {
            let target = if query.is_empty() {
                path
            } else {
                format!("{path}?{query}")
            };
            (verb, target, auth, body)
        })
        .boxed()
}

fn http_request(
    verb: &str,
    target: &str,
    auth: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut request = format!(
        "{verb} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(auth) = auth {
        request.push_str(&format!("Authorization: {auth}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A batch body: parts built like single requests, with their own headers or not, and
/// mutations of the multipart framing.
fn batch() -> BoxedStrategy<(String, Vec<u8>)> {
    let part =
        (request_parts(), any::<bool>()).prop_map(|((verb, target, auth, body), own_auth)| {
            let mut text =
                format!("{verb} {target} HTTP/1.1\r\nContent-Type: application/json\r\n");
            if own_auth && let Some(auth) = auth {
                text.push_str(&format!("Authorization: {auth}\r\n"));
            }
            text.push_str("\r\n");
            let mut bytes = text.into_bytes();
            bytes.extend_from_slice(&body);
            bytes
        });
    let boundary = select(vec!["b0undary", "batch_x", "", "--", "a b", "\"q\""]);
    (
        boundary,
        prop::collection::vec(part, 0..6),
        0usize..4,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(boundary, parts, framing, cut)| {
            let mut body = b"preamble\r\n".to_vec();
            for (i, part) in parts.iter().enumerate() {
                body.extend_from_slice(
                    format!("--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <{i}>\r\n\r\n")
                        .as_bytes(),
                );
                body.extend_from_slice(part);
                body.extend_from_slice(b"\r\n");
            }
            match framing {
                0 => body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes()),
                1 => {}
                2 => {
                    let cut = cut.index(body.len() + 1);
                    body.truncate(cut);
                }
                _ => body.extend_from_slice(format!("--{boundary}\r\n\r\n\r\n--{boundary}--").as_bytes()),
            }
            let content_type = if boundary.is_empty() {
                "multipart/mixed".to_string()
            } else {
                format!("multipart/mixed; boundary={boundary}")
            };
            (content_type, body)
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------
// Properties

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = proptest::test_runner::TestRunner::new(config(cases));
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

/// The properties run one after the other in one test, against one emulator, and the
/// emulator must still serve a normal request at the end.
#[test]
fn arbitrary_requests_are_answered_google_shaped_and_never_crash_the_emulator() {
    let content_type = select(vec![
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
    ]);
    run(
        200,
        (request_parts(), content_type),
        |((verb, target, auth, body), content_type)| {
            send_and_check(&http_request(
                &verb,
                &target,
                auth.as_deref(),
                content_type,
                &body,
            ))
        },
    );
    run(
        60,
        (
            batch(),
            authorization(),
            select(vec!["/batch", "/batch/classroom/v1"]),
        ),
        |((content_type, body), auth, target)| {
            send_and_check(&http_request(
                "POST",
                target,
                auth.as_deref(),
                &content_type,
                &body,
            ))
        },
    );

    let (_, token) = emulator();
    let create = http_request(
        "POST",
        "/v1/courses",
        Some(&format!("Bearer {token}")),
        "application/json",
        br#"{"name": "After the fuzz", "ownerId": "me"}"#,
    );
    let (status, _, body) = exchange(&create);
    assert_eq!(
        status,
        200,
        "a normal request is answered after the run: {}",
        String::from_utf8_lossy(&body)
    );
}
