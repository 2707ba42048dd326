//! The emulator against hostile and broken clients: deep `fields` selectors, slow and
//! oversized bodies, faults that strike after a call has acted, and more connections at once
//! than it serves.
//!
//! Raw HTTP (reqwest or a TCP socket), not the SDK: these are requests the SDK never sends,
//! and answers it must not retry away.

#[path = "emulator_common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use classroom::Scope;
use classroom_emulator::{Emulator, Fault, demo};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Asserts a Google-shaped error body whose code is the HTTP status; returns its message.
fn google_error(status: u16, body: &str) -> String {
    let value: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("a {status} with a JSON body ({e}): {body:.300}"));
    let error = &value["error"];
    assert_eq!(
        error["code"], status,
        "code matches the HTTP status: {body:.300}"
    );
    assert!(error["status"].is_string(), "{body:.300}");
    error["message"].as_str().expect("a message").to_string()
}

/// A selector `levels` deep, in both of Google's spellings.
fn deep_selectors(levels: usize) -> [String; 2] {
    [
        format!("{}a{}", "a(".repeat(levels), ")".repeat(levels)),
        vec!["a"; levels + 1].join("/"),
    ]
}

/// Deep enough that the recursive parser the emulator once had overflowed its stack, and
/// short enough (45 KB) for a request target.
const HOSTILE_DEPTH: usize = 15_000;

/// `url?fields=...`: letters, `(`, `)` and `/` need no escaping in a query, which keeps a deep
/// selector within the 64 KiB an HTTP request target may have.
fn with_fields(url: &str, fields: &str) -> String {
    format!("{url}?fields={fields}")
}

async fn still_serving(emulator: &Emulator) {
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    let response = common::http()
        .get(format!("{}v1/courses/d%3Amath-101", emulator.root_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("the emulator still answers");
    assert_eq!(response.status(), 200);
}

/// Once a selector 15,000 levels deep overflowed the stack of the worker parsing it and
/// aborted the whole emulator, before the token was even looked at.
#[tokio::test]
async fn a_deep_fields_selector_is_refused_and_the_emulator_survives() {
    let emulator = Emulator::start().unwrap();
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    let url = format!("{}v1/courses", emulator.root_url());
    for fields in deep_selectors(HOSTILE_DEPTH) {
        let anonymous = common::http()
            .get(with_fields(&url, &fields))
            .send()
            .await
            .unwrap();
        assert_eq!(
            anonymous.status(),
            401,
            "the token is checked before the selector is parsed"
        );
        google_error(401, &anonymous.text().await.unwrap());

        let started = Instant::now();
        let response = common::http()
            .get(with_fields(&url, &fields))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        let message = google_error(400, &response.text().await.unwrap());
        assert!(message.contains("nested more than 32 levels"), "{message}");
        assert!(message.len() < 300, "the selector is not echoed whole");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    // 32 levels are still a selection (nothing matches that deep, so an empty object).
    let [fine, _] = deep_selectors(31);
    let response = common::http()
        .get(with_fields(&url, &fine))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    still_serving(&emulator).await;
}

#[tokio::test]
async fn a_deep_fields_selector_in_a_batch_part_is_refused_for_that_part() {
    let emulator = Emulator::start().unwrap();
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    // A batch body may be far larger than a request target: deeper still.
    let [parens, slashes] = deep_selectors(200_000);
    let parts: Vec<String> = [parens, slashes]
        .iter()
        .map(|f| format!("GET {} HTTP/1.1\r\n", with_fields("/v1/courses", f)))
        .chain(["GET /v1/courses/d%3Amath-101 HTTP/1.1\r\n".to_string()])
        .collect();
    let body = common::batch_body("b0undary", &parts);
    let send = |auth: Option<&str>| {
        let mut request = common::http()
            .post(emulator.batch_url())
            .header("content-type", "multipart/mixed; boundary=b0undary")
            .body(body.clone());
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        request.send()
    };

    let response = send(None).await.unwrap();
    assert_eq!(response.status(), 200);
    let parts = common::batch_parts(&response.text().await.unwrap());
    assert_eq!(parts.len(), 3);
    for (status, body) in &parts {
        assert_eq!(
            *status, 401,
            "each part is authenticated before its selector"
        );
        google_error(401, body);
    }

    let response = send(Some(&token)).await.unwrap();
    assert_eq!(response.status(), 200);
    let parts = common::batch_parts(&response.text().await.unwrap());
    let statuses: Vec<u16> = parts.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [400, 400, 200], "{parts:?}");
    for (_, body) in &parts[..2] {
        let message = google_error(400, body);
        assert!(message.contains("nested more than 32 levels"), "{message}");
    }
    still_serving(&emulator).await;
}

/// Sends `head`, then `body` slowly or not at all, and reads what comes back within `wait`.
async fn raw_exchange(emulator: &Emulator, head: &str, body: &[u8], wait: Duration) -> String {
    let mut stream = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(wait, stream.read_to_end(&mut reply))
        .await
        .expect("the emulator answered and closed the connection in time")
        .unwrap();
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_gets_408_and_a_closed_connection() {
    let emulator = Emulator::builder()
        .body_read_timeout(Duration::from_millis(300))
        .start()
        .unwrap();
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    let started = Instant::now();
    // Announces 100 bytes, sends 4, then neither sends more nor closes (slowloris).
    let head = format!(
        "POST /v1/courses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
    );
    let reply = raw_exchange(&emulator, &head, b"{\"na", Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let (_, body) = reply.split_once("\r\n\r\n").unwrap();
    let message = google_error(408, body);
    assert!(message.contains("300 ms"), "{message}");
    still_serving(&emulator).await;
}

#[tokio::test]
async fn an_oversized_body_is_refused_as_google_does() {
    let emulator = Emulator::builder().max_request_body(1024).start().unwrap();
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    let big = json!({"name": "x".repeat(2000), "ownerId": "me"}).to_string();

    // Declared too large: refused before reading.
    let response = common::http()
        .post(format!("{}v1/courses", emulator.root_url()))
        .bearer_auth(&token)
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let message = google_error(400, &response.text().await.unwrap());
    assert_eq!(
        message,
        "Request payload size exceeds the limit: 1024 bytes."
    );

    // Chunked, with no length declared: refused once the limit is crossed.
    let chunk = format!("{:x}\r\n{big}\r\n0\r\n\r\n", big.len());
    let head = format!(
        "POST /v1/courses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let reply = raw_exchange(&emulator, &head, chunk.as_bytes(), Duration::from_secs(10)).await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    let (_, body) = reply.split_once("\r\n\r\n").unwrap();
    assert!(google_error(400, body).contains("exceeds the limit"));

    // Within the limit: created.
    let small = json!({"name": "Small", "ownerId": "me"}).to_string();
    let response = common::http()
        .post(format!("{}v1/courses", emulator.root_url()))
        .bearer_auth(&token)
        .body(small)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn course_names(emulator: &Emulator) -> Vec<String> {
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    let listed = common::http()
        .get(format!("{}v1/courses?pageSize=1000", emulator.root_url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed: Value = serde_json::from_str(&listed).unwrap();
    listed["courses"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

async fn create_course(emulator: &Emulator, name: &str) -> reqwest::Result<reqwest::Response> {
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    // A fresh client per call: no pooled connection that could be retried underneath.
    common::http()
        .post(format!("{}v1/courses", emulator.root_url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(json!({"name": name, "ownerId": "me"}).to_string())
        .send()
        .await
}

#[tokio::test]
async fn after_commit_faults_lose_the_answer_but_keep_the_change() {
    let emulator = Emulator::builder().empty().start().unwrap();

    emulator.inject(
        Fault::drop_after_commit()
            .on("classroom.courses.create")
            .times(1),
    );
    let dropped = create_course(&emulator, "Dropped after commit").await;
    assert!(dropped.is_err(), "the client saw no answer: {dropped:?}");

    emulator.inject(
        Fault::unavailable_after_commit()
            .on("classroom.courses.create")
            .times(1),
    );
    let response = create_course(&emulator, "503 after commit").await.unwrap();
    assert_eq!(response.status(), 503);
    let message = google_error(503, &response.text().await.unwrap());
    assert!(message.contains("unavailable"), "{message}");

    // Both faults are spent: the next create is answered.
    let response = create_course(&emulator, "Answered").await.unwrap();
    assert_eq!(response.status(), 200);

    let mut names = course_names(&emulator).await;
    names.sort();
    assert_eq!(
        names,
        ["503 after commit", "Answered", "Dropped after commit"],
        "each create acted exactly once, whatever its client saw"
    );

    // Only the method named is hit, and the before-commit faults still do nothing.
    emulator.inject(Fault::unavailable_after_commit().on("classroom.courses.delete"));
    emulator.inject(Fault::unavailable().on("classroom.courses.patch").times(1));
    let response = create_course(&emulator, "Unaffected").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(course_names(&emulator).await.len(), 4);
}

#[tokio::test]
async fn after_commit_faults_by_fraction_commit_every_call() {
    let emulator = Emulator::builder().empty().start().unwrap();
    emulator.inject(
        Fault::unavailable_after_commit()
            .on("classroom.courses.create")
            .fraction(0.5),
    );
    let mut answered = 0;
    let mut unavailable = 0;
    for i in 0..40 {
        match create_course(&emulator, &format!("c{i}"))
            .await
            .unwrap()
            .status()
            .as_u16()
        {
            200 => answered += 1,
            503 => unavailable += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(
        answered > 0 && unavailable > 0,
        "{answered} / {unavailable}"
    );
    assert_eq!(
        course_names(&emulator).await.len(),
        40,
        "every call acted, answered or not"
    );
}

/// Reads one response with a `Content-Length` from `stream`: its status line and its body.
/// `what` names the request in a failure.
async fn read_response(stream: &mut tokio::net::TcpStream, what: &str) -> (String, String) {
    let mut read = Vec::new();
    loop {
        if let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&read[..end]).into_owned();
            let length: usize = head
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                .map(|(_, value)| value.trim().parse().unwrap())
                .expect("a Content-Length");
            let body = &read[end + 4..];
            if body.len() >= length {
                let status = head.lines().next().unwrap_or_default().to_string();
                return (
                    status,
                    String::from_utf8_lossy(&body[..length]).into_owned(),
                );
            }
        }
        let mut chunk = [0; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("{what}: no answer within 10 s"))
            .unwrap_or_else(|e| panic!("{what}: the connection failed: {e}"));
        assert!(
            n > 0,
            "{what}: the connection closed before a whole answer: {:?}",
            String::from_utf8_lossy(&read)
        );
        read.extend_from_slice(&chunk[..n]);
    }
}

/// Raises this process's soft limit on open files to `wanted` (within the hard limit): a test
/// holding both ends of a thousand connections needs more than the 1,024 many systems allow.
#[cfg(unix)]
fn allow_open_files(wanted: libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        if limit.rlim_cur < wanted {
            limit.rlim_cur = wanted.min(limit.rlim_max);
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
        }
    }
}

#[cfg(not(unix))]
fn allow_open_files(_wanted: u64) {}

/// A client with more calls in flight than the emulator serves connections (512) opens a
/// connection for each. Answered, the first 512 sit idle in keep-alive; they used to hold their
/// slots until the 30 s header timeout while the other calls waited, a stall of 30 s. They give
/// way now; connections in the middle of a request do not.
#[tokio::test]
async fn calls_beyond_the_connection_limit_do_not_wait_for_idle_connections() {
    const CALLS: usize = 1000;
    allow_open_files(4096);
    let emulator = Emulator::start().unwrap();
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    let get = format!(
        "GET /v1/courses/d%3Amath-101 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    let create = json!({"name": "Created mid-burst", "ownerId": "me"}).to_string();
    let post = format!(
        "POST /v1/courses HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        create.len()
    );

    // Two connections in the middle of a request when the burst comes: one answered once,
    // then half of its next request's head; one with half of its first request's body.
    let mut half_head = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    half_head.write_all(get.as_bytes()).await.unwrap();
    let (status, _) = read_response(&mut half_head, "the first request").await;
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    let (head_start, head_rest) = get.split_at(40);
    half_head.write_all(head_start.as_bytes()).await.unwrap();
    let mut half_body = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .unwrap();
    let (body_start, body_rest) = create.split_at(10);
    half_body
        .write_all(format!("{post}{body_start}").as_bytes())
        .await
        .unwrap();
    // Until the emulator has read these bytes it cannot know a request is under way. It reads
    // them within microseconds; the burst closes an idle connection only after 50 ms.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let http = common::http();
    let url = format!("{}v1/courses/d%3Amath-101", emulator.root_url());
    let all_answered = std::sync::Arc::new(tokio::sync::Barrier::new(CALLS));
    let started = Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..CALLS {
        let request = http.get(&url).bearer_auth(&token);
        let all_answered = all_answered.clone();
        calls.spawn(async move {
            let response = request.send().await;
            // Each answer is held, its body unread, until every call has one: no connection
            // passes from one call to another, so the 1,000 calls have 1,000 connections.
            all_answered.wait().await;
            let response = response?;
            Ok::<_, reqwest::Error>((response.status(), response.text().await?))
        });
    }
    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(call) = calls.join_next().await {
            let (status, body) = call.unwrap().expect("every call is answered");
            assert_eq!(status, 200, "{body:.300}");
        }
    })
    .await;
    let elapsed = started.elapsed();
    assert!(answered.is_ok(), "not all answered within 60 s");
    assert!(
        elapsed < Duration::from_secs(15),
        "{CALLS} calls took {elapsed:?}: those beyond the connection limit waited for idle \
         connections to time out"
    );

    half_head.write_all(head_rest.as_bytes()).await.unwrap();
    let what = "a request whose head was arriving when the burst came";
    let (status, body) = read_response(&mut half_head, what).await;
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "{what}: {status} {body:.300}"
    );
    half_body.write_all(body_rest.as_bytes()).await.unwrap();
    let what = "a request whose body was arriving when the burst came";
    let (status, body) = read_response(&mut half_body, what).await;
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "{what}: {status} {body:.300}"
    );
    assert!(
        course_names(&emulator)
            .await
            .contains(&"Created mid-burst".to_string()),
        "the request whose body was arriving acted"
    );
}
