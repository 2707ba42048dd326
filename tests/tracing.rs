//! Every call is traced: its method, each attempt's outcome, each retry and why; never a
//! secret.

mod common;

use std::sync::{Arc, Mutex};

use classroom::BearerToken;
use common::{Captured, Reply, TestServer};
use serde_json::json;

#[tokio::test]
async fn calls_and_retries_are_traced_without_secrets() {
    let (captured, _guard) = Captured::start(tracing::Level::DEBUG);

    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let server = TestServer::start(move |_| {
        let mut n = counter.lock().unwrap();
        *n += 1;
        match *n {
            1 => Reply::json(
                503,
                &json!({"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}),
            ),
            _ => Reply::json(200, &json!({"id": "c"})),
        }
    })
    .await;
    let client = common::client_with(&server, BearerToken::unchecked("ya29.SECRET-TOKEN"));
    client.courses().get("c").send().await.unwrap();

    let log = captured.take();
    assert!(
        log.contains("classroom.call") && log.contains("classroom.courses.get"),
        "{log}"
    );
    assert!(
        log.contains("retrying") && log.contains("HTTP 503"),
        "says why: {log}"
    );
    assert!(
        log.contains("answered") && log.contains("status=200"),
        "{log}"
    );
    assert!(!log.contains("SECRET"), "no token in the log: {log}");
}

/// A batch under `debug` logs each call in a `classroom.call` span of its own, under the
/// batch's span, with its method, status and the part's latency, and the retry decisions.
#[tokio::test]
async fn each_call_of_a_batch_is_traced_in_its_own_span() {
    use classroom_emulator::{Emulator, Fault, demo};

    let emulator = Emulator::start().unwrap();
    let client = classroom::Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(emulator.token_for(
            demo::ADMIN,
            &[
                classroom::Scope::CoursesReadonly,
                classroom::Scope::RostersReadonly,
            ],
        )))
        .retry(
            classroom::RetryPolicy::default()
                .initial_backoff(std::time::Duration::from_millis(1))
                .max_backoff(std::time::Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    // The first part is rate limited once and retried; the third finds no course.
    emulator.inject(
        Fault::rate_limited(std::time::Duration::ZERO)
            .part(0)
            .times(1),
    );
    let (captured, _guard) = Captured::start(tracing::Level::DEBUG);
    let mut batch = client.batch();
    let course = batch.add(client.courses().get(demo::COURSE_ALIAS));
    let students = batch.add(client.courses().students().list(demo::COURSE_ALIAS));
    let missing = batch.add(client.courses().get("no-such-course"));
    let mut results = batch.send().await;
    results.take(course).unwrap();
    results.take(students).unwrap();
    assert!(results.take(missing).unwrap_err().is_not_found());

    let log = captured.take();
    let lines: Vec<&str> = log.lines().collect();
    let outcome = |method: &str, what: &str| {
        lines
            .iter()
            .filter(|l| {
                l.contains("classroom.batch{")
                    && l.contains(&format!("classroom.call{{method=\"{method}\""))
                    && l.contains(what)
            })
            .count()
    };
    assert_eq!(
        outcome("classroom.courses.get", "answered status=200"),
        1,
        "the course, in its span under the batch's: {log}"
    );
    assert_eq!(
        outcome("classroom.courses.students.list", "answered status=200"),
        1,
        "{log}"
    );
    assert_eq!(
        outcome("classroom.courses.get", "failed status=404"),
        1,
        "the missing course: {log}"
    );
    assert_eq!(
        outcome("classroom.courses.get", "failed status=429"),
        1,
        "the rate-limited attempt: {log}"
    );
    assert_eq!(
        outcome("classroom.courses.get", "retrying a batched call"),
        1,
        "the retry decision, in the call's span: {log}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("classroom.call{") && l.contains("latency_ms="))
            .count()
            >= 4,
        "every part's latency: {log}"
    );
}
