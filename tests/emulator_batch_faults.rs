//! The SDK's batch against faults the emulator aims at single parts
//! ([`Fault::in_batch`], [`Fault::part`]): parts refused before they act are resent under the
//! single-call rules, a write whose answer was lost is not resent unless declared idempotent,
//! and the other parts' results are untouched.

use std::time::Duration;

use classroom::models::Course;
use classroom::{BearerToken, Classroom, RetryPolicy, Scope};
use classroom_emulator::{Emulator, Fault, demo};
use futures::TryStreamExt;

fn admin(emulator: &Emulator) -> Classroom {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(
            emulator.token_for(demo::ADMIN, &[Scope::Courses, Scope::RostersReadonly]),
        ))
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(1))
                .max_backoff(Duration::from_millis(5)),
        )
        .build()
        .unwrap()
}

async fn courses_named(classroom: &Classroom, name: &str) -> usize {
    classroom
        .courses()
        .list()
        .page_size(1000)
        .items()
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .iter()
        .filter(|c| c.name.as_deref() == Some(name))
        .count()
}

fn course(name: &str) -> Course {
    Course {
        name: Some(name.into()),
        owner_id: Some(demo::TEACHER.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn refused_parts_are_resent_a_lost_write_is_not_and_the_rest_stand() {
    let emulator = Emulator::start().unwrap();
    let classroom = admin(&emulator);
    // Part 0 (the get) is rate limited once, part 1 (the roster) is unavailable once, and the
    // create is carried out but its answer lost.
    emulator.inject(Fault::rate_limited(Duration::ZERO).part(0).times(1));
    emulator.inject(
        Fault::unavailable()
            .on("classroom.courses.students.list")
            .in_batch()
            .times(1),
    );
    emulator.inject(
        Fault::unavailable_after_commit()
            .on("classroom.courses.create")
            .in_batch()
            .times(1),
    );
    let calls_before = emulator.api_calls();
    let mut batch = classroom.batch();
    let got = batch.add(classroom.courses().get(demo::COURSE_ALIAS));
    let roster = batch.add(classroom.courses().students().list(demo::COURSE_ALIAS));
    let created = batch.add(classroom.courses().create(course("Lost on the way back")));
    let untouched = batch.add(classroom.courses().get("no-such-course"));
    let mut results = batch.send().await;

    assert!(
        results.take(got).unwrap().name.is_some(),
        "the rate-limited part was resent and answered"
    );
    assert!(
        !results.take(roster).unwrap().students.is_empty(),
        "the unavailable part was resent and answered"
    );
    let lost = results.take(created).unwrap_err();
    assert_eq!(
        lost.http_status(),
        Some(503),
        "a plain create is not resent: {lost:?}"
    );
    assert!(
        results.take(untouched).unwrap_err().is_not_found(),
        "a part no fault hit keeps its own answer"
    );
    assert_eq!(
        courses_named(&classroom, "Lost on the way back").await,
        1,
        "the create whose answer was lost was carried out, once"
    );
    // Parts a fault refused before they acted never reached the API and are not counted: of
    // the 4 parts, the create and the missing course; then the two refused, resent; then the
    // list above. Each refused part was resent once, and only those.
    assert_eq!(emulator.api_calls() - calls_before, 2 + 2 + 1);
}

#[tokio::test]
async fn an_aliased_create_whose_answer_was_lost_is_resent_and_found_made() {
    let emulator = Emulator::start().unwrap();
    let classroom = admin(&emulator);
    emulator.inject(Fault::unavailable_after_commit().part(1).times(1));
    let mut batch = classroom.batch();
    let first = batch.add(classroom.courses().create(course("Plain")));
    let aliased = batch.add(
        classroom
            .courses()
            .create(Course {
                id: Some("d:made-once".into()),
                ..course("Aliased")
            })
            .with_idempotency(true),
    );
    let mut results = batch.send().await;
    results.take(first).unwrap();
    let resent = results.take(aliased).unwrap_err();
    assert!(
        resent.is_already_exists(),
        "resent, it found the course the lost attempt made: {resent:?}"
    );
    assert_eq!(courses_named(&classroom, "Aliased").await, 1);
    assert_eq!(courses_named(&classroom, "Plain").await, 1);
}
