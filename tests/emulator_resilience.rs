//! Fault injection with the SDK's retries, and the batch endpoint.

#[path = "emulator_common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use classroom::{BearerToken, Classroom, RetryPolicy, Scope};
use classroom_emulator::{Emulator, Fault, demo};

fn retrying(emulator: &Emulator, policy: RetryPolicy) -> Classroom {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(
            emulator.token_for(demo::ADMIN, &[Scope::Courses]),
        ))
        .retry(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn rate_limit_with_retry_after_then_success() {
    let emulator = Emulator::start().unwrap();
    emulator.inject(
        Fault::rate_limited(Duration::from_secs(1))
            .on("classroom.courses.list")
            .times(1),
    );
    let classroom = retrying(&emulator, RetryPolicy::default());
    let started = Instant::now();
    let listed = classroom.courses().list().send().await.unwrap();
    assert_eq!(listed.courses.len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "the SDK waited for Retry-After: {:?}",
        started.elapsed()
    );

    emulator.inject(Fault::rate_limited(Duration::from_secs(7)).on("classroom.courses.list"));
    let err = retrying(&emulator, RetryPolicy::none())
        .courses()
        .list()
        .send()
        .await
        .unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(
        (api.http_status, api.status.as_ref().map(|c| c.as_str())),
        (429, Some("RESOURCE_EXHAUSTED"))
    );
    assert_eq!(
        api.retry_after,
        Some(Duration::from_secs(7)),
        "Retry-After is sent"
    );
    let other = retrying(&emulator, RetryPolicy::none());
    other
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn unavailable_and_dropped_connections_are_retried() {
    let emulator = Emulator::start().unwrap();
    let fast = RetryPolicy::default()
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20));
    emulator.inject(Fault::unavailable().on("classroom.courses.get").times(2));
    retrying(&emulator, fast.clone())
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();

    emulator.inject(
        Fault::drop_connection()
            .on("classroom.courses.get")
            .times(1),
    );
    let err = retrying(&emulator, RetryPolicy::none())
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap_err();
    assert!(
        err.api().is_none() && err.is_retryable(),
        "a transport error: {err}"
    );
    emulator.inject(
        Fault::drop_connection()
            .on("classroom.courses.get")
            .times(1),
    );
    retrying(&emulator, fast)
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn latency_and_fractions() {
    let emulator = Emulator::start().unwrap();
    emulator.inject(Fault::latency(Duration::from_millis(150)).times(1));
    let classroom = retrying(&emulator, RetryPolicy::none());
    let started = Instant::now();
    classroom
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));

    emulator.inject(Fault::unavailable().fraction(0.5));
    let mut failed = 0;
    for _ in 0..200 {
        if classroom
            .courses()
            .get(demo::COURSE_ALIAS)
            .send()
            .await
            .is_err()
        {
            failed += 1;
        }
    }
    assert!((50..150).contains(&failed), "about half fail: {failed}");
    emulator.clear_faults();
    classroom
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();

    // The OAuth endpoints take faults too, so token refresh paths can be tested.
    emulator.inject(Fault::unavailable().on("oauth.token").times(1));
    let token_call = || {
        common::http()
            .post(emulator.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(common::form(&[
                ("grant_type", "client_credentials"),
                ("client_id", demo::CLIENT_ID),
                ("client_secret", demo::CLIENT_SECRET),
            ]))
            .send()
    };
    assert_eq!(token_call().await.unwrap().status(), 503);
    assert_eq!(token_call().await.unwrap().status(), 200);
}

#[tokio::test]
async fn batch_answers_each_part_in_order() {
    let emulator = Emulator::start().unwrap();
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    let create = "POST /v1/courses HTTP/1.1\r\nContent-Type: application/json\r\n\r\n\
                  {\"name\":\"From a batch\",\"ownerId\":\"ada.lovelace@school.example\"}";
    let body = common::batch_body(
        "b0undary",
        &[
            "GET /v1/courses/d%3Amath-101 HTTP/1.1\r\n",
            create,
            "GET /v1/courses/nope HTTP/1.1\r\n",
        ],
    );
    let response = common::http()
        .post(emulator.batch_url())
        .bearer_auth(&token)
        .header("content-type", "multipart/mixed; boundary=b0undary")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        content_type.starts_with("multipart/mixed; boundary="),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let statuses: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("HTTP/1.1 "))
        .map(|l| &l[9..12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{text}");
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("Content-ID"))
        .collect();
    assert_eq!(ids[0], "Content-ID: <response-item0>");
    assert!(text.contains("Mathematics 101") && text.contains("From a batch"));

    let too_many: Vec<&str> = vec!["GET /v1/courses HTTP/1.1\r\n"; 51];
    let response = common::http()
        .post(emulator.batch_url())
        .bearer_auth(&token)
        .header("content-type", "multipart/mixed; boundary=b")
        .body(common::batch_body("b", &too_many))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "at most 50 calls per batch");
}

#[tokio::test]
async fn malformed_http_gets_an_answer_or_a_close_never_a_hang() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let emulator = Emulator::start().unwrap();
    let exchanges: [&[u8]; 3] = [
        b"GARBAGE\r\n\r\n",
        b"POST /v1/courses HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na",
        b"GET /v1/courses HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    ];
    for request in exchanges {
        let mut stream = tokio::net::TcpStream::connect(emulator.addr())
            .await
            .unwrap();
        stream.write_all(request).await.unwrap();
        stream.shutdown().await.unwrap();
        let mut reply = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
        assert!(
            read.is_ok(),
            "the server neither answered nor closed: {:?}",
            String::from_utf8_lossy(request)
        );
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 4"),
            "{reply}"
        );
    }
    // Still serving.
    let classroom = retrying(&emulator, RetryPolicy::none());
    classroom
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
}

/// `cargo test --release --test emulator_resilience -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn throughput() {
    let emulator = Emulator::start().unwrap();
    let classroom = retrying(&emulator, RetryPolicy::none());
    let started = Instant::now();
    let total = 4000;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let classroom = classroom.clone();
            tokio::spawn(async move {
                for _ in 0..total / 8 {
                    classroom
                        .courses()
                        .get(demo::COURSE_ALIAS)
                        .send()
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "{total} courses.get in {elapsed:?}: {:.0} requests/s",
        total as f64 / elapsed.as_secs_f64()
    );
}
