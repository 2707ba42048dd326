//! Limits the emulator sets up as a domain's administrator or Google would, seen through the
//! SDK: the daily per-project quota is a lasting refusal the SDK does not retry.

use std::time::Duration;

use classroom::{BearerToken, Classroom, RetryPolicy, Scope};
use classroom_emulator::{Emulator, Quotas, demo};

#[tokio::test]
async fn the_daily_project_quota_is_lasting_and_not_retried() {
    let emulator = Emulator::builder()
        .quotas(Quotas::none().per_project_per_day(2))
        .start()
        .unwrap();
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(
            emulator.token_for(demo::ADMIN, &[Scope::Courses]),
        ))
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(1)))
        .build()
        .unwrap();
    for _ in 0..2 {
        classroom
            .courses()
            .get(demo::COURSE_ALIAS)
            .send()
            .await
            .unwrap();
    }
    let calls = emulator.api_calls();
    let spent = classroom
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap_err();
    let api = spent.api().expect("Google's error decoded");
    assert_eq!(api.http_status, 429, "{spent}");
    assert!(
        api.is_lasting(),
        "a per-day quota lasts until tomorrow: {spent:?}"
    );
    assert!(!spent.is_retryable(), "{spent:?}");
    assert_eq!(
        emulator.api_calls() - calls,
        1,
        "sent once, not retried into a quota that will not refill today"
    );
    assert_eq!(emulator.quota_rejections(), 1);
    emulator.advance_quota_day(1);
    classroom
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
}
