//! What a roster sync relies on, checked against the method descriptions of
//! spec/discovery/classroom.v1.json (each lists its error conditions): course states on create and
//! list, ownership transfer, course deletion, guardian invitations. Plain HTTP over 127.0.0.1.

mod http;

use std::collections::BTreeSet;

use classroom_emulator::{Emulator, demo};
use classroom_spec::Scope;
use serde_json::{Value, json};

use http::{Answer, bearer, send};

struct Caller<'a> {
    emulator: &'a Emulator,
    token: String,
}

impl Caller<'_> {
    fn new<'a>(emulator: &'a Emulator, user: &str, scopes: &[Scope]) -> Caller<'a> {
        Caller {
            emulator,
            token: emulator.token_for(user, scopes),
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
}

fn names(list: &Value, field: &str, key: &str) -> BTreeSet<String> {
    list[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c[key].as_str())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn courses_are_listed_most_recently_created_first_across_pages() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN, &[Scope::Courses]);
    for name in ["first", "second", "third", "fourth"] {
        admin.ok(
            "POST",
            "/v1/courses",
            Some(json!({"name": name, "ownerId": demo::TEACHER})),
        );
    }
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin.ok(
            "GET",
            &format!("/v1/courses?pageSize=3&pageToken={token}"),
            None,
        );
        for course in page["courses"].as_array().unwrap() {
            names.push(course["name"].as_str().unwrap().to_string());
        }
        match page["nextPageToken"].as_str() {
            Some(next) => token = next.to_string(),
            None => break,
        }
    }
    assert_eq!(names, ["fourth", "third", "second", "first"]);
}

#[test]
fn courses_are_created_provisioned_or_active_and_listed_by_state() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN, &[Scope::Courses]);
    let create = |name: &str, state: Option<&str>| {
        let mut body = json!({"name": name, "ownerId": demo::TEACHER});
        if let Some(state) = state {
            body["courseState"] = json!(state);
        }
        admin.ok("POST", "/v1/courses", Some(body))["courseState"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(create("Default", None), "PROVISIONED", "the default state");
    assert_eq!(create("Provisioned", Some("PROVISIONED")), "PROVISIONED");
    assert_eq!(create("Active", Some("ACTIVE")), "ACTIVE");
    assert_eq!(
        create("Unspecified", Some("COURSE_STATE_UNSPECIFIED")),
        "PROVISIONED",
        "no returned course is COURSE_STATE_UNSPECIFIED"
    );
    // A teacher creating for themselves may make it ACTIVE too.
    let teacher = Caller::new(&emulator, demo::TEACHER, &[Scope::Courses]);
    let own = teacher.ok(
        "POST",
        "/v1/courses",
        Some(json!({"name": "Teacher's active", "ownerId": "me", "courseState": "ACTIVE"})),
    );
    assert_eq!(own["courseState"], "ACTIVE");
    let archived = create("To archive", Some("ACTIVE"));
    assert_eq!(archived, "ACTIVE");
    let all = admin.ok("GET", "/v1/courses", None);
    let id_of = |name: &str| {
        all["courses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    admin.ok(
        "PATCH",
        &format!("/v1/courses/{}?updateMask=courseState", id_of("To archive")),
        Some(json!({"courseState": "ARCHIVED"})),
    );

    let set =
        |names: &[&str]| -> BTreeSet<String> { names.iter().map(|n| n.to_string()).collect() };
    let listed = |query: &str| {
        names(
            &admin.ok("GET", &format!("/v1/courses{query}"), None),
            "courses",
            "name",
        )
    };
    assert_eq!(
        listed(""),
        set(&[
            "Default",
            "Provisioned",
            "Active",
            "Unspecified",
            "Teacher's active",
            "To archive"
        ]),
        "without courseStates, courses in every state"
    );
    assert_eq!(
        listed("?courseStates=PROVISIONED"),
        set(&["Default", "Provisioned", "Unspecified"])
    );
    assert_eq!(
        listed("?courseStates=ACTIVE&courseStates=ARCHIVED"),
        set(&["Active", "Teacher's active", "To archive"]),
        "courseStates repeats: any of them"
    );
    assert_eq!(listed("?courseStates=DECLINED"), set(&[]));
}

#[test]
fn ownership_moves_only_to_a_teacher_of_the_course_and_the_old_owner_stays() {
    let emulator = Emulator::start().unwrap();
    let scopes = [Scope::Courses, Scope::Rosters];
    let admin = Caller::new(&emulator, demo::ADMIN, &scopes);
    let ada = emulator.user_id(demo::TEACHER).unwrap();
    let alan = emulator.user_id(demo::SECOND_TEACHER).unwrap();
    // d:cs-201 is Alan's; Ada does not teach it.
    let transfer = |caller: &Caller, verb: &str| {
        let (path, body) = if verb == "PATCH" {
            (
                "/v1/courses/d:cs-201?updateMask=ownerId",
                json!({"ownerId": demo::TEACHER}),
            )
        } else {
            let mut course = caller.ok("GET", "/v1/courses/d:cs-201", None);
            course["ownerId"] = json!(demo::TEACHER);
            ("/v1/courses/d:cs-201", course)
        };
        caller.call(verb, path, Some(body))
    };
    for verb in ["PATCH", "PUT"] {
        let ineligible = transfer(&admin, verb);
        assert_eq!(
            (ineligible.status, ineligible.error_status()),
            (400, "FAILED_PRECONDITION"),
            "{verb}: {ineligible:?}"
        );
        assert!(
            ineligible.error_message().starts_with("@IneligibleOwner "),
            "Classroom's reason for a new owner who does not teach the course: {ineligible:?}"
        );
    }
    admin.ok(
        "POST",
        "/v1/courses/d:cs-201/teachers",
        Some(json!({"userId": demo::TEACHER})),
    );
    // Only an administrator transfers through the API; the owner is refused.
    let owner = Caller::new(&emulator, demo::SECOND_TEACHER, &scopes);
    let by_owner = transfer(&owner, "PATCH");
    assert_eq!(
        (by_owner.status, by_owner.error_status()),
        (403, "PERMISSION_DENIED"),
        "{by_owner:?}"
    );
    // An update that sends the course back as read (the same owner) is no transfer.
    let mut same = owner.ok("GET", "/v1/courses/d:cs-201", None);
    same["room"] = json!("Lab 3");
    let kept = owner.ok("PUT", "/v1/courses/d:cs-201", Some(same));
    assert_eq!(
        (kept["ownerId"].as_str(), kept["room"].as_str()),
        (Some(alan.as_str()), Some("Lab 3"))
    );

    let moved = transfer(&admin, "PATCH");
    assert_eq!(moved.status, 200, "{moved:?}");
    assert_eq!(
        moved.body["ownerId"],
        ada.as_str(),
        "the owner is now Ada, by id"
    );
    let teachers = names(
        &admin.ok("GET", "/v1/courses/d:cs-201/teachers", None),
        "teachers",
        "userId",
    );
    assert!(
        teachers.contains(&alan) && teachers.contains(&ada),
        "the old owner stays a teacher: {teachers:?}"
    );
    // The new owner cannot be removed; the old one now can.
    let remove_owner = admin.call(
        "DELETE",
        &format!("/v1/courses/d:cs-201/teachers/{ada}"),
        None,
    );
    assert_eq!(remove_owner.status, 400, "{remove_owner:?}");
    assert!(
        remove_owner
            .error_message()
            .starts_with("@CannotRemoveCourseOwner "),
        "{remove_owner:?}"
    );
    admin.ok(
        "DELETE",
        &format!("/v1/courses/d:cs-201/teachers/{alan}"),
        None,
    );
}

#[test]
fn a_course_is_deleted_by_its_owner_or_an_admin_whatever_its_state() {
    let emulator = Emulator::start().unwrap();
    let scopes = [Scope::Courses];
    // d:math-101 is Ada's and ACTIVE; Alan co-teaches it; Grace attends it.
    let co_teacher = Caller::new(&emulator, demo::SECOND_TEACHER, &scopes);
    let student = Caller::new(&emulator, demo::STUDENT, &scopes);
    let owner = Caller::new(&emulator, demo::TEACHER, &scopes);
    let admin = Caller::new(&emulator, demo::ADMIN, &scopes);
    for (who, caller) in [("a co-teacher", &co_teacher), ("a student", &student)] {
        let refused = caller.call("DELETE", "/v1/courses/d:math-101", None);
        assert_eq!(
            (refused.status, refused.error_status()),
            (403, "PERMISSION_DENIED"),
            "{who}: {refused:?}"
        );
    }
    let missing = admin.call("DELETE", "/v1/courses/d:no-such-course", None);
    assert_eq!((missing.status, missing.error_status()), (404, "NOT_FOUND"));

    // The description lists no state condition: an ACTIVE course goes, not only an archived one.
    let course = owner.ok("GET", "/v1/courses/d:math-101", None);
    assert_eq!(course["courseState"], "ACTIVE");
    owner.ok("DELETE", "/v1/courses/d:math-101", None);
    let gone = admin.call("GET", "/v1/courses/d:math-101", None);
    assert_eq!(gone.status, 404, "{gone:?}");
    let gone = admin.call(
        "GET",
        &format!("/v1/courses/{}", course["id"].as_str().unwrap()),
        None,
    );
    assert_eq!(gone.status, 404, "{gone:?}");
    // Its alias is free again.
    admin.ok(
        "POST",
        "/v1/courses",
        Some(
            json!({"id": "d:math-101", "name": "Mathematics 101, again", "ownerId": demo::TEACHER}),
        ),
    );
    let cs = admin.ok("GET", "/v1/courses/d:cs-201", None);
    assert_eq!(
        cs["courseState"], "ACTIVE",
        "an active course the admin deletes"
    );
    admin.ok("DELETE", "/v1/courses/d:cs-201", None);
}

#[test]
fn guardian_invitations_refuse_duplicates_and_list_by_email_and_state() {
    let emulator = Emulator::start().unwrap();
    let scopes = [Scope::GuardianlinksStudents];
    let admin = Caller::new(&emulator, demo::ADMIN, &scopes);
    let student = "edsger.dijkstra@school.example";
    let path = format!("/v1/userProfiles/{student}/guardianInvitations");
    let invite = |mut body: Value| {
        // The body names the student as the path does, unless the case says otherwise.
        if body.get("studentId").is_none() && body.get("invitedEmailAddress").is_some() {
            body["studentId"] = json!(student);
        }
        admin.call("POST", &path, Some(body))
    };

    let first =
        invite(json!({"invitedEmailAddress": "pat.d@family.example", "studentId": student}));
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["state"], "PENDING");
    let again = invite(json!({"invitedEmailAddress": "PAT.D@family.example"}));
    assert_eq!(
        (again.status, again.error_status()),
        (409, "ALREADY_EXISTS"),
        "a pending invitation to the same address: {again:?}"
    );
    for (why, body) in [
        (
            "a read-only field",
            json!({"invitedEmailAddress": "x@family.example", "invitationId": "1"}),
        ),
        (
            "a state other than PENDING",
            json!({"invitedEmailAddress": "x@family.example", "state": "COMPLETE"}),
        ),
        (
            "another student in the body",
            json!({"invitedEmailAddress": "x@family.example", "studentId": demo::STUDENT}),
        ),
        ("no address", json!({"studentId": student})),
        (
            "no student in the body",
            json!({"invitedEmailAddress": "x@family.example", "studentId": null}),
        ),
    ] {
        let refused = invite(body);
        assert_eq!(
            (refused.status, refused.error_status()),
            (400, "INVALID_ARGUMENT"),
            "{why}: {refused:?}"
        );
    }
    let second = invite(json!({"invitedEmailAddress": "sam.d@family.example"}));
    assert_eq!(second.status, 200, "{second:?}");
    emulator
        .accept_guardian_invitation(student, first.body["invitationId"].as_str().unwrap())
        .unwrap();
    let guardian = invite(json!({"invitedEmailAddress": "pat.d@family.example"}));
    assert_eq!(
        guardian.status, 409,
        "the address is already a guardian's: {guardian:?}"
    );

    let listed = |query: &str| {
        names(
            &admin.ok("GET", &format!("{path}{query}"), None),
            "guardianInvitations",
            "invitedEmailAddress",
        )
    };
    let set =
        |emails: &[&str]| -> BTreeSet<String> { emails.iter().map(|e| e.to_string()).collect() };
    assert_eq!(
        listed(""),
        set(&["sam.d@family.example"]),
        "without states, only PENDING"
    );
    assert_eq!(listed("?states=COMPLETE"), set(&["pat.d@family.example"]));
    assert_eq!(
        listed("?states=PENDING&states=COMPLETE"),
        set(&["pat.d@family.example", "sam.d@family.example"])
    );
    assert_eq!(
        listed("?invitedEmailAddress=pat.d@family.example&states=COMPLETE"),
        set(&["pat.d@family.example"])
    );
    assert_eq!(
        listed("?invitedEmailAddress=pat.d@family.example"),
        set(&[]),
        "the email filter with the default state: the completed one is not PENDING"
    );
    let bad_state = admin.call("GET", &format!("{path}?states=ACCEPTED"), None);
    assert_eq!(bad_state.status, 400, "{bad_state:?}");

    // "-" (every student) is for administrators only.
    let everyone = names(
        &admin.ok("GET", "/v1/userProfiles/-/guardianInvitations", None),
        "guardianInvitations",
        "invitedEmailAddress",
    );
    assert!(
        everyone.contains("sam.johnson@family.example")
            && everyone.contains("sam.d@family.example"),
        "{everyone:?}"
    );
    let teacher = Caller::new(&emulator, demo::TEACHER, &scopes);
    let refused = teacher.call("GET", "/v1/userProfiles/-/guardianInvitations", None);
    assert_eq!(
        (refused.status, refused.error_status()),
        (403, "PERMISSION_DENIED")
    );
    let own = teacher.ok("GET", &path, None);
    assert_eq!(
        own["guardianInvitations"].as_array().map(Vec::len),
        Some(1),
        "{own}"
    );
}

#[test]
fn the_quota_day_moves_on_from_the_library_too() {
    let emulator = Emulator::builder()
        .quotas(classroom_emulator::Quotas::none().daily_invitations_per_user(1))
        .start()
        .unwrap();
    let admin = Caller::new(&emulator, demo::ADMIN, &[Scope::GuardianlinksStudents]);
    let invite = |email: &str| {
        admin.call(
            "POST",
            "/v1/userProfiles/barbara.liskov@school.example/guardianInvitations",
            Some(
                json!({"studentId": "barbara.liskov@school.example", "invitedEmailAddress": email}),
            ),
        )
    };
    assert_eq!(invite("a@family.example").status, 200);
    assert_eq!(invite("b@family.example").status, 429);
    let today = emulator.advance_quota_day(0);
    let tomorrow = emulator.advance_quota_day(1);
    assert!(tomorrow > today, "{today} then {tomorrow}");
    assert_eq!(invite("b@family.example").status, 200);
}
