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
