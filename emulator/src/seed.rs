//! The demo school: users, the demo OAuth client and service account, and (unless the emulator
//! starts empty) courses, coursework, submissions, guardians and invitations. Seeding goes
//! through the same code as API calls, so the demo data is what the API would have made.

use base64::Engine;
use serde_json::{Value, json};

use crate::Role;
use crate::handlers::{Ctx, call};
use crate::spec::spec;
use crate::store::{Client, State, User};
use classroom_spec::Scope;

/// The demo school's names: users, aliases, OAuth client. Fixed, so scripts and docs can use
/// them.
pub mod demo {
    /// The demo domain.
    pub const DOMAIN: &str = "school.example";
    /// The domain administrator; tokens from client credentials act as this user.
    pub const ADMIN: &str = "admin@school.example";
    /// A teacher, owner of `d:math-101` and `d:history`.
    pub const TEACHER: &str = "ada.lovelace@school.example";
    /// Another teacher, owner of `d:cs-201`.
    pub const SECOND_TEACHER: &str = "alan.turing@school.example";
    /// A student in every demo course, with a guardian.
    pub const STUDENT: &str = "grace.hopper@school.example";
    /// Another student.
    pub const SECOND_STUDENT: &str = "katherine.johnson@school.example";
    /// Every demo student.
    pub const STUDENTS: [&str; 6] = [
        STUDENT,
        SECOND_STUDENT,
        "edsger.dijkstra@school.example",
        "barbara.liskov@school.example",
        "donald.knuth@school.example",
        "margaret.hamilton@school.example",
    ];
    /// [`STUDENT`]'s guardian.
    pub const GUARDIAN: &str = "pat.hopper@family.example";
    /// The alias of the demo mathematics course.
    pub const COURSE_ALIAS: &str = "d:math-101";
    /// The demo OAuth client id; the token endpoint accepts it for every grant.
    pub const CLIENT_ID: &str = "emulator-demo.apps.googleusercontent.com";
    /// The demo OAuth client secret.
    pub const CLIENT_SECRET: &str = "emulator-demo-secret";
    /// The demo service account (see `Emulator::service_account_key`).
    pub const SERVICE_ACCOUNT: &str = "roster-sync@emulator-demo.iam.gserviceaccount.com";
    /// The service account attached to the emulated machine (the metadata server's); by
    /// default it may act as [`SERVICE_ACCOUNT`] through the IAM Credentials API.
    pub const METADATA_SERVICE_ACCOUNT: &str = "vm-runtime@emulator-demo.iam.gserviceaccount.com";
}

/// A throwaway key made for the emulator; it authorizes nothing anywhere else.
const SERVICE_ACCOUNT_PEM: &str = include_str!("test-only-demo-service-account.pem");

/// Adds a user; returns its id.
pub(crate) fn add_user(
    state: &mut State,
    email: &str,
    given: &str,
    family: &str,
    role: Role,
) -> String {
    if let Some(existing) = state.user(email, "") {
        return existing.id.clone();
    }
    let id = format!("1{:020}", 4_711 + state.users.len() * 1_009);
    state.users.push(User {
        id: id.clone(),
        email: email.to_string(),
        given: given.to_string(),
        family: family.to_string(),
        role,
        disabled: false,
    });
    id
}

fn name_of(email: &str) -> (String, String) {
    let local = email.split('@').next().unwrap_or(email);
    let mut parts = local.split('.').map(|p| {
        let mut c = p.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    });
    let given = parts.next().unwrap_or_default();
    let family = parts.next().unwrap_or_default();
    (given, family)
}

/// The users, the demo OAuth client and the demo service account.
pub(crate) fn users_and_clients(state: &mut State) {
    add_user(state, demo::ADMIN, "Alex", "Admin", Role::Admin);
    for email in [demo::TEACHER, demo::SECOND_TEACHER] {
        let (given, family) = name_of(email);
        add_user(state, email, &given, &family, Role::Teacher);
    }
    for email in demo::STUDENTS {
        let (given, family) = name_of(email);
        add_user(state, email, &given, &family, Role::Student);
    }
    add_user(state, demo::GUARDIAN, "Pat", "Hopper", Role::Guardian);
    state.clients.push(Client {
        id: demo::CLIENT_ID.to_string(),
        secret: Some(demo::CLIENT_SECRET.to_string()),
    });
    if let Some(public) = service_account_public_key() {
        state
            .service_accounts
            .insert(demo::SERVICE_ACCOUNT.to_string(), public);
    }
}

pub(crate) fn service_account_der() -> Option<Vec<u8>> {
    let body: String = SERVICE_ACCOUNT_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn service_account_public_key() -> Option<Vec<u8>> {
    let der = service_account_der()?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).ok()?;
    Some(pair.public().as_ref().to_vec())
}

/// The demo service account's key file, in Google's format.
pub(crate) fn service_account_key(token_url: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "emulator-demo",
        "private_key_id": "emulator-demo-key",
        "private_key": SERVICE_ACCOUNT_PEM,
        "client_email": demo::SERVICE_ACCOUNT,
        "client_id": "100000000000000000042",
        "auth_uri": token_url.replace("/token", "/o/oauth2/v2/auth"),
        "token_uri": token_url,
    })
    .to_string()
}

/// Calls a method as a user with every scope, as the API would; the demo data must be valid.
fn seed_call(
    state: &mut State,
    as_user: &str,
    method: &str,
    params: &[(&str, &str)],
    query: &[(&str, &str)],
    body: Value,
) -> Value {
    let user = state
        .user(as_user, "")
        .cloned()
        .unwrap_or_else(|| panic!("demo user {as_user} exists"));
    let ctx = Ctx {
        user,
        scopes: Scope::ALL.iter().map(|s| s.url().to_string()).collect(),
        // The demo school is the demo client's: its tokens may change what the seed made.
        client_id: demo::CLIENT_ID.to_string(),
    };
    let route = spec()
        .by_id(method)
        .unwrap_or_else(|| panic!("{method} is a method"));
    let own = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    call(state, &ctx, route, &own(params), &own(query), body)
        .unwrap_or_else(|e| panic!("seeding {method}: {}", e.message))
}

fn id_of(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_string()
}

/// Courses, rosters, coursework, submissions, guardians and invitations.
pub(crate) fn school(state: &mut State) {
    let courses = [
        (
            demo::COURSE_ALIAS,
            "Mathematics 101",
            "Period 1",
            "B12",
            demo::TEACHER,
        ),
        (
            "d:cs-201",
            "Computer Science",
            "Period 3",
            "Lab 2",
            demo::SECOND_TEACHER,
        ),
        (
            "d:history",
            "History of Computing",
            "Period 5",
            "A4",
            demo::TEACHER,
        ),
    ];
    let mut ids = Vec::new();
    for (alias, name, section, room, owner) in courses {
        let course = seed_call(
            state,
            demo::ADMIN,
            "classroom.courses.create",
            &[],
            &[],
            json!({
                "id": alias, "name": name, "section": section, "room": room,
                "ownerId": owner, "courseState": "ACTIVE",
                "descriptionHeading": format!("Welcome to {name}"),
            }),
        );
        let id = id_of(&course);
        let students: &[&str] = if alias == "d:history" {
            &demo::STUDENTS[..2]
        } else {
            &demo::STUDENTS
        };
        for student in students {
            seed_call(
                state,
                owner,
                "classroom.courses.students.create",
                &[("courseId", &id)],
                &[],
                json!({"userId": student}),
            );
        }
        ids.push((id, owner));
    }
    let (math, math_owner) = ids[0].clone();
    seed_call(
        state,
        demo::ADMIN,
        "classroom.courses.teachers.create",
        &[("courseId", &math)],
        &[],
        json!({"userId": demo::SECOND_TEACHER}),
    );
    let topic = seed_call(
        state,
        math_owner,
        "classroom.courses.topics.create",
        &[("courseId", &math)],
        &[],
        json!({"name": "Arithmetic"}),
    );
    seed_call(
        state,
        math_owner,
        "classroom.courses.announcements.create",
        &[("courseId", &math)],
        &[],
        json!({"text": "Welcome! The first worksheet is up.", "state": "PUBLISHED"}),
    );
    let next_year = chrono::Datelike::year(&chrono::Utc::now()) + 1;
    let worksheet = seed_call(
        state,
        math_owner,
        "classroom.courses.courseWork.create",
        &[("courseId", &math)],
        &[],
        json!({
            "title": "Fractions worksheet", "workType": "ASSIGNMENT", "state": "PUBLISHED",
            "maxPoints": 100, "topicId": topic["topicId"],
            "dueDate": {"year": next_year, "month": 1, "day": 15},
            "dueTime": {"hours": 17, "minutes": 0},
            "description": "Simplify the twenty fractions on the sheet.",
        }),
    );
    seed_call(
        state,
        math_owner,
        "classroom.courses.courseWork.create",
        &[("courseId", &math)],
        &[],
        json!({
            "title": "Quiz: prime numbers", "workType": "SHORT_ANSWER_QUESTION",
            "state": "PUBLISHED", "maxPoints": 10,
            "dueDate": {"year": 2020, "month": 9, "day": 1},
            "dueTime": {"hours": 9, "minutes": 0},
        }),
    );
    seed_call(
        state,
        math_owner,
        "classroom.courses.courseWork.create",
        &[("courseId", &math)],
        &[],
        json!({"title": "Algebra project (draft)", "workType": "ASSIGNMENT", "state": "DRAFT"}),
    );
    let (cs, cs_owner) = ids[1].clone();
    seed_call(
        state,
        cs_owner,
        "classroom.courses.courseWork.create",
        &[("courseId", &cs)],
        &[],
        json!({"title": "Write a sorting algorithm", "workType": "ASSIGNMENT",
               "state": "PUBLISHED", "maxPoints": 50}),
    );
    // Grace turned the worksheet in; Katherine's was graded and returned.
    let work = id_of(&worksheet);
    let key = format!("courses/{math}/courseWork/{work}/studentSubmissions");
    let submission_of = |state: &State, email: &str| -> String {
        let user = state
            .user(email, "")
            .map(|u| u.id.clone())
            .unwrap_or_default();
        state
            .find(&key, "userId", &user)
            .map(id_of)
            .unwrap_or_default()
    };
    let grace = submission_of(state, demo::STUDENT);
    let sub_params = |id: &str| -> Vec<(String, String)> {
        vec![
            ("courseId".into(), math.clone()),
            ("courseWorkId".into(), work.clone()),
            ("id".into(), id.to_string()),
        ]
    };
    let p = sub_params(&grace);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    seed_call(
        state,
        demo::STUDENT,
        "classroom.courses.courseWork.studentSubmissions.turnIn",
        &p,
        &[],
        json!({}),
    );
    let katherine = submission_of(state, demo::SECOND_STUDENT);
    let p = sub_params(&katherine);
    let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    seed_call(
        state,
        demo::SECOND_STUDENT,
        "classroom.courses.courseWork.studentSubmissions.turnIn",
        &p,
        &[],
        json!({}),
    );
    seed_call(
        state,
        math_owner,
        "classroom.courses.courseWork.studentSubmissions.patch",
        &p,
        // The API's return does not copy the draft grade: the grade is assigned first.
        &[("updateMask", "draftGrade,assignedGrade")],
        json!({"draftGrade": 92, "assignedGrade": 92}),
    );
    seed_call(
        state,
        math_owner,
        "classroom.courses.courseWork.studentSubmissions.return",
        &p,
        &[],
        json!({}),
    );
    // Grace has a guardian; Katherine's guardian has yet to accept.
    let invitation = seed_call(
        state,
        demo::ADMIN,
        "classroom.userProfiles.guardianInvitations.create",
        &[("studentId", demo::STUDENT)],
        &[],
        json!({"studentId": demo::STUDENT, "invitedEmailAddress": demo::GUARDIAN}),
    );
    let _ = crate::handlers::accept_guardian_invitation(
        state,
        demo::STUDENT,
        invitation["invitationId"].as_str().unwrap_or_default(),
    );
    seed_call(
        state,
        demo::ADMIN,
        "classroom.userProfiles.guardianInvitations.create",
        &[("studentId", demo::SECOND_STUDENT)],
        &[],
        json!({"studentId": demo::SECOND_STUDENT, "invitedEmailAddress": "sam.johnson@family.example"}),
    );
    // Edsger is invited to the history course.
    let (history, history_owner) = ids[2].clone();
    seed_call(
        state,
        history_owner,
        "classroom.invitations.create",
        &[],
        &[],
        json!({"userId": demo::STUDENTS[2], "courseId": history, "role": "STUDENT"}),
    );
}
