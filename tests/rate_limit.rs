//! The client-side rate limiter paces single calls and batch parts alike, across clones.

use std::time::{Duration, Instant};

use classroom::{BearerToken, Classroom, RateLimit, Scope};
use classroom_emulator::{Emulator, demo};

fn client(emulator: &Emulator, limit: RateLimit) -> Classroom {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(
            emulator.token_for(demo::ADMIN, &[Scope::CoursesReadonly]),
        ))
        .rate_limit(limit)
        .build()
        .unwrap()
}

#[tokio::test]
async fn single_calls_and_batch_parts_count_alike_across_clones() {
    let emulator = Emulator::start().unwrap();
    // 1,200 a minute: 20 a second after a burst of 20.
    let classroom = client(&emulator, RateLimit::new().user_per_minute(1_200));
    let clone = classroom.clone();
    let started = Instant::now();
    let calls = (0..40).map(|i| {
        let client = if i % 2 == 0 { &classroom } else { &clone };
        client.courses().get(demo::COURSE_ALIAS).send()
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
    let singles = started.elapsed();
    assert!(
        singles >= Duration::from_millis(900),
        "40 calls at 20 a second after a burst of 20 take a second: {singles:?}"
    );

    let started = Instant::now();
    let gets = (0..40).map(|_| classroom.courses().get(demo::COURSE_ALIAS));
    for result in classroom.send_batched(gets).await {
        result.unwrap();
    }
    let batched = started.elapsed();
    assert!(
        batched >= Duration::from_millis(1800),
        "a batch counts each of its 40 parts: {batched:?}"
    );
    assert!(batched < Duration::from_secs(5), "{batched:?}");
}

#[tokio::test]
async fn no_limit_means_no_wait() {
    let emulator = Emulator::start().unwrap();
    let classroom = client(&emulator, RateLimit::new());
    let started = Instant::now();
    let gets = (0..100).map(|_| classroom.courses().get(demo::COURSE_ALIAS));
    for result in classroom.send_batched(gets).await {
        result.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}
