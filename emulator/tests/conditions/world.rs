//! A small school to set conditions up in, and each method's valid call in it: the call the
//! walker changes in one respect (the course, the caller, the body, ...) to bring about one
//! documented condition.

use std::collections::HashMap;

use classroom_emulator::{Emulator, Role, demo};
use classroom_spec::{METHODS, MethodInfo, Scope};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::http::{Answer, bearer, send};

/// Users the school adds to the demo users.
pub const OUTSIDER: &str = "outsider@school.example";
pub const OTHER_TEACHER: &str = "other.teacher@school.example";
pub const CO_TEACHER: &str = "co.teacher@school.example";
pub const INVITEE: &str = "invitee@school.example";
pub const NEW_STUDENT: &str = "new.student@school.example";
pub const NEW_TEACHER: &str = "new.teacher@school.example";
/// The alias of the school's course.
pub const ALIAS: &str = "d:conditions";
/// Who a pending guardian invitation of the school's student goes to.
pub const PENDING_GUARDIAN: &str = "parent@family.example";
/// The domain of the school's users.
pub const DOMAIN: &str = "school.example";
/// A second OAuth client: a Developer Console project other than the demo client's, whose
/// project made everything in the school.
pub const OTHER_PROJECT: &str = "other-project.apps.googleusercontent.com";

/// An emulator with the school: a course owned by [`demo::TEACHER`] with a co-teacher, two
/// students, published course work with a submission, a rubric and an add-on attachment that
/// takes student work (so has a submission of its own), a second course work, an
/// announcement, a material, a topic, a student group, an invitation, a guardian, a pending
/// guardian invitation and a registration.
pub struct World {
    pub emulator: Emulator,
    addr: String,
    ids: HashMap<&'static str, String>,
}

/// One call: a method, its path parameters, query, body, caller and the OAuth client (the
/// Developer Console project) it goes through: the demo client's unless `client` says.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: &'static MethodInfo,
    pub params: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    pub user: String,
    pub scopes: Vec<Scope>,
    pub client: Option<&'static str>,
}

impl Call {
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v)
    }

    pub fn set_param(&mut self, name: &str, value: &str) {
        for (n, v) in &mut self.params {
            if n == name {
                *v = value.to_string();
            }
        }
    }

    pub fn has_param(&self, name: &str) -> bool {
        self.params.iter().any(|(n, _)| n == name)
    }

    /// Sets (or with `None` removes) a query parameter.
    pub fn set_query(&mut self, name: &str, value: Option<&str>) {
        self.query.retain(|(n, _)| n != name);
        if let Some(value) = value {
            self.query.push((name.to_string(), value.to_string()));
        }
    }

    pub fn body_mut(&mut self) -> &mut Value {
        self.body.get_or_insert_with(|| json!({}))
    }

    /// The request path with the query.
    pub fn path(&self) -> String {
        let mut path = format!("/{}", self.method.path);
        for (name, value) in &self.params {
            let value = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
            path = path
                .replace(&format!("{{{name}}}"), &value)
                .replace(&format!("{{+{name}}}"), &value);
        }
        let query: Vec<String> = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, NON_ALPHANUMERIC)))
            .collect();
        if !query.is_empty() {
            path.push('?');
            path.push_str(&query.join("&"));
        }
        path
    }

    pub fn verb(&self) -> &'static str {
        self.method.http_method.as_str()
    }

    /// The method id without `classroom.`.
    pub fn name(&self) -> &'static str {
        self.method
            .id
            .strip_prefix("classroom.")
            .unwrap_or(self.method.id)
    }
}

/// The method of this id (without `classroom.`).
pub fn method(name: &str) -> &'static MethodInfo {
    METHODS
        .iter()
        .copied()
        .find(|m| m.id.strip_prefix("classroom.") == Some(name))
        .unwrap_or_else(|| panic!("no method {name}"))
}

impl World {
    pub fn new() -> World {
        let emulator = Emulator::builder()
            .empty()
            .start()
            .expect("the emulator starts");
        let addr = emulator.addr().to_string();
        let mut world = World {
            emulator,
            addr,
            ids: HashMap::new(),
        };
        world.build();
        world
    }

    /// A named id of the school: `course`, `work`, `work2`, `submission`, `announcement`,
    /// `material`, `topic`, `rubric`, `attachment.work`, `attachment.announcement`,
    /// `attachment.material`, `group`, `invitation`, `guardianInvitation`, `guardian`,
    /// `registration`, or a user's (`student`, `secondStudent`, `teacher`, `coTeacher`).
    pub fn id(&self, name: &str) -> String {
        self.ids
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("the school has no {name}"))
    }

    /// Sends a call with a token for its user and scopes, issued to its client.
    pub fn send(&self, call: &Call) -> Answer {
        let token = match call.client {
            Some(client) => {
                self.emulator.add_client(client, "other-project-secret");
                self.emulator
                    .token_for_client(client, &call.user, &call.scopes)
            }
            None => self.emulator.token_for(&call.user, &call.scopes),
        };
        let body = call.body.as_ref().map(Value::to_string);
        send(
            &self.addr,
            call.verb(),
            &call.path(),
            Some(&bearer(&token)),
            body.as_deref(),
        )
    }

    /// Calls `verb path` as `user` with every scope; the call must succeed.
    pub fn ok(&self, user: &str, verb: &str, path: &str, body: Option<Value>) -> Value {
        let token = self.emulator.token_for(user, &Scope::ALL);
        let body = body.map(|b| b.to_string());
        let answer = send(
            &self.addr,
            verb,
            path,
            Some(&bearer(&token)),
            body.as_deref(),
        );
        assert!(
            answer.status == 200,
            "setting up the school: {verb} {path}: {answer:?}"
        );
        answer.body
    }

    fn build(&mut self) {
        let e = &self.emulator;
        e.add_user(OUTSIDER, "Otto", "Outsider", Role::Student);
        e.add_user(OTHER_TEACHER, "Olga", "Other", Role::Teacher);
        e.add_user(CO_TEACHER, "Cora", "Coteacher", Role::Teacher);
        e.add_user(INVITEE, "Ivan", "Invitee", Role::Student);
        e.add_user(NEW_STUDENT, "Nina", "New", Role::Student);
        e.add_user(NEW_TEACHER, "Ned", "New", Role::Teacher);
        for (name, email) in [
            ("student", demo::STUDENT),
            ("secondStudent", demo::SECOND_STUDENT),
            ("teacher", demo::TEACHER),
            ("coTeacher", CO_TEACHER),
        ] {
            let id = e.user_id(email).expect("a user of the school");
            self.ids.insert(name, id);
        }
        let admin = demo::ADMIN;
        let course = self.ok(
            admin,
            "POST",
            "/v1/courses",
            Some(json!({"id": ALIAS, "name": "Conditions", "ownerId": demo::TEACHER, "courseState": "ACTIVE"})),
        )["id"]
            .as_str()
            .unwrap()
            .to_string();
        let c = format!("/v1/courses/{course}");
        for student in [demo::STUDENT, demo::SECOND_STUDENT] {
            self.ok(
                admin,
                "POST",
                &format!("{c}/students"),
                Some(json!({"userId": student})),
            );
        }
        self.ok(
            admin,
            "POST",
            &format!("{c}/teachers"),
            Some(json!({"userId": CO_TEACHER})),
        );
        let id = |v: Value, field: &str| v[field].as_str().unwrap_or_default().to_string();
        let work = id(
            self.ok(
                admin,
                "POST",
                &format!("{c}/courseWork"),
                Some(json!({"title": "Essay", "workType": "ASSIGNMENT", "state": "PUBLISHED", "maxPoints": 10})),
            ),
            "id",
        );
        let work2 = id(
            self.ok(
                admin,
                "POST",
                &format!("{c}/courseWork"),
                Some(json!({"title": "Quiz", "workType": "ASSIGNMENT", "state": "PUBLISHED", "maxPoints": 10})),
            ),
            "id",
        );
        let student = self.id("student");
        let submissions = self.ok(
            admin,
            "GET",
            &format!("{c}/courseWork/{work}/studentSubmissions?userId={student}"),
            None,
        );
        let submission = id(submissions["studentSubmissions"][0].clone(), "id");
        let announcement = id(
            self.ok(
                admin,
                "POST",
                &format!("{c}/announcements"),
                Some(json!({"text": "Welcome", "state": "PUBLISHED"})),
            ),
            "id",
        );
        let material = id(
            self.ok(
                admin,
                "POST",
                &format!("{c}/courseWorkMaterials"),
                Some(json!({"title": "Reading", "state": "PUBLISHED"})),
            ),
            "id",
        );
        let topic = id(
            self.ok(
                admin,
                "POST",
                &format!("{c}/topics"),
                Some(json!({"name": "Unit 1"})),
            ),
            "topicId",
        );
        let rubric = id(
            self.ok(
                admin,
                "POST",
                &format!("{c}/courseWork/{work}/rubrics"),
                Some(rubric_body()),
            ),
            "id",
        );
        for (name, kind, item) in [
            ("attachment.work", "courseWork", &work),
            ("attachment.announcement", "announcements", &announcement),
            ("attachment.material", "courseWorkMaterials", &material),
        ] {
            let mut body = attachment_body();
            if kind == "courseWork" {
                // An activity: it takes student work and grades.
                body["studentWorkReviewUri"] = json!({"uri": "https://addon.example/review"});
                body["maxPoints"] = json!(10);
            }
            let attachment = id(
                self.ok(
                    admin,
                    "POST",
                    &format!("{c}/{kind}/{item}/addOnAttachments"),
                    Some(body),
                ),
                "id",
            );
            self.ids.insert(name, attachment);
        }
        let group = id(
            self.ok(
                admin,
                "POST",
                &format!("{c}/studentGroups"),
                Some(json!({"title": "Group A"})),
            ),
            "id",
        );
        self.ok(
            admin,
            "POST",
            &format!("{c}/studentGroups/{group}/studentGroupMembers"),
            Some(json!({"userId": demo::STUDENT})),
        );
        let invitation = id(
            self.ok(
                admin,
                "POST",
                "/v1/invitations",
                Some(json!({"courseId": course, "userId": INVITEE, "role": "STUDENT"})),
            ),
            "id",
        );
        let g = format!("/v1/userProfiles/{student}/guardianInvitations");
        let pending = id(
            self.ok(
                admin,
                "POST",
                &g,
                Some(json!({"studentId": student, "invitedEmailAddress": PENDING_GUARDIAN})),
            ),
            "invitationId",
        );
        let accepted = id(
            self.ok(
                admin,
                "POST",
                &g,
                Some(json!({"studentId": student, "invitedEmailAddress": demo::GUARDIAN})),
            ),
            "invitationId",
        );
        let guardian = self
            .emulator
            .accept_guardian_invitation(&student, &accepted)
            .expect("the guardian accepts");
        let registration = id(
            self.ok(
                admin,
                "POST",
                "/v1/registrations",
                Some(json!({
                    "feed": {"feedType": "COURSE_ROSTER_CHANGES", "courseRosterChangesInfo": {"courseId": course}},
                    "cloudPubsubTopic": {"topicName": "projects/school/topics/classroom"},
                })),
            ),
            "registrationId",
        );
        for (name, value) in [
            ("course", course),
            ("work", work),
            ("work2", work2),
            ("submission", submission),
            ("announcement", announcement),
            ("material", material),
            ("topic", topic),
            ("rubric", rubric),
            ("group", group),
            ("invitation", invitation),
            ("guardianInvitation", pending),
            ("guardian", guardian),
            ("registration", registration),
        ] {
            self.ids.insert(name, value);
        }
    }

    /// The valid call of a method in the school: answered 200, and the starting point of every
    /// condition the walker sets up for the method.
    pub fn valid_call(&self, method: &'static MethodInfo) -> Call {
        let name = method.id.strip_prefix("classroom.").unwrap_or(method.id);
        let resource = name.rsplit_once('.').map_or(name, |(r, _)| r);
        let params = method
            .path
            .split('/')
            .filter_map(|s| {
                let s = s.split(':').next().unwrap_or(s);
                s.strip_prefix('{')?
                    .strip_suffix('}')
                    .map(|p| p.trim_start_matches('+'))
            })
            .map(|p| (p.to_string(), self.param_value(name, resource, p)))
            .collect();
        let mut call = Call {
            method,
            params,
            query: Vec::new(),
            body: None,
            user: demo::ADMIN.to_string(),
            scopes: Scope::ALL.to_vec(),
            client: None,
        };
        let mask = |call: &mut Call, field: &str, body: Value| {
            call.set_query("updateMask", Some(field));
            call.body = Some(body);
        };
        let course = self.id("course");
        match name {
            "courses.create" => {
                call.body = Some(json!({"name": "Another course", "ownerId": demo::TEACHER}))
            }
            "courses.patch" => mask(&mut call, "name", json!({"name": "Renamed"})),
            "courses.update" => call.body = Some(json!({"name": "Renamed"})),
            "courses.updateGradingPeriodSettings" => mask(
                &mut call,
                "applyToExistingCoursework",
                json!({"applyToExistingCoursework": true}),
            ),
            "courses.aliases.create" => call.body = Some(json!({"alias": "d:conditions-2"})),
            "courses.announcements.create" => call.body = Some(json!({"text": "More news"})),
            "courses.announcements.patch" => mask(&mut call, "text", json!({"text": "Edited"})),
            "courses.courseWork.create" => {
                call.body = Some(json!({"title": "More work", "workType": "ASSIGNMENT"}))
            }
            "courses.courseWork.patch"
            | "courses.courseWorkMaterials.patch"
            | "courses.studentGroups.patch" => mask(&mut call, "title", json!({"title": "Edited"})),
            "courses.courseWork.updateRubric" | "courses.courseWork.rubrics.patch" => {
                mask(&mut call, "criteria", rubric_body())
            }
            "courses.courseWork.rubrics.create" => call.body = Some(rubric_body()),
            "courses.courseWork.studentSubmissions.patch" => {
                mask(&mut call, "draftGrade", json!({"draftGrade": 7}))
            }
            "courses.courseWork.studentSubmissions.turnIn"
            | "courses.courseWork.studentSubmissions.reclaim" => {
                call.user = demo::STUDENT.to_string();
                call.body = Some(json!({}));
            }
            "courses.courseWork.studentSubmissions.return" => call.body = Some(json!({})),
            "courses.courseWork.studentSubmissions.modifyAttachments" => {
                call.user = demo::STUDENT.to_string();
                call.body = Some(
                    json!({"addAttachments": [{"link": {"url": "https://example.com/essay"}}]}),
                );
            }
            "courses.courseWorkMaterials.create" => call.body = Some(json!({"title": "More"})),
            "courses.studentGroups.create" => call.body = Some(json!({"title": "Group B"})),
            "courses.studentGroups.studentGroupMembers.create" => {
                call.body = Some(json!({"userId": demo::SECOND_STUDENT}))
            }
            "courses.students.create" => call.body = Some(json!({"userId": NEW_STUDENT})),
            "courses.teachers.create" => call.body = Some(json!({"userId": NEW_TEACHER})),
            "courses.topics.create" => call.body = Some(json!({"name": "Unit 2"})),
            "courses.topics.patch" => mask(&mut call, "name", json!({"name": "Unit 1b"})),
            "invitations.create" => {
                call.body =
                    Some(json!({"courseId": course, "userId": NEW_STUDENT, "role": "STUDENT"}))
            }
            "invitations.accept" => call.user = INVITEE.to_string(),
            "invitations.list" => call.set_query("courseId", Some(&course)),
            "registrations.create" => {
                call.body = Some(json!({
                    "feed": {"feedType": "COURSE_WORK_CHANGES", "courseWorkChangesInfo": {"courseId": course}},
                    "cloudPubsubTopic": {"topicName": "projects/school/topics/work"},
                }))
            }
            "userProfiles.guardianInvitations.create" => {
                let student = call.param("studentId").to_string();
                call.body = Some(
                    json!({"studentId": student, "invitedEmailAddress": "aunt@family.example"}),
                )
            }
            "userProfiles.guardianInvitations.patch" => {
                mask(&mut call, "state", json!({"state": "COMPLETE"}))
            }
            n if n.ends_with(".modifyAssignees") => {
                call.body = Some(json!({"assigneeMode": "ALL_STUDENTS"}))
            }
            n if n.ends_with(".addOnAttachments.create") => call.body = Some(attachment_body()),
            n if n.ends_with(".addOnAttachments.patch") => {
                mask(&mut call, "title", json!({"title": "Edited"}))
            }
            n if n.ends_with(".addOnAttachments.studentSubmissions.patch") => {
                mask(&mut call, "pointsEarned", json!({"pointsEarned": 1}))
            }
            _ => {}
        }
        call
    }

    /// Makes the valid call's preconditions true (a turned-in submission to reclaim).
    pub fn prepare(&self, call: &Call) {
        if call.name() == "courses.courseWork.studentSubmissions.reclaim" {
            let turn_in = Call {
                method: method("courses.courseWork.studentSubmissions.turnIn"),
                ..call.clone()
            };
            let answer = self.send(&turn_in);
            assert_eq!(answer.status, 200, "turning in to reclaim: {answer:?}");
        }
    }

    fn param_value(&self, name: &str, resource: &str, param: &str) -> String {
        let item = |resource: &str| match resource {
            r if r.starts_with("courses.announcements") => self.id("announcement"),
            r if r.starts_with("courses.courseWorkMaterials") => self.id("material"),
            _ => self.id("work"),
        };
        match param {
            "courseId" => self.id("course"),
            "id" => match resource {
                "courses" => self.id("course"),
                "courses.announcements" => self.id("announcement"),
                "courses.courseWork" => self.id("work"),
                "courses.courseWorkMaterials" => self.id("material"),
                "courses.topics" => self.id("topic"),
                "courses.courseWork.rubrics" => self.id("rubric"),
                "courses.courseWork.studentSubmissions" => self.id("submission"),
                "courses.studentGroups" => self.id("group"),
                "invitations" => self.id("invitation"),
                other => panic!("no id for {other}"),
            },
            "courseWorkId" if name == "courses.courseWork.rubrics.create" => self.id("work2"),
            "courseWorkId" => self.id("work"),
            "itemId" | "postId" => item(resource),
            "attachmentId" => {
                if resource.starts_with("courses.announcements") {
                    self.id("attachment.announcement")
                } else if resource.starts_with("courses.courseWorkMaterials") {
                    self.id("attachment.material")
                } else {
                    self.id("attachment.work")
                }
            }
            "submissionId" => self.id("submission"),
            "alias" => ALIAS.to_string(),
            "studentGroupId" => self.id("group"),
            "userId" if resource == "courses.teachers" => self.id("coTeacher"),
            "userId" => self.id("student"),
            "studentId" => self.id("student"),
            "guardianId" => self.id("guardian"),
            "invitationId" => self.id("guardianInvitation"),
            "registrationId" => self.id("registration"),
            other => panic!("no value for the path parameter {other} of {name}"),
        }
    }
}

pub fn rubric_body() -> Value {
    json!({"criteria": [{"title": "Clarity", "levels": [{"title": "Clear", "points": 2}, {"title": "Unclear", "points": 0}]}]})
}

pub fn attachment_body() -> Value {
    json!({
        "title": "Add-on",
        "teacherViewUri": {"uri": "https://addon.example/teacher"},
        "studentViewUri": {"uri": "https://addon.example/student"},
    })
}
