//! Batches: against the emulator's batch endpoint, and against a recording server that answers
//! each part as the test says, to count requests and script part failures.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use classroom::models::Course;
use classroom::{BearerToken, Classroom, Error, RateLimit, RetryPolicy, Scope, Unmatched};
use classroom_emulator::{Emulator, demo};
use common::{Answer, Captured, Reply, TestServer, multipart, parts};

/// Counts how often each part (request line and body) was seen, across requests.
#[derive(Default)]
struct Seen(Mutex<HashMap<String, usize>>);

impl Seen {
    /// How many times this part was seen before.
    fn before(&self, line: &str, json: &str) -> usize {
        let mut seen = self.0.lock().unwrap();
        let n = seen.entry(format!("{line} {json}")).or_default();
        *n += 1;
        *n - 1
    }
}

/// A batch server whose reply to each request is `script(its parts, request number)`.
async fn scripted_server(
    script: impl Fn(&[(String, String, String)], usize) -> Vec<Answer> + Send + Sync + 'static,
) -> TestServer {
    let requests = std::sync::atomic::AtomicUsize::new(0);
    TestServer::start(move |request| {
        assert_eq!(request.path, "/batch", "batches go to the batch path");
        let n = requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        multipart(&script(&parts(request), n))
    })
    .await
}

/// A batch server: each part's reply comes from `answer(request line, times the same request
/// was seen before)`. The parts are answered in reverse order, each labelled as Google labels
/// it, so that only matching by Content-ID gives each call its own answer.
async fn batch_server(
    answer: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
) -> TestServer {
    let seen = Seen::default();
    scripted_server(move |parts, _| {
        parts
            .iter()
            .rev()
            .map(|(id, line, json)| Answer::to(id, answer(line, seen.before(line, json))))
            .collect()
    })
    .await
}

/// A course that names the call it answers: the id in the request's path.
fn course_from(line: &str) -> String {
    let id = line.split('/').nth(3).unwrap().split('?').next().unwrap();
    format!(r#"{{"id": "{id}", "name": "Course {id}"}}"#)
}

/// The answer to one part, carrying the part's own id so that a mix-up is visible: the course
/// id of a get's path, or the `id` of a create's body.
fn own(line: &str, json: &str) -> (u16, String) {
    if json.is_empty() {
        return (200, course_from(line));
    }
    let course: serde_json::Value = serde_json::from_str(json).unwrap();
    (200, serde_json::json!({"id": course["id"]}).to_string())
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

/// A client whose batched reads are tried at most `attempts` times, with no wait to speak of.
fn client_with_attempts(server: &TestServer, attempts: u32) -> Classroom {
    Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::unchecked("t"))
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(1))
                .max_attempts(attempts),
        )
        .build()
        .unwrap()
}

/// A create that carries its own id, so that its answer can name it.
fn create(classroom: &Classroom, id: &str) -> classroom::resources::courses::Create {
    classroom.courses().create(Course {
        id: Some(id.into()),
        ..Default::default()
    })
}

/// The kind of an [`Error::BatchUnmatched`], failing the test on any other result.
fn unmatched<T: std::fmt::Debug>(result: classroom::Result<T>) -> Unmatched {
    match result {
        Err(Error::BatchUnmatched { kind, method, .. }) => {
            assert!(method.starts_with("classroom.courses."), "{method}");
            kind
        }
        other => panic!("expected BatchUnmatched, got {other:?}"),
    }
}

#[tokio::test]
async fn parts_are_matched_by_content_id_in_any_order() {
    // Rotated by one, then the second half reversed: neither request order nor its reverse.
    let server = scripted_server(|parts, _| {
        let mut answers: Vec<_> = parts
            .iter()
            .map(|(id, line, json)| Answer::to(id, own(line, json)))
            .collect();
        answers.rotate_left(1);
        let half = answers.len() / 2;
        answers[half..].reverse();
        answers
    })
    .await;
    let classroom = client_with_attempts(&server, 1);
    let ids: Vec<String> = (0..7).map(|i| format!("c{i}")).collect();
    let results = classroom
        .send_batched(ids.iter().map(|id| classroom.courses().get(id)))
        .await;
    let got: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap().id.unwrap())
        .collect();
    assert_eq!(got, ids, "each call gets the part that carries its own id");
}

#[tokio::test]
async fn parts_with_content_ids_the_sdk_did_not_send_are_never_attached() {
    // Every part answers its own call, in reverse order, under an id the SDK never wrote.
    let server = scripted_server(|parts, _| {
        parts
            .iter()
            .enumerate()
            .rev()
            .map(|(n, (_, line, json))| {
                let (status, body) = own(line, json);
                Answer::labelled(Some(format!("<response-unknown-{n}>")), status, body)
            })
            .collect()
    })
    .await;
    let classroom = client_with_attempts(&server, 2);
    let mut batch = classroom.batch();
    let gets: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| batch.add(classroom.courses().get(*id)))
        .collect();
    let write = batch.add(create(&classroom, "w"));
    let mut results = batch.send().await;
    for get in gets {
        assert_eq!(unmatched(results.take(get)), Unmatched::Missing);
    }
    assert_eq!(unmatched(results.take(write)), Unmatched::Missing);
    let sizes: Vec<_> = server.requests().iter().map(|r| parts(r).len()).collect();
    assert_eq!(
        sizes,
        [4, 3],
        "the reads are sent again, as a read that got no answer is; the create is not"
    );
}

#[tokio::test]
async fn parts_without_a_content_id_are_never_taken_by_position() {
    let server = scripted_server(|parts, _| {
        parts
            .iter()
            .map(|(_, line, json)| {
                let (status, body) = own(line, json);
                Answer::labelled(None, status, body)
            })
            .collect()
    })
    .await;
    let classroom = client_with_attempts(&server, 1);
    let results = classroom
        .send_batched(["a", "b"].map(|id| classroom.courses().get(id)))
        .await;
    for result in results {
        assert_eq!(unmatched(result), Unmatched::Missing);
    }
}

#[tokio::test]
async fn extra_parts_before_among_and_after_the_labelled_ones_are_ignored() {
    let intruder = |content_id: Option<String>| {
        Answer::labelled(
            content_id,
            200,
            r#"{"id": "intruder", "name": "Someone else's course"}"#.into(),
        )
    };
    let server = scripted_server(move |parts, _| {
        let (first_id, ..) = &parts[0];
        let tag = first_id
            .trim_start_matches('<')
            .trim_end_matches('>')
            .rsplit_once('+')
            .unwrap()
            .0
            .to_string();
        let mut answers = vec![
            // Unlabelled, before the real answers: once taken for the first call.
            intruder(None),
            // Another request's tag, and numbers past this request's calls.
            intruder(Some("<response-another+0>".into())),
            intruder(Some(format!("<response-{tag}+{}>", parts.len()))),
            intruder(Some(format!("<response-{tag}+01>"))),
        ];
        answers.extend(
            parts
                .iter()
                .map(|(id, line, json)| Answer::to(id, own(line, json))),
        );
        answers.insert(3, intruder(Some("<response-item1>".into())));
        answers.push(intruder(None));
        answers
    })
    .await;
    let classroom = client_with_attempts(&server, 1);
    let results = classroom
        .send_batched(["a", "b", "c"].map(|id| classroom.courses().get(id)))
        .await;
    let got: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap().id.unwrap())
        .collect();
    assert_eq!(got, ["a", "b", "c"]);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_content_id_that_appears_twice_gives_its_call_neither_part() {
    // The part for the first call comes twice: first with another call's course, then its own.
    let server = scripted_server(|parts, _| {
        let mut answers: Vec<_> = parts
            .iter()
            .map(|(id, line, json)| Answer::to(id, own(line, json)))
            .collect();
        let (first_id, ..) = &parts[0];
        let (_, other_line, other_json) = &parts[parts.len() - 1];
        answers.insert(0, Answer::to(first_id, own(other_line, other_json)));
        answers
    })
    .await;
    let classroom = client_with_attempts(&server, 3);

    let results = classroom
        .send_batched(["a", "b"].map(|id| classroom.courses().get(id)))
        .await;
    let mut results = results.into_iter();
    assert_eq!(unmatched(results.next().unwrap()), Unmatched::Repeated);
    assert_eq!(results.next().unwrap().unwrap().id.as_deref(), Some("b"));
    let sizes: Vec<_> = server
        .take_requests()
        .iter()
        .map(|r| parts(r).len())
        .collect();
    assert_eq!(sizes, [2, 1, 1], "the read is tried again, up to the limit");

    // A write is sent once; one declared idempotent is retried like a read.
    let mut batch = classroom.batch();
    let plain = batch.add(create(&classroom, "w"));
    let other = batch.add(create(&classroom, "v"));
    let mut results = batch.send().await;
    assert_eq!(unmatched(results.take(plain)), Unmatched::Repeated);
    assert_eq!(results.take(other).unwrap().id.as_deref(), Some("v"));
    let mut batch = classroom.batch();
    let declared = batch.add(create(&classroom, "w").with_idempotency(true));
    let other = batch.add(create(&classroom, "v"));
    let mut results = batch.send().await;
    assert_eq!(unmatched(results.take(declared)), Unmatched::Repeated);
    assert_eq!(results.take(other).unwrap().id.as_deref(), Some("v"));
    let sizes: Vec<_> = server
        .take_requests()
        .iter()
        .map(|r| parts(r).len())
        .collect();
    assert_eq!(sizes, [2, 2, 1, 1]);
}

#[tokio::test]
async fn a_call_left_without_a_part_fails_alone() {
    // Every reply leaves out the part for "b" (and for a create of "b").
    let server = scripted_server(|parts, _| {
        parts
            .iter()
            .filter(|(_, line, json)| !line.contains("/b?") && !json.contains("\"b\""))
            .map(|(id, line, json)| Answer::to(id, own(line, json)))
            .collect()
    })
    .await;
    let classroom = client_with_attempts(&server, 2);
    let mut batch = classroom.batch();
    let a = batch.add(classroom.courses().get("a"));
    let b = batch.add(classroom.courses().get("b"));
    let write = batch.add(create(&classroom, "b"));
    let c = batch.add(classroom.courses().get("c"));
    let mut results = batch.send().await;
    assert_eq!(results.take(a).unwrap().id.as_deref(), Some("a"));
    assert_eq!(unmatched(results.take(b)), Unmatched::Missing);
    assert_eq!(unmatched(results.take(write)), Unmatched::Missing);
    assert_eq!(results.take(c).unwrap().id.as_deref(), Some("c"));
    let sizes: Vec<_> = server.requests().iter().map(|r| parts(r).len()).collect();
    assert_eq!(
        sizes,
        [4, 1],
        "only the read without an answer is sent again"
    );
}

#[tokio::test]
async fn a_part_that_keeps_failing_is_tried_as_often_as_the_policy_allows() {
    let server = batch_server(|line, _| {
        if line.contains("/busy?") {
            let body = r#"{"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}"#;
            return (503, body.into());
        }
        (200, course_from(line))
    })
    .await;
    let classroom = client_with_attempts(&server, 3);
    let results = classroom
        .send_batched(["busy", "a"].map(|id| classroom.courses().get(id)))
        .await;
    assert_eq!(results[0].as_ref().unwrap_err().http_status(), Some(503));
    assert_eq!(results[1].as_ref().unwrap().id.as_deref(), Some("a"));
    let sizes: Vec<_> = server.requests().iter().map(|r| parts(r).len()).collect();
    assert_eq!(sizes, [2, 1, 1], "three attempts in all, then the error");
}

#[tokio::test]
async fn a_retried_part_waits_its_retry_after() {
    let server = scripted_server(|parts, n| {
        parts
            .iter()
            .map(|(id, line, json)| {
                let mut answer = Answer::to(id, own(line, json));
                if n == 0 {
                    answer.status = 429;
                    answer.headers = "Retry-After: 1\r\n".into();
                    answer.body = r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down"}}"#.into();
                }
                answer
            })
            .collect()
    })
    .await;
    let classroom = client_with_attempts(&server, 3);
    let started = Instant::now();
    let results = classroom
        .send_batched(["a"].map(|id| classroom.courses().get(id)))
        .await;
    let took = started.elapsed();
    assert_eq!(results[0].as_ref().unwrap().id.as_deref(), Some("a"));
    assert_eq!(server.requests().len(), 2);
    assert!(
        took >= Duration::from_secs(1),
        "the retry waited the part's Retry-After of 1 s: {took:?}"
    );
}

/// A server for both the token endpoint (`/token`, tokens `t0`, `t1`, ... in turn) and the
/// batch endpoint, which refuses every batch whose token `refused` says so with a 401.
async fn refusing_server(refused: impl Fn(&str) -> bool + Send + Sync + 'static) -> TestServer {
    let tokens = std::sync::atomic::AtomicUsize::new(0);
    TestServer::start(move |request| {
        if request.path == "/token" {
            let n = tokens.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            return Reply::json(
                200,
                &serde_json::json!({"access_token": format!("t{n}"), "expires_in": 3600, "token_type": "Bearer"}),
            );
        }
        let bearer = request.header("authorization").unwrap_or_default();
        if refused(bearer.trim_start_matches("Bearer ")) {
            return Reply::json(
                401,
                &serde_json::json!({"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "expired"}}),
            );
        }
        let answers: Vec<_> = parts(request)
            .iter()
            .map(|(id, line, json)| Answer::to(id, own(line, json)))
            .collect();
        multipart(&answers)
    })
    .await
}

fn refreshing_client(server: &TestServer) -> Classroom {
    use classroom::auth::{ClientSecret, OAuthClient, Provider, RefreshToken, UserCredentials};
    let provider = Provider::new(
        format!("{}auth", server.url),
        format!("{}token", server.url),
    );
    let oauth = OAuthClient::new("id", Some(ClientSecret::new("s"))).with_provider(provider);
    Classroom::builder()
        .root_url(&server.url)
        .credentials(UserCredentials::new(oauth, RefreshToken::new("r")))
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_batch_refused_401_as_a_whole_gets_a_new_token_and_is_sent_once_more() {
    let server = refusing_server(|token| token == "t0").await;
    let classroom = refreshing_client(&server);
    let results = classroom
        .send_batched(["a", "b"].map(|id| classroom.courses().get(id)))
        .await;
    let ids: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap().id.unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"]);
    let requests = server.requests();
    let seen: Vec<_> = requests
        .iter()
        .map(|r| (r.path.as_str(), r.header("authorization")))
        .collect();
    assert_eq!(
        seen,
        [
            ("/token", None),
            ("/batch", Some("Bearer t0")),
            ("/token", None),
            ("/batch", Some("Bearer t1")),
        ]
    );

    // A batch of three requests: the new token serves the two left in the round, and the
    // refused one is sent again.
    let server = refusing_server(|token| token == "t0").await;
    let classroom = refreshing_client(&server);
    let results = classroom
        .send_batched((0..120).map(|i| classroom.courses().get(format!("c{i}"))))
        .await;
    for (i, result) in results.iter().enumerate() {
        assert_eq!(result.as_ref().unwrap().id, Some(format!("c{i}")));
    }
    let seen: Vec<_> = server
        .requests()
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.header("authorization").map(str::to_string),
                if r.path == "/batch" {
                    parts(r).len()
                } else {
                    0
                },
            )
        })
        .collect();
    let batch = |token: &str, calls| ("/batch".to_string(), Some(format!("Bearer {token}")), calls);
    let token = ("/token".to_string(), None, 0);
    assert_eq!(
        seen,
        [
            token.clone(),
            batch("t0", 50),
            token,
            batch("t1", 50),
            batch("t1", 20),
            batch("t1", 50)
        ]
    );

    // Refused again with the new token: no second refresh, the calls get the 401.
    let server = refusing_server(|_| true).await;
    let classroom = refreshing_client(&server);
    let results = classroom
        .send_batched(["a", "b"].map(|id| classroom.courses().get(id)))
        .await;
    for result in &results {
        assert_eq!(result.as_ref().unwrap_err().http_status(), Some(401));
    }
    let paths: Vec<_> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/token", "/batch", "/token", "/batch"]);
}

#[tokio::test]
async fn a_batch_and_its_results_count_their_calls() {
    let server = batch_server(|line, _| (200, course_from(line))).await;
    let classroom = client(&server, &[Scope::CoursesReadonly]);
    let empty = classroom.batch();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    let results = empty.send().await;
    assert!(results.is_empty());
    assert_eq!(results.len(), 0);
    assert!(server.requests().is_empty(), "an empty batch sends nothing");

    let mut batch = classroom.batch();
    let _a = batch.add(classroom.courses().get("a"));
    let _b = batch.add(classroom.courses().create(Course::default()));
    assert!(!batch.is_empty());
    assert_eq!(batch.len(), 2);
    let results = batch.send().await;
    assert!(!results.is_empty());
    assert_eq!(
        results.len(),
        2,
        "a call refused before sending still has its result"
    );
}

#[tokio::test]
async fn a_resend_answered_under_the_first_sends_content_ids_gets_no_part() {
    // The first send is answered 503. The resend gets each call's own answer, but labelled
    // with the first send's Content-IDs, as a reply replayed by a proxy would be: only a tag
    // of each request's own keeps those parts from being attached.
    let first_ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = first_ids.clone();
    let server = scripted_server(move |parts, n| {
        if n == 0 {
            *kept.lock().unwrap() = parts.iter().map(|(id, ..)| id.clone()).collect();
            let busy = r#"{"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}"#;
            return parts
                .iter()
                .map(|(id, ..)| Answer::to(id, (503, busy.into())))
                .collect();
        }
        let old = kept.lock().unwrap();
        parts
            .iter()
            .zip(old.iter())
            .map(|((_, line, json), old_id)| Answer::to(old_id, own(line, json)))
            .collect()
    })
    .await;
    let classroom = client_with_attempts(&server, 2);
    let results = classroom
        .send_batched(["a", "b"].map(|id| classroom.courses().get(id)))
        .await;
    for result in results {
        assert_eq!(unmatched(result), Unmatched::Missing);
    }
    let ids: Vec<Vec<String>> = server
        .requests()
        .iter()
        .map(|r| parts(r).into_iter().map(|(id, ..)| id).collect())
        .collect();
    assert_eq!(ids.len(), 2, "one send and one resend: {ids:?}");
    assert!(
        ids[1].iter().all(|id| !ids[0].contains(id)),
        "the resend carries Content-IDs of its own: {ids:?}"
    );
}

#[tokio::test]
async fn a_batch_refused_401_with_a_token_that_cannot_be_renewed_is_sent_once() {
    // A fixed token comes back the same from a "refresh": resending would only earn another 401.
    let server = refusing_server(|_| true).await;
    let classroom = client_with_attempts(&server, 3);
    let results = classroom
        .send_batched(["a", "b"].map(|id| classroom.courses().get(id)))
        .await;
    for result in &results {
        assert_eq!(result.as_ref().unwrap_err().http_status(), Some(401));
    }
    let paths: Vec<_> = server.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/batch"]);
}

#[tokio::test]
async fn waiting_for_the_first_turn_under_the_rate_limit_is_not_the_batchs_time() {
    let server = batch_server(|line, _| (200, course_from(line))).await;
    // One call a second: the batch's second call waits a second for its turn, longer than
    // the total time the policy gives the calls (kept well over a local exchange's time).
    let classroom = Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::unchecked("t"))
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(1))
                .max_elapsed(Duration::from_millis(800)),
        )
        .rate_limit(RateLimit::new().user_per_minute(60))
        .build()
        .unwrap();
    let started = Instant::now();
    let results = classroom
        .send_batched(["a", "b"].map(|id| classroom.courses().get(id)))
        .await;
    let took = started.elapsed();
    let ids: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap().id.unwrap())
        .collect();
    assert_eq!(ids, ["a", "b"], "sent once the turn came, not timed out");
    assert!(
        took >= Duration::from_millis(900),
        "the batch waited its turn: {took:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn parts_that_name_no_call_are_dropped_with_a_warning_that_counts_them() {
    let (captured, _guard) = Captured::start(tracing::Level::WARN);
    // The first request's reply holds two parts more than its calls; later replies do not.
    let server = scripted_server(|parts, n| {
        let mut answers: Vec<_> = parts
            .iter()
            .map(|(id, line, json)| Answer::to(id, own(line, json)))
            .collect();
        if n == 0 {
            let stray = r#"{"id": "stray"}"#;
            answers.push(Answer::labelled(None, 200, stray.into()));
            answers.push(Answer::labelled(
                Some("<response-another+0>".into()),
                200,
                stray.into(),
            ));
        }
        answers
    })
    .await;
    let classroom = client_with_attempts(&server, 1);

    let results = classroom
        .send_batched(["a"].map(|id| classroom.courses().get(id)))
        .await;
    assert_eq!(results[0].as_ref().unwrap().id.as_deref(), Some("a"));
    let log = captured.take();
    assert!(
        log.contains("ignored batch reply parts") && log.contains("parts=2"),
        "an operator is told that parts were dropped, and how many: {log}"
    );

    let results = classroom
        .send_batched(["b"].map(|id| classroom.courses().get(id)))
        .await;
    assert_eq!(results[0].as_ref().unwrap().id.as_deref(), Some("b"));
    let log = captured.take();
    assert!(
        !log.contains("ignored batch reply parts"),
        "no warning when every part names a call: {log}"
    );
}
