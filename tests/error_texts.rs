//! What an error says: a refusal names the method, the ids it was called with, the canonical
//! status and Google's message, and what to do; a server that is not listening is reported
//! at once, with where, how often and how long; `Error` answers what `ApiError` answers.

mod common;

use std::time::{Duration, Instant};

use classroom::auth::{ClientCredentials, ClientSecret, OAuthClient, Provider};
use classroom::models::CourseWork;
use classroom::{BearerToken, Classroom, Scope};
use classroom_emulator::{Emulator, demo};
use common::{Reply, TestServer};
use futures::TryStreamExt;
use serde_json::json;

fn as_user(emulator: &Emulator, user: &str, scopes: &[Scope]) -> Classroom {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(emulator.token_for(user, scopes)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_404_names_the_method_the_ids_and_the_status() {
    let emulator = Emulator::start().unwrap();
    let admin = as_user(&emulator, demo::ADMIN, &[Scope::Courses, Scope::Topics]);

    let error = admin.courses().get("12345").send().await.unwrap_err();
    let text = error.to_string();
    for part in [
        "classroom.courses.get (id 12345)",
        "HTTP 404 NOT_FOUND",
        "Requested entity was not found",
        "check the ids",
    ] {
        assert!(text.contains(part), "the 404 says {part:?}: {text}");
    }

    // A call whose path holds the id under another name says which.
    let error = admin
        .courses()
        .topics()
        .list("999")
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("classroom.courses.topics.list (courseId 999)"),
        "the course id, as the role it had in the call: {text}"
    );
    assert_eq!(
        error.api().map(|e| e.ids.clone()),
        Some(vec![("courseId", "999".to_string())])
    );
}

#[tokio::test]
async fn a_403_names_the_ids_and_the_role_it_takes() {
    let emulator = Emulator::start().unwrap();
    let student = as_user(&emulator, demo::STUDENT, &[Scope::CourseworkStudents]);
    let work = CourseWork {
        title: Some("Not mine to post".into()),
        work_type: Some(classroom::models::CourseWorkType::Assignment),
        ..Default::default()
    };
    let error = student
        .courses()
        .course_work()
        .create(demo::COURSE_ALIAS, work)
        .send()
        .await
        .unwrap_err();
    assert!(error.is_permission_denied(), "{error}");
    let text = error.to_string();
    for part in [
        "classroom.courses.courseWork.create (courseId d:math-101)",
        "HTTP 403 PERMISSION_DENIED",
        "the signed-in user may not do this",
        "the course's teacher or owner",
    ] {
        assert!(text.contains(part), "the 403 says {part:?}: {text}");
    }
}

#[tokio::test]
async fn every_question_asked_of_an_api_error_can_be_asked_of_the_error() {
    let server = TestServer::start(|request| {
        if request.path.contains("limited") {
            Reply::json(
                429,
                &json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "slow down"}}),
            )
            .with_header("Retry-After", "7")
        } else {
            Reply::json(
                403,
                &json!({"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no",
                    "errors": [{"reason": "insufficientPermissions", "domain": "global"}]}}),
            )
        }
    })
    .await;
    let client = Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::unchecked("t"))
        .retry(classroom::RetryPolicy::none())
        .build()
        .unwrap();
    let limited = client.courses().get("limited").send().await.unwrap_err();
    let api = limited.api().unwrap();
    assert_eq!(limited.is_rate_limited(), api.is_rate_limited());
    assert!(limited.is_rate_limited());
    assert!(!limited.is_lasting());
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(limited.method(), Some("classroom.courses.get"));

    let scope = client.courses().get("other").send().await.unwrap_err();
    assert!(scope.is_scope_insufficient() && !scope.is_permission_denied());
    assert!(!scope.is_unauthenticated());
}

/// A port on 127.0.0.1 where nothing listens (bound, then let go).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_refused_loopback_connection_fails_at_once_and_says_where() {
    let root = format!("http://127.0.0.1:{}/", closed_port());
    // The default policy: five attempts, backoff from 500 ms (seconds in all, were it retried).
    let client = Classroom::builder()
        .root_url(&root)
        .credentials(BearerToken::unchecked("t"))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.courses().get("c").send().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "not retried: {:?}",
        started.elapsed()
    );
    assert!(error.is_connect(), "{error}");
    assert!(!error.is_retryable() || error.is_connect());
    let text = error.to_string();
    for part in [
        "classroom.courses.get",
        &format!("to {root}v1/courses/c"),
        "connection refused",
        "after 1 attempt",
        "root URL may be wrong",
    ] {
        assert!(text.contains(part), "says {part:?}: {text}");
    }
    assert!(!text.contains("retry later"), "{text}");
}

#[tokio::test]
async fn a_refused_loopback_token_endpoint_fails_at_once_and_says_where() {
    let root = format!("http://127.0.0.1:{}", closed_port());
    let client = OAuthClient::new("id", Some(ClientSecret::new("SECRET-VALUE")))
        .with_provider(Provider::token_endpoint(format!("{root}/token")));
    let classroom = Classroom::builder()
        .root_url(&root)
        .credentials(ClientCredentials::new(
            client,
            [Scope::CoursesReadonly.url()],
        ))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = classroom.courses().get("c").send().await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "not retried: {:?}",
        started.elapsed()
    );
    let text = error.to_string();
    for part in [
        &format!("{root}/token refused the connection"),
        "address may be wrong",
    ] {
        assert!(text.contains(part), "says {part:?}: {text}");
    }
    assert!(!text.contains("SECRET"), "{text}");
    assert!(!text.contains("retry later"), "{text}");
}
