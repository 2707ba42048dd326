//! A district's roster read at Classroom's quota: for every course, its students and its
//! teachers, from the emulator with 30 ms of latency on every request and Classroom's
//! per-user and per-project quotas enforced.
//!
//! (a) is the loop anyone writes first: one call after another, retrying what bounces.
//! (b) is the SDK's recommended path: the course calls in batches of 50, a few batches in
//! flight, and a [`RateLimit`] at Classroom's quotas so that nothing bounces.
//!
//! The bound is what the quota itself allows: the calls made divided by the per-user rate (20
//! a second). The bench fails when (b) takes more than 1.15
//! times the bound or meets a single 429.
//!
//! The emulator's buckets refill at the quota's rate and hold five seconds' worth (100 calls,
//! two batches): Google counts the quota over a minute, which allows bursts of a whole
//! minute's calls, so this is the stricter test. (A bucket holding less than one batch would
//! refuse every batch of 50, however paced.)
//!
//! `cargo bench --bench district_sync` (about two minutes; `DISTRICT_COURSES=100` for less).

use std::time::{Duration, Instant};

use classroom::models::{Course, Student, Teacher};
use classroom::{BearerToken, Classroom, RateLimit, RetryPolicy, Scope};
use classroom_emulator::{Emulator, Fault, Quotas, Role};
use futures::{StreamExt, TryStreamExt};

const STUDENTS_PER_COURSE: usize = 25;
const MAX_SLOWDOWN: f64 = 1.15;
const USER_PER_SECOND: f64 = 20.0;

#[tokio::main]
async fn main() {
    let courses: usize = std::env::var("DISTRICT_COURSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = "district.admin@school.example";
    emulator.add_user(admin, "District", "Admin", Role::Admin);
    let client = |limit: Option<RateLimit>| {
        let builder = Classroom::builder()
            .root_url(emulator.root_url())
            .credentials(BearerToken::unchecked(
                emulator.token_for(admin, &[Scope::Courses, Scope::Rosters]),
            ))
            .retry(RetryPolicy::default().max_elapsed(Duration::from_secs(600)));
        match limit {
            Some(limit) => builder.rate_limit(limit),
            None => builder,
        }
        .build()
        .unwrap()
    };

    let ids = seed(&emulator, &client(None), courses).await;
    emulator.inject(Fault::latency(Duration::from_millis(30)));
    let quotas = Quotas::classroom().user_burst(100).project_burst(100);

    // (a) one call after another; 429s are retried by the SDK's default policy.
    emulator.set_quotas(quotas.clone());
    let (calls, rejections) = (emulator.api_calls(), emulator.quota_rejections());
    let started = Instant::now();
    let read = sequential(&client(None), &ids).await;
    let plain = started.elapsed();
    let plain_calls = emulator.api_calls() - calls;
    let plain_429 = emulator.quota_rejections() - rejections;
    assert_eq!(read, courses * (STUDENTS_PER_COURSE + 1));

    // (b) batches of 50, four in flight, under the limiter.
    emulator.set_quotas(quotas);
    let (calls, rejections) = (emulator.api_calls(), emulator.quota_rejections());
    let started = Instant::now();
    let read = batched(&client(Some(RateLimit::classroom())), &ids).await;
    let recommended = started.elapsed();
    let sdk_calls = emulator.api_calls() - calls;
    let sdk_429 = emulator.quota_rejections() - rejections;
    assert_eq!(read, courses * (STUDENTS_PER_COURSE + 1));

    let bound = Duration::from_secs_f64(sdk_calls as f64 / USER_PER_SECOND);
    let ratio = recommended.as_secs_f64() / bound.as_secs_f64();
    println!("district roster read: {courses} courses, their students and teachers");
    println!(
        "  emulator: 30 ms latency a request, 1,200 calls a minute per user, 3,000 per project"
    );
    println!(
        "  (a) sequential loop          {:7.1} s  {plain_calls:5} calls  {plain_429:5} 429 replies",
        plain.as_secs_f64()
    );
    println!(
        "  (b) batches + limiter        {:7.1} s  {sdk_calls:5} calls  {sdk_429:5} 429 replies",
        recommended.as_secs_f64()
    );
    println!(
        "  quota bound for (b)          {:7.1} s  (calls / 20 a second)",
        bound.as_secs_f64()
    );
    println!(
        "  (b) / bound: {ratio:.3} (limit {MAX_SLOWDOWN}); (a) / (b): {:.2}",
        plain.as_secs_f64() / recommended.as_secs_f64()
    );
    let ok = ratio <= MAX_SLOWDOWN && sdk_429 == 0;
    println!("district_sync: {} passed, {} failed", ok as u8, !ok as u8);
    if !ok {
        std::process::exit(1);
    }
}

/// Makes `n` courses with a teacher and 25 students each, at full speed (no quota yet).
async fn seed(emulator: &Emulator, classroom: &Classroom, n: usize) -> Vec<String> {
    let students: Vec<String> = (0..STUDENTS_PER_COURSE * 4)
        .map(|i| {
            let email = format!("student{i}@school.example");
            emulator.add_user(&email, "Student", &i.to_string(), Role::Student);
            email
        })
        .collect();
    let teachers: Vec<String> = (0..n.div_ceil(5))
        .map(|i| {
            let email = format!("teacher{i}@school.example");
            emulator.add_user(&email, "Teacher", &i.to_string(), Role::Teacher);
            email
        })
        .collect();
    let creates = (0..n).map(|i| {
        classroom.courses().create(Course {
            id: Some(format!("d:district-{i}")),
            name: Some(format!("Course {i}")),
            owner_id: Some(teachers[i / 5].clone()),
            ..Default::default()
        })
    });
    let ids: Vec<String> = classroom
        .send_batched(creates)
        .await
        .into_iter()
        .map(|c| c.unwrap().id.unwrap())
        .collect();
    let enrollments = ids.iter().enumerate().flat_map(|(c, id)| {
        (0..STUDENTS_PER_COURSE).map(move |s| {
            let user = format!(
                "student{}@school.example",
                (c + s) % (STUDENTS_PER_COURSE * 4)
            );
            (id.clone(), user)
        })
    });
    let adds = enrollments.map(|(course, user)| {
        classroom.courses().students().create(
            course,
            Student {
                user_id: Some(user),
                ..Default::default()
            },
        )
    });
    for result in classroom.send_batched(adds).await {
        result.unwrap();
    }
    drop(students);
    ids
}

/// (a): each course's students, then its teachers, one call at a time.
async fn sequential(classroom: &Classroom, ids: &[String]) -> usize {
    let mut read = 0;
    let courses: Vec<Course> = classroom
        .courses()
        .list()
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(courses.len(), ids.len());
    for course in &courses {
        let id = course.id.clone().unwrap();
        let students: Vec<Student> = classroom
            .courses()
            .students()
            .list(&id)
            .items()
            .try_collect()
            .await
            .unwrap();
        let teachers: Vec<Teacher> = classroom
            .courses()
            .teachers()
            .list(&id)
            .items()
            .try_collect()
            .await
            .unwrap();
        read += students.len() + teachers.len();
    }
    read
}

/// (b): the course list, then every course's two roster calls in batches of 50, four batches
/// in flight, all under the client's limiter.
async fn batched(classroom: &Classroom, ids: &[String]) -> usize {
    let courses: Vec<Course> = classroom
        .courses()
        .list()
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(courses.len(), ids.len());
    let ids: Vec<String> = courses.into_iter().map(|c| c.id.unwrap()).collect();
    let chunks: Vec<Vec<String>> = ids.chunks(25).map(<[String]>::to_vec).collect();
    futures::stream::iter(chunks)
        .map(|chunk| async move {
            let mut batch = classroom.batch();
            let slots: Vec<_> = chunk
                .iter()
                .map(|id| {
                    let students = batch.add(classroom.courses().students().list(id));
                    let teachers = batch.add(classroom.courses().teachers().list(id));
                    (students, teachers)
                })
                .collect();
            let mut results = batch.send().await;
            slots
                .into_iter()
                .map(|(s, t)| {
                    let students = results.take(s).unwrap();
                    let teachers = results.take(t).unwrap();
                    assert!(
                        students.next_page_token.is_none() && teachers.next_page_token.is_none()
                    );
                    students.students.len() + teachers.teachers.len()
                })
                .sum::<usize>()
        })
        .buffer_unordered(4)
        .fold(0, |total, n| async move { total + n })
        .await
}
