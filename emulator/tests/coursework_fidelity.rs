//! Coursework, announcements, materials, topics and submissions as the method descriptions of
//! spec/discovery/classroom.v1.json say Classroom answers: deleted items remembered, topic names
//! unique, empty assignees refused, draft grades kept from students, the API's `return` leaving
//! grades alone, and items tied to the Developer Console project (OAuth client) that created
//! them. Plain HTTP over 127.0.0.1.

mod http;

use classroom_emulator::{Emulator, demo};
use classroom_spec::Scope;
use serde_json::{Value, json};

use http::{Answer, basic, bearer, send};

/// A second OAuth client, standing for another Developer Console project.
const OTHER_CLIENT: &str = "other-project.apps.googleusercontent.com";
const OTHER_SECRET: &str = "other-secret";

struct Caller<'a> {
    emulator: &'a Emulator,
    token: String,
}

impl Caller<'_> {
    /// `user` with every scope, through the demo client (the demo project).
    fn new<'a>(emulator: &'a Emulator, user: &str) -> Caller<'a> {
        Caller {
            emulator,
            token: emulator.token_for(user, &Scope::ALL),
        }
    }

    /// `user` with every scope, through the second client (another project).
    fn other<'a>(emulator: &'a Emulator, user: &str) -> Caller<'a> {
        emulator.add_client(OTHER_CLIENT, OTHER_SECRET);
        Caller {
            emulator,
            token: emulator.token_for_client(OTHER_CLIENT, user, &Scope::ALL),
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

    /// Asserts the call fails with this HTTP status and canonical status, and a message that
    /// starts with `prefix`.
    fn fails(&self, method: &str, path: &str, body: Option<Value>, want: (u16, &str, &str)) {
        let answer = self.call(method, path, body);
        let (code, status, prefix) = want;
        assert_eq!(
            (answer.status, answer.error_status()),
            (code, status),
            "{method} {path}: {answer:?}"
        );
        assert!(
            answer.error_message().starts_with(prefix),
            "{method} {path}: the message starts with {prefix:?}: {answer:?}"
        );
    }
}

/// An empty emulator with an active course Ada teaches, Grace and Katherine its students.
fn course(emulator: &Emulator) -> String {
    let admin = Caller::new(emulator, demo::ADMIN);
    let course = admin.ok(
        "POST",
        "/v1/courses",
        Some(json!({"name": "Physics", "ownerId": demo::TEACHER, "courseState": "ACTIVE"})),
    );
    let id = course["id"].as_str().unwrap().to_string();
    for student in [demo::STUDENT, demo::SECOND_STUDENT] {
        admin.ok(
            "POST",
            &format!("/v1/courses/{id}/students"),
            Some(json!({"userId": student})),
        );
    }
    id
}

fn published_work(teacher: &Caller<'_>, course: &str, extra: Value) -> String {
    let mut body = json!({"title": "Lab report", "workType": "ASSIGNMENT", "state": "PUBLISHED"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    teacher.ok(
        "POST",
        &format!("/v1/courses/{course}/courseWork"),
        Some(body),
    )["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The id of `student`'s submission of a coursework.
fn submission_of(teacher: &Caller<'_>, course: &str, work: &str, student: &str) -> String {
    let list = teacher.ok(
        "GET",
        &format!("/v1/courses/{course}/courseWork/{work}/studentSubmissions?userId={student}"),
        None,
    );
    list["studentSubmissions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

const PRECONDITION: (u16, &str, &str) = (400, "FAILED_PRECONDITION", "");
const INVALID: (u16, &str, &str) = (400, "INVALID_ARGUMENT", "");
const NOT_FOUND: (u16, &str, &str) = (404, "NOT_FOUND", "");
const PROJECT: (u16, &str, &str) = (403, "PERMISSION_DENIED", "@ProjectPermissionDenied");

#[test]
fn deleted_posts_and_topics_are_already_deleted_not_missing() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let posts = [
        (
            "courseWork",
            json!({"title": "Essay", "workType": "ASSIGNMENT"}),
            "title",
        ),
        ("announcements", json!({"text": "Hello"}), "text"),
        ("courseWorkMaterials", json!({"title": "Notes"}), "title"),
    ];
    for (kind, body, field) in posts {
        let base = format!("/v1/courses/{course}/{kind}");
        let id = teacher.ok("POST", &base, Some(body))["id"]
            .as_str()
            .unwrap()
            .to_string();
        let item = format!("{base}/{id}");
        teacher.ok("DELETE", &item, None);
        // "FAILED_PRECONDITION if the requested ... has already been deleted."
        teacher.fails("DELETE", &item, None, PRECONDITION);
        teacher.fails(
            "PATCH",
            &format!("{item}?updateMask={field}"),
            Some(json!({field: "Renamed"})),
            PRECONDITION,
        );
        // get only knows "does not exist".
        teacher.fails("GET", &item, None, NOT_FOUND);
        teacher.fails("DELETE", &format!("{base}/404404"), None, NOT_FOUND);
    }
    let topics = format!("/v1/courses/{course}/topics");
    let topic = teacher.ok("POST", &topics, Some(json!({"name": "Waves"})))["topicId"]
        .as_str()
        .unwrap()
        .to_string();
    teacher.ok("DELETE", &format!("{topics}/{topic}"), None);
    teacher.fails("DELETE", &format!("{topics}/{topic}"), None, PRECONDITION);
    teacher.fails("DELETE", &format!("{topics}/404404"), None, NOT_FOUND);
}

#[test]
fn topic_names_are_unique_in_a_course_when_created_and_renamed() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let topics = format!("/v1/courses/{course}/topics");
    let first = teacher.ok("POST", &topics, Some(json!({"name": "  Unit   one "})));
    assert_eq!(
        first["name"], "Unit one",
        "leading and trailing whitespace trimmed, inner runs collapsed"
    );
    // "ALREADY_EXISTS if there exists a topic in the course with the same name."
    teacher.fails(
        "POST",
        &topics,
        Some(json!({"name": "Unit one"})),
        (409, "ALREADY_EXISTS", ""),
    );
    teacher.fails(
        "POST",
        &topics,
        Some(json!({"name": "Unit\tone"})),
        (409, "ALREADY_EXISTS", ""),
    );
    let second = teacher.ok("POST", &topics, Some(json!({"name": "unit one"})));
    let second_id = second["topicId"].as_str().unwrap();
    // patch: "FAILED_PRECONDITION if there exists a topic in the course with the same name."
    teacher.fails(
        "PATCH",
        &format!("{topics}/{second_id}?updateMask=name"),
        Some(json!({"name": "Unit one"})),
        PRECONDITION,
    );
    teacher.ok(
        "PATCH",
        &format!("{topics}/{second_id}?updateMask=name"),
        Some(json!({"name": "unit one"})),
    );
    teacher.fails("POST", &topics, Some(json!({"name": "   "})), INVALID);
    teacher.fails(
        "POST",
        &topics,
        Some(json!({"name": "x".repeat(101)})),
        INVALID,
    );
    // Deleting a topic moves its coursework to no topic.
    let first_id = first["topicId"].as_str().unwrap();
    let work = published_work(&teacher, &course, json!({"topicId": first_id}));
    teacher.ok("DELETE", &format!("{topics}/{first_id}"), None);
    let after = teacher.ok(
        "GET",
        &format!("/v1/courses/{course}/courseWork/{work}"),
        None,
    );
    assert!(after.get("topicId").is_none(), "{after}");
}

#[test]
fn assigning_a_post_to_nobody_is_empty_assignees() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let grace = emulator.user_id(demo::STUDENT).unwrap();
    let work = published_work(&teacher, &course, json!({}));
    let announcement = teacher.ok(
        "POST",
        &format!("/v1/courses/{course}/announcements"),
        Some(json!({"text": "Quiz on Friday", "state": "PUBLISHED"})),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (kind, id) in [("courseWork", &work), ("announcements", &announcement)] {
        let modify = format!("/v1/courses/{course}/{kind}/{id}:modifyAssignees");
        teacher.fails(
            "POST",
            &modify,
            Some(json!({"assigneeMode": "INDIVIDUAL_STUDENTS"})),
            (400, "FAILED_PRECONDITION", "@EmptyAssignees"),
        );
        let one = teacher.ok(
            "POST",
            &modify,
            Some(json!({"assigneeMode": "INDIVIDUAL_STUDENTS",
                "modifyIndividualStudentsOptions": {"addStudentIds": [grace]}})),
        );
        assert_eq!(
            one["individualStudentsOptions"]["studentIds"],
            json!([grace])
        );
        teacher.fails(
            "POST",
            &modify,
            Some(json!({"assigneeMode": "INDIVIDUAL_STUDENTS",
                "modifyIndividualStudentsOptions": {"removeStudentIds": [grace]}})),
            (400, "FAILED_PRECONDITION", "@EmptyAssignees"),
        );
        // "Must be specified only when assigneeMode is INDIVIDUAL_STUDENTS."
        teacher.fails(
            "POST",
            &modify,
            Some(json!({"assigneeMode": "ALL_STUDENTS", "modifyIndividualStudentsOptions": {}})),
            INVALID,
        );
    }
    teacher.fails(
        "POST",
        &format!("/v1/courses/{course}/courseWork"),
        Some(json!({"title": "For nobody", "workType": "ASSIGNMENT",
            "assigneeMode": "INDIVIDUAL_STUDENTS", "individualStudentsOptions": {"studentIds": []}})),
        (400, "FAILED_PRECONDITION", "@EmptyAssignees"),
    );
}

#[test]
fn posts_refuse_what_the_reference_refuses_and_ignore_read_only_fields() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let works = format!("/v1/courses/{course}/courseWork");
    let refused = [
        json!({"title": "t", "workType": "ASSIGNMENT", "state": "DELETED"}),
        json!({"title": "t", "workType": "COURSE_WORK_TYPE_UNSPECIFIED"}),
        json!({"title": "t", "workType": "ASSIGNMENT", "dueTime": {"hours": 9}}),
        json!({"title": "t", "workType": "ASSIGNMENT", "dueDate": {"year": 2030, "month": 1, "day": 2}}),
        json!({"title": "t", "workType": "ASSIGNMENT", "maxPoints": 7.5}),
        json!({"title": "t", "workType": "ASSIGNMENT", "maxPoints": -1}),
        json!({"title": "t", "workType": "ASSIGNMENT", "topicId": "404404"}),
        json!({"title": "t", "workType": "ASSIGNMENT", "gradingPeriodId": "404404"}),
        json!({"title": "t", "workType": "MULTIPLE_CHOICE_QUESTION"}),
        json!({"title": "t", "workType": "ASSIGNMENT", "multipleChoiceQuestion": {"choices": ["a"]}}),
        json!({"title": "x".repeat(3001), "workType": "ASSIGNMENT"}),
        json!({"title": "t", "workType": "ASSIGNMENT",
            "materials": vec![json!({"link": {"url": "https://example.com/"}}); 21]}),
    ];
    for body in refused {
        teacher.fails("POST", &works, Some(body), INVALID);
    }
    teacher.fails(
        "POST",
        &format!("/v1/courses/{course}/courseWorkMaterials"),
        Some(json!({"title": "t", "state": "DELETED"})),
        INVALID,
    );
    let draft = teacher.ok(
        "POST",
        &works,
        Some(
            json!({"title": "Draft", "workType": "ASSIGNMENT", "id": "1234",
            "courseId": "999", "creationTime": "2001-01-01T00:00:00Z", "creatorUserId": "42",
            "associatedWithDeveloper": false, "state": "COURSE_WORK_STATE_UNSPECIFIED"}),
        ),
    );
    assert_ne!(draft["id"], "1234", "the id is Classroom's");
    assert_eq!(draft["courseId"], course.as_str());
    assert_ne!(draft["creationTime"], "2001-01-01T00:00:00Z");
    assert_eq!(
        draft["creatorUserId"],
        emulator.user_id(demo::TEACHER).unwrap()
    );
    assert_eq!(draft["associatedWithDeveloper"], true);
    assert_eq!(draft["state"], "DRAFT", "unspecified is the default, DRAFT");
    assert!(
        draft.get("alternateLink").is_none(),
        "alternateLink is only populated once PUBLISHED: {draft}"
    );
    let item = format!("{works}/{}", draft["id"].as_str().unwrap());
    teacher.fails(
        "PATCH",
        &format!("{item}?updateMask=state"),
        Some(json!({"state": "DELETED"})),
        INVALID,
    );
    // "If a field that does not support empty values is included in the update mask and not
    // set in the CourseWork object, an INVALID_ARGUMENT error is returned."
    for field in ["title", "state"] {
        teacher.fails(
            "PATCH",
            &format!("{item}?updateMask={field}"),
            Some(json!({})),
            INVALID,
        );
    }
    let published = teacher.ok(
        "PATCH",
        &format!("{item}?updateMask=state"),
        Some(json!({"state": "PUBLISHED"})),
    );
    assert!(published["alternateLink"].is_string(), "{published}");
}

#[test]
fn lists_default_to_published_posts_and_order_as_documented() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    published_work(&teacher, &course, json!({"title": "Out"}));
    teacher.ok(
        "POST",
        &format!("/v1/courses/{course}/courseWork"),
        Some(json!({"title": "Drafted", "workType": "ASSIGNMENT"})),
    );
    let titles = |query: &str| -> Vec<String> {
        teacher.ok(
            "GET",
            &format!("/v1/courses/{course}/courseWork{query}"),
            None,
        )["courseWork"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|w| w["title"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    // "If unspecified, items with a work status of PUBLISHED is returned."
    assert_eq!(titles(""), ["Out"]);
    assert_eq!(titles("?courseWorkStates=DRAFT"), ["Drafted"]);
    assert_eq!(
        titles("?courseWorkStates=DRAFT&courseWorkStates=PUBLISHED").len(),
        2
    );
    // Announcements and materials sort by updateTime only.
    teacher.fails(
        "GET",
        &format!("/v1/courses/{course}/announcements?orderBy=dueDate"),
        None,
        INVALID,
    );
    teacher.ok(
        "GET",
        &format!("/v1/courses/{course}/courseWork?orderBy=dueDate"),
        None,
    );
}

#[test]
fn students_never_see_draft_grades_and_return_leaves_the_grade_alone() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let grace = Caller::new(&emulator, demo::STUDENT);
    let work = published_work(&teacher, &course, json!({"maxPoints": 100}));
    let id = submission_of(&teacher, &course, &work, demo::STUDENT);
    let sub = format!("/v1/courses/{course}/courseWork/{work}/studentSubmissions/{id}");
    grace.ok("POST", &format!("{sub}:turnIn"), Some(json!({})));
    let graded = teacher.ok(
        "PATCH",
        &format!("{sub}?updateMask=draftGrade"),
        Some(json!({"draftGrade": 87.456})),
    );
    assert_eq!(graded["draftGrade"], 87.46, "rounded to two decimal places");
    teacher.ok("POST", &format!("{sub}:return"), Some(json!({})));
    let returned = teacher.ok("GET", &sub, None);
    assert_eq!(returned["state"], "RETURNED");
    // "Unlike the Classroom application, returning a student submission does not set
    // assignedGrade to the draftGrade value."
    assert!(returned.get("assignedGrade").is_none(), "{returned}");
    assert_eq!(
        returned["draftGrade"], 87.46,
        "teachers see the draft grade"
    );
    // Returning again is no error, and changes nothing.
    teacher.ok("POST", &format!("{sub}:return"), Some(json!({})));
    let history = teacher.ok("GET", &sub, None)["submissionHistory"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        history,
        returned["submissionHistory"].as_array().unwrap().len()
    );

    // draftGrade "is only visible to and modifiable by course teachers".
    let own = grace.ok("GET", &sub, None);
    assert!(own.get("draftGrade").is_none(), "get: {own}");
    let listed = grace.ok(
        "GET",
        &format!("/v1/courses/{course}/courseWork/-/studentSubmissions"),
        None,
    );
    for s in listed["studentSubmissions"].as_array().unwrap() {
        assert!(s.get("draftGrade").is_none(), "list: {s}");
    }
    let modified = grace.ok(
        "POST",
        &format!("{sub}:modifyAttachments"),
        Some(json!({"addAttachments": [{"link": {"url": "https://example.com/report"}}]})),
    );
    assert!(
        modified.get("draftGrade").is_none(),
        "modifyAttachments: {modified}"
    );
    grace.fails(
        "PATCH",
        &format!("{sub}?updateMask=draftGrade"),
        Some(json!({"draftGrade": 100})),
        (403, "PERMISSION_DENIED", ""),
    );
}

#[test]
fn attachments_follow_the_submission_modification_mode_and_work_type() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let grace = Caller::new(&emulator, demo::STUDENT);
    let link = json!({"addAttachments": [{"link": {"url": "https://example.com/"}}]});
    let attach = |work: &str| {
        let id = submission_of(&teacher, &course, work, demo::STUDENT);
        format!("/v1/courses/{course}/courseWork/{work}/studentSubmissions/{id}")
    };
    let until = attach(&published_work(&teacher, &course, json!({})));
    grace.ok("POST", &format!("{until}:turnIn"), Some(json!({})));
    grace.fails(
        "POST",
        &format!("{until}:modifyAttachments"),
        Some(link.clone()),
        (403, "PERMISSION_DENIED", ""),
    );
    let modifiable = attach(&published_work(
        &teacher,
        &course,
        json!({"submissionModificationMode": "MODIFIABLE"}),
    ));
    grace.ok("POST", &format!("{modifiable}:turnIn"), Some(json!({})));
    grace.ok(
        "POST",
        &format!("{modifiable}:modifyAttachments"),
        Some(link.clone()),
    );
    let question = attach(&published_work(
        &teacher,
        &course,
        json!({"workType": "SHORT_ANSWER_QUESTION"}),
    ));
    grace.fails(
        "POST",
        &format!("{question}:modifyAttachments"),
        Some(link),
        INVALID,
    );
}

#[test]
fn items_can_be_changed_only_by_the_project_that_created_them() {
    let emulator = Emulator::start().unwrap();
    let course = course(&emulator);
    let demo_teacher = Caller::new(&emulator, demo::TEACHER);
    let other_teacher = Caller::other(&emulator, demo::TEACHER);
    let demo_student = Caller::new(&emulator, demo::STUDENT);
    let other_student = Caller::other(&emulator, demo::STUDENT);
    let grace = emulator.user_id(demo::STUDENT).unwrap();

    let work = published_work(&other_teacher, &course, json!({}));
    let work_path = format!("/v1/courses/{course}/courseWork/{work}");
    assert_eq!(
        other_teacher.ok("GET", &work_path, None)["associatedWithDeveloper"],
        true
    );
    assert_eq!(
        demo_teacher.ok("GET", &work_path, None)["associatedWithDeveloper"],
        false,
        "associated with the project making the request"
    );
    demo_teacher.fails(
        "PATCH",
        &format!("{work_path}?updateMask=title"),
        Some(json!({"title": "Mine now"})),
        PROJECT,
    );
    demo_teacher.fails(
        "POST",
        &format!("{work_path}:modifyAssignees"),
        Some(json!({"assigneeMode": "INDIVIDUAL_STUDENTS",
            "modifyIndividualStudentsOptions": {"addStudentIds": [grace]}})),
        PROJECT,
    );
    let id = submission_of(&other_teacher, &course, &work, demo::STUDENT);
    let sub = format!("{work_path}/studentSubmissions/{id}");
    assert_eq!(
        demo_student.ok("GET", &sub, None)["associatedWithDeveloper"],
        false
    );
    demo_student.fails("POST", &format!("{sub}:turnIn"), Some(json!({})), PROJECT);
    demo_student.fails(
        "POST",
        &format!("{sub}:modifyAttachments"),
        Some(json!({"addAttachments": [{"link": {"url": "https://example.com/"}}]})),
        PROJECT,
    );
    other_student.ok("POST", &format!("{sub}:turnIn"), Some(json!({})));
    demo_student.fails("POST", &format!("{sub}:reclaim"), Some(json!({})), PROJECT);
    demo_teacher.fails(
        "PATCH",
        &format!("{sub}?updateMask=assignedGrade"),
        Some(json!({"assignedGrade": 10})),
        PROJECT,
    );
    demo_teacher.fails("POST", &format!("{sub}:return"), Some(json!({})), PROJECT);
    demo_teacher.fails("DELETE", &work_path, None, PROJECT);
    other_teacher.ok(
        "PATCH",
        &format!("{sub}?updateMask=assignedGrade"),
        Some(json!({"assignedGrade": 10})),
    );
    other_teacher.ok("POST", &format!("{sub}:return"), Some(json!({})));

    for (kind, body, field) in [
        ("announcements", json!({"text": "Theirs"}), "text"),
        ("courseWorkMaterials", json!({"title": "Theirs"}), "title"),
    ] {
        let id =
            other_teacher.ok("POST", &format!("/v1/courses/{course}/{kind}"), Some(body))["id"]
                .as_str()
                .unwrap()
                .to_string();
        let path = format!("/v1/courses/{course}/{kind}/{id}");
        demo_teacher.fails(
            "PATCH",
            &format!("{path}?updateMask={field}"),
            Some(json!({field: "Mine"})),
            PROJECT,
        );
        demo_teacher.fails("DELETE", &path, None, PROJECT);
        other_teacher.ok("DELETE", &path, None);
    }
    let topic = other_teacher.ok(
        "POST",
        &format!("/v1/courses/{course}/topics"),
        Some(json!({"name": "Theirs"})),
    )["topicId"]
        .as_str()
        .unwrap()
        .to_string();
    demo_teacher.fails(
        "PATCH",
        &format!("/v1/courses/{course}/topics/{topic}?updateMask=name"),
        Some(json!({"name": "Mine"})),
        PROJECT,
    );

    // The demo school is the demo client's project: another project may read it, not change it.
    let math = demo_teacher.ok("GET", "/v1/courses/d:math-101", None)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let seeded =
        demo_teacher.ok("GET", &format!("/v1/courses/{math}/courseWork"), None)["courseWork"][0]
            .clone();
    assert_eq!(seeded["associatedWithDeveloper"], true);
    let seeded_path = format!(
        "/v1/courses/{math}/courseWork/{}",
        seeded["id"].as_str().unwrap()
    );
    assert_eq!(
        other_teacher.ok("GET", &seeded_path, None)["associatedWithDeveloper"],
        false
    );
    other_teacher.fails(
        "PATCH",
        &format!("{seeded_path}?updateMask=title"),
        Some(json!({"title": "Taken over"})),
        PROJECT,
    );
}

#[test]
fn the_admin_endpoint_mints_tokens_for_a_second_client() {
    let emulator = Emulator::builder().empty().start().unwrap();
    assert!(emulator.add_client(OTHER_CLIENT, OTHER_SECRET));
    assert!(
        !emulator.add_client(OTHER_CLIENT, "another secret"),
        "an id is registered once"
    );
    let course = course(&emulator);
    let minted = send(
        &emulator.addr().to_string(),
        "POST",
        "/emulator/v1/tokens",
        Some(&basic(OTHER_CLIENT, OTHER_SECRET)),
        Some(
            &json!({"user": demo::TEACHER, "scopes": ["classroom.coursework.students"]})
                .to_string(),
        ),
    );
    assert_eq!(minted.status, 200, "{minted:?}");
    let other = Caller {
        emulator: &emulator,
        token: minted.body["access_token"].as_str().unwrap().to_string(),
    };
    let work = published_work(&other, &course, json!({}));
    let demo_teacher = Caller::new(&emulator, demo::TEACHER);
    demo_teacher.fails(
        "DELETE",
        &format!("/v1/courses/{course}/courseWork/{work}"),
        None,
        PROJECT,
    );
    other.ok(
        "DELETE",
        &format!("/v1/courses/{course}/courseWork/{work}"),
        None,
    );
}

#[test]
fn an_archived_course_refuses_assignee_grade_and_rubric_changes() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let grace = emulator.user_id(demo::STUDENT).unwrap();
    let work = published_work(&teacher, &course, json!({}));
    let id = submission_of(&teacher, &course, &work, demo::STUDENT);
    Caller::new(&emulator, demo::ADMIN).ok(
        "PATCH",
        &format!("/v1/courses/{course}?updateMask=courseState"),
        Some(json!({"courseState": "ARCHIVED"})),
    );
    let archived = (400, "FAILED_PRECONDITION", "@CourseNotModifiable");
    teacher.fails(
        "POST",
        &format!("/v1/courses/{course}/courseWork/{work}:modifyAssignees"),
        Some(json!({"assigneeMode": "INDIVIDUAL_STUDENTS",
            "modifyIndividualStudentsOptions": {"addStudentIds": [grace]}})),
        archived,
    );
    teacher.fails(
        "PATCH",
        &format!(
            "/v1/courses/{course}/courseWork/{work}/studentSubmissions/{id}?updateMask=draftGrade"
        ),
        Some(json!({"draftGrade": 1})),
        archived,
    );
    teacher.fails(
        "PATCH",
        &format!("/v1/courses/{course}/courseWork/{work}/rubric?updateMask=criteria"),
        Some(json!({"criteria": []})),
        archived,
    );
}

#[test]
fn rubrics_are_checked_and_changed_only_by_the_coursework_project() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let other = Caller::other(&emulator, demo::TEACHER);
    let work = published_work(&teacher, &course, json!({}));
    let rubrics = format!("/v1/courses/{course}/courseWork/{work}/rubrics");
    let criteria = |levels: Value| json!({"criteria": [{"title": "Clarity", "levels": levels}]});
    let bad = (400, "INVALID_ARGUMENT", "@RubricCriteriaInvalidFormat");
    // Level.points: "If set, all levels within the rubric must specify points and the value must
    // be distinct across all levels within a single criterion."
    teacher.fails(
        "POST",
        &rubrics,
        Some(criteria(
            json!([{"title": "Good", "points": 2}, {"title": "Poor"}]),
        )),
        bad,
    );
    teacher.fails(
        "POST",
        &rubrics,
        Some(criteria(
            json!([{"title": "Good", "points": 2}, {"title": "Fine", "points": 2}]),
        )),
        bad,
    );
    // Level.title: "If the level has no points set, title must be set."
    teacher.fails(
        "POST",
        &rubrics,
        Some(criteria(json!([{"description": "?"}]))),
        bad,
    );
    // The rubric belongs to the coursework's project.
    other.fails(
        "POST",
        &rubrics,
        Some(criteria(json!([{"title": "Good"}]))),
        PROJECT,
    );
    let rubric = teacher.ok(
        "POST",
        &rubrics,
        Some(criteria(
            json!([{"title": "Good", "points": 2}, {"title": "Poor", "points": 0}]),
        )),
    );
    let update = format!("/v1/courses/{course}/courseWork/{work}/rubric?updateMask=criteria");
    teacher.fails(
        "PATCH",
        &update,
        Some(criteria(
            json!([{"title": "Good", "points": 1}, {"title": "Poor"}]),
        )),
        bad,
    );
    other.fails(
        "PATCH",
        &update,
        Some(criteria(json!([{"title": "Good"}]))),
        PROJECT,
    );
    let id = rubric["id"].as_str().unwrap();
    other.fails("DELETE", &format!("{rubrics}/{id}"), None, PROJECT);
    teacher.ok("DELETE", &format!("{rubrics}/{id}"), None);
}

#[test]
fn an_add_on_activity_has_a_submission_per_student_and_takes_grades_from_its_project() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let student = Caller::new(&emulator, demo::STUDENT);
    let other = Caller::other(&emulator, demo::TEACHER);
    let work = published_work(&teacher, &course, json!({}));
    let grace = emulator.user_id(demo::STUDENT).unwrap();
    let graces = submission_of(&teacher, &course, &work, &grace);
    let katherines = submission_of(
        &teacher,
        &course,
        &work,
        &emulator.user_id(demo::SECOND_STUDENT).unwrap(),
    );
    let attachments = format!("/v1/courses/{course}/courseWork/{work}/addOnAttachments");
    let attachment = |extra: Value| {
        let mut body = json!({
            "title": "Quiz",
            "teacherViewUri": {"uri": "https://addon.example/teacher"},
            "studentViewUri": {"uri": "https://addon.example/student"},
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        teacher.ok("POST", &attachments, Some(body))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let review = json!({"studentWorkReviewUri": {"uri": "https://addon.example/review"}});
    let activity = attachment(json!({
        "studentWorkReviewUri": {"uri": "https://addon.example/review"},
        "maxPoints": 10,
    }));
    let ungraded = attachment(review);
    let content = attachment(json!({}));
    let subs = |a: &str| format!("{attachments}/{a}/studentSubmissions");

    // The student learns the submission id the add-on's submissions go by.
    let context = student.ok(
        "GET",
        &format!("/v1/courses/{course}/courseWork/{work}/addOnContext?attachmentId={activity}"),
        None,
    );
    assert_eq!(context["supportsStudentWork"], json!(true), "{context}");
    assert_eq!(
        context["studentContext"]["submissionId"],
        json!(graces),
        "the submission id is the coursework submission's: {context}"
    );

    // One submission per student of the coursework, under the coursework submission's id.
    let got = teacher.ok("GET", &format!("{}/{graces}", subs(&activity)), None);
    assert_eq!(
        got,
        json!({"id": graces, "courseWorkSubmissionId": graces, "postSubmissionState": "CREATED", "userId": grace}),
        "a teacher's view of the student's add-on submission"
    );
    let listed = teacher.ok("GET", &subs(&activity), None);
    assert_eq!(
        listed["addOnAttachmentStudentSubmissions"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "every student's: {listed}"
    );
    let mine = student.ok("GET", &subs(&activity), None);
    assert_eq!(
        mine["addOnAttachmentStudentSubmissions"],
        json!([{"id": graces, "courseWorkSubmissionId": graces, "postSubmissionState": "CREATED"}]),
        "a student lists their own, without userId"
    );
    student.fails(
        "GET",
        &format!("{}/{katherines}", subs(&activity)),
        None,
        (403, "PERMISSION_DENIED", ""),
    );
    // An attachment that takes no student work has no submissions.
    teacher.fails(
        "GET",
        &format!("{}/{graces}", subs(&content)),
        None,
        NOT_FOUND,
    );

    // Grades: from the project that created the attachment, with a positive maxPoints.
    let grade = |a: &str| format!("{}/{graces}?updateMask=pointsEarned", subs(a));
    let graded = teacher.ok("PATCH", &grade(&activity), Some(json!({"pointsEarned": 8})));
    assert_eq!(graded["pointsEarned"], json!(8), "{graded}");
    other.fails(
        "PATCH",
        &grade(&activity),
        Some(json!({"pointsEarned": 9})),
        PROJECT,
    );
    teacher.fails(
        "PATCH",
        &grade(&ungraded),
        Some(json!({"pointsEarned": 1})),
        INVALID,
    );
    teacher.fails(
        "PATCH",
        &grade(&activity),
        Some(json!({"pointsEarned": -1})),
        INVALID,
    );
    student.fails(
        "PATCH",
        &grade(&activity),
        Some(json!({"pointsEarned": 10})),
        (403, "PERMISSION_DENIED", ""),
    );
    // The state follows the coursework submission's.
    student.ok(
        "POST",
        &format!("/v1/courses/{course}/courseWork/{work}/studentSubmissions/{graces}:turnIn"),
        Some(json!({})),
    );
    let seen = student.ok("GET", &format!("{}/{graces}", subs(&activity)), None);
    assert_eq!(
        (&seen["postSubmissionState"], &seen["pointsEarned"]),
        (&json!("TURNED_IN"), &json!(8)),
        "{seen}"
    );
}

#[test]
fn a_student_not_assigned_the_work_finds_neither_it_nor_its_rubric() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let course = course(&emulator);
    let teacher = Caller::new(&emulator, demo::TEACHER);
    let grace = Caller::new(&emulator, demo::STUDENT);
    let katherine = Caller::new(&emulator, demo::SECOND_STUDENT);
    let work = published_work(
        &teacher,
        &course,
        json!({
            "assigneeMode": "INDIVIDUAL_STUDENTS",
            "individualStudentsOptions": {"studentIds": [emulator.user_id(demo::STUDENT).unwrap()]},
        }),
    );
    let rubrics = format!("/v1/courses/{course}/courseWork/{work}/rubrics");
    let rubric = teacher.ok(
        "POST",
        &rubrics,
        Some(json!({"criteria": [{"title": "Clarity", "levels": [{"title": "Clear", "points": 2}, {"title": "Unclear", "points": 0}]}]})),
    );
    let one = format!("{rubrics}/{}", rubric["id"].as_str().unwrap());
    let criteria = json!({"criteria": rubric["criteria"].clone()});
    let update = format!("/v1/courses/{course}/courseWork/{work}/rubric?updateMask=criteria");
    // "NOT_FOUND if ... the user doesn't have access to the corresponding course work."
    katherine.fails(
        "GET",
        &format!("/v1/courses/{course}/courseWork/{work}"),
        None,
        NOT_FOUND,
    );
    katherine.fails("GET", &one, None, NOT_FOUND);
    katherine.fails("GET", &rubrics, None, NOT_FOUND);
    katherine.fails(
        "PATCH",
        &format!("{one}?updateMask=criteria"),
        Some(criteria.clone()),
        NOT_FOUND,
    );
    katherine.fails("PATCH", &update, Some(criteria.clone()), NOT_FOUND);
    // The student it is assigned to sees the rubric and may not change it.
    grace.ok("GET", &one, None);
    grace.fails(
        "PATCH",
        &update,
        Some(criteria),
        (403, "PERMISSION_DENIED", ""),
    );
}
