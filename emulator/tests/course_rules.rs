//! Courses, rosters, invitations and profiles answer the conditions their method descriptions
//! in spec/discovery/classroom.v1.json list (`CourseNotModifiable`, the `CourseState` moves,
//! `CourseTitleCannotContainUrl`, roles already held, `CourseTeacherLimitReached`, ...).
//! Plain HTTP over 127.0.0.1.

mod http;

use classroom_emulator::{Emulator, Quotas, demo};
use classroom_spec::Scope;
use serde_json::{Value, json};

use http::{Answer, bearer, send};

const ALL: &[Scope] = &[
    Scope::Courses,
    Scope::Rosters,
    Scope::CourseworkStudents,
    Scope::ProfileEmails,
];

struct Caller<'a> {
    emulator: &'a Emulator,
    token: String,
}

impl Caller<'_> {
    fn new<'a>(emulator: &'a Emulator, user: &str) -> Caller<'a> {
        Caller {
            emulator,
            token: emulator.token_for(user, ALL),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        send(
            &self.emulator.addr().to_string(),
            method,
            path,
            Some(&bearer(&self.token)),
            body.map(|b| b.to_string()).as_deref(),
        )
    }

    fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = self.call(method, path, body);
        assert_eq!(answer.status, 200, "{method} {path}: {answer:?}");
        answer.body
    }

    /// Asserts a 400 `FAILED_PRECONDITION` whose message starts with `@reason ` (or, with an
    /// empty `reason`, has none).
    fn refused(&self, method: &str, path: &str, body: Option<Value>, reason: &str, why: &str) {
        let answer = self.call(method, path, body);
        assert_eq!(
            (answer.status, answer.error_status()),
            (400, "FAILED_PRECONDITION"),
            "{why}: {method} {path}: {answer:?}"
        );
        if reason.is_empty() {
            assert!(
                !answer.error_message().starts_with('@'),
                "{why}: {answer:?}"
            );
        } else {
            assert!(
                answer.error_message().starts_with(&format!("@{reason} ")),
                "{why}: {answer:?}"
            );
        }
    }

    fn create_course(&self, name: &str, state: &str) -> String {
        let course = self.ok(
            "POST",
            "/v1/courses",
            Some(json!({"name": name, "ownerId": demo::TEACHER, "courseState": state})),
        );
        course["id"].as_str().unwrap().to_string()
    }

    fn set_state(&self, course: &str, state: &str) -> Answer {
        self.call(
            "PATCH",
            &format!("/v1/courses/{course}?updateMask=courseState"),
            Some(json!({"courseState": state})),
        )
    }
}

#[test]
fn an_archived_course_refuses_changes_until_a_patch_makes_it_active() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN);
    let course = admin.create_course("History", "ACTIVE");
    let invitation = admin.ok(
        "POST",
        "/v1/invitations",
        Some(json!({"courseId": course, "userId": demo::STUDENT, "role": "STUDENT"})),
    );
    assert_eq!(admin.set_state(&course, "ARCHIVED").status, 200);

    let path = format!("/v1/courses/{course}");
    admin.refused(
        "PATCH",
        &format!("{path}?updateMask=name"),
        Some(json!({"name": "Renamed"})),
        "CourseNotModifiable",
        "courses.patch of an archived course's name",
    );
    admin.refused(
        "PUT",
        &path,
        Some(json!({"name": "Renamed", "courseState": "ARCHIVED"})),
        "CourseNotModifiable",
        "courses.update of an archived course",
    );
    admin.refused(
        "POST",
        &format!("{path}/students"),
        Some(json!({"userId": demo::SECOND_STUDENT})),
        "CourseNotModifiable",
        "courses.students.create in an archived course",
    );
    admin.refused(
        "POST",
        &format!("{path}/teachers"),
        Some(json!({"userId": demo::SECOND_TEACHER})),
        "CourseNotModifiable",
        "courses.teachers.create in an archived course",
    );
    let student = Caller::new(&emulator, demo::STUDENT);
    let accept = format!(
        "/v1/invitations/{}:accept",
        invitation["id"].as_str().unwrap()
    );
    student.refused(
        "POST",
        &accept,
        None,
        "CourseNotModifiable",
        "invitations.accept into an archived course",
    );
    let unchanged = admin.ok("GET", &path, None);
    assert_eq!(
        unchanged["name"], "History",
        "the refused patches changed nothing"
    );

    // Setting the state it has is no change; the owner transfer is one.
    assert_eq!(admin.set_state(&course, "ARCHIVED").status, 200);
    admin.refused(
        "PATCH",
        &format!("{path}?updateMask=ownerId"),
        Some(json!({"ownerId": demo::ADMIN})),
        "CourseNotModifiable",
        "an ownership transfer of an archived course",
    );

    // "The course state can be changed in a request that changes other properties": the roster
    // sync restores a course and renames it in one patch.
    let restored = admin.ok(
        "PATCH",
        &format!("{path}?updateMask=name,section,room,courseState"),
        Some(
            json!({"name": "World History", "section": "2", "room": "12", "courseState": "ACTIVE"}),
        ),
    );
    assert_eq!(
        (&restored["name"], &restored["courseState"]),
        (&json!("World History"), &json!("ACTIVE"))
    );
    student.ok("POST", &accept, None);
}

#[test]
fn course_states_move_only_as_the_course_state_enum_describes() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN);
    for state in ["ARCHIVED", "DECLINED", "SUSPENDED"] {
        let answer = admin.call(
            "POST",
            "/v1/courses",
            Some(json!({"name": "New", "ownerId": demo::TEACHER, "courseState": state})),
        );
        assert_eq!(
            (answer.status, answer.error_status()),
            (400, "INVALID_ARGUMENT"),
            "a course is not created {state}: {answer:?}"
        );
    }

    let course = admin.create_course("Biology", "PROVISIONED");
    let moves = [
        ("ARCHIVED", false, "PROVISIONED is never archived"),
        ("SUSPENDED", false, "only Google suspends"),
        ("DECLINED", true, "PROVISIONED may be declined"),
        ("ACTIVE", false, "DECLINED goes only back to PROVISIONED"),
        ("ARCHIVED", false, "DECLINED goes only back to PROVISIONED"),
        ("PROVISIONED", true, "DECLINED goes back to PROVISIONED"),
        ("ACTIVE", true, "PROVISIONED may be activated"),
        (
            "PROVISIONED",
            false,
            "only a DECLINED course becomes PROVISIONED",
        ),
        ("DECLINED", false, "only a PROVISIONED course is declined"),
        ("ARCHIVED", true, "ACTIVE may be archived"),
        (
            "PROVISIONED",
            false,
            "only a DECLINED course becomes PROVISIONED",
        ),
        ("ACTIVE", true, "ARCHIVED goes back to ACTIVE"),
    ];
    for (to, allowed, why) in moves {
        let answer = admin.set_state(&course, to);
        if allowed {
            assert_eq!(answer.status, 200, "{why}: {answer:?}");
            assert_eq!(answer.body["courseState"], to);
        } else {
            assert_eq!(
                (answer.status, answer.error_status()),
                (400, "FAILED_PRECONDITION"),
                "{why}: {answer:?}"
            );
        }
    }
    let missing = admin.call(
        "PATCH",
        &format!("/v1/courses/{course}?updateMask=courseState"),
        Some(json!({})),
    );
    assert_eq!(
        (missing.status, missing.error_status()),
        (400, "INVALID_ARGUMENT"),
        "a mask naming courseState needs a state: {missing:?}"
    );

    // A declined course "cannot [be modified] except to change it to the PROVISIONED state",
    // its contents included.
    let declined = admin.create_course("Chemistry", "PROVISIONED");
    assert_eq!(admin.set_state(&declined, "DECLINED").status, 200);
    admin.refused(
        "PATCH",
        &format!("/v1/courses/{declined}?updateMask=name"),
        Some(json!({"name": "Organic chemistry"})),
        "CourseNotModifiable",
        "a declined course's name",
    );
    Caller::new(&emulator, demo::TEACHER).refused(
        "POST",
        &format!("/v1/courses/{declined}/courseWork"),
        Some(json!({"title": "Lab", "workType": "ASSIGNMENT"})),
        "CourseNotModifiable",
        "coursework in a declined course",
    );
    let back = admin.ok(
        "PATCH",
        &format!("/v1/courses/{declined}?updateMask=name,courseState"),
        Some(json!({"name": "Organic chemistry", "courseState": "PROVISIONED"})),
    );
    assert_eq!(back["name"], "Organic chemistry");
}

#[test]
fn an_update_keeps_the_state_and_levels_it_is_not_given() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN);
    let course = admin.create_course("Art", "ACTIVE");
    admin.ok(
        "PATCH",
        &format!("/v1/courses/{course}?updateMask=levels"),
        Some(json!({"levels": "9th grade"})),
    );
    let updated = admin.ok(
        "PUT",
        &format!("/v1/courses/{course}"),
        Some(json!({"name": "Fine art"})),
    );
    assert_eq!(updated["name"], "Fine art");
    assert_eq!(updated["courseState"], "ACTIVE", "an omitted state is kept");
    assert_eq!(
        updated["levels"],
        json!("9th grade"),
        "`levels` is not cleared if omitted from an update"
    );
}

#[test]
fn course_names_cannot_hold_a_url() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN);
    for name in [
        "Maths, see https://school.example/maths",
        "www.school.example",
    ] {
        admin.refused(
            "POST",
            "/v1/courses",
            Some(json!({"name": name, "ownerId": demo::TEACHER})),
            "CourseTitleCannotContainUrl",
            "courses.create",
        );
    }
    let course = admin.create_course("Maths 10.5: algebra/geometry", "ACTIVE");
    admin.refused(
        "PATCH",
        &format!("/v1/courses/{course}?updateMask=name"),
        Some(json!({"name": "http://maths.example"})),
        "CourseTitleCannotContainUrl",
        "courses.patch",
    );
    admin.refused(
        "PUT",
        &format!("/v1/courses/{course}"),
        Some(json!({"name": "Maths (ftp://files.example)"})),
        "CourseTitleCannotContainUrl",
        "courses.update",
    );
}

#[test]
fn invitations_to_a_role_held_or_outranked_are_refused() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN);
    let course = admin.create_course("Music", "ACTIVE");
    admin.ok(
        "POST",
        &format!("/v1/courses/{course}/students"),
        Some(json!({"userId": demo::STUDENT})),
    );
    admin.ok(
        "POST",
        &format!("/v1/courses/{course}/teachers"),
        Some(json!({"userId": demo::SECOND_TEACHER})),
    );
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let invite = |user: &str, role: &str| {
        teacher.call(
            "POST",
            "/v1/invitations",
            Some(json!({"courseId": course, "userId": user, "role": role})),
        )
    };
    for (user, role, why) in [
        (demo::STUDENT, "STUDENT", "a student as student"),
        (demo::SECOND_TEACHER, "STUDENT", "a teacher as student"),
        (demo::SECOND_TEACHER, "TEACHER", "a teacher as teacher"),
        (demo::TEACHER, "TEACHER", "the owner as teacher"),
        (demo::TEACHER, "OWNER", "the owner as owner"),
    ] {
        let answer = invite(user, role);
        assert_eq!(
            (answer.status, answer.error_status()),
            (400, "FAILED_PRECONDITION"),
            "the user already has this role or a greater one: {why}: {answer:?}"
        );
    }
    let answer = invite(demo::SECOND_STUDENT, "OWNER");
    assert!(
        answer.status == 400 && answer.error_message().starts_with("@IneligibleOwner "),
        "a student account cannot own a course: {answer:?}"
    );
    assert_eq!(invite(demo::SECOND_TEACHER, "OWNER").status, 200);
    let again = invite(demo::SECOND_TEACHER, "OWNER");
    assert_eq!(
        (again.status, again.error_status()),
        (409, "ALREADY_EXISTS"),
        "one invitation per user and course: {again:?}"
    );
    assert_eq!(invite(demo::SECOND_STUDENT, "STUDENT").status, 200);
}

#[test]
fn a_course_refuses_teachers_past_the_teacher_limit() {
    let emulator = Emulator::builder()
        .empty()
        .quotas(Quotas::none().course_teacher_limit(1))
        .start()
        .unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN);
    let course = admin.create_course("Drama", "ACTIVE");
    admin.refused(
        "POST",
        &format!("/v1/courses/{course}/teachers"),
        Some(json!({"userId": demo::SECOND_TEACHER})),
        "CourseTeacherLimitReached",
        "the owner is the one teacher allowed",
    );
    let invitation = admin.ok(
        "POST",
        "/v1/invitations",
        Some(json!({"courseId": course, "userId": demo::SECOND_TEACHER, "role": "TEACHER"})),
    );
    Caller::new(&emulator, demo::SECOND_TEACHER).refused(
        "POST",
        &format!(
            "/v1/invitations/{}:accept",
            invitation["id"].as_str().unwrap()
        ),
        None,
        "CourseTeacherLimitReached",
        "accepting a teacher invitation",
    );
    admin.ok(
        "POST",
        &format!("/v1/courses/{course}/students"),
        Some(json!({"userId": demo::STUDENT})),
    );
}

#[test]
fn an_unknown_profile_is_permission_denied() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let answer = teacher.call("GET", "/v1/userProfiles/nobody@school.example", None);
    assert_eq!(
        (answer.status, answer.error_status()),
        (403, "PERMISSION_DENIED"),
        "\"PERMISSION_DENIED if ... no profile exists with the requested ID\": {answer:?}"
    );
    teacher.ok("GET", "/v1/userProfiles/me", None);
}

#[test]
fn student_groups_of_a_course_one_has_no_access_to_are_not_found() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN);
    let course = admin.create_course("Physics", "ACTIVE");
    let groups = format!("/v1/courses/{course}/studentGroups");
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let group = teacher.ok("POST", &groups, Some(json!({"title": "Lab A"})));
    teacher.ok("GET", &groups, None);

    let outsider = Caller::new(&emulator, demo::SECOND_TEACHER);
    for (method, path, body) in [
        ("GET", groups.clone(), None),
        ("POST", groups.clone(), Some(json!({"title": "Mine"}))),
        (
            "DELETE",
            format!("{groups}/{}", group["id"].as_str().unwrap()),
            None,
        ),
    ] {
        let answer = outsider.call(method, &path, body);
        assert_eq!(
            (answer.status, answer.error_status()),
            (404, "NOT_FOUND"),
            "a teacher of another course: {method} {path}: {answer:?}"
        );
    }
}

#[test]
fn courses_list_takes_a_student_or_a_teacher_not_both() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN);
    let answer = admin.call(
        "GET",
        &format!(
            "/v1/courses?studentId={}&teacherId={}",
            demo::STUDENT,
            demo::TEACHER
        ),
        None,
    );
    assert_eq!(
        (answer.status, answer.error_status()),
        (400, "INVALID_ARGUMENT"),
        "studentId: \"If specified, teacher_id must be empty\": {answer:?}"
    );
    admin.ok(
        "GET",
        &format!("/v1/courses?teacherId={}", demo::TEACHER),
        None,
    );
}
