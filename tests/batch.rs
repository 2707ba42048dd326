//! Batches: against the emulator's batch endpoint, and against a recording server that answers
//! each part as the test says, to count requests and script part failures.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use classroom::models::Course;
use classroom::{BearerToken, Classroom, Error, RetryPolicy, Scope};
use classroom_emulator::{Emulator, demo};
use common::{Recorded, Reply, TestServer};

/// The parts of a recorded batch request: (Content-ID, request line, body).
fn parts(request: &Recorded) -> Vec<(String, String, String)> {
    let content_type = request.header("content-type").unwrap();
    let boundary = content_type.split("boundary=").nth(1).unwrap();
    let body = String::from_utf8(request.body.clone()).unwrap();
    body.split(&format!("--{boundary}"))
        .filter(|p| p.contains("application/http"))
        .map(|p| {
            let id = p
                .lines()
                .find_map(|l| l.strip_prefix("Content-ID: "))
                .unwrap()
                .trim()
                .to_string();
            let (_, http) = p.split_once("\r\n\r\n").unwrap();
            let line = http.lines().next().unwrap().to_string();
            let json = http
                .split_once("\r\n\r\n")
                .map_or("", |(_, b)| b.trim())
                .to_string();
            (id, line, json)
        })
        .collect()
}

/// A batch server: each part's reply comes from `answer(request line, times the same request
/// was seen before)`.
async fn batch_server(
    answer: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
) -> TestServer {
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    TestServer::start(move |request| {
        assert_eq!(request.path, "/batch", "batches go to the batch path");
        let mut out = String::new();
        for (id, line, json) in parts(request).into_iter().rev() {
            let times = {
                let mut seen = seen.lock().unwrap();
                let n = seen.entry(format!("{line} {json}")).or_default();
                *n += 1;
                *n - 1
            };
            let (status, body) = answer(&line, times);
            let id = id.trim_start_matches('<').trim_end_matches('>');
            // Answered in reverse order: parts are matched by Content-ID, not position.
            out.insert_str(
                0,
                &format!(
                    "--reply\r\nContent-Type: application/http\r\nContent-ID: <response-{id}>\r\n\r\n\
                     HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n\r\n{body}\r\n"
                ),
            );
        }
        out.push_str("--reply--\r\n");
        Reply::raw(200, "multipart/mixed; boundary=reply", &out)
    })
    .await
}

fn course_from(line: &str) -> String {
    let id = line.split('/').nth(3).unwrap().split('?').next().unwrap();
    format!(r#"{{"id": "{id}", "name": "Course {id}"}}"#)
}

fn client(server: &TestServer, scopes: &[Scope]) -> Classroom {
    Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::new("t", scopes.iter().map(|s| s.url())))
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_batch_of_120_gets_is_3_requests_and_120_results_in_order() {
    let server = batch_server(|line, _| (200, course_from(line))).await;
    let classroom = client(&server, &[Scope::CoursesReadonly]);
    let gets = (0..120).map(|i| classroom.courses().get(format!("c{i}")));
    let results = classroom.send_batched(gets).await;
    assert_eq!(results.len(), 120);
    for (i, result) in results.iter().enumerate() {
        assert_eq!(
            result.as_ref().unwrap().id.as_deref(),
            Some(&*format!("c{i}"))
        );
    }
    let requests = server.requests();
    let sizes: Vec<_> = requests.iter().map(|r| parts(r).len()).collect();
    assert_eq!(sizes, [50, 50, 20]);
    let first = &parts(&requests[0])[0];
    assert_eq!(first.1, "GET /v1/courses/c0?prettyPrint=false HTTP/1.1");
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer t"),
        "the outer request carries the token for every part"
    );
}

#[tokio::test]
async fn unauthorized_calls_in_a_batch_are_refused_and_never_sent() {
    let server = batch_server(|line, _| (200, course_from(line))).await;
    let classroom = client(&server, &[Scope::CoursesReadonly]);
    let mut batch = classroom.batch();
    let read = batch.add(classroom.courses().get("a"));
    let write = batch.add(classroom.courses().create(Course::default()));
    let other = batch.add(classroom.courses().students().list("a"));
    let read_again = batch.add(classroom.courses().get("b"));
    let mut results = batch.send().await;
    assert_eq!(results.take(read).unwrap().id.as_deref(), Some("a"));
    assert_eq!(results.take(read_again).unwrap().id.as_deref(), Some("b"));
    for error in [
        results.take(write).unwrap_err(),
        results.take(other).unwrap_err(),
    ] {
        assert!(error.is_missing_scope(), "{error:?}");
    }
    let lines: Vec<_> = server
        .requests()
        .iter()
        .flat_map(parts)
        .map(|p| p.1)
        .collect();
    assert_eq!(
        lines,
        [
            "GET /v1/courses/a?prettyPrint=false HTTP/1.1",
            "GET /v1/courses/b?prettyPrint=false HTTP/1.1"
        ]
    );
}

#[tokio::test]
async fn parts_answered_429_or_503_are_retried_under_the_single_call_rules() {
    let server = batch_server(|line, times| {
        let error = |code: u16, status: &str| {
            let body = format!(
                r#"{{"error": {{"code": {code}, "status": "{status}", "message": "try later"}}}}"#
            );
            (code, body)
        };
        match (
            line.split('/').nth(3).unwrap().split('?').next().unwrap(),
            times,
        ) {
            ("limited", 0) => error(429, "RESOURCE_EXHAUSTED"),
            ("busy", 0 | 1) => error(503, "UNAVAILABLE"),
            ("missing", _) => error(404, "NOT_FOUND"),
            _ if line.starts_with("POST") && times == 0 => error(503, "UNAVAILABLE"),
            _ if line.starts_with("POST") => (200, r#"{"id": "created"}"#.into()),
            _ => (200, course_from(line)),
        }
    })
    .await;
    let classroom = client(&server, &[Scope::Courses]);
    let mut batch = classroom.batch();
    let limited = batch.add(classroom.courses().get("limited"));
    let busy = batch.add(classroom.courses().get("busy"));
    let missing = batch.add(classroom.courses().get("missing"));
    let create = batch.add(classroom.courses().create(Course::default()));
    let aliased = batch.add(
        classroom
            .courses()
            .create(Course {
                id: Some("d:x".into()),
                ..Default::default()
            })
            .with_idempotency(true),
    );
    let mut results = batch.send().await;
    assert_eq!(
        results.take(limited).unwrap().id.as_deref(),
        Some("limited")
    );
    assert_eq!(results.take(busy).unwrap().id.as_deref(), Some("busy"));
    let missing = results.take(missing).unwrap_err();
    assert!(
        missing.is_not_found(),
        "the same ApiError a single call gets: {missing:?}"
    );
    assert_eq!(missing.api().unwrap().method, "classroom.courses.get");
    let create = results.take(create).unwrap_err();
    assert_eq!(
        create.http_status(),
        Some(503),
        "a plain create is not resent"
    );
    assert_eq!(
        results.take(aliased).unwrap().id.as_deref(),
        Some("created")
    );
    let sizes: Vec<_> = server.requests().iter().map(|r| parts(r).len()).collect();
    assert_eq!(sizes, [5, 3, 1], "only the calls to retry are sent again");
}

#[tokio::test]
async fn a_slot_is_taken_once_and_only_from_its_batch() {
    let server = batch_server(|line, _| (200, course_from(line))).await;
    let classroom = client(&server, &[Scope::CoursesReadonly]);
    let mut first = classroom.batch();
    let slot = first.add(classroom.courses().get("a"));
    let mut second = classroom.batch();
    let foreign = second.add(classroom.courses().get("b"));
    let mut results = first.send().await;
    let err = results.take(foreign).unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err:?}");
    results.take(slot).unwrap();
}

#[tokio::test]
async fn a_batch_through_the_emulator_returns_typed_results() {
    let emulator = Emulator::start().unwrap();
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(
            emulator.token_for(demo::ADMIN, &[Scope::Courses, Scope::RostersReadonly]),
        ))
        .build()
        .unwrap();
    let mut batch = classroom.batch();
    let course = batch.add(classroom.courses().get(demo::COURSE_ALIAS));
    let students = batch.add(classroom.courses().students().list(demo::COURSE_ALIAS));
    let missing = batch.add(classroom.courses().get("no-such-course"));
    let created = batch.add(classroom.courses().create(Course {
        name: Some("Made in a batch".into()),
        owner_id: Some("me".into()),
        ..Default::default()
    }));
    let deleted = batch.add(
        classroom
            .courses()
            .aliases()
            .delete(demo::COURSE_ALIAS, "d:none"),
    );
    let mut results = batch.send().await;
    let course = results.take(course).unwrap();
    assert!(course.name.is_some());
    assert!(!results.take(students).unwrap().students.is_empty());
    assert!(results.take(missing).unwrap_err().is_not_found());
    let created = results.take(created).unwrap();
    assert_eq!(created.name.as_deref(), Some("Made in a batch"));
    let fetched = classroom
        .courses()
        .get(created.id.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.name.as_deref(), Some("Made in a batch"));
    assert!(results.take(deleted).is_err(), "no such alias");
}

#[tokio::test]
async fn a_whole_batch_that_failed_costs_the_retry_budget_once() {
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let server = TestServer::start(move |request| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        if *n == 1 {
            return Reply::json(503, &serde_json::json!({"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}));
        }
        let mut out = String::new();
        for (id, line, _) in parts(request) {
            let id = id.trim_start_matches('<').trim_end_matches('>');
            out.push_str(&format!(
                "--reply\r\nContent-Type: application/http\r\nContent-ID: <response-{id}>\r\n\r\n\
                 HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{}\r\n",
                course_from(&line)
            ));
        }
        out.push_str("--reply--\r\n");
        Reply::raw(200, "multipart/mixed; boundary=reply", &out)
    })
    .await;
    // Ten tokens: two retries of single calls. The 50 calls of the failed request are resent
    // as one request, for the price of one retry.
    let classroom = Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::unchecked("t"))
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
        .retry_budget(classroom::RetryBudget::with_capacity(10))
        .build()
        .unwrap();
    let gets = (0..50).map(|i| classroom.courses().get(format!("c{i}")));
    let results = classroom.send_batched(gets).await;
    assert!(
        results.iter().all(|r| r.is_ok()),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    assert_eq!(*calls.lock().unwrap(), 2);
}
