//! The SDK against the emulator over real HTTP: CRUD, paging, patch masks, the submission
//! state machine, roles, scopes, authentication and concurrency.

#[path = "emulator_common/mod.rs"]
mod common;

use std::collections::HashSet;

use classroom::models::{
    Attachment, Course, CourseState, CourseWork, CourseWorkState, CourseWorkType, Link,
    ModifyAttachmentsRequest, StudentSubmission, SubmissionState,
};
use classroom::{FieldMask, Scope};
use classroom_emulator::{Emulator, demo};
use common::{all_scopes, client, unchecked_client};
use futures::TryStreamExt;

fn course(name: &str) -> Course {
    Course {
        name: Some(name.into()),
        owner_id: Some("me".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn course_crud_with_server_ids_timestamps_and_aliases() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let teacher = client(&emulator, demo::TEACHER, &[Scope::Courses]);

    let created = teacher
        .courses()
        .create(Course {
            id: Some("p:bio-7".into()),
            section: Some("7B".into()),
            ..course("Biology")
        })
        .send()
        .await
        .unwrap();
    let id = created.id.clone().expect("the server assigns an id");
    assert_ne!(id, "p:bio-7", "the alias is not the id");
    assert!(created.creation_time.is_some() && created.update_time.is_some());
    assert_eq!(created.course_state, Some(CourseState::Provisioned));
    assert_eq!(
        created.owner_id.as_deref(),
        emulator.user_id(demo::TEACHER).as_deref(),
        "`me` resolves to the caller"
    );

    let by_alias = teacher.courses().get("p:bio-7").send().await.unwrap();
    assert_eq!(by_alias.id, created.id, "an alias names the course");

    let duplicate = teacher
        .courses()
        .create(Course {
            id: Some("p:bio-7".into()),
            ..course("Again")
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(duplicate.http_status(), Some(409), "{duplicate}");
    assert_eq!(
        duplicate.api().unwrap().status.as_ref().map(|c| c.as_str()),
        Some("ALREADY_EXISTS")
    );

    let updated = teacher
        .courses()
        .update(
            &id,
            Course {
                room: Some("Lab 3".into()),
                ..course("Biology II")
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(updated.name.as_deref(), Some("Biology II"));
    assert_eq!(updated.section, None, "update replaces the writable fields");
    assert!(updated.update_time >= created.update_time);

    teacher.courses().delete(&id).send().await.unwrap();
    let gone = teacher.courses().get(&id).send().await.unwrap_err();
    assert!(gone.api().unwrap().is_not_found(), "{gone}");
    let alias_gone = teacher.courses().get("p:bio-7").send().await.unwrap_err();
    assert!(
        alias_gone.api().unwrap().is_not_found(),
        "aliases go with the course"
    );
}

#[tokio::test]
async fn paging_through_250_courses_with_opaque_tokens() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = client(&emulator, demo::ADMIN, &[Scope::Courses]);
    for chunk in (0..250).collect::<Vec<_>>().chunks(25) {
        let creates = chunk.iter().map(|i| {
            admin
                .courses()
                .create(Course {
                    owner_id: Some(demo::TEACHER.into()),
                    ..course(&format!("Course {i:03}"))
                })
                .send()
        });
        for r in futures::future::join_all(creates).await {
            r.unwrap();
        }
    }
    let pages: Vec<_> = admin
        .courses()
        .list()
        .page_size(100)
        .pages()
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p.courses.len()).collect();
    assert_eq!(sizes, [100, 100, 50], "pageSize is honoured");
    let token = pages[0].next_page_token.clone().unwrap();
    assert!(
        !token.chars().all(|c| c.is_ascii_digit()),
        "tokens are opaque"
    );

    let all: Vec<_> = admin.courses().list().items().try_collect().await.unwrap();
    let ids: HashSet<_> = all.iter().map(|c| c.id.clone().unwrap()).collect();
    assert_eq!(
        ids.len(),
        250,
        "every course once, with the server's page size"
    );

    let forged = admin
        .courses()
        .list()
        .page_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(forged.http_status(), Some(400), "{forged}");
    let reused = admin
        .courses()
        .list()
        .page_token(token)
        .course_states([CourseState::Archived])
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        reused.http_status(),
        Some(400),
        "a token is bound to its query"
    );
}

#[tokio::test]
async fn list_filters_follow_classroom() {
    let emulator = Emulator::start().unwrap();
    let admin = client(&emulator, demo::ADMIN, &[Scope::Courses]);
    let taught: Vec<_> = admin
        .courses()
        .list()
        .teacher_id(demo::SECOND_TEACHER)
        .items()
        .try_collect()
        .await
        .unwrap();
    let names: HashSet<_> = taught.iter().filter_map(|c| c.name.as_deref()).collect();
    assert_eq!(
        names,
        HashSet::from(["Mathematics 101", "Computer Science"])
    );
    let attended: Vec<_> = admin
        .courses()
        .list()
        .student_id(demo::STUDENTS[2])
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(attended.len(), 2, "Edsger is only invited to history");
    let partial = admin
        .courses()
        .list()
        .with_fields("courses(id,name)")
        .send()
        .await
        .unwrap();
    assert!(
        partial
            .courses
            .iter()
            .all(|c| c.id.is_some() && c.name.is_some() && c.owner_id.is_none()),
        "`fields` selects a partial response"
    );
    let archived = admin
        .courses()
        .list()
        .course_states([CourseState::Archived])
        .send()
        .await
        .unwrap();
    assert!(archived.courses.is_empty());

    let teacher = client(&emulator, demo::TEACHER, &[Scope::CourseworkStudents]);
    let published = teacher
        .courses()
        .course_work()
        .list(demo::COURSE_ALIAS)
        .course_work_states([CourseWorkState::Published])
        .order_by("dueDate asc")
        .send()
        .await
        .unwrap();
    let titles: Vec<_> = published
        .course_work
        .iter()
        .filter_map(|w| w.title.as_deref())
        .collect();
    assert_eq!(titles, ["Quiz: prime numbers", "Fractions worksheet"]);
    let bad_order = teacher
        .courses()
        .course_work()
        .list(demo::COURSE_ALIAS)
        .order_by("title")
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad_order.http_status(), Some(400));

    let work = published.course_work[1].id.clone().unwrap();
    let turned_in = teacher
        .courses()
        .course_work()
        .student_submissions()
        .list(demo::COURSE_ALIAS, &work)
        .states([SubmissionState::TurnedIn])
        .send()
        .await
        .unwrap();
    assert_eq!(turned_in.student_submissions.len(), 1, "Grace's, seeded");
    let quiz = published.course_work[0].id.clone().unwrap();
    let late = teacher
        .courses()
        .course_work()
        .student_submissions()
        .list(demo::COURSE_ALIAS, &quiz)
        .late(classroom::models::LateFilter::LateOnly)
        .send()
        .await
        .unwrap();
    assert_eq!(
        late.student_submissions.len(),
        6,
        "the quiz was due in 2020"
    );
    let one = teacher
        .courses()
        .course_work()
        .student_submissions()
        .list(demo::COURSE_ALIAS, "-")
        .user_id(demo::STUDENT)
        .send()
        .await
        .unwrap();
    assert_eq!(
        one.student_submissions.len(),
        2,
        "`-` spans the published work"
    );
    let stranger = teacher
        .courses()
        .course_work()
        .student_submissions()
        .list(demo::COURSE_ALIAS, "-")
        .user_id("nobody@elsewhere.example")
        .send()
        .await
        .unwrap_err();
    assert!(stranger.is_not_found(), "{stranger:?}");
    let invited = client(&emulator, demo::ADMIN, &[Scope::Rosters])
        .invitations()
        .list()
        .user_id("nobody@elsewhere.example")
        .send()
        .await
        .unwrap_err();
    assert!(invited.is_not_found(), "{invited:?}");
}

#[tokio::test]
async fn patch_honours_update_mask_and_refuses_other_fields() {
    let emulator = Emulator::start().unwrap();
    let teacher = client(&emulator, demo::TEACHER, &[Scope::Courses]);
    let before = teacher
        .courses()
        .get(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
    let patched = teacher
        .courses()
        .patch(
            demo::COURSE_ALIAS,
            Course {
                name: Some("Mathematics 101 (honours)".into()),
                room: Some("ignored: not in the mask".into()),
                ..Default::default()
            },
        )
        .update_mask(FieldMask::new(["name"]))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.name.as_deref(), Some("Mathematics 101 (honours)"));
    assert_eq!(
        patched.room, before.room,
        "fields outside the mask are kept"
    );

    let refused = teacher
        .courses()
        .patch(demo::COURSE_ALIAS, Course::default())
        .update_mask(FieldMask::new(["enrollmentCode"]))
        .send()
        .await
        .unwrap_err();
    let api = refused.api().unwrap();
    assert_eq!(
        (api.http_status, api.status.as_ref().map(|c| c.as_str())),
        (400, Some("INVALID_ARGUMENT"))
    );
    assert!(api.message.contains("enrollmentCode"), "{}", api.message);

    // Snake case, as Google's docs write masks, works too.
    let cleared = teacher
        .courses()
        .patch(demo::COURSE_ALIAS, Course::default())
        .update_mask(FieldMask::new(["description_heading"]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        cleared.description_heading, None,
        "a masked absent field is cleared"
    );

    let archived = teacher
        .courses()
        .patch(
            demo::COURSE_ALIAS,
            Course {
                course_state: Some(CourseState::Archived),
                ..Default::default()
            },
        )
        .update_mask(FieldMask::new(["courseState"]))
        .send()
        .await
        .unwrap();
    assert_eq!(archived.course_state, Some(CourseState::Archived));
    let frozen = client(&emulator, demo::TEACHER, &[Scope::Topics])
        .courses()
        .topics()
        .create(
            demo::COURSE_ALIAS,
            classroom::models::Topic {
                name: Some("Late addition".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        frozen.api().unwrap().status.as_ref().map(|c| c.as_str()),
        Some("FAILED_PRECONDITION"),
        "an archived course's contents cannot change"
    );
    let renamed = teacher
        .courses()
        .patch(demo::COURSE_ALIAS, course("Renamed while archived"))
        .update_mask(FieldMask::new(["name"]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        renamed.api().unwrap().message.split(' ').next(),
        Some("@CourseNotModifiable"),
        "nor can the archived course itself, but for its state"
    );

    let no_mask = teacher
        .courses()
        .patch(demo::COURSE_ALIAS, course("x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(no_mask.http_status(), Some(400), "updateMask is required");
}

#[tokio::test]
async fn submission_state_machine() {
    let emulator = Emulator::start().unwrap();
    let teacher = client(
        &emulator,
        demo::TEACHER,
        &[Scope::CourseworkStudents, Scope::CourseworkMe],
    );
    let grace = client(&emulator, demo::STUDENT, &[Scope::CourseworkMe]);
    let katherine = client(&emulator, demo::SECOND_STUDENT, &[Scope::CourseworkMe]);

    let work = teacher
        .courses()
        .course_work()
        .create(
            demo::COURSE_ALIAS,
            CourseWork {
                title: Some("Essay".into()),
                work_type: Some(CourseWorkType::Assignment),
                state: Some(CourseWorkState::Published),
                max_points: Some(20.0),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    let work_id = work.id.clone().unwrap();
    let subs = teacher
        .courses()
        .course_work()
        .student_submissions()
        .list(demo::COURSE_ALIAS, &work_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        subs.student_submissions.len(),
        6,
        "one submission per student"
    );

    let mine = grace
        .courses()
        .course_work()
        .student_submissions()
        .list(demo::COURSE_ALIAS, &work_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        mine.student_submissions.len(),
        1,
        "a student sees only their own"
    );
    let sub: &StudentSubmission = &mine.student_submissions[0];
    let id = sub.id.clone().unwrap();
    assert_eq!(sub.state, Some(SubmissionState::Created));
    let ss = || grace.courses().course_work().student_submissions();

    let attach = ModifyAttachmentsRequest {
        add_attachments: vec![Attachment {
            link: Some(Link {
                url: Some("https://example.com/essay".into()),
                ..Default::default()
            }),
            ..Default::default()
        }],
    };
    let with_link = ss()
        .modify_attachments(demo::COURSE_ALIAS, &work_id, &id, attach.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        with_link.assignment_submission.unwrap().attachments.len(),
        1,
        "modifyAttachments adds the link"
    );

    let stolen = katherine
        .courses()
        .course_work()
        .student_submissions()
        .turn_in(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        stolen.http_status(),
        Some(403),
        "only the owner turns in: {stolen}"
    );

    ss().turn_in(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap();
    let again = ss()
        .turn_in(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap_err();
    let api = again.api().unwrap();
    assert_eq!(
        (api.http_status, api.status.as_ref().map(|c| c.as_str())),
        (400, Some("FAILED_PRECONDITION")),
        "turning in twice is an illegal transition"
    );
    let locked = ss()
        .modify_attachments(demo::COURSE_ALIAS, &work_id, &id, attach)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        locked.http_status(),
        Some(403),
        "no attachments while turned in (MODIFIABLE_UNTIL_TURNED_IN): the user may not modify them"
    );

    let teacher_reclaim = teacher
        .courses()
        .course_work()
        .student_submissions()
        .reclaim(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        teacher_reclaim.http_status(),
        Some(403),
        "only the owner reclaims"
    );
    ss().reclaim(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap();
    let reclaimed = ss()
        .get(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap();
    assert_eq!(reclaimed.state, Some(SubmissionState::ReclaimedByStudent));
    let reclaim_twice = ss()
        .reclaim(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        reclaim_twice.http_status(),
        Some(400),
        "not turned in: no reclaim"
    );
    ss().turn_in(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap();

    let grading = teacher.courses().course_work().student_submissions();
    let student_grade = ss()
        .patch(
            demo::COURSE_ALIAS,
            &work_id,
            &id,
            StudentSubmission {
                draft_grade: Some(20.0),
                ..Default::default()
            },
        )
        .update_mask(FieldMask::new(["draftGrade"]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        student_grade.http_status(),
        Some(403),
        "students do not grade"
    );
    grading
        .patch(
            demo::COURSE_ALIAS,
            &work_id,
            &id,
            StudentSubmission {
                draft_grade: Some(17.0),
                ..Default::default()
            },
        )
        .update_mask(FieldMask::new(["draftGrade"]))
        .send()
        .await
        .unwrap();
    grading
        .return_(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap();
    let returned = ss()
        .get(demo::COURSE_ALIAS, &work_id, &id)
        .send()
        .await
        .unwrap();
    assert_eq!(returned.state, Some(SubmissionState::Returned));
    assert_eq!(
        returned.assigned_grade, None,
        "unlike the Classroom application, the API's return does not assign the draft grade"
    );
    assert_eq!(
        returned.draft_grade, None,
        "the draft grade is visible to course teachers only"
    );
    assert_eq!(
        returned.submission_history.len(),
        5,
        "created, turned in, reclaimed, turned in, returned: every transition is recorded"
    );
}

#[tokio::test]
async fn roles_decide_who_may_do_what() {
    let emulator = Emulator::start().unwrap();
    let scopes = all_scopes();
    let student = client(&emulator, demo::STUDENT, &scopes);
    let denied = student
        .courses()
        .course_work()
        .create(
            demo::COURSE_ALIAS,
            CourseWork {
                title: Some("Cheat sheet".into()),
                work_type: Some(CourseWorkType::Assignment),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap_err();
    let api = denied.api().unwrap();
    assert!(
        api.is_permission_denied(),
        "a student cannot create coursework: {denied}"
    );

    let drafts = student
        .courses()
        .course_work()
        .list(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap();
    assert!(
        drafts
            .course_work
            .iter()
            .all(|w| w.state == Some(CourseWorkState::Published)),
        "students do not see drafts"
    );
    let me = student.user_profiles().get("me").send().await.unwrap();
    assert_eq!(
        me.id,
        emulator.user_id(demo::STUDENT),
        "`me` is the token's user"
    );
    assert_eq!(
        me.email_address.as_deref(),
        Some(demo::STUDENT),
        "emails come with classroom.profile.emails"
    );
    let courses = student.courses().list().send().await.unwrap();
    assert_eq!(
        courses.courses.len(),
        3,
        "a student lists their own courses"
    );

    let outsider = client(&emulator, demo::STUDENTS[2], &scopes);
    let history = outsider
        .courses()
        .get("d:history")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        history.http_status(),
        Some(403),
        "non-members cannot read a course"
    );

    // Edsger accepts his invitation and becomes a student of history.
    let invitations = outsider
        .invitations()
        .list()
        .user_id("me")
        .send()
        .await
        .unwrap();
    let invitation = invitations.invitations[0].id.clone().unwrap();
    let wrong_user = student
        .invitations()
        .accept(&invitation)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        wrong_user.http_status(),
        Some(403),
        "only the invitee accepts"
    );
    outsider
        .invitations()
        .accept(&invitation)
        .send()
        .await
        .unwrap();
    outsider.courses().get("d:history").send().await.unwrap();

    let co_teacher = client(&emulator, demo::SECOND_TEACHER, &scopes);
    let not_owner = co_teacher
        .courses()
        .delete(demo::COURSE_ALIAS)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        not_owner.http_status(),
        Some(403),
        "only the owner deletes a course"
    );

    // Guardians: the teacher invites, the guardian accepts, the link shows.
    let teacher = client(&emulator, demo::TEACHER, &scopes);
    let invitation = teacher
        .user_profiles()
        .guardian_invitations()
        .create(
            demo::SECOND_STUDENT,
            classroom::models::GuardianInvitation {
                student_id: Some(demo::SECOND_STUDENT.into()),
                invited_email_address: Some("lee.johnson@family.example".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    let guardian_id = emulator
        .accept_guardian_invitation(demo::SECOND_STUDENT, &invitation.invitation_id.unwrap())
        .unwrap();
    let guardians = teacher
        .user_profiles()
        .guardians()
        .list(demo::SECOND_STUDENT)
        .send()
        .await
        .unwrap();
    assert_eq!(guardians.guardians.len(), 1);
    assert_eq!(
        guardians.guardians[0].guardian_id.as_deref(),
        Some(guardian_id.as_str())
    );
    let others = student
        .user_profiles()
        .guardians()
        .list(demo::SECOND_STUDENT)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        others.http_status(),
        Some(403),
        "a student sees only their own guardians"
    );
}

#[tokio::test]
async fn scopes_and_tokens_are_checked_by_the_server() {
    let emulator = Emulator::start().unwrap();
    let readonly = emulator.token_for(demo::ADMIN, &[Scope::CoursesReadonly]);
    let unchecked = unchecked_client(&emulator, readonly);
    unchecked.courses().list().send().await.unwrap();
    let refused = unchecked
        .courses()
        .create(course("x"))
        .send()
        .await
        .unwrap_err();
    let api = refused.api().expect("the server answered");
    assert_eq!(api.http_status, 403);
    assert_eq!(
        api.status.as_ref().map(|c| c.as_str()),
        Some("PERMISSION_DENIED")
    );
    assert!(
        api.is_scope_insufficient(),
        "reason ACCESS_TOKEN_SCOPE_INSUFFICIENT: {refused}"
    );

    let emails_only = emulator.token_for(demo::ADMIN, &[Scope::ProfileEmails]);
    let additional = unchecked_client(&emulator, emails_only)
        .user_profiles()
        .get("me")
        .send()
        .await
        .unwrap_err();
    assert!(
        additional.api().unwrap().is_scope_insufficient(),
        "an additional scope authorizes nothing on its own"
    );

    let expired = emulator.expired_token_for(demo::ADMIN, &[Scope::Courses]);
    let err = unchecked_client(&emulator, expired)
        .courses()
        .list()
        .send()
        .await
        .unwrap_err();
    assert!(
        err.api().unwrap().is_unauthenticated(),
        "expired token: {err}"
    );
    let err = unchecked_client(&emulator, "made-up".into())
        .courses()
        .list()
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.http_status(), Some(401), "unknown token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_get_distinct_ids() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = client(&emulator, demo::ADMIN, &[Scope::Courses]);
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let admin = admin.clone();
            tokio::spawn(async move {
                admin
                    .courses()
                    .create(Course {
                        owner_id: Some(demo::TEACHER.into()),
                        ..course(&format!("Parallel {i}"))
                    })
                    .send()
                    .await
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap().unwrap().id.unwrap());
    }
    assert_eq!(ids.len(), 100, "100 creates give 100 distinct ids");
    let listed: Vec<_> = admin.courses().list().items().try_collect().await.unwrap();
    assert_eq!(listed.len(), 100, "and a list of 100");
}

#[tokio::test]
async fn bad_requests_get_google_error_shapes() {
    let emulator = Emulator::start().unwrap();
    let token = emulator.token_for(demo::ADMIN, &all_scopes());
    let http = common::http();
    let root = emulator.root_url();
    let cases = [
        ("POST", "v1/courses", "{not json", 400, "INVALID_ARGUMENT"),
        ("POST", "v1/courses", "[1,2]", 400, "INVALID_ARGUMENT"),
        (
            "POST",
            "v1/courses",
            r#"{"name":5}"#,
            400,
            "INVALID_ARGUMENT",
        ),
        ("GET", "v1/courses?pageSize=-1", "", 400, "INVALID_ARGUMENT"),
        ("GET", "v1/courses?bogus=1", "", 400, "INVALID_ARGUMENT"),
        ("GET", "v1/courses/404404", "", 404, "NOT_FOUND"),
        ("GET", "v1/nowhere/at/all", "", 404, "NOT_FOUND"),
        ("PUT", "v1/courses", "", 404, "NOT_FOUND"),
        ("GET", "v1/courses/%FF%FE", "", 404, "NOT_FOUND"),
        ("POST", "v1/invitations/123:accept", "", 404, "NOT_FOUND"),
    ];
    for (verb, path, body, status, canonical) in cases {
        let response = http
            .request(verb.parse().unwrap(), format!("{root}{path}"))
            .bearer_auth(&token)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{verb} {path}");
        let json: serde_json::Value =
            serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(json["error"]["code"], status, "{verb} {path}: {json}");
        assert_eq!(json["error"]["status"], canonical, "{verb} {path}: {json}");
        assert!(
            json["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[tokio::test]
async fn every_method_answers_without_a_server_error() {
    let emulator = Emulator::start().unwrap();
    let http = common::http();
    let root = emulator.root_url();
    for user in [demo::ADMIN, demo::STUDENT] {
        let token = emulator.token_for(user, &all_scopes());
        for method in classroom::resources::METHODS {
            let mut path = method.path.to_string();
            for (name, value) in [
                ("{courseId}", "d%3Amath-101"),
                ("{studentId}", "me"),
                ("{userId}", "me"),
            ] {
                path = path.replace(name, value);
            }
            while let Some(open) = path.find('{') {
                let close = open + path[open..].find('}').unwrap();
                path.replace_range(open..=close, "nope");
            }
            let response = http
                .request(
                    method.http_method.as_str().parse().unwrap(),
                    format!("{root}{path}"),
                )
                .bearer_auth(&token)
                .body("{}")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap())
                .unwrap_or_else(|e| panic!("{} as {user}: the body is not JSON: {e}", method.id));
            assert!(
                status < 500,
                "{} as {user}: HTTP {status} {body}",
                method.id
            );
            if status >= 400 {
                assert_eq!(body["error"]["code"], status, "{}: {body}", method.id);
                assert!(body["error"]["status"].is_string(), "{}: {body}", method.id);
            }
        }
    }
}
