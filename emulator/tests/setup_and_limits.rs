//! What only a domain administrator can set up (a disabled user, guardians off for a domain,
//! lower limits), through the library and the admin endpoint; the limits Classroom documents
//! (the daily per-project request quota, the course teacher limit, the guardian link limit)
//! and the guardian methods' documented conditions. Plain HTTP over 127.0.0.1.

mod http;

use classroom_emulator::{Emulator, Quotas, demo};
use classroom_spec::Scope;
use serde_json::{Value, json};

use http::{Answer, basic, bearer, send};

fn call(emulator: &Emulator, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
    send(
        &emulator.addr().to_string(),
        method,
        path,
        Some(&bearer(token)),
        body.map(|b| b.to_string()).as_deref(),
    )
}

fn admin_call(emulator: &Emulator, path: &str, body: Option<Value>) -> Answer {
    send(
        &emulator.addr().to_string(),
        "POST",
        path,
        Some(&basic(emulator.client_id(), emulator.client_secret())),
        body.map(|b| b.to_string()).as_deref(),
    )
}

fn guardian_scopes() -> [Scope; 1] {
    [Scope::GuardianlinksStudents]
}

fn invite(emulator: &Emulator, token: &str, student: &str, guardian: &str) -> Answer {
    call(
        emulator,
        token,
        "POST",
        &format!("/v1/userProfiles/{student}/guardianInvitations"),
        Some(json!({"studentId": student, "invitedEmailAddress": guardian})),
    )
}

#[test]
fn the_daily_project_quota_refuses_past_it_and_renews_with_the_day() {
    let emulator = Emulator::builder()
        .quotas(Quotas::none().per_project_per_day(3))
        .start()
        .unwrap();
    let token = emulator.token_for(demo::ADMIN, &[Scope::Courses]);
    for i in 0..3 {
        let ok = call(&emulator, &token, "GET", "/v1/courses", None);
        assert_eq!(ok.status, 200, "call {i}: {ok:?}");
    }
    let over = call(&emulator, &token, "GET", "/v1/courses", None);
    assert_eq!(
        (over.status, over.error_status()),
        (429, "RESOURCE_EXHAUSTED"),
        "{over:?}"
    );
    let info = &over.body["error"]["details"][0];
    assert_eq!(info["reason"], "RATE_LIMIT_EXCEEDED", "{over:?}");
    assert_eq!(
        info["metadata"]["quota_limit"], "DefaultRequestsPerDayPerProject",
        "a per-day limit, which clients treat as lasting: {over:?}"
    );
    assert_eq!(info["metadata"]["quota_limit_value"], "3");
    assert!(
        over.error_message().contains("Requests per day"),
        "{over:?}"
    );
    assert_eq!(emulator.quota_rejections(), 1);

    let day = emulator.advance_quota_day(1);
    assert_eq!(day.len(), 10);
    let renewed = call(&emulator, &token, "GET", "/v1/courses", None);
    assert_eq!(renewed.status, 200, "a new day, a new quota: {renewed:?}");

    // Raised at runtime keeping what was spent: one call today, two more allowed.
    let now = admin_call(
        &emulator,
        "/emulator/v1/quotas",
        Some(json!({"perProjectPerDay": 3})),
    );
    assert_eq!(now.body["perProjectPerDay"], 3, "{now:?}");
    for _ in 0..2 {
        assert_eq!(
            call(&emulator, &token, "GET", "/v1/courses", None).status,
            200
        );
    }
    assert_eq!(
        call(&emulator, &token, "GET", "/v1/courses", None).status,
        429
    );
    let lifted = admin_call(
        &emulator,
        "/emulator/v1/quotas",
        Some(json!({"perProjectPerDay": null})),
    );
    assert_eq!(lifted.body["perProjectPerDay"], Value::Null, "{lifted:?}");
    assert_eq!(
        call(&emulator, &token, "GET", "/v1/courses", None).status,
        200
    );
}

#[test]
fn a_lowered_teacher_limit_refuses_another_teacher_but_not_a_student() {
    let emulator = Emulator::start().unwrap();
    let admin = emulator.token_for(demo::ADMIN, &[Scope::Rosters]);
    let teachers = call(
        &emulator,
        &admin,
        "GET",
        "/v1/courses/d:math-101/teachers",
        None,
    );
    let count = teachers.body["teachers"].as_array().map_or(0, Vec::len) as u32;
    assert!(count >= 1, "{teachers:?}");
    emulator.add_user(
        "new.teacher@school.example",
        "New",
        "Teacher",
        classroom_emulator::Role::Teacher,
    );
    emulator.add_user(
        "new.student@school.example",
        "New",
        "Student",
        classroom_emulator::Role::Student,
    );
    let quotas = emulator.update_quotas(|q| q.course_teacher_limit(count));
    assert_eq!(quotas.course_teacher_limit, Some(count));
    let refused = call(
        &emulator,
        &admin,
        "POST",
        "/v1/courses/d:math-101/teachers",
        Some(json!({"userId": "new.teacher@school.example"})),
    );
    assert_eq!(
        (refused.status, refused.error_status()),
        (400, "FAILED_PRECONDITION"),
        "{refused:?}"
    );
    assert!(
        refused
            .error_message()
            .starts_with("@CourseTeacherLimitReached "),
        "{refused:?}"
    );
    let student = call(
        &emulator,
        &admin,
        "POST",
        "/v1/courses/d:math-101/students",
        Some(json!({"userId": "new.student@school.example"})),
    );
    assert_eq!(
        student.status, 200,
        "students are not teachers: {student:?}"
    );
    emulator.update_quotas(|q| q.course_teacher_limit(None));
    let added = call(
        &emulator,
        &admin,
        "POST",
        "/v1/courses/d:math-101/teachers",
        Some(json!({"userId": "new.teacher@school.example"})),
    );
    assert_eq!(added.status, 200, "{added:?}");
}

#[test]
fn the_guardian_link_limit_counts_the_students_and_the_guardians_links() {
    let emulator = Emulator::start().unwrap();
    let admin = emulator.token_for(demo::ADMIN, &guardian_scopes());
    emulator.set_quotas(Quotas::none().guardian_link_limit(2));
    let student = "edsger.dijkstra@school.example";
    assert_eq!(
        invite(&emulator, &admin, student, "one@family.example").status,
        200
    );
    assert_eq!(
        invite(&emulator, &admin, student, "two@family.example").status,
        200
    );
    let third = invite(&emulator, &admin, student, "three@family.example");
    assert_eq!(
        (third.status, third.error_status()),
        (429, "RESOURCE_EXHAUSTED"),
        "{third:?}"
    );
    assert!(third.error_message().contains("student"), "{third:?}");

    // The guardian side: one address invited for two students is at the limit for a third.
    assert_eq!(
        invite(
            &emulator,
            &admin,
            "barbara.liskov@school.example",
            "one@family.example"
        )
        .status,
        200
    );
    let guardian_full = invite(
        &emulator,
        &admin,
        "donald.knuth@school.example",
        "one@family.example",
    );
    assert_eq!(guardian_full.status, 429, "{guardian_full:?}");
    assert!(
        guardian_full.error_message().contains("guardian has"),
        "{guardian_full:?}"
    );

    // Through the admin endpoint, lifted.
    let lifted = admin_call(
        &emulator,
        "/emulator/v1/quotas",
        Some(json!({"guardianLinkLimit": null})),
    );
    assert_eq!(lifted.status, 200, "{lifted:?}");
    assert_eq!(
        invite(&emulator, &admin, student, "three@family.example").status,
        200
    );
}

#[test]
fn guardians_turned_off_for_a_domain_are_refused_until_turned_on() {
    let emulator = Emulator::start().unwrap();
    let admin = emulator.token_for(demo::ADMIN, &guardian_scopes());
    let guardians = format!("/v1/userProfiles/{}/guardians", demo::STUDENT);
    assert_eq!(call(&emulator, &admin, "GET", &guardians, None).status, 200);

    let off = admin_call(
        &emulator,
        "/emulator/v1/domains/School.Example:disableGuardians",
        None,
    );
    assert_eq!(off.status, 200, "{off:?}");
    assert_eq!(
        off.body,
        json!({"domain": "school.example", "guardiansEnabled": false})
    );
    for (method, path, body) in [
        ("GET", guardians.clone(), None),
        ("GET", "/v1/userProfiles/-/guardians".to_string(), None),
        (
            "GET",
            format!("/v1/userProfiles/{}/guardianInvitations", demo::STUDENT),
            None,
        ),
        (
            "POST",
            format!("/v1/userProfiles/{}/guardianInvitations", demo::STUDENT),
            Some(json!({"studentId": demo::STUDENT, "invitedEmailAddress": "new@family.example"})),
        ),
    ] {
        let refused = call(&emulator, &admin, method, &path, body);
        assert_eq!(
            (refused.status, refused.error_status()),
            (403, "PERMISSION_DENIED"),
            "{method} {path}: {refused:?}"
        );
        assert!(
            refused
                .error_message()
                .contains("not enabled for the domain"),
            "{refused:?}"
        );
    }
    let on = admin_call(
        &emulator,
        "/emulator/v1/domains/school.example:enableGuardians",
        None,
    );
    assert_eq!(on.body["guardiansEnabled"], true, "{on:?}");
    let listed = call(&emulator, &admin, "GET", &guardians, None);
    assert_eq!(
        listed.body["guardians"].as_array().map(Vec::len),
        Some(1),
        "the link stayed: {listed:?}"
    );

    // The library's hook does the same.
    emulator.disable_guardians("school.example");
    assert_eq!(call(&emulator, &admin, "GET", &guardians, None).status, 403);
    emulator.enable_guardians("school.example");
    assert_eq!(call(&emulator, &admin, "GET", &guardians, None).status, 200);
    let bad = admin_call(
        &emulator,
        "/emulator/v1/domains/a%20b:disableGuardians",
        None,
    );
    assert_eq!(bad.status, 400, "{bad:?}");
}

#[test]
fn users_are_disabled_and_enabled_through_the_admin_endpoint() {
    let emulator = Emulator::start().unwrap();
    let off = admin_call(
        &emulator,
        &format!("/emulator/v1/users/{}:disable", demo::TEACHER),
        None,
    );
    assert_eq!(off.status, 200, "{off:?}");
    assert_eq!(off.body["email"], demo::TEACHER);
    assert_eq!(off.body["role"], "teacher");
    assert_eq!(off.body["disabled"], true);
    let on = admin_call(
        &emulator,
        "/emulator/v1/users/ada.lovelace%40school.example:enable",
        None,
    );
    assert_eq!(on.body["disabled"], false, "{on:?}");
    let unknown = admin_call(
        &emulator,
        "/emulator/v1/users/nobody@school.example:disable",
        None,
    );
    assert_eq!(
        (unknown.status, unknown.error_status()),
        (404, "NOT_FOUND"),
        "{unknown:?}"
    );
    let verb = admin_call(&emulator, "/emulator/v1/users/admin:suspend", None);
    assert_eq!(verb.status, 404, "{verb:?}");
    // The library's hooks.
    emulator.disable_user(demo::STUDENT);
    emulator.enable_user(demo::STUDENT);
}

#[test]
fn the_quotas_route_reads_sets_and_refuses_bad_fields_changing_nothing() {
    let emulator = Emulator::start().unwrap();
    let read = admin_call(&emulator, "/emulator/v1/quotas", Some(json!({})));
    assert_eq!(read.status, 200, "{read:?}");
    assert_eq!(read.body.as_object().map(|o| o.len()), Some(9), "{read:?}");
    assert!(
        read.body.as_object().unwrap().values().all(Value::is_null),
        "nothing enforced by default: {read:?}"
    );
    let set = admin_call(
        &emulator,
        "/emulator/v1/quotas",
        Some(
            json!({"courseMemberLimit": 40, "courseTeacherLimit": 3, "dailyInvitationsPerUser": 5}),
        ),
    );
    assert_eq!(set.body["courseMemberLimit"], 40, "{set:?}");
    assert_eq!(emulator.quotas().course_teacher_limit, Some(3));
    assert_eq!(emulator.quotas().daily_invitations_per_user, Some(5));
    for body in [
        json!({"courseMemberLimt": 1}),
        json!({"courseMemberLimit": -1}),
        json!({"courseMemberLimit": "2"}),
        json!({"guardianLinkLimit": 1, "nope": 2}),
    ] {
        let refused = admin_call(&emulator, "/emulator/v1/quotas", Some(body.clone()));
        assert_eq!(
            (refused.status, refused.error_status()),
            (400, "INVALID_ARGUMENT"),
            "{body}: {refused:?}"
        );
    }
    assert_eq!(
        emulator.quotas().guardian_link_limit,
        None,
        "a refused body changes nothing"
    );
}

#[test]
fn a_lowered_daily_invitation_quota_counts_what_was_sent_today() {
    let emulator = Emulator::start().unwrap();
    let admin = emulator.token_for(demo::ADMIN, &guardian_scopes());
    emulator.set_quotas(Quotas::none().daily_invitations_per_user(10));
    for (student, guardian) in [
        ("edsger.dijkstra@school.example", "a@family.example"),
        ("barbara.liskov@school.example", "b@family.example"),
    ] {
        assert_eq!(invite(&emulator, &admin, student, guardian).status, 200);
    }
    let lowered = admin_call(
        &emulator,
        "/emulator/v1/quotas",
        Some(json!({"dailyInvitationsPerUser": 2})),
    );
    assert_eq!(lowered.status, 200, "{lowered:?}");
    let over = invite(
        &emulator,
        &admin,
        "donald.knuth@school.example",
        "c@family.example",
    );
    assert_eq!(
        over.status, 429,
        "the two sent today count under the new limit: {over:?}"
    );
    assert!(
        over.error_message()
            .starts_with("@UserInvitationQuotaExhausted "),
        "{over:?}"
    );
}

#[test]
fn guardian_methods_answer_their_documented_conditions() {
    let emulator = Emulator::start().unwrap();
    let admin = emulator.token_for(demo::ADMIN, &guardian_scopes());
    let teacher = emulator.token_for(demo::TEACHER, &guardian_scopes());

    // A student id that is no id, email or "me": INVALID_ARGUMENT, on every method.
    for (method, path) in [
        ("GET", "/v1/userProfiles/grace/guardians"),
        ("GET", "/v1/userProfiles/grace/guardians/1"),
        ("DELETE", "/v1/userProfiles/grace/guardians/1"),
        ("GET", "/v1/userProfiles/grace/guardianInvitations"),
        ("GET", "/v1/userProfiles/grace/guardianInvitations/1"),
    ] {
        let refused = call(&emulator, &admin, method, path, None);
        assert_eq!(
            (refused.status, refused.error_status()),
            (400, "INVALID_ARGUMENT"),
            "{method} {path}: {refused:?}"
        );
    }
    // A student Classroom has no record of: NOT_FOUND when listing guardians or for
    // invitations; PERMISSION_DENIED for guardians.get and delete.
    let nobody = "nobody@school.example";
    for (method, path, status) in [
        ("GET", format!("/v1/userProfiles/{nobody}/guardians"), 404),
        (
            "GET",
            format!("/v1/userProfiles/{nobody}/guardianInvitations"),
            404,
        ),
        ("GET", format!("/v1/userProfiles/{nobody}/guardians/1"), 403),
        (
            "DELETE",
            format!("/v1/userProfiles/{nobody}/guardians/1"),
            403,
        ),
        (
            "GET",
            "/v1/userProfiles/123456/guardians/1".to_string(),
            403,
        ),
    ] {
        let answer = call(&emulator, &admin, method, &path, None);
        assert_eq!(answer.status, status, "{method} {path}: {answer:?}");
    }
    // Invalid addresses.
    let long_local = format!("{}@family.example", "a".repeat(65));
    for bad in [
        "pat",
        "pat@",
        "@family.example",
        "pat@family",
        "pat hopper@family.example",
        "a@b@family.example",
        long_local.as_str(),
    ] {
        let refused = invite(&emulator, &admin, demo::SECOND_STUDENT, bad);
        assert_eq!(
            (refused.status, refused.error_status()),
            (400, "INVALID_ARGUMENT"),
            "{bad}: {refused:?}"
        );
    }
    // The address of the guardian's account, whatever address was invited.
    let guardian = emulator.user_id(demo::GUARDIAN).unwrap();
    let again = invite(
        &emulator,
        &admin,
        demo::STUDENT,
        "PAT.HOPPER@family.example",
    );
    assert_eq!(
        (again.status, again.error_status()),
        (409, "ALREADY_EXISTS"),
        "{again:?}"
    );

    // invitedEmailAddress is for domain administrators' eyes only.
    let guardians = format!("/v1/userProfiles/{}/guardians", demo::STUDENT);
    let seen_by_admin = call(&emulator, &admin, "GET", &guardians, None);
    assert_eq!(
        seen_by_admin.body["guardians"][0]["invitedEmailAddress"],
        demo::GUARDIAN,
        "{seen_by_admin:?}"
    );
    let seen_by_teacher = call(&emulator, &teacher, "GET", &guardians, None);
    let listed = &seen_by_teacher.body["guardians"][0];
    assert_eq!(
        listed["guardianId"],
        guardian.as_str(),
        "{seen_by_teacher:?}"
    );
    assert!(
        listed.get("invitedEmailAddress").is_none(),
        "{seen_by_teacher:?}"
    );
    let made = invite(
        &emulator,
        &teacher,
        demo::STUDENT,
        "second.parent@family.example",
    );
    assert_eq!(made.status, 200, "{made:?}");
    assert!(made.body.get("invitedEmailAddress").is_none(), "{made:?}");
    assert!(made.body["invitationId"].is_string(), "{made:?}");
    let pending = call(
        &emulator,
        &teacher,
        "GET",
        &format!("/v1/userProfiles/{}/guardianInvitations", demo::STUDENT),
        None,
    );
    let items = pending.body["guardianInvitations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 1, "{pending:?}");
    assert!(items[0].get("invitedEmailAddress").is_none(), "{pending:?}");
}
