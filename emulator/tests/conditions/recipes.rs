//! How to bring about each documented condition, starting from the method's valid call:
//! generic recipes keyed by the condition's shape (its normalized text), which fit every
//! method that documents it, then recipes for single methods. A condition no recipe sets up
//! gets the reason it cannot be.

use classroom_emulator::{Quotas, demo};
use classroom_spec::Scope;
use serde_json::{Value, json};

use super::table::Condition;
use super::world::{
    ALIAS, CO_TEACHER, Call, DOMAIN, INVITEE, NEW_STUDENT, NEW_TEACHER, OTHER_PROJECT,
    OTHER_TEACHER, OUTSIDER, PENDING_GUARDIAN, World, method,
};

/// One way to set the condition up: may change the school, then changes the call.
pub type Case = Box<dyn Fn(&World, &mut Call)>;

/// What the walker does with a condition.
pub enum Plan {
    /// Set up each case (on a school of its own) and check the answer.
    Cases(Vec<Case>),
    /// The emulator cannot be brought into this condition; why.
    NotModeled(&'static str),
}

const MISSING_ID: &str = "999999999999";
const MISSING_USER: &str = "nobody@school.example";

fn case(f: impl Fn(&World, &mut Call) + 'static) -> Case {
    Box::new(f)
}

fn cases(list: Vec<Case>) -> Plan {
    Plan::Cases(list)
}

/// Calls as this user instead.
fn as_user(user: &'static str) -> Case {
    case(move |_, call| call.user = user.to_string())
}

/// Disables a user's account first.
fn disabled(user: &'static str) -> Case {
    case(move |world, _| world.emulator.disable_user(user))
}

/// Lowers the course teacher limit first.
fn teacher_limit(teachers: u32) -> Case {
    case(move |world, _| {
        world
            .emulator
            .update_quotas(|q| q.course_teacher_limit(teachers));
    })
}

/// Archives the school's course first.
fn archive(world: &World) {
    let course = world.id("course");
    world.ok(
        demo::ADMIN,
        "PATCH",
        &format!("/v1/courses/{course}?updateMask=courseState"),
        Some(json!({"courseState": "ARCHIVED"})),
    );
}

/// The noun a description uses for what a path parameter names.
fn noun(call: &Call, param: &str) -> &'static str {
    let name = call.name();
    match param {
        "courseId" => "course",
        "id" if name.starts_with("courses.") && name.matches('.').count() == 1 => "course",
        "courseWorkId" => "course work",
        "itemId" | "postId" | "id" if name.starts_with("courses.courseWorkMaterials") => {
            "course work material"
        }
        "itemId" | "postId" | "id" if name.starts_with("courses.announcements") => "announcement",
        "itemId" | "postId" | "id" if name.starts_with("courses.courseWork.studentSubmissions") => {
            "student submission"
        }
        "id" if name.starts_with("courses.courseWork.rubrics") => "rubric",
        "itemId" | "postId" | "id" if name.starts_with("courses.courseWork") => "course work",
        "itemId" | "postId" => "post",
        "id" if name.starts_with("courses.topics") => "topic",
        "id" | "studentGroupId" if name.starts_with("courses.studentGroups") => "student group",
        "userId" if name.starts_with("courses.studentGroups") => "student group member",
        "userId" if name.starts_with("courses.students") => "no student of this course",
        "userId" if name.starts_with("courses.teachers") => "no teacher of this course",
        "id" if name.starts_with("invitations") => "invitation",
        "alias" => "alias",
        "attachmentId" => "attachment",
        "submissionId" => "student submission",
        _ => "",
    }
}

/// A value no parameter of this name names.
fn missing(param: &str) -> &'static str {
    match param {
        "alias" => "d:no-such-alias",
        "studentId" | "userId" => MISSING_USER,
        _ => MISSING_ID,
    }
}

/// NOT_FOUND for each path parameter the text names: one case per parameter.
fn missing_params(call: &Call, text: &str) -> Vec<Case> {
    let every = text.contains("one of the identified resources");
    call.params
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| {
            let noun = noun(call, p);
            !noun.is_empty() && (every || text.contains(noun))
        })
        .map(|p| {
            case(move |_, call: &mut Call| {
                let value = missing(&p);
                call.set_param(&p, value);
            })
        })
        .collect()
}

/// The plan for one condition.
pub fn plan(c: &Condition, valid: &Call) -> Plan {
    if let Some(plan) = specific(c, valid) {
        return plan;
    }
    generic(c, valid)
}

/// Recipes that fit every method documenting the condition.
fn generic(c: &Condition, valid: &Call) -> Plan {
    let t = c.text.as_str();
    let read = matches!(valid.verb(), "GET");
    match (c.status.as_str(), t) {
        // The school's items were made through the demo client: another project's call.
        ("PERMISSION_DENIED", t) if t.contains("developer project") => {
            cases(vec![case(|_, call| call.client = Some(OTHER_PROJECT))])
        }
        // Guardians turned off for the school's domain by its administrator.
        ("PERMISSION_DENIED", t) if t.contains("guardians are not enabled") => {
            cases(vec![case(|world, _| {
                world.emulator.disable_guardians(DOMAIN)
            })])
        }
        (
            "PERMISSION_DENIED",
            "access errors" | "other access errors" | "another access error is encountered",
        ) => cases(vec![case(|_, call| {
            // A token without a scope that authorizes the method: Classroom's access error
            // for every method.
            let method = call.method;
            call.scopes = Scope::ALL
                .iter()
                .copied()
                .filter(|s| !method.scopes.contains(s))
                .collect();
        })]),
        ("INVALID_ARGUMENT", "the request is malformed") => {
            let mut list = vec![case(|_, call| {
                call.set_query("unknownParameter", Some("1"))
            })];
            if valid.body.is_some() {
                list.push(case(|_, call| {
                    call.body_mut()["unknownField"] = json!(1);
                }));
            }
            cases(list)
        }
        ("INVALID_ARGUMENT", "invalid fields are specified in the update mask") => {
            cases(vec![case(|_, call| {
                call.set_query("updateMask", Some("noSuchField"))
            })])
        }
        ("INVALID_ARGUMENT", "no update mask is supplied") => {
            cases(vec![case(|_, call| call.set_query("updateMask", None))])
        }
        ("FAILED_PRECONDITION", _) if c.name.as_deref() == Some("CourseNotModifiable") => {
            cases(vec![case(|world, _| archive(world))])
        }
        ("NOT_FOUND", t)
            if (t.contains("does not exist")
                || t.contains("doesn't exist")
                || t.contains("don't exist")
                || t.contains("exists with the requested id")
                || t.contains("has the requested id"))
                && !missing_params(valid, t).is_empty() =>
        {
            cases(missing_params(valid, t))
        }
        ("PERMISSION_DENIED", t) if t.contains("permitted to") || t.contains("not allowed to") => {
            let verb = t
                .split_once("permitted to ")
                .or_else(|| t.split_once("allowed to "))
                .map_or("", |(_, v)| v);
            let outsider = verb.starts_with("access") || verb.starts_with("view") || read;
            if outsider {
                // A student of the school who is not in the course.
                cases(vec![as_user(OUTSIDER)])
            } else {
                // A student of the course, where a teacher's right is needed.
                cases(vec![as_user(demo::SECOND_STUDENT)])
            }
        }
        _ => Plan::NotModeled(reason(c)),
    }
}

/// Why the walker cannot set a condition up.
fn reason(c: &Condition) -> &'static str {
    let t = c.text.as_str();
    let name = c.name.as_deref().unwrap_or("");
    if t.contains("owner of the course drive folder") {
        "needs the course's Drive folder and its owner, which the emulator does not model"
    } else if t.contains("drive") || name == "AttachmentNotVisible" {
        "needs Drive files and their sharing, which the emulator does not model"
    } else if t.contains("grading has already started") {
        "needs rubric grading started in Classroom's UI, which the API cannot do"
    } else if t.contains("not in a domain") || t.contains("domain-scoped alias") {
        "needs a user outside any Google Workspace domain"
    } else if name == "UserGroupsMembershipLimitReached" {
        "needs a user at Google Groups' membership limit, which the emulator does not count"
    } else if name == "CourseTopicLimitReached" {
        "needs a course at Classroom's topic limit, which the emulator does not count"
    } else if t.contains("maximum number of student groups") || t.contains("member limit") {
        "needs a course at Classroom's student group limits, which the emulator does not count"
    } else if name == "UserIneligibleToUpdateGradingPeriodSettings" {
        "needs a domain without the Google Workspace for Education license grading periods need"
    } else if t.contains("rejected too many") {
        "needs a guardian who rejected invitations, which the emulator does not model"
    } else if t.contains("insufficient oauth scopes") {
        "contradicts every other method: the emulator answers 403 ACCESS_TOKEN_SCOPE_INSUFFICIENT for a missing scope"
    } else if t.contains("cloudpubsubtopic cannot be located") || t.contains("cloud project") {
        "needs Cloud Pub/Sub topics and Cloud project grants, which the emulator does not model"
    } else if t.contains("does not have access to see that student") {
        "the documentation gives PERMISSION_DENIED for the same caller; the emulator answers that"
    } else {
        "no recipe sets it up yet"
    }
}

/// Recipes for single methods, or for conditions whose set-up depends on the method.
fn specific(c: &Condition, valid: &Call) -> Option<Plan> {
    let name = valid.name();
    let t = c.text.as_str();
    let error = c.name.as_deref().unwrap_or("");
    let body = |f: fn(&mut Value)| case(move |_, call: &mut Call| f(call.body_mut()));
    let plan = match (name, c.status.as_str(), t) {
        // Courses.
        ("courses.create", "PERMISSION_DENIED", t) if t.contains("permitted to create courses") => {
            cases(vec![case(|_, call| {
                call.user = demo::STUDENT.to_string();
                call.body_mut()["ownerId"] = json!("me");
            })])
        }
        ("courses.create", "NOT_FOUND", _) => {
            cases(vec![body(|b| b["ownerId"] = json!(MISSING_USER))])
        }
        ("courses.create", "ALREADY_EXISTS", _) => cases(vec![body(|b| b["id"] = json!(ALIAS))]),
        ("courses.create", _, _) if error == "UserCannotOwnCourse" => {
            cases(vec![body(|b| b["ownerId"] = json!(demo::STUDENT))])
        }
        (_, _, _) if error == "CourseTitleCannotContainUrl" => cases(vec![case(|_, call| {
            call.body_mut()["name"] = json!("Read https://example.com/syllabus");
            if call.name() == "courses.patch" {
                call.set_query("updateMask", Some("name"));
            }
        })]),
        ("courses.patch", _, _) if error == "IneligibleOwner" => cases(vec![
            case(|_, call| {
                call.set_query("updateMask", Some("ownerId"));
                call.body = Some(json!({"ownerId": OTHER_TEACHER}));
            }),
            // A co-teacher whose account is disabled.
            case(|world, call| {
                world.emulator.disable_user(CO_TEACHER);
                call.set_query("updateMask", Some("ownerId"));
                call.body = Some(json!({"ownerId": world.id("coTeacher")}));
            }),
        ]),
        ("courses.create", "FAILED_PRECONDITION", t) if t.contains("account is disabled") => {
            cases(vec![disabled(demo::TEACHER)])
        }
        (_, _, _) if error == "InactiveCourseOwner" => cases(vec![disabled(demo::TEACHER)]),
        ("courses.students.create" | "invitations.create", "FAILED_PRECONDITION", t)
            if t.contains("account is disabled") =>
        {
            cases(vec![disabled(NEW_STUDENT)])
        }
        ("courses.teachers.create", "FAILED_PRECONDITION", t)
            if t.contains("account is disabled") =>
        {
            cases(vec![disabled(NEW_TEACHER)])
        }
        ("courses.teachers.delete", "FAILED_PRECONDITION", t) if t.contains("active owner") => {
            cases(vec![disabled(demo::TEACHER)])
        }
        ("courses.list", "NOT_FOUND", _) => cases(vec![
            case(|_, call| call.set_query("studentId", Some(MISSING_USER))),
            case(|_, call| call.set_query("teacherId", Some(MISSING_USER))),
        ]),
        ("courses.list", "INVALID_ARGUMENT", _) => cases(vec![
            case(|_, call| call.set_query("pageSize", Some("-1"))),
            case(|_, call| call.set_query("courseStates", Some("NO_SUCH_STATE"))),
        ]),
        ("courses.aliases.create", "ALREADY_EXISTS", _) => {
            cases(vec![body(|b| b["alias"] = json!(ALIAS))])
        }
        ("courses.aliases.delete", "NOT_FOUND", _) => cases(vec![case(|_, call| {
            call.set_param("alias", "d:no-such-alias")
        })]),
        // Rosters and invitations.
        ("courses.students.create" | "courses.teachers.create", "ALREADY_EXISTS", _) => {
            cases(vec![
                body(|b| b["userId"] = json!(demo::STUDENT)),
                body(|b| b["userId"] = json!(demo::TEACHER)),
            ])
        }
        ("courses.students.create" | "courses.teachers.create", _, _)
            if error == "CourseMemberLimitReached" =>
        {
            cases(vec![case(|world, _| {
                world
                    .emulator
                    .set_quotas(Quotas::none().course_member_limit(4))
            })])
        }
        ("invitations.accept", _, _) if error == "CourseMemberLimitReached" => {
            cases(vec![case(|world, _| {
                world
                    .emulator
                    .set_quotas(Quotas::none().course_member_limit(4))
            })])
        }
        // The school's course has two teachers, its owner and a co-teacher.
        ("courses.teachers.create", _, _) if error == "CourseTeacherLimitReached" => {
            cases(vec![teacher_limit(2)])
        }
        ("invitations.accept", _, _) if error == "CourseTeacherLimitReached" => {
            cases(vec![case(|world, call| {
                let invitation = world.ok(
                    demo::ADMIN,
                    "POST",
                    "/v1/invitations",
                    Some(json!({"courseId": world.id("course"), "userId": NEW_TEACHER, "role": "TEACHER"})),
                );
                call.set_param("id", invitation["id"].as_str().unwrap_or_default());
                call.user = NEW_TEACHER.to_string();
                world.emulator.update_quotas(|q| q.course_teacher_limit(2));
            })])
        }
        ("courses.teachers.delete", "FAILED_PRECONDITION", t) if t.contains("primary teacher") => {
            cases(vec![case(|world, call| {
                call.set_param("userId", &world.id("teacher"))
            })])
        }
        ("invitations.create", "NOT_FOUND", _) => cases(vec![
            body(|b| b["courseId"] = json!(MISSING_ID)),
            body(|b| b["userId"] = json!(MISSING_USER)),
        ]),
        ("invitations.create", "ALREADY_EXISTS", _) => {
            cases(vec![body(|b| b["userId"] = json!(INVITEE))])
        }
        ("invitations.create", "FAILED_PRECONDITION", t) if t.contains("already has this role") => {
            cases(vec![
                body(|b| b["userId"] = json!(demo::STUDENT)),
                case(|_, call| {
                    call.body = Some(
                        json!({"courseId": call.body_mut()["courseId"].clone(), "userId": demo::TEACHER, "role": "TEACHER"}),
                    );
                }),
            ])
        }
        ("invitations.create", _, _) if error == "IneligibleOwner" => cases(vec![body(|b| {
            b["userId"] = json!(OUTSIDER);
            b["role"] = json!("OWNER");
        })]),
        ("invitations.create", "PERMISSION_DENIED", t) if t.contains("permitted to create") => {
            cases(vec![as_user(demo::SECOND_STUDENT)])
        }
        ("invitations.accept", "PERMISSION_DENIED", t) if t.contains("permitted to accept") => {
            cases(vec![as_user(OUTSIDER)])
        }
        ("invitations.get" | "invitations.delete", "PERMISSION_DENIED", t)
            if t.contains("permitted to") =>
        {
            cases(vec![as_user(OUTSIDER)])
        }
        // Course work and its submissions.
        (_, _, _) if error == "EmptyAssignees" => cases(vec![body(|b| {
            *b = json!({
                "assigneeMode": "INDIVIDUAL_STUDENTS",
                "modifyIndividualStudentsOptions": {"addStudentIds": []},
            })
        })]),
        (_, _, _) if error == "RubricCriteriaInvalidFormat" => cases(vec![body(|b| {
            b["criteria"] = json!([{"title": "No levels", "levels": []}]);
        })]),
        (_, "FAILED_PRECONDITION", t) if t.contains("has already been deleted") => {
            cases(vec![case(|world, call| {
                let mut delete = world.valid_call(method(&format!(
                    "{}.delete",
                    call.name().rsplit_once('.').map_or("", |(r, _)| r)
                )));
                delete.params = call.params.clone();
                let answer = world.send(&delete);
                assert_eq!(answer.status, 200, "deleting first: {answer:?}");
            })])
        }
        ("courses.courseWork.studentSubmissions.reclaim", "FAILED_PRECONDITION", _) => {
            // The valid call turns the submission in first; a second reclaim finds it
            // reclaimed, not turned in.
            cases(vec![case(|world, call| {
                let answer = world.send(call);
                assert_eq!(answer.status, 200, "reclaiming first: {answer:?}");
            })])
        }
        (
            "courses.courseWork.studentSubmissions.turnIn"
            | "courses.courseWork.studentSubmissions.reclaim"
            | "courses.courseWork.studentSubmissions.modifyAttachments",
            "PERMISSION_DENIED",
            t,
        ) if !t.contains("access the requested") => cases(vec![as_user(demo::SECOND_STUDENT)]),
        (
            "courses.courseWork.studentSubmissions.return"
            | "courses.courseWork.studentSubmissions.patch"
            | "courses.courseWork.patch",
            "PERMISSION_DENIED",
            t,
        ) if !t.contains("access the requested") => cases(vec![as_user(demo::STUDENT)]),
        ("courses.courseWorkMaterials.create", "INVALID_ARGUMENT", t) if t.contains("20") => {
            cases(vec![body(|b| {
                let links: Vec<Value> = (0..21)
                    .map(|i| json!({"link": {"url": format!("https://example.com/{i}")}}))
                    .collect();
                b["materials"] = Value::Array(links);
            })])
        }
        // A student of the course to whom the course work is not assigned.
        (_, "NOT_FOUND", t) if t.contains("have access to the corresponding course work") => {
            cases(vec![case(|world, call| {
                let course = world.id("course");
                let work = call.param("courseWorkId").to_string();
                world.ok(
                    demo::ADMIN,
                    "POST",
                    &format!("/v1/courses/{course}/courseWork/{work}:modifyAssignees"),
                    Some(json!({
                        "assigneeMode": "INDIVIDUAL_STUDENTS",
                        "modifyIndividualStudentsOptions": {"addStudentIds": [world.id("student")]},
                    })),
                );
                call.user = demo::SECOND_STUDENT.to_string();
            })])
        }
        // Topics.
        ("courses.topics.create", "ALREADY_EXISTS", _) => {
            cases(vec![body(|b| b["name"] = json!("Unit 1"))])
        }
        ("courses.topics.patch", "FAILED_PRECONDITION", _) => cases(vec![case(|world, call| {
            let course = world.id("course");
            world.ok(
                demo::ADMIN,
                "POST",
                &format!("/v1/courses/{course}/topics"),
                Some(json!({"name": "Unit 2"})),
            );
            call.body = Some(json!({"name": "Unit 2"}));
        })]),
        // Student groups.
        ("courses.studentGroups.studentGroupMembers.create", "ALREADY_EXISTS", _) => {
            cases(vec![body(|b| b["userId"] = json!(demo::STUDENT))])
        }
        (n, "NOT_FOUND", t)
            if n.starts_with("courses.studentGroups")
                && t.contains("doesn't have access to the course") =>
        {
            cases(vec![as_user(OUTSIDER)])
        }
        (n, "NOT_FOUND", t)
            if n.starts_with("courses.studentGroups")
                && t.contains("does not have access to the student group") =>
        {
            cases(
                missing_params(valid, "student group member")
                    .into_iter()
                    .chain([as_user(OUTSIDER)])
                    .collect(),
            )
        }
        // User profiles, guardians and their invitations.
        ("userProfiles.get", "PERMISSION_DENIED", t) if t.contains("no profile exists") => {
            cases(vec![case(|_, call| call.set_param("userId", MISSING_ID))])
        }
        (n, "PERMISSION_DENIED", t)
            if n.starts_with("userProfiles.guardian")
                && (t.contains("permission to manage guardians")
                    || t.contains("permitted to manage guardians")
                    || t.contains("permitted to view guardian")
                    || t.contains("is visible to the requesting user")) =>
        {
            cases(vec![as_user(OTHER_TEACHER)])
        }
        (n, "PERMISSION_DENIED", t)
            if n.starts_with("userProfiles.guardian") && t.contains("\"-\" is specified") =>
        {
            cases(vec![case(|_, call| {
                call.set_param("studentId", "-");
                call.user = demo::TEACHER.to_string();
            })])
        }
        ("userProfiles.guardians.list", "PERMISSION_DENIED", t)
            if t.contains("invited_email_address filter") =>
        {
            cases(vec![case(|_, call| {
                call.set_query("invitedEmailAddress", Some(demo::GUARDIAN));
                call.user = demo::TEACHER.to_string();
            })])
        }
        (n, "INVALID_ARGUMENT", t)
            if n.starts_with("userProfiles.guardian") && t.contains("cannot be recognized") =>
        {
            cases(vec![case(|_, call| {
                call.set_param("studentId", "not an id")
            })])
        }
        (n, "INVALID_ARGUMENT", t)
            if n.starts_with("userProfiles.guardian") && t.contains("invalid page_token") =>
        {
            let mut list = vec![case(|_, call| call.set_query("pageToken", Some("garbage")))];
            if t.contains("state") {
                list.push(case(|_, call| {
                    call.set_query("states", Some("NO_SUCH_STATE"))
                }));
            }
            cases(list)
        }
        (n, "NOT_FOUND", t)
            if n.starts_with("userProfiles.guardian")
                && (t.contains("no record of that student")
                    || t.contains("any record of the given student")) =>
        {
            let mut list = vec![case(|_, call| call.set_param("studentId", MISSING_USER))];
            if t.contains("invitation_id") {
                list.push(case(|_, call| call.set_param("invitationId", MISSING_ID)));
            }
            cases(list)
        }
        (n, "NOT_FOUND", t)
            if n.starts_with("userProfiles.guardian")
                && (t.contains("guardian_id")
                    || t.contains("does not refer to a guardian invitation")) =>
        {
            cases(vec![case(|_, call| {
                if call.has_param("guardianId") {
                    call.set_param("guardianId", MISSING_ID);
                } else {
                    call.set_param("invitationId", MISSING_ID);
                }
            })])
        }
        ("userProfiles.guardianInvitations.create", "INVALID_ARGUMENT", t) => {
            if t.contains("email address is not valid") {
                cases(vec![
                    body(|b| b["invitedEmailAddress"] = json!("not an email")),
                    body(|b| {
                        b["invitedEmailAddress"] =
                            json!(format!("{}@family.example", "a".repeat(300)))
                    }),
                ])
            } else if t.contains("read-only fields") {
                cases(vec![body(|b| b["invitationId"] = json!("chosen"))])
            } else if t.contains("state field") {
                cases(vec![body(|b| b["state"] = json!("COMPLETE"))])
            } else {
                return None;
            }
        }
        // The school's student has a guardian and a pending invitation: two links.
        ("userProfiles.guardianInvitations.create", "RESOURCE_EXHAUSTED", t)
            if t.contains("guardian link limit") =>
        {
            cases(vec![case(|world, _| {
                world.emulator.update_quotas(|q| q.guardian_link_limit(2));
            })])
        }
        ("userProfiles.guardianInvitations.create", "ALREADY_EXISTS", t) => {
            if t.contains("pending guardian invitation") {
                cases(vec![body(|b| {
                    b["invitedEmailAddress"] = json!(PENDING_GUARDIAN)
                })])
            } else {
                cases(vec![body(|b| {
                    b["invitedEmailAddress"] = json!(demo::GUARDIAN)
                })])
            }
        }
        ("userProfiles.guardianInvitations.patch", "FAILED_PRECONDITION", _) => {
            cases(vec![case(|world, call| {
                let answer = world.send(call);
                assert_eq!(answer.status, 200, "completing first: {answer:?}");
            })])
        }
        ("userProfiles.guardianInvitations.patch", "INVALID_ARGUMENT", t) => {
            if t.contains("state other than complete") {
                cases(vec![body(|b| b["state"] = json!("PENDING"))])
            } else if t.contains("modifies fields other than state") {
                cases(vec![case(|_, call| {
                    call.set_query("updateMask", Some("invitedEmailAddress"));
                    call.body = Some(json!({"invitedEmailAddress": "other@family.example"}));
                })])
            } else {
                return None;
            }
        }
        // Registrations.
        ("registrations.create", "PERMISSION_DENIED", t) if t.contains("receive notifications") => {
            cases(vec![case(|_, call| {
                call.user = demo::TEACHER.to_string();
                call.body_mut()["feed"] = json!({"feedType": "DOMAIN_ROSTER_CHANGES"});
            })])
        }
        ("registrations.create", "INVALID_ARGUMENT", t) if t.contains("cloudpubsubtopic") => {
            cases(vec![
                body(|b| {
                    b.as_object_mut().map(|o| o.remove("cloudPubsubTopic"));
                }),
                body(|b| b["cloudPubsubTopic"] = json!({"topicName": "not a topic"})),
            ])
        }
        ("registrations.create", "INVALID_ARGUMENT", t) if t.contains("feed") => cases(vec![
            body(|b| {
                b.as_object_mut().map(|o| o.remove("feed"));
            }),
            body(|b| b["feed"] = json!({"feedType": "NO_SUCH_FEED"})),
        ]),
        ("registrations.create", "NOT_FOUND", t) if t.contains("feed cannot be located") => {
            cases(vec![body(|b| {
                b["feed"]["courseWorkChangesInfo"]["courseId"] = json!(MISSING_ID)
            })])
        }
        _ => return None,
    };
    Some(plan)
}
