//! Classroom's behaviour: what each method does to the state, and who may do it, one module
//! per resource.
//!
//! [`call`] routes a method to its handler. Most collections (coursework, announcements,
//! topics, materials, rubrics, student groups, add-on attachments, ...) go through one generic
//! create/get/list/patch/delete keyed by the parent path, driven by the discovery document
//! ([`collections`]). What Classroom special-cases is special-cased in its own module: courses
//! and aliases, rosters and invitations, submissions and their state machine, guardians,
//! registrations, user profiles.

mod addons;
mod collections;
mod courses;
mod guardians;
mod profiles;
mod registrations;
mod rosters;
mod submissions;

use std::hash::{DefaultHasher, Hash, Hasher};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::Role;
use crate::errors::{ApiResult, Status};
use crate::spec::{Route, camel, spec};
use crate::store::{State, User};
use classroom_spec::Scope;

pub(crate) use guardians::accept_guardian_invitation;

/// Who is calling, with what.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) user: User,
    pub(crate) scopes: Vec<String>,
    /// The OAuth client the token was issued to: the emulator's model of the Developer
    /// Console project that makes the request (one project per client).
    pub(crate) client_id: String,
}

impl Ctx {
    fn me(&self) -> &str {
        &self.user.id
    }

    /// The caller's user id (for `me`).
    pub(crate) fn me_id(&self) -> &str {
        &self.user.id
    }

    fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    fn has(&self, scope: Scope) -> bool {
        self.scopes.iter().any(|s| s == scope.url())
    }
}

type Params = [(String, String)];
type Query = [(String, String)];

fn param<'a>(params: &'a Params, name: &str) -> &'a str {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

fn q<'a>(query: &'a Query, name: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn q_all<'a>(query: &'a Query, name: &str) -> Vec<&'a str> {
    query
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn text<'a>(value: &'a Value, field: &str) -> Option<&'a str> {
    value.get(field).and_then(Value::as_str)
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// What the caller is in a course.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// A teacher of the course, or an administrator.
    Teach,
    Attend,
    None,
}

fn access(state: &State, ctx: &Ctx, course: &str) -> Access {
    if ctx.is_admin() || state.is_teacher(course, ctx.me()) {
        Access::Teach
    } else if state.is_student(course, ctx.me()) {
        Access::Attend
    } else {
        Access::None
    }
}

/// Classroom refuses changes to a course, and to its contents, while it is archived, declined
/// or suspended: the `CourseState` enum says of each "You cannot modify" it (except, for the
/// first two, to change its state).
fn modifiable(state: &State, course: &str) -> ApiResult<()> {
    match state.course(course).and_then(|c| text(c, "courseState")) {
        Some(s @ ("ARCHIVED" | "DECLINED" | "SUSPENDED")) => Err(not_modifiable(s)),
        _ => Ok(()),
    }
}

/// Resolves a course id or alias the caller may see.
fn course_read(state: &State, ctx: &Ctx, key: &str) -> ApiResult<(String, Access)> {
    let id = state.course_id(key).ok_or_else(Status::entity_not_found)?;
    match access(state, ctx, &id) {
        Access::None => Err(Status::caller_denied()),
        a => Ok((id, a)),
    }
}

/// Resolves a course the caller teaches (or administers).
fn course_teach(state: &State, ctx: &Ctx, key: &str) -> ApiResult<String> {
    match course_read(state, ctx, key)? {
        (id, Access::Teach) => Ok(id),
        _ => Err(Status::caller_denied()),
    }
}

/// The id of the user a `userId` query filter names (an id, an email or `me`), if it is given;
/// a user not in the domain is `NOT_FOUND`, as in Classroom.
fn user_filter(state: &State, ctx: &Ctx, user: Option<&str>) -> ApiResult<Option<String>> {
    user.map(|u| {
        state
            .user(u, ctx.me())
            .map(|u| u.id.clone())
            .ok_or_else(|| Status::not_found(format!("No user {u} in this domain.")))
    })
    .transpose()
}

/// The entry point: one API call against the state.
pub(crate) fn call(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    let name = route.name();
    match name {
        "courses.create" => courses::course_create(state, ctx, body),
        "courses.get" => courses::course_get(state, ctx, params),
        "courses.list" => courses::courses_list(state, ctx, route, query),
        "courses.patch" | "courses.update" => {
            courses::course_patch(state, ctx, route, param(params, "id"), query, body)
        }
        "courses.delete" => courses::course_delete(state, ctx, param(params, "id")),
        "courses.getGradingPeriodSettings" => courses::grading_get(state, ctx, params),
        "courses.updateGradingPeriodSettings" => {
            courses::grading_update(state, ctx, route, param(params, "courseId"), query, body)
        }
        "courses.aliases.create" => {
            courses::alias_create(state, ctx, param(params, "courseId"), body)
        }
        "courses.aliases.list" => courses::aliases_list(state, ctx, route, params, query),
        "courses.aliases.delete" => courses::alias_delete(state, ctx, params),
        n if n.starts_with("courses.studentGroups.") && !group_access(state, ctx, params) => {
            Err(Status::entity_not_found())
        }
        "courses.students.create" => rosters::member_create(state, ctx, true, params, query, body),
        "courses.teachers.create" => rosters::member_create(state, ctx, false, params, query, body),
        "courses.students.get" | "courses.teachers.get" => {
            rosters::member_get(state, ctx, name, params)
        }
        "courses.students.list" | "courses.teachers.list" => {
            rosters::members_list(state, ctx, route, params, query)
        }
        "courses.students.delete" | "courses.teachers.delete" => {
            rosters::member_delete(state, ctx, name, params)
        }
        "courses.courseWork.create" | "courses.courseWork.patch" => {
            collections::course_work_write(state, ctx, route, params, query, body)
        }
        "courses.courseWork.studentSubmissions.list" => {
            submissions::submissions_list(state, ctx, route, params, query)
        }
        "courses.courseWork.studentSubmissions.get" => {
            submissions::submission_get(state, ctx, params)
        }
        "courses.courseWork.studentSubmissions.patch" => {
            submissions::submission_patch(state, ctx, route, params, query, body)
        }
        "courses.courseWork.studentSubmissions.turnIn"
        | "courses.courseWork.studentSubmissions.return"
        | "courses.courseWork.studentSubmissions.reclaim"
        | "courses.courseWork.studentSubmissions.modifyAttachments" => {
            submissions::submission_transition(state, ctx, route.action(), params, body)
        }
        "courses.courseWork.modifyAssignees" | "courses.announcements.modifyAssignees" => {
            submissions::modify_assignees(state, ctx, name, params, body)
        }
        "courses.courseWork.updateRubric" => {
            submissions::update_rubric(state, ctx, route, params, query, body)
        }
        n if n.contains(".addOnAttachments.studentSubmissions.") => {
            addons::attachment_submissions(state, ctx, route, params, query, body)
        }
        n if n.ends_with("getAddOnContext") => {
            collections::add_on_context(state, ctx, params, query)
        }
        "invitations.create" => rosters::invitation_create(state, ctx, body),
        "invitations.get" => rosters::invitation_get(state, ctx, params),
        "invitations.list" => rosters::invitations_list(state, ctx, route, query),
        "invitations.delete" => rosters::invitation_delete(state, ctx, params),
        "invitations.accept" => rosters::invitation_accept(state, ctx, param(params, "id")),
        "registrations.create" => registrations::registration_create(state, ctx, body),
        "registrations.delete" => registrations::registration_delete(state, params),
        "userProfiles.get" => profiles::user_profile_get(state, ctx, params),
        n if n.starts_with("userProfiles.guardians.") => {
            guardians::guardians(state, ctx, route, params, query)
        }
        n if n.starts_with("userProfiles.guardianInvitations.") => {
            guardians::guardian_invitations(state, ctx, route, params, query, body)
        }
        _ => collections::generic(state, ctx, route, params, query, body),
    }
}

// ---------------------------------------------------------------------------------------------
// Paging

/// Items of one page and the reply, with an opaque token bound to the query it came from.
fn list_reply(route: &Route, query: &Query, items: Vec<Value>) -> ApiResult {
    let size = match q(query, "pageSize") {
        None | Some("") => 0,
        Some(s) => s
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Status::invalid("pageSize must be a non-negative integer."))?,
    };
    let size = match size {
        0 => 100,
        n => n.min(1000) as usize,
    };
    let fingerprint = {
        let mut h = DefaultHasher::new();
        route.info.id.hash(&mut h);
        for (k, v) in query {
            if !matches!(
                k.as_str(),
                "pageToken"
                    | "pageSize"
                    | "prettyPrint"
                    | "alt"
                    | "fields"
                    | "access_token"
                    | "$.xgafv"
                    | "quotaUser"
                    | "key"
            ) {
                (k, v).hash(&mut h);
            }
        }
        h.finish()
    };
    let start = match q(query, "pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => URL_SAFE_NO_PAD
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                let (offset, print) = s.strip_prefix("p1:")?.split_once(':')?;
                (print == fingerprint.to_string()).then(|| offset.parse::<usize>().ok())?
            })
            .ok_or_else(|| {
                Status::invalid(
                    "The page token is invalid, or was issued for a request with other parameters.",
                )
            })?,
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    let mut reply = Map::new();
    let field = route
        .response
        .as_deref()
        .and_then(|r| spec().list_field(r))
        .unwrap_or("items");
    let end = start + page.len();
    if !page.is_empty() {
        reply.insert(field.to_string(), Value::Array(page));
    }
    if end < total {
        let token = URL_SAFE_NO_PAD.encode(format!("p1:{end}:{fingerprint}"));
        reply.insert("nextPageToken".into(), json!(token));
    }
    Ok(Value::Object(reply))
}

fn update_mask(route: &Route, query: &Query) -> ApiResult<Vec<String>> {
    let mask = q(query, "updateMask").unwrap_or("");
    let fields: Vec<String> = mask
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(camel)
        .collect();
    if fields.is_empty() {
        return Err(Status::invalid("updateMask: Update mask is required."));
    }
    let bad: Vec<&String> = fields
        .iter()
        .filter(|f| !route.patchable.contains(f))
        .collect();
    if !bad.is_empty() {
        let names: Vec<&str> = bad.iter().map(|s| s.as_str()).collect();
        return Err(Status::invalid(format!(
            "Non-supported update mask fields specified: {}. Supported fields: {}.",
            names.join(", "),
            route.patchable.join(", ")
        )));
    }
    Ok(fields)
}

/// Copies the masked fields from `patch` into `target`; a masked field absent from the patch
/// is cleared.
fn apply_mask(target: &mut Value, patch: &Value, fields: &[String]) {
    for field in fields {
        match patch.get(field) {
            Some(v) if !v.is_null() => target[field.as_str()] = v.clone(),
            _ => {
                if let Some(map) = target.as_object_mut() {
                    map.remove(field);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Course states and owners

/// `@CourseNotModifiable`, for a course in `course_state`.
fn not_modifiable(course_state: &str) -> Status {
    let why = match course_state {
        "ARCHIVED" => {
            "archived; its contents cannot change. Make it ACTIVE first (courses.patch, \
                       in the same request as other changes if you like)"
        }
        "DECLINED" => "declined; it cannot change except to become PROVISIONED again",
        _ => "suspended; it cannot change",
    };
    Status::precondition(format!("@CourseNotModifiable The course is {why}."))
}

/// Classroom refuses changes to a course whose owner's account is disabled.
fn owner_active(state: &State, course: &str) -> ApiResult<()> {
    let owner = state
        .course(course)
        .and_then(|c| text(c, "ownerId"))
        .and_then(|o| state.user_by_id(o));
    match owner {
        Some(owner) if owner.disabled => Err(Status::precondition(
            "@InactiveCourseOwner The course owner's account is disabled; transfer the course \
             to an active owner first.",
        )),
        _ => Ok(()),
    }
}

/// Whether the caller may see a course's student groups: Classroom answers `NOT_FOUND` (not
/// `PERMISSION_DENIED`) "if the requesting user doesn't have access to the course". An unknown
/// course is the handler's to answer.
fn group_access(state: &State, ctx: &Ctx, params: &Params) -> bool {
    state
        .course_id(param(params, "courseId"))
        .is_none_or(|course| access(state, ctx, &course) != Access::None)
}
