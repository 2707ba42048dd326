//! `classroom::testing` (feature `test-support`): the mock transport answers by rules while
//! the executor runs as it does against Classroom (scope checks, retries, decoding), never
//! reaching the network; errors can be built from a Google error body.

use std::sync::Arc;
use std::time::Duration;

use classroom::models::Course;
use classroom::testing::{Answer, MockTransport, Rule};
use classroom::{ApiError, BearerToken, Classroom, RetryPolicy, Scope};
use serde_json::json;

fn client(mock: &Arc<MockTransport>, scopes: &[Scope]) -> Classroom {
    Classroom::builder()
        .credentials(BearerToken::new("test", scopes.iter().copied()))
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
        .mock(mock.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn rules_match_by_method_and_parameters_and_play_their_answers_in_order() {
    let mock = Arc::new(MockTransport::new());
    mock.add(
        Rule::new("classroom.courses.get")
            .param("id", "1")
            .answer(
                Answer::error(429, "RESOURCE_EXHAUSTED", "slow down")
                    .retry_after(Duration::from_millis(5)),
            )
            .answer(Answer::json(200, &json!({"id": "1", "name": "One"}))),
    );
    mock.add(
        Rule::new("classroom.courses.get")
            .answer(Answer::json(200, &json!({"id": "x", "name": "Any"}))),
    );
    let classroom = client(&mock, &[Scope::CoursesReadonly]);
    let one = classroom.courses().get("1").send().await.unwrap();
    assert_eq!(one.name.as_deref(), Some("One"), "the 429 was retried");
    let again = classroom.courses().get("1").send().await.unwrap();
    assert_eq!(
        again.name.as_deref(),
        Some("One"),
        "the last answer repeats"
    );
    let other = classroom.courses().get("2").send().await.unwrap();
    assert_eq!(
        other.name.as_deref(),
        Some("Any"),
        "the next rule that matches"
    );
    let calls = mock.calls();
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[3].params, [("id".to_string(), "2".to_string())]);

    // Query parameters match too.
    mock.add(
        Rule::new("classroom.courses.list")
            .param("pageToken", "p2")
            .answer(Answer::json(200, &json!({"courses": [{"id": "c2"}]}))),
    );
    mock.add(Rule::new("classroom.courses.list").answer(Answer::json(
        200,
        &json!({"courses": [{"id": "c1"}], "nextPageToken": "p2"}),
    )));
    use futures::TryStreamExt;
    let ids: Vec<String> = classroom
        .courses()
        .list()
        .items()
        .map_ok(|c| c.id.unwrap_or_default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(ids, ["c1", "c2"]);
}

#[tokio::test]
async fn a_write_is_not_resent_after_a_503_and_its_body_is_recorded() {
    let mock = Arc::new(MockTransport::new());
    mock.add(Rule::new("classroom.courses.create").answer(Answer::error(
        503,
        "UNAVAILABLE",
        "down",
    )));
    let classroom = client(&mock, &[Scope::Courses]);
    let course = Course {
        name: Some("Biology".into()),
        ..Course::default()
    };
    let error = classroom.courses().create(course).send().await.unwrap_err();
    assert_eq!(error.http_status(), Some(503));
    let calls = mock.calls();
    assert_eq!(
        calls.len(),
        1,
        "a create may have been carried out: not resent"
    );
    assert_eq!(calls[0].body.as_ref().unwrap()["name"], "Biology");
}

#[tokio::test]
async fn scope_checks_still_run_and_an_unmatched_call_names_the_rules() {
    let mock = Arc::new(MockTransport::new());
    mock.add(
        Rule::new("classroom.courses.get")
            .param("id", "1")
            .answer(Answer::json(200, &json!({}))),
    );
    let readonly = client(&mock, &[Scope::CoursesReadonly]);
    let refused = readonly.courses().delete("1").send().await.unwrap_err();
    assert!(refused.is_missing_scope(), "{refused}");
    assert!(mock.calls().is_empty(), "refused before the transport");

    let unmatched = readonly.courses().get("7").send().await.unwrap_err();
    let text = unmatched.to_string();
    assert!(
        text.contains("no rule matches classroom.courses.get (id=7)")
            && text.contains("classroom.courses.get (id=1)"),
        "{text}"
    );
    assert_eq!(unmatched.method(), Some("classroom.courses.get"));

    // Batches are not answered by rules, and never reach the network either.
    let results = readonly
        .send_batched(vec![readonly.courses().get("1")])
        .await;
    let error = results.into_iter().next().unwrap().unwrap_err();
    assert!(
        error.to_string().contains("batches are not answered"),
        "{error}"
    );
}

#[test]
fn an_api_error_is_built_from_a_google_error_body() {
    let error = ApiError::from_reply(
        "classroom.courses.patch",
        400,
        r#"{"error": {"code": 400, "status": "FAILED_PRECONDITION", "message": "@CourseNotModifiable The course is archived."}}"#,
    );
    assert!(error.is_failed_precondition());
    assert_eq!(error.http_status, 400);
    assert!(error.to_string().contains("CourseNotModifiable"), "{error}");
    let error = classroom::Error::from(error);
    assert!(error.is_failed_precondition());
}
