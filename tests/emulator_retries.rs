//! Retries against the emulator's faults: what is resent and what is not, the token fetched
//! on every attempt, and the retry budget a client's calls share.

use std::time::Duration;

use classroom::auth::{ClientCredentials, ClientSecret, OAuthClient, Provider};
use classroom::models::Course;
use classroom::{BearerToken, Classroom, RetryBudget, RetryPolicy, Scope};
use classroom_emulator::{Emulator, Fault, demo};
use futures::{StreamExt, TryStreamExt};

/// Short waits, and attempts enough that no call runs out of them under the random faults
/// these tests inject: with faults on a third of the attempts, 10 attempts let one call in
/// 40,000 fail ten times in a row, about one run in forty of a test of 1,000 calls; 40
/// attempts make that one run in 10^15. What a test asserts then does not hang on luck.
fn fast() -> RetryPolicy {
    RetryPolicy::default()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
        .max_attempts(40)
}

fn admin(emulator: &Emulator) -> classroom::ClassroomBuilder {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(
            emulator.token_for(demo::ADMIN, &[Scope::Courses]),
        ))
        .retry(fast())
}

async fn course_count(classroom: &Classroom) -> usize {
    classroom
        .courses()
        .list()
        .page_size(1000)
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_token_endpoint_blip_is_retried_within_the_call() {
    let emulator = Emulator::start().unwrap();
    emulator.inject(Fault::unavailable().on("oauth.token").times(2));
    let client = OAuthClient::new(
        emulator.client_id(),
        Some(ClientSecret::new(emulator.client_secret())),
    )
    .with_provider(Provider::token_endpoint(emulator.token_url()));
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(ClientCredentials::new(
            client,
            [Scope::CoursesReadonly.url()],
        ))
        .retry(fast())
        .build()
        .unwrap();
    let course = classroom.courses().get(demo::COURSE_ALIAS).send().await;
    assert!(
        course.is_ok(),
        "two failed token fetches, then a token: {course:?}"
    );
}

#[tokio::test]
async fn an_outage_does_not_multiply_the_load() {
    let emulator = Emulator::start().unwrap();
    // 45 failures in all. 25 tokens pay for five retries (5 each); after that each call is sent
    // once, so 40 calls meet all 45 failures. Without the budget, 40 attempts a call would
    // spend them on the first calls and the rest would succeed.
    emulator.inject(Fault::unavailable().on("classroom.courses.get").times(45));
    let classroom = admin(&emulator)
        .retry_budget(RetryBudget::with_capacity(25))
        .build()
        .unwrap();
    let clone = classroom.clone();
    for i in 0..40 {
        let client = if i % 2 == 0 { &classroom } else { &clone };
        let error = client
            .courses()
            .get(demo::COURSE_ALIAS)
            .send()
            .await
            .unwrap_err();
        assert_eq!(error.http_status(), Some(503), "call {i}");
    }
    // The 45 failures are used up: not one more request was sent than the budget allowed.
    classroom
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
    // Successes refill the budget that the client and its clones share.
    for _ in 0..4 {
        classroom
            .courses()
            .get(demo::COURSE_ALIAS)
            .send()
            .await
            .unwrap();
    }
    emulator.inject(Fault::unavailable().on("classroom.courses.get").times(1));
    clone
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn creates_under_429_and_503_end_with_no_duplicate() {
    let emulator = Emulator::builder().empty().start().unwrap();
    emulator.inject(Fault::rate_limited(Duration::ZERO).fraction(0.1));
    emulator.inject(
        Fault::unavailable()
            .on("classroom.courses.create")
            .fraction(0.1),
    );
    let classroom = admin(&emulator).build().unwrap();
    let results: Vec<_> = futures::stream::iter(0..1000)
        .map(|i| {
            let classroom = classroom.clone();
            async move {
                let course = Course {
                    name: Some(format!("Course {i}")),
                    owner_id: Some("me".into()),
                    ..Default::default()
                };
                classroom.courses().create(course).send().await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    emulator.clear_faults();
    let created = results.iter().filter(|r| r.is_ok()).count();
    let unavailable = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| e.http_status() == Some(503)))
        .count();
    assert_eq!(created + unavailable, 1000, "429s were retried away");
    assert!(
        unavailable > 0,
        "a create that got 503 is not resent by default"
    );
    assert_eq!(course_count(&classroom).await, created, "no duplicate");
}

/// Creates `n` courses, 16 at a time, each named by `i` and under the alias `d:course-{i}` when
/// `alias` is set; returns each call's result.
async fn create_courses(
    classroom: &Classroom,
    n: usize,
    alias: bool,
    idempotent: bool,
) -> Vec<classroom::Result<Course>> {
    futures::stream::iter(0..n)
        .map(|i| {
            let classroom = classroom.clone();
            async move {
                let course = Course {
                    id: alias.then(|| format!("d:course-{i}")),
                    name: Some(format!("Course {i}")),
                    owner_id: Some("me".into()),
                    ..Default::default()
                };
                classroom
                    .courses()
                    .create(course)
                    .with_idempotency(idempotent)
                    .send()
                    .await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

/// The server carries out a fifth of the creates and then loses the answer: half of those by
/// dropping the connection, half by answering 503.
fn after_commit_faults(emulator: &Emulator) {
    let create = "classroom.courses.create";
    emulator.inject(Fault::drop_after_commit().on(create).fraction(0.1));
    emulator.inject(Fault::unavailable_after_commit().on(create).fraction(0.1));
}

#[tokio::test]
async fn creates_whose_answer_is_lost_are_not_resent_by_default() {
    let emulator = Emulator::builder().empty().start().unwrap();
    after_commit_faults(&emulator);
    let classroom = admin(&emulator).build().unwrap();
    let results = create_courses(&classroom, 1000, false, false).await;
    emulator.clear_faults();
    let lost = results.iter().filter(|r| r.is_err()).count();
    assert!(lost > 100, "about a fifth of the answers were lost: {lost}");
    for error in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            error.http_status() == Some(503) || error.is_retryable(),
            "a lost answer is a transient error: {error:?}"
        );
    }
    assert_eq!(
        course_count(&classroom).await,
        1000,
        "every create was carried out once: none was resent"
    );
}

#[tokio::test]
async fn creates_under_aliases_may_be_retried_and_still_end_with_exactly_one_each() {
    let emulator = Emulator::builder().empty().start().unwrap();
    after_commit_faults(&emulator);
    emulator.inject(Fault::rate_limited(Duration::ZERO).fraction(0.1));
    emulator.inject(
        Fault::unavailable()
            .on("classroom.courses.create")
            .fraction(0.1),
    );
    // Two attempts in five fail here, far past what the shared retry budget is sized for (it
    // would rightly stop retrying in such an outage); this test is about what retries do.
    let classroom = admin(&emulator)
        .retry_budget(RetryBudget::unlimited())
        .build()
        .unwrap();
    let results = create_courses(&classroom, 1000, true, true).await;
    emulator.clear_faults();
    let retried_into_existing = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| e.is_already_exists()))
        .count();
    assert!(retried_into_existing > 100, "{retried_into_existing}");
    for result in &results {
        assert!(
            result.as_ref().err().is_none_or(|e| e.is_already_exists()),
            "created, or found made by the attempt whose answer was lost: {result:?}"
        );
    }
    assert_eq!(course_count(&classroom).await, 1000);
}

#[tokio::test]
async fn declaring_a_create_without_an_alias_idempotent_duplicates_it() {
    // Why the default holds writes back: the same faults, retries forced on, no alias.
    let emulator = Emulator::builder().empty().start().unwrap();
    after_commit_faults(&emulator);
    let classroom = admin(&emulator).build().unwrap();
    let results = create_courses(&classroom, 300, false, true).await;
    emulator.clear_faults();
    assert!(
        results.iter().all(|r| r.is_ok()),
        "every create was retried to success"
    );
    let stored = course_count(&classroom).await;
    assert!(
        stored > 300,
        "the retries made duplicates: {stored} courses for 300 creates"
    );
}
