//! The request path's hand-picked cases: encoding, validation, errors, retries, paging.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use classroom::models::{Course, CourseState};
use classroom::{BearerToken, Error, Scope};
use common::{Reply, TestServer};
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

async fn ok_server() -> TestServer {
    TestServer::start(|_| Reply::json(200, &json!({}))).await
}

#[tokio::test]
async fn ids_with_reserved_characters_stay_one_segment() {
    let server = ok_server().await;
    let client = common::client(&server);
    client.courses().get("d:math-101").send().await.unwrap();
    client.courses().get("a/b?c#d e%f").send().await.unwrap();
    client.courses().get("Ünïcödé").send().await.unwrap();
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/v1/courses/d%3Amath-101",
            "/v1/courses/a%2Fb%3Fc%23d%20e%25f",
            "/v1/courses/%C3%9Cn%C3%AFc%C3%B6d%C3%A9"
        ]
    );
}

#[tokio::test]
async fn empty_or_dot_ids_are_refused_before_sending() {
    let server = ok_server().await;
    let client = common::client(&server);
    for id in ["", ".", ".."] {
        let err = client
            .courses()
            .course_work()
            .get("course", id)
            .send()
            .await
            .unwrap_err();
        match err {
            Error::InvalidInput {
                method, message, ..
            } => {
                assert_eq!(method, "classroom.courses.courseWork.get");
                assert!(message.contains("`id`"), "{message}");
            }
            other => panic!("expected InvalidInput for {id:?}, got {other:?}"),
        }
    }
    assert!(
        server.requests().is_empty(),
        "nothing is sent for an invalid id"
    );
}

#[tokio::test]
async fn repeated_query_parameters_repeat_their_key() {
    let server = TestServer::start(|_| Reply::json(200, &json!({"courses": []}))).await;
    let client = common::client(&server);
    client
        .courses()
        .list()
        .course_states([CourseState::Active, CourseState::Archived])
        .page_size(3)
        .send()
        .await
        .unwrap();
    let sent = &server.requests()[0];
    assert_eq!(
        sent.raw_query,
        "prettyPrint=false&courseStates=ACTIVE&courseStates=ARCHIVED&pageSize=3"
    );
}

#[tokio::test]
async fn bodies_omit_absent_fields_and_masks_join_with_commas() {
    let server =
        TestServer::start(|r| Reply::json(200, &serde_json::from_slice(&r.body).unwrap())).await;
    let client = common::client(&server);
    let course = Course {
        name: Some("Biology".into()),
        section: Some("".into()),
        ..Default::default()
    };
    let back = client
        .courses()
        .patch("c1", course.clone())
        .update_mask(["name", "section"])
        .send()
        .await
        .unwrap();
    assert_eq!(back, course);
    let sent = &server.requests()[0];
    assert_eq!(sent.method, "PATCH");
    assert_eq!(
        String::from_utf8_lossy(&sent.body),
        r#"{"name":"Biology","section":""}"#
    );
    assert_eq!(
        sent.raw_query,
        "prettyPrint=false&updateMask=name%2Csection"
    );
}

#[tokio::test]
async fn a_scope_403_is_told_apart_from_a_permission_403() {
    let scope = json!({"error": {
        "code": 403, "status": "PERMISSION_DENIED",
        "message": "Request had insufficient authentication scopes.",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "domain": "googleapis.com",
                     "metadata": {"method": "google.classroom.v1.Courses.CreateCourse"}}]}});
    let permission = json!({"error": {
        "code": 403, "status": "PERMISSION_DENIED",
        "message": "The caller does not have permission",
        "errors": [{"reason": "forbidden", "domain": "global", "message": "The caller does not have permission"}]}});
    let server = TestServer::start(move |r| {
        Reply::json(
            403,
            if r.path.ends_with("scope") {
                &scope
            } else {
                &permission
            },
        )
    })
    .await;
    let client = common::client(&server);

    let err = client.courses().delete("scope").send().await.unwrap_err();
    let api = err.api().expect("an API error");
    assert!(api.is_scope_insufficient() && !api.is_permission_denied());
    assert_eq!(
        api.reason.as_deref(),
        Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT")
    );
    assert_eq!(
        api.status.as_ref().map(|c| c.as_str()),
        Some("PERMISSION_DENIED")
    );
    assert_eq!(api.details.len(), 1, "details are kept");
    assert_eq!(
        api.details[0]["metadata"]["method"],
        "google.classroom.v1.Courses.CreateCourse"
    );
    assert!(err.to_string().contains("lacks a scope"), "{err}");

    let err = client.courses().delete("owner").send().await.unwrap_err();
    let api = err.api().unwrap();
    assert!(api.is_permission_denied() && !api.is_scope_insufficient());
    assert_eq!(api.reason.as_deref(), Some("forbidden"));
    assert_eq!(api.message, "The caller does not have permission");
    assert_eq!(err.http_status(), Some(403));
}

#[tokio::test]
async fn non_json_errors_and_broken_replies_are_typed_errors() {
    let server = TestServer::start(|r| match r.path.as_str() {
        "/v1/courses/html" => Reply::raw(404, "text/html", "<html><body>Not Found</body></html>"),
        "/v1/courses/truncated" => {
            Reply::raw(200, "application/json", r#"{"id": "1", "name": "Bi"#)
        }
        "/v1/courses/wrong-type" => Reply::raw(200, "application/json", r#"{"id": 7}"#),
        _ => Reply::raw(200, "application/json", ""),
    })
    .await;
    let client = common::client(&server);

    let err = client.courses().get("html").send().await.unwrap_err();
    let api = err.api().unwrap();
    assert!(api.is_not_found());
    assert_eq!(
        api.body.as_deref(),
        Some("<html><body>Not Found</body></html>"),
        "the raw body is kept"
    );

    for id in ["truncated", "wrong-type"] {
        match client.courses().get(id).send().await.unwrap_err() {
            Error::Decode {
                method,
                status,
                excerpt,
                ..
            } => {
                assert_eq!(method, "classroom.courses.get");
                assert_eq!(status, 200);
                assert!(excerpt.starts_with(r#"{"id""#), "{excerpt}");
            }
            other => panic!("{id}: expected a decode error, got {other:?}"),
        }
    }
    // An empty body is a success only for a method whose response is empty.
    let err = client.courses().get("empty").send().await.unwrap_err();
    assert!(
        matches!(err, Error::Decode { status: 200, .. }),
        "a course with nothing in it is no answer: {err:?}"
    );
    client.courses().delete("empty").send().await.unwrap();
}

#[tokio::test]
async fn a_call_no_granted_scope_authorizes_sends_nothing() {
    let server = ok_server().await;
    let readonly = BearerToken::new("t", [Scope::CoursesReadonly.url()]);
    let client = common::client_with(&server, readonly);
    match client
        .courses()
        .create(Course::default())
        .send()
        .await
        .unwrap_err()
    {
        Error::MissingScope {
            method,
            accepted,
            granted,
            ..
        } => {
            assert_eq!(method, "classroom.courses.create");
            assert_eq!(accepted, [Scope::Courses]);
            assert_eq!(granted, [Scope::CoursesReadonly.url()]);
        }
        other => panic!("expected MissingScope, got {other:?}"),
    }
    client
        .courses()
        .list()
        .send()
        .await
        .expect("readonly authorizes courses.list");

    // classroom.profile.emails is listed for students.list, yet never authorizes on its own.
    let emails_only = BearerToken::new("t", [Scope::ProfileEmails.url()]);
    let client = common::client_with(&server, emails_only);
    let err = client
        .courses()
        .students()
        .list("c")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_missing_scope(), "{err}");
    assert_eq!(
        server.requests().len(),
        1,
        "only the authorized call was sent"
    );
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_servers_delay() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let server = TestServer::start(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) < 2 {
            Reply::json(429, &json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down"}}))
                .with_header("retry-after", "0")
        } else {
            Reply::json(201, &json!({"id": "new"}))
        }
    })
    .await;
    let client = common::client(&server);
    let created = client
        .courses()
        .create(Course::default())
        .send()
        .await
        .unwrap();
    assert_eq!(created.id.as_deref(), Some("new"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        3,
        "429 is retried even for POST: the server did not act"
    );
}

#[tokio::test]
async fn a_post_that_may_have_acted_is_not_retried_but_a_get_is() {
    let server = TestServer::start(|_| {
        Reply::json(500, &json!({"error": {"code": 500, "message": "boom"}}))
    })
    .await;
    let client = common::client(&server);
    let err = client
        .courses()
        .create(Course::default())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(500));
    assert!(err.is_retryable());
    assert_eq!(
        server.take_requests().len(),
        1,
        "POST after a 500 is not resent"
    );

    client.courses().get("c").send().await.unwrap_err();
    assert_eq!(
        server.take_requests().len(),
        5,
        "GET is retried up to the policy's 5 attempts"
    );
}

#[tokio::test]
async fn a_fixed_token_that_gets_401_is_not_resent() {
    let server = TestServer::start(|_| {
        Reply::json(
            401,
            &json!({"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "expired"}}),
        )
    })
    .await;
    let client = common::client(&server);
    let err = client.courses().get("c").send().await.unwrap_err();
    assert!(err.api().unwrap().is_unauthenticated());
    assert_eq!(
        server.requests().len(),
        1,
        "a BearerToken cannot refresh, so the same token is not sent twice"
    );
}

fn page_server(
    tokens: &'static [(&'static str, Option<&'static str>)],
) -> impl Fn(&common::Recorded) -> Reply {
    move |r| {
        let asked = r
            .query
            .iter()
            .find(|(k, _)| k == "pageToken")
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let (id, next) = tokens
            .iter()
            .find(|(t, _)| *t == asked)
            .copied()
            .expect("a known token");
        let mut page = json!({"courses": [{"id": format!("{id}-1")}, {"id": format!("{id}-2")}]});
        if let Some(next) = next {
            page["nextPageToken"] = json!(next);
        }
        Reply::json(200, &page)
    }
}

#[tokio::test]
async fn items_follow_next_page_tokens_lazily() {
    let server = TestServer::start(page_server(&[
        ("", Some("p2")),
        ("p2", Some("p3")),
        ("p3", Some("")),
    ]))
    .await;
    let client = common::client(&server);
    let mut items = client.courses().list().page_size(2).items();
    let first = items.next().await.unwrap().unwrap();
    assert_eq!(first.id.as_deref(), Some("-1"));
    assert_eq!(
        server.requests().len(),
        1,
        "the second page is not fetched before it is needed"
    );
    let rest: Vec<_> = items.try_collect().await.unwrap();
    let ids: Vec<_> = rest.iter().map(|c| c.id.clone().unwrap()).collect();
    assert_eq!(ids, ["-2", "p2-1", "p2-2", "p3-1", "p3-2"]);
    let tokens: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r.raw_query.clone())
        .collect();
    assert_eq!(
        tokens,
        [
            "prettyPrint=false&pageSize=2",
            "prettyPrint=false&pageSize=2&pageToken=p2",
            "prettyPrint=false&pageSize=2&pageToken=p3"
        ]
    );
}

/// A page's list is allocated once, for the page size asked for; a page that holds far fewer
/// gives the room back, and a page size beyond what the body can hold allocates nothing extra.
#[tokio::test]
async fn a_page_is_allocated_for_the_page_size_asked() {
    let server = TestServer::start(|r| {
        let courses = |n: usize| {
            (0..n)
                .map(|i| json!({"id": i.to_string()}))
                .collect::<Vec<_>>()
        };
        let page = match r.query.iter().find(|(k, _)| k == "pageToken") {
            None => json!({"courses": courses(5), "nextPageToken": "short"}),
            Some(_) => json!({"courses": courses(1)}),
        };
        Reply::json(200, &page)
    })
    .await;
    let client = common::client(&server);
    let capacities = |page_size: i32| {
        let pages = client.courses().list().page_size(page_size).pages();
        pages
            .map_ok(|p| (p.courses.len(), p.courses.capacity()))
            .try_collect::<Vec<_>>()
    };
    // Grown item by item, five courses would sit in room for eight.
    assert_eq!(capacities(5).await.unwrap(), [(5, 5), (1, 1)]);
    assert_eq!(capacities(1_000_000).await.unwrap(), [(5, 5), (1, 1)]);
    let (full, short) = match capacities(6).await.unwrap()[..] {
        [full, short] => (full, short),
        ref other => panic!("{other:?}"),
    };
    assert_eq!(full, (5, 6), "one short of the page size keeps its room");
    assert_eq!(short, (1, 1));
}

#[tokio::test]
async fn a_finished_list_stays_finished_when_polled_again() {
    let server = TestServer::start(page_server(&[("", None)])).await;
    let client = common::client(&server);
    let mut items = client.courses().list().items();
    while items.next().await.is_some() {}
    assert!(items.next().await.is_none(), "polled again, it ends again");
    let mut pages = Box::pin(client.courses().list().pages());
    while pages.next().await.is_some() {}
    assert!(pages.next().await.is_none(), "polled again, it ends again");
    assert_eq!(server.requests().len(), 2, "and asks for nothing more");
}

#[tokio::test]
async fn a_page_token_sent_twice_ends_the_stream_with_an_error() {
    let server =
        TestServer::start(page_server(&[("", Some("loop")), ("loop", Some("loop"))])).await;
    let client = common::client(&server);
    let pages: Vec<_> = client.courses().list().pages().collect().await;
    assert_eq!(pages.len(), 3, "two pages, then the error");
    assert!(
        pages[0].is_ok() && pages[1].is_ok(),
        "the looping page itself is not lost"
    );
    let err = pages[2].as_ref().unwrap_err();
    assert!(
        matches!(
            err,
            Error::PageLoop {
                kind: classroom::PageLoop::RepeatedToken(token),
                ..
            } if token == "loop"
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_failed_page_ends_the_stream_after_the_error() {
    let server = TestServer::start(|r| {
        if r.raw_query.contains("pageToken") {
            Reply::json(404, &json!({"error": {"code": 404, "message": "gone"}}))
        } else {
            Reply::json(
                200,
                &json!({"courses": [{"id": "1"}], "nextPageToken": "next"}),
            )
        }
    })
    .await;
    let client = common::client(&server);
    let items: Vec<_> = client.courses().list().items().collect().await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0].as_ref().unwrap().id.as_deref(), Some("1"));
    assert!(items[1].as_ref().unwrap_err().api().unwrap().is_not_found());

    // The same read one at a time, with the stream's own `try_next`, unpinned, from a task.
    fn sendable<T: Send + Unpin + 'static>(items: T) -> T {
        items
    }
    let mut items = sendable(client.courses().list().items());
    let read = tokio::spawn(async move {
        let first = items.try_next().await.map(|c| c.and_then(|c| c.id));
        let failed = items.try_next().await.map(|c| c.and_then(|c| c.id));
        let after = items.try_next().await.map(|c| c.and_then(|c| c.id));
        (first, failed, after)
    });
    let (first, failed, after) = read.await.unwrap();
    assert_eq!(first.unwrap().as_deref(), Some("1"));
    assert!(failed.unwrap_err().api().unwrap().is_not_found());
    assert_eq!(after.unwrap(), None, "ended after the error");
    assert_eq!(server.requests().len(), 4, "and asked for nothing more");
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let client = classroom::Classroom::builder()
        .root_url(url)
        .credentials(BearerToken::unchecked("t"))
        .retry(classroom::RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.courses().get("c").send().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Transport {
                kind: classroom::TransportKind::Refused,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_connect() && err.is_retryable());
}

#[test]
fn a_bad_root_url_is_refused_when_building() {
    for url in ["not a url", "ftp://x/", "http://x/?q=1"] {
        let err = classroom::Classroom::builder()
            .root_url(url)
            .credentials(BearerToken::unchecked("t"))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput { .. }), "{url}: {err:?}");
    }
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let client = classroom::Classroom::new(BearerToken::unchecked("ya29.secret-token")).unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains("secret-token"), "{shown}");
    assert!(shown.contains("https://classroom.googleapis.com/"));
}

#[tokio::test]
async fn classroom_codes_are_typed_and_lasting_ones_are_not_retried() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let server = TestServer::start(move |r| {
        counter.fetch_add(1, Ordering::SeqCst);
        let (status, code, message) = match r.path.as_str() {
            "/v1/invitations" => (
                429,
                "RESOURCE_EXHAUSTED",
                "@UserInvitationQuotaExhausted The user has sent too many invitations today.",
            ),
            _ => (
                400,
                "FAILED_PRECONDITION",
                "@CourseMemberLimitReached The course member limit has been reached.",
            ),
        };
        Reply::json(
            status,
            &json!({"error": {"code": status, "status": code, "message": message}}),
        )
    })
    .await;
    let client = common::client(&server);
    let err = client
        .invitations()
        .create(Default::default())
        .with_idempotency(true)
        .send()
        .await
        .unwrap_err();
    let api = err.api().unwrap();
    assert_eq!(
        api.classroom_reason,
        Some(classroom::ClassroomReason::UserInvitationQuotaExhausted)
    );
    assert!(api.is_lasting() && !api.is_rate_limited() && !err.is_retryable());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a daily quota is not retried"
    );
    assert!(
        err.to_string().contains("tomorrow"),
        "says what to do: {err}"
    );

    let err = client
        .courses()
        .students()
        .create("c", Default::default())
        .send()
        .await
        .unwrap_err();
    assert!(err.is_failed_precondition());
    assert_eq!(
        err.api().unwrap().classroom_reason,
        Some(classroom::ClassroomReason::CourseMemberLimitReached)
    );
}

#[tokio::test]
async fn an_api_key_goes_in_a_header_and_stays_out_of_urls_and_debug() {
    let server = ok_server().await;
    let client = classroom::Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::unchecked("t"))
        .api_key(classroom::auth::ApiKey::new("AIza-client-key"))
        .build()
        .unwrap();
    client.courses().get("a").send().await.unwrap();
    client
        .courses()
        .get("b")
        .with_api_key(classroom::auth::ApiKey::new("AIza-call-key"))
        .send()
        .await
        .unwrap();
    let requests = server.take_requests();
    assert_eq!(
        requests[0].header("x-goog-api-key"),
        Some("AIza-client-key")
    );
    assert_eq!(requests[1].header("x-goog-api-key"), Some("AIza-call-key"));
    for request in &requests {
        assert!(!request.raw_query.contains("AIza"), "never in the URL");
    }
    let debug = format!("{client:?}");
    assert!(!debug.contains("AIza"), "{debug}");
}
