//! Faults aimed at the parts of a batch ([`Fault::in_batch`], [`Fault::part`]): the parts hit
//! are answered with the fault, the rest of the batch is carried out and answered as usual.
//! Plain HTTP over 127.0.0.1, a `multipart/mixed` body as any client sends it.

mod http;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use classroom_emulator::{Emulator, Fault, demo};
use classroom_spec::Scope;
use serde_json::{Value, json};

/// One part's answer: its Content-ID, status, lower-cased head and JSON body.
#[derive(Debug)]
struct PartAnswer {
    id: String,
    status: u16,
    head: String,
    body: Value,
}

/// Sends a batch of `(method, path, body)` calls with `token`, each part labelled `<i>`;
/// returns the outer status and each part's answer, in the order answered.
fn batch(
    emulator: &Emulator,
    token: &str,
    calls: &[(&str, &str, Option<Value>)],
) -> Vec<PartAnswer> {
    let mut body = String::new();
    for (i, (method, path, json)) in calls.iter().enumerate() {
        body.push_str(&format!(
            "--b\r\nContent-Type: application/http\r\nContent-ID: <{i}>\r\n\r\n{method} {path} HTTP/1.1\r\n"
        ));
        match json {
            Some(json) => {
                body.push_str(&format!("Content-Type: application/json\r\n\r\n{json}\r\n"))
            }
            None => body.push_str("\r\n"),
        }
    }
    body.push_str("--b--\r\n");
    let addr = emulator.addr().to_string();
    let mut stream = TcpStream::connect(&addr).unwrap();
    write!(
        stream,
        "POST /batch HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: multipart/mixed; boundary=b\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    let (head, rest) = reply.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "the batch itself is answered 200: {head}"
    );
    let boundary = head
        .lines()
        .find_map(|l| {
            let at = l.to_ascii_lowercase().find("boundary=")?;
            Some(l[at + "boundary=".len()..].trim().to_string())
        })
        .expect("a multipart answer");
    rest.split(&format!("--{boundary}"))
        .skip(1)
        .filter(|s| !s.starts_with("--"))
        .map(|section| {
            let (outer, inner) = section.trim_start().split_once("\r\n\r\n").unwrap();
            let id = outer
                .lines()
                .find_map(|l| l.strip_prefix("Content-ID: "))
                .unwrap_or_default()
                .to_string();
            let (head, json) = inner.split_once("\r\n\r\n").unwrap();
            PartAnswer {
                id,
                status: head.split(' ').nth(1).unwrap().parse().unwrap(),
                head: head.to_ascii_lowercase(),
                body: serde_json::from_str(json.trim()).unwrap_or(Value::Null),
            }
        })
        .collect()
}

fn admin_token(emulator: &Emulator) -> String {
    emulator.token_for(demo::ADMIN, &[Scope::Courses])
}

fn course(name: &str) -> Option<Value> {
    Some(json!({"name": name, "ownerId": demo::TEACHER}))
}

/// The names of every course, as listed.
fn course_names(emulator: &Emulator) -> Vec<String> {
    let answer = http::send(
        &emulator.addr().to_string(),
        "GET",
        "/v1/courses?pageSize=0",
        Some(&http::bearer(&admin_token(emulator))),
        None,
    );
    answer.body["courses"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["name"].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_nth_part_is_rate_limited_and_the_rest_of_the_batch_is_answered() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let token = admin_token(&emulator);
    emulator.inject(
        Fault::rate_limited(Duration::from_millis(1500))
            .part(1)
            .times(1),
    );
    let calls = [
        ("POST", "/v1/courses", course("First")),
        ("POST", "/v1/courses", course("Second")),
        ("POST", "/v1/courses", course("Third")),
    ];
    let answers = batch(&emulator, &token, &calls);
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(
        statuses,
        [200, 429, 200],
        "only the part at index 1: {answers:?}"
    );
    let limited = &answers[1];
    assert_eq!(limited.id, "<response-1>");
    assert_eq!(limited.body["error"]["status"], "RESOURCE_EXHAUSTED");
    assert!(
        limited.head.contains("retry-after: 2"),
        "Retry-After in the part's own head, whole seconds rounded up: {limited:?}"
    );
    assert_eq!(answers[0].body["name"], "First");
    assert_eq!(answers[2].body["name"], "Third");
    let mut names = course_names(&emulator);
    names.sort();
    assert_eq!(names, ["First", "Third"], "the refused part did nothing");

    // Spent: the same batch again goes through whole.
    let again = batch(&emulator, &token, &calls);
    assert!(again.iter().all(|a| a.status == 200), "{again:?}");
}

#[test]
fn parts_of_one_method_are_unavailable_others_are_not() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let token = admin_token(&emulator);
    emulator.inject(
        Fault::unavailable()
            .on("classroom.courses.create")
            .in_batch()
            .times(2),
    );
    let answers = batch(
        &emulator,
        &token,
        &[
            ("GET", "/v1/courses", None),
            ("POST", "/v1/courses", course("A")),
            ("POST", "/v1/courses", course("B")),
            ("POST", "/v1/courses", course("C")),
        ],
    );
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 503, 503, 200], "{answers:?}");
    assert_eq!(answers[1].body["error"]["status"], "UNAVAILABLE");
    assert_eq!(
        course_names(&emulator),
        ["C"],
        "503 before the write: nothing made"
    );
}

#[test]
fn a_part_whose_answer_is_lost_after_the_write_has_made_its_change() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let token = admin_token(&emulator);
    emulator.inject(Fault::unavailable_after_commit().part(0).times(1));
    let answers = batch(
        &emulator,
        &token,
        &[
            ("POST", "/v1/courses", course("Committed")),
            ("POST", "/v1/courses", course("Answered")),
        ],
    );
    assert_eq!(answers[0].status, 503, "{answers:?}");
    assert_eq!(answers[0].body["error"]["status"], "UNAVAILABLE");
    assert_eq!(answers[1].status, 200, "{answers:?}");
    let mut names = course_names(&emulator);
    names.sort();
    assert_eq!(
        names,
        ["Answered", "Committed"],
        "the part answered 503 was carried out"
    );
}

#[test]
fn whole_request_faults_do_not_hit_parts_and_part_faults_do_not_hit_requests() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let token = admin_token(&emulator);
    let addr = emulator.addr().to_string();
    emulator.inject(Fault::unavailable().on("classroom.courses.list").times(1));
    let answers = batch(&emulator, &token, &[("GET", "/v1/courses", None)]);
    assert_eq!(
        answers[0].status, 200,
        "a request fault waits for a request: {answers:?}"
    );
    let listed = http::send(
        &addr,
        "GET",
        "/v1/courses",
        Some(&http::bearer(&token)),
        None,
    );
    assert_eq!(listed.status, 503, "{listed:?}");

    emulator.inject(
        Fault::unavailable()
            .on("classroom.courses.list")
            .in_batch()
            .times(1),
    );
    let listed = http::send(
        &addr,
        "GET",
        "/v1/courses",
        Some(&http::bearer(&token)),
        None,
    );
    assert_eq!(
        listed.status, 200,
        "a part fault waits for a part: {listed:?}"
    );
    let answers = batch(&emulator, &token, &[("GET", "/v1/courses", None)]);
    assert_eq!(answers[0].status, 503, "{answers:?}");
}

#[test]
#[should_panic(expected = "cannot hit a batch part alone")]
fn a_part_cannot_be_delayed_alone() {
    let emulator = Emulator::builder().empty().start().unwrap();
    emulator.inject(Fault::latency(Duration::from_millis(10)).in_batch());
}
