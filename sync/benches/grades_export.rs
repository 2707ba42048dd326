//! A district's gradebook exported at Classroom's quota: a full export, then an incremental
//! one after a teacher grades three submissions and edits one coursework, from the emulator
//! with 30 ms of latency on every request and Classroom's per-user and per-project quotas
//! enforced, through a client with [`RateLimit::classroom`].
//!
//! The bound is what the quota allows: the calls made divided by the per-user rate (20 a
//! second). The bench fails when either export takes more than 1.15 times its bound (plus
//! one second for the few-call incremental run) or meets a single 429.
//!
//! `cargo bench -p classroom-sync --bench grades_export` (`GRADES_COURSES=20` for less).

use std::time::{Duration, Instant};

use classroom::models::{Course, CourseWork, CourseWorkState, CourseWorkType, StudentSubmission};
use classroom::{BearerToken, Classroom, FieldMask, RateLimit, RetryPolicy, Scope};
use classroom_emulator::{Emulator, Fault, Quotas, Role};
use classroom_sync::gradebook::{Gradebook, GradebookClass, GradesState, Students};
use futures::TryStreamExt;

const STUDENTS: usize = 25;
const WORK: usize = 8;
const MAX_SLOWDOWN: f64 = 1.15;
const USER_PER_SECOND: f64 = 20.0;
const SCOPES: [Scope; 4] = [
    Scope::Courses,
    Scope::CourseworkStudents,
    Scope::Rosters,
    Scope::ProfileEmails,
];

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("GRADES_COURSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = "district.admin@school.example";
    emulator.add_user(admin, "District", "Admin", Role::Admin);
    let client = |limit: bool| {
        let b = Classroom::builder()
            .root_url(emulator.root_url())
            .credentials(BearerToken::unchecked(emulator.token_for(admin, &SCOPES)))
            .retry(RetryPolicy::default().max_elapsed(Duration::from_secs(600)));
        if limit {
            b.rate_limit(RateLimit::classroom())
        } else {
            b
        }
        .build()
        .unwrap()
    };
    let seeder = client(false);
    let mut students = Students::default();
    let emails: Vec<String> = (0..STUDENTS * 2)
        .map(|i| {
            let email = format!("student{i}@school.example");
            emulator.add_user(&email, "Student", &i.to_string(), Role::Student);
            students.insert(&email, format!("stu-{i}"));
            email
        })
        .collect();
    emulator.add_user("teacher@school.example", "T", "T", Role::Teacher);
    let creates = (0..n).map(|i| {
        seeder.courses().create(Course {
            id: Some(format!("d:sis-class-{i}")),
            name: Some(format!("Course {i}")),
            owner_id: Some("teacher@school.example".into()),
            course_state: Some(classroom::models::CourseState::Active),
            ..Default::default()
        })
    });
    let ids: Vec<String> = seeder
        .send_batched(creates)
        .await
        .into_iter()
        .map(|c| c.unwrap().id.unwrap())
        .collect();
    let adds = ids.iter().enumerate().flat_map(|(c, id)| {
        let seeder = &seeder;
        let emails = &emails;
        (0..STUDENTS).map(move |s| {
            seeder.courses().students().create(
                id,
                classroom::models::Student {
                    user_id: Some(emails[(c + s) % emails.len()].clone()),
                    ..Default::default()
                },
            )
        })
    });
    for r in seeder.send_batched(adds).await {
        r.unwrap();
    }
    let works = ids.iter().flat_map(|id| {
        let seeder = &seeder;
        (0..WORK).map(move |w| {
            seeder.courses().course_work().create(
                id,
                CourseWork {
                    title: Some(format!("Work {w}")),
                    work_type: Some(CourseWorkType::Assignment),
                    state: Some(CourseWorkState::Published),
                    max_points: Some(100.0),
                    ..Default::default()
                },
            )
        })
    });
    let works: Vec<CourseWork> = seeder
        .send_batched(works)
        .await
        .into_iter()
        .map(|w| w.unwrap())
        .collect();
    // Half of every coursework's submissions graded.
    let mut patches = Vec::new();
    for w in &works {
        let subs: Vec<StudentSubmission> = seeder
            .courses()
            .course_work()
            .student_submissions()
            .list(w.course_id.clone().unwrap(), w.id.clone().unwrap())
            .items()
            .try_collect()
            .await
            .unwrap();
        for (i, s) in subs.into_iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            patches.push((s, 60.0 + i as f64));
        }
    }
    let calls = patches.iter().map(|(s, g)| {
        seeder
            .courses()
            .course_work()
            .student_submissions()
            .patch(
                s.course_id.clone().unwrap(),
                s.course_work_id.clone().unwrap(),
                s.id.clone().unwrap(),
                StudentSubmission {
                    assigned_grade: Some(*g),
                    ..Default::default()
                },
            )
            .update_mask(FieldMask::from("assignedGrade"))
    });
    for r in seeder.send_batched(calls).await {
        r.unwrap();
    }
    let classes: Vec<GradebookClass> = (0..n)
        .map(|i| GradebookClass::new(format!("class-{i}"), format!("d:sis-class-{i}"), "term-1"))
        .collect();

    emulator.inject(Fault::latency(Duration::from_millis(30)));
    emulator.set_quotas(Quotas::classroom().user_burst(100).project_burst(100));
    let gradebook = Gradebook::new(client(true));
    let measure = |label: &'static str, state: GradesState| {
        let gradebook = &gradebook;
        let classes = &classes;
        let students = &students;
        let emulator = &emulator;
        async move {
            let (calls, rejected) = (emulator.api_calls(), emulator.quota_rejections());
            let started = Instant::now();
            let export = gradebook.export(classes, students, &state).await.unwrap();
            let took = started.elapsed();
            let calls = emulator.api_calls() - calls;
            let rejected = emulator.quota_rejections() - rejected;
            let bound = calls as f64 / USER_PER_SECOND;
            println!(
                "  {label:12} {:7.2} s  {calls:5} calls  {rejected} 429s  bound {bound:6.2} s  \
                 {} line items, {} results",
                took.as_secs_f64(),
                export.line_items.len(),
                export.results.len()
            );
            let ok = took.as_secs_f64() <= bound * MAX_SLOWDOWN + 1.0 && rejected == 0;
            (export, ok)
        }
    };
    println!(
        "grades export: {n} courses, {STUDENTS} students, {WORK} graded coursework each \
         ({} submissions, half graded)",
        n * STUDENTS * WORK
    );
    println!(
        "  emulator: 30 ms latency a request, 1,200 calls a minute per user, 3,000 per project"
    );
    let (full, ok_full) = measure("full", GradesState::new()).await;

    // A teacher grades three submissions and edits one coursework.
    emulator.clear_faults();
    emulator.reset_quotas();
    let w = &works[0];
    let subs: Vec<StudentSubmission> = seeder
        .courses()
        .course_work()
        .student_submissions()
        .list(w.course_id.clone().unwrap(), w.id.clone().unwrap())
        .items()
        .try_collect()
        .await
        .unwrap();
    for s in subs.iter().filter(|s| s.assigned_grade.is_none()).take(3) {
        seeder
            .courses()
            .course_work()
            .student_submissions()
            .patch(
                s.course_id.clone().unwrap(),
                s.course_work_id.clone().unwrap(),
                s.id.clone().unwrap(),
                StudentSubmission {
                    assigned_grade: Some(99.0),
                    ..Default::default()
                },
            )
            .update_mask(FieldMask::from("assignedGrade"))
            .send()
            .await
            .unwrap();
    }
    seeder
        .courses()
        .course_work()
        .patch(
            w.course_id.clone().unwrap(),
            w.id.clone().unwrap(),
            CourseWork {
                title: Some("Edited".into()),
                ..Default::default()
            },
        )
        .update_mask(FieldMask::from("title"))
        .send()
        .await
        .unwrap();
    emulator.inject(Fault::latency(Duration::from_millis(30)));
    emulator.set_quotas(Quotas::classroom().user_burst(100).project_burst(100));
    let (incremental, ok_inc) = measure("incremental", full.state.clone()).await;
    let exact = incremental.line_items.len() == 1 && incremental.results.len() == 3;
    println!("  incremental exports exactly the changes: {exact}");
    let ok = ok_full && ok_inc && exact;
    println!("grades_export: {} passed, {} failed", ok as u8, !ok as u8);
    if !ok {
        std::process::exit(1);
    }
}
