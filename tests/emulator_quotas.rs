//! The emulator's quotas ([`Quotas`]), over loopback: Google's 429 `RESOURCE_EXHAUSTED` for
//! the per-user and per-project request rates, batch parts counted one by one, the daily
//! invitation quota, the course member limit, and nothing of it unless asked for.
//!
//! Rates are high and bursts small, so that every test runs in well under a second or two.

#[path = "emulator_common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use classroom::models::{GuardianInvitation, Invitation, Student};
use classroom::{Classroom, Scope};
use classroom_emulator::{Emulator, Fault, Quotas, Role, demo};
use common::{all_scopes, client};
use serde_json::Value;

/// One raw GET of the demo course: its status, `Retry-After` header and JSON body. One
/// HTTP client per test keeps its connections (building one costs tens of milliseconds).
async fn get_course(emulator: &Emulator, token: &str) -> (u16, Option<String>, Value) {
    thread_local! {
        static HTTP: reqwest::Client = common::http();
    }
    let response = HTTP
        .with(|http| http.clone())
        .get(format!(
            "{}v1/courses/{}",
            emulator.root_url(),
            demo::COURSE_ALIAS
        ))
        .bearer_auth(token)
        .send()
        .await
        .expect("the emulator answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let body = serde_json::from_str(&response.text().await.unwrap()).expect("a JSON body");
    (status, retry_after, body)
}

/// Asserts Google's 429 for a per-minute request quota; `limit` is the `quota_limit` named.
fn assert_rate_exceeded(body: &Value, limit: &str, limit_name: &str, value: &str) {
    let error = &body["error"];
    assert_eq!(error["code"], 429, "{body}");
    assert_eq!(error["status"], "RESOURCE_EXHAUSTED", "{body}");
    let message = error["message"].as_str().expect("a message");
    let expected = format!(
        "Quota exceeded for quota metric 'Requests' and limit '{limit_name}' of service 'classroom.googleapis.com' for consumer 'project_number:"
    );
    assert!(message.starts_with(&expected), "{message}");
    let info = &error["details"][0];
    assert_eq!(info["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
    assert_eq!(info["reason"], "RATE_LIMIT_EXCEEDED", "{body}");
    assert_eq!(info["domain"], "googleapis.com");
    let metadata = &info["metadata"];
    assert_eq!(metadata["service"], "classroom.googleapis.com");
    assert_eq!(metadata["quota_limit"], limit, "{body}");
    assert_eq!(metadata["quota_limit_value"], value, "{body}");
    assert_eq!(
        metadata["quota_metric"],
        "classroom.googleapis.com/default_requests"
    );
    let consumer = metadata["consumer"].as_str().expect("a consumer");
    let number = consumer.strip_prefix("projects/").expect("projects/NUMBER");
    assert!(
        message.contains(&format!("project_number:{number}")),
        "the message and the metadata name the same project: {body}"
    );
    assert_eq!(
        error["details"][1]["@type"], "type.googleapis.com/google.rpc.Help",
        "{body}"
    );
}

#[tokio::test]
async fn quotas_are_off_by_default() {
    let emulator = Emulator::start().unwrap();
    let token = emulator.token_for(demo::TEACHER, &[Scope::Courses]);
    // Well past Classroom's per-user burst of 20.
    for _ in 0..60 {
        let (status, _, body) = get_course(&emulator, &token).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(emulator.quota_rejections(), 0);
    assert_eq!(
        emulator.api_calls(),
        60,
        "every call is counted, quotas or not"
    );
}

#[tokio::test]
async fn a_burst_over_the_user_quota_gets_googles_429() {
    // One call a second, five at once.
    let quotas = Quotas::none().per_user_per_minute(60).user_burst(5);
    let emulator = Emulator::builder().quotas(quotas).start().unwrap();
    let token = emulator.token_for(demo::TEACHER, &[Scope::Courses]);
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let (status, retry_after, body) = get_course(&emulator, &token).await;
        if status == 429 {
            assert_rate_exceeded(
                &body,
                "DefaultRequestsPerMinutePerUser",
                "Requests per minute per user",
                "60",
            );
            assert_eq!(retry_after, None, "Google sends no Retry-After for quotas");
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert_eq!(emulator.quota_rejections(), 3);
    assert_eq!(emulator.api_calls(), 8);

    // Another user of the same project has a bucket of their own.
    let other = emulator.token_for(demo::SECOND_TEACHER, &[Scope::Courses]);
    assert_eq!(get_course(&emulator, &other).await.0, 200);

    // The SDK decodes the reply as a rate limit (no retries here, to see it).
    let sdk = client(&emulator, demo::TEACHER, &[Scope::Courses]);
    let error = sdk
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap_err();
    let api = error.api().expect("Google's error decoded");
    assert!(api.is_rate_limited(), "{error}");
    assert_eq!(api.http_status, 429);
    assert_eq!(api.reason.as_deref(), Some("RATE_LIMIT_EXCEEDED"));
    assert_eq!(api.retry_after, None);

    // Refilled, the user is served again.
    emulator.reset_quotas();
    assert_eq!(get_course(&emulator, &token).await.0, 200);
}

#[tokio::test]
async fn calls_paced_under_the_rate_get_no_429() {
    // 100 calls a second, one at a time: a call every 10 ms is the most the quota allows.
    let quotas = Quotas::none().per_user_per_minute(6000).user_burst(1);
    let emulator = Emulator::builder().quotas(quotas).start().unwrap();
    let token = emulator.token_for(demo::TEACHER, &[Scope::Courses]);
    for _ in 0..30 {
        let (status, _, body) = get_course(&emulator, &token).await;
        assert_eq!(status, 200, "paced at half the rate: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(emulator.quota_rejections(), 0);

    // The same calls unpaced, from concurrent tasks, run into the quota: the test above
    // could fail.
    let calls = (0..30).map(|_| get_course(&emulator, &token));
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|(status, _, _)| status)
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(emulator.quota_rejections() > 0);
}

#[tokio::test]
async fn the_project_quota_spans_its_users() {
    let quotas = Quotas::none().per_project_per_minute(60).project_burst(6);
    let emulator = Emulator::builder().quotas(quotas).start().unwrap();
    // Both tokens were issued to the demo OAuth client: one project.
    let teacher = emulator.token_for(demo::TEACHER, &[Scope::Courses]);
    let student = emulator.token_for(demo::STUDENT, &[Scope::Courses]);
    let mut served = 0;
    let mut refused = Vec::new();
    for token in [&teacher, &student].repeat(4) {
        match get_course(&emulator, token).await {
            (200, _, _) => served += 1,
            (429, _, body) => refused.push(body),
            (status, _, body) => panic!("{status}: {body}"),
        }
    }
    assert_eq!(served, 6, "the project's burst, shared by its users");
    assert_eq!(refused.len(), 2);
    for body in &refused {
        assert_rate_exceeded(
            body,
            "DefaultRequestsPerMinutePerProject",
            "Requests per minute",
            "60",
        );
    }
}

#[tokio::test]
async fn batch_parts_are_counted_one_by_one() {
    // Classroom's rates: a user burst of 20, a project burst of 50.
    let emulator = Emulator::builder()
        .quotas(Quotas::classroom())
        .start()
        .unwrap();
    let token = emulator.token_for(demo::TEACHER, &[Scope::Courses]);
    let response = common::http()
        .post(emulator.batch_url())
        .bearer_auth(&token)
        .header("content-type", "multipart/mixed; boundary=b0undary")
        .body(common::batch_body(
            "b0undary",
            &vec![format!("GET /v1/courses/{} HTTP/1.1\r\n", demo::COURSE_ALIAS); 30],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the batch request itself is served");
    let parts: Vec<(u16, Value)> = common::batch_parts(&response.text().await.unwrap())
        .into_iter()
        .map(|(status, body)| (status, serde_json::from_str(&body).expect("a JSON part")))
        .collect();
    assert_eq!(parts.len(), 30);
    let statuses: Vec<u16> = parts.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses[..20], [200; 20], "{statuses:?}");
    assert_eq!(statuses[20..], [429; 10], "{statuses:?}");
    for (_, body) in &parts[20..] {
        assert_rate_exceeded(
            body,
            "DefaultRequestsPerMinutePerUser",
            "Requests per minute per user",
            "1200",
        );
    }
    assert_eq!(
        emulator.api_calls(),
        30,
        "parts count; the batch request not"
    );
    assert_eq!(emulator.quota_rejections(), 10);
}

#[tokio::test]
async fn latency_on_every_call_composes_with_quotas() {
    let quotas = Quotas::none().per_user_per_minute(60).user_burst(3);
    let emulator = Emulator::builder().quotas(quotas).start().unwrap();
    // No count, no fraction: every HTTP request waits.
    emulator.inject(Fault::latency(Duration::from_millis(30)));
    let token = emulator.token_for(demo::TEACHER, &[Scope::Courses]);
    let started = Instant::now();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get_course(&emulator, &token).await.0);
    }
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

fn invitation(user: &str) -> Invitation {
    Invitation {
        course_id: Some(demo::COURSE_ALIAS.into()),
        user_id: Some(user.into()),
        role: Some("STUDENT".into()),
        ..Default::default()
    }
}

async fn invite(teacher: &Classroom, user: &str) -> Result<Invitation, classroom::Error> {
    teacher.invitations().create(invitation(user)).send().await
}

#[tokio::test]
async fn the_daily_invitation_quota_answers_user_invitation_quota_exhausted() {
    let quotas = Quotas::none().daily_invitations_per_user(2);
    let emulator = Emulator::builder().quotas(quotas).start().unwrap();
    let new_students: Vec<String> = (0..3)
        .map(|i| {
            let email = format!("new.student{i}@{}", demo::DOMAIN);
            emulator.add_user(&email, "New", &format!("Student{i}"), Role::Student);
            email
        })
        .collect();
    let teacher = client(&emulator, demo::TEACHER, &all_scopes());
    invite(&teacher, &new_students[0]).await.unwrap();
    // A refused invitation does not count.
    let again = invite(&teacher, &new_students[0]).await.unwrap_err();
    assert_eq!(again.http_status(), Some(409), "{again}");
    invite(&teacher, &new_students[1]).await.unwrap();

    let over = invite(&teacher, &new_students[2]).await.unwrap_err();
    let api = over.api().expect("Google's error decoded");
    assert_eq!(api.http_status, 429, "{over}");
    assert_eq!(
        api.status.as_ref().map(|s| s.as_str()),
        Some("RESOURCE_EXHAUSTED")
    );
    assert!(
        api.message.starts_with("@UserInvitationQuotaExhausted "),
        "Classroom's reason code leads the message: {}",
        api.message
    );
    // Guardian invitations draw on the same quota.
    let guardian = teacher
        .user_profiles()
        .guardian_invitations()
        .create(
            demo::SECOND_STUDENT,
            GuardianInvitation {
                student_id: Some(demo::SECOND_STUDENT.into()),
                invited_email_address: Some("lee.johnson@family.example".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(guardian.http_status(), Some(429), "{guardian}");
    assert_eq!(emulator.quota_rejections(), 2);

    // Another teacher of the course has a quota of their own.
    let other = client(&emulator, demo::SECOND_TEACHER, &all_scopes());
    invite(&other, &new_students[2]).await.unwrap();
}

#[tokio::test]
async fn the_course_member_limit_answers_course_member_limit_reached() {
    let emulator = Emulator::start().unwrap();
    let admin = client(&emulator, demo::ADMIN, &all_scopes());
    let course = admin
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
    let course_id = course.id.unwrap();
    let students = admin.courses().students().list(&course_id).send().await;
    let teachers = admin.courses().teachers().list(&course_id).send().await;
    let members = students.unwrap().students.len() + teachers.unwrap().teachers.len();
    // Room for exactly one more.
    emulator.set_quotas(Quotas::none().course_member_limit(members as u32 + 1));
    let mut add = Vec::new();
    for i in 0..2 {
        let email = format!("late.student{i}@{}", demo::DOMAIN);
        emulator.add_user(&email, "Late", &format!("Student{i}"), Role::Student);
        add.push(
            admin
                .courses()
                .students()
                .create(
                    &course_id,
                    Student {
                        user_id: Some(email),
                        ..Default::default()
                    },
                )
                .send()
                .await,
        );
    }
    assert!(add[0].is_ok(), "{:?}", add[0]);
    let full = add[1].as_ref().unwrap_err();
    let api = full.api().expect("Google's error decoded");
    assert_eq!(api.http_status, 400, "{full}");
    assert_eq!(
        api.status.as_ref().map(|s| s.as_str()),
        Some("FAILED_PRECONDITION")
    );
    assert!(
        api.message.starts_with("@CourseMemberLimitReached "),
        "{}",
        api.message
    );
}
