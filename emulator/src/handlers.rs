//! Classroom's behaviour: what each method does to the state, and who may do it.
//!
//! Most collections (coursework, announcements, topics, materials, rubrics, student groups,
//! add-on attachments, ...) go through one generic create/get/list/patch/delete keyed by the
//! parent path, driven by the discovery document. What Classroom special-cases is special-cased
//! here: courses and aliases, rosters, submissions and their state machine, invitations,
//! guardians, registrations, user profiles.

use std::hash::{DefaultHasher, Hash, Hasher};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::Role;
use crate::errors::{ApiResult, Status};
use crate::spec::{Route, camel, spec};
use crate::store::{State, User, now};
use classroom::Scope;

/// Who is calling, with what.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) user: User,
    pub(crate) scopes: Vec<String>,
}

impl Ctx {
    fn me(&self) -> &str {
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

/// Classroom refuses changes to the contents of an archived course.
fn modifiable(state: &State, course: &str) -> ApiResult<()> {
    match state.course(course).and_then(|c| text(c, "courseState")) {
        Some("ARCHIVED") => Err(Status::precondition(
            "@CourseNotModifiable The course is archived; its contents cannot change.",
        )),
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

/// A user's profile as the caller's scopes allow: email and photo only with the additional
/// `classroom.profile.*` scopes.
pub(crate) fn profile(user: &User, ctx: &Ctx) -> Value {
    let mut p = json!({
        "id": user.id,
        "name": {
            "givenName": user.given,
            "familyName": user.family,
            "fullName": user.full_name(),
        },
    });
    if ctx.has(Scope::ProfileEmails) {
        p["emailAddress"] = json!(user.email);
    }
    if ctx.has(Scope::ProfilePhotos) {
        p["photoUrl"] = json!("//lh3.googleusercontent.com/a/default-user");
    }
    if matches!(user.role, Role::Admin | Role::Teacher) {
        p["permissions"] = json!([{"permission": "CREATE_COURSE"}]);
        p["verifiedTeacher"] = json!(user.role == Role::Teacher);
    }
    p
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
        "courses.create" => course_create(state, ctx, body),
        "courses.get" => {
            let (id, _) = course_read(state, ctx, param(params, "id"))?;
            Ok(state.course(&id).cloned().unwrap_or_default())
        }
        "courses.list" => courses_list(state, ctx, route, query),
        "courses.patch" | "courses.update" => {
            course_patch(state, ctx, route, param(params, "id"), query, body)
        }
        "courses.delete" => course_delete(state, ctx, param(params, "id")),
        "courses.getGradingPeriodSettings" => {
            let (id, _) = course_read(state, ctx, param(params, "courseId"))?;
            Ok(state.grading.get(&id).cloned().unwrap_or_else(|| json!({})))
        }
        "courses.updateGradingPeriodSettings" => {
            grading_update(state, ctx, route, param(params, "courseId"), query, body)
        }
        "courses.aliases.create" => alias_create(state, ctx, param(params, "courseId"), body),
        "courses.aliases.list" => {
            let (id, _) = course_read(state, ctx, param(params, "courseId"))?;
            let items = state
                .aliases
                .iter()
                .filter(|(_, c)| **c == id)
                .map(|(a, _)| json!({"alias": a}))
                .collect();
            list_reply(route, query, items)
        }
        "courses.aliases.delete" => {
            let id = course_teach(state, ctx, param(params, "courseId"))?;
            let alias = param(params, "alias");
            if state.aliases.get(alias) != Some(&id) {
                return Err(Status::entity_not_found());
            }
            if alias.starts_with("d:") && !ctx.is_admin() {
                return Err(Status::caller_denied());
            }
            state.aliases.remove(alias);
            Ok(json!({}))
        }
        "courses.students.create" => member_create(state, ctx, true, params, query, body),
        "courses.teachers.create" => member_create(state, ctx, false, params, query, body),
        "courses.students.get" | "courses.teachers.get" => {
            let (course, _) = course_read(state, ctx, param(params, "courseId"))?;
            let kind = members_kind(name);
            let user = state
                .user(param(params, "userId"), ctx.me())
                .ok_or_else(Status::entity_not_found)?
                .id
                .clone();
            let member = state
                .find(&format!("courses/{course}/{kind}"), "userId", &user)
                .cloned()
                .ok_or_else(Status::entity_not_found)?;
            Ok(render_member(state, ctx, member))
        }
        "courses.students.list" | "courses.teachers.list" => {
            let (course, _) = course_read(state, ctx, param(params, "courseId"))?;
            let kind = members_kind(name);
            let items = state
                .items(&format!("courses/{course}/{kind}"))
                .to_vec()
                .into_iter()
                .map(|m| render_member(state, ctx, m))
                .collect();
            list_reply(route, query, items)
        }
        "courses.students.delete" | "courses.teachers.delete" => {
            let course = course_teach(state, ctx, param(params, "courseId"))?;
            let kind = members_kind(name);
            let user = state
                .user(param(params, "userId"), ctx.me())
                .ok_or_else(Status::entity_not_found)?
                .id
                .clone();
            if kind == "teachers"
                && state.course(&course).and_then(|c| text(c, "ownerId")) == Some(user.as_str())
            {
                return Err(Status::precondition(
                    "The course owner cannot be removed from the course's teachers. \
                     Transfer ownership first.",
                ));
            }
            state
                .remove(&format!("courses/{course}/{kind}"), "userId", &user)
                .ok_or_else(Status::entity_not_found)?;
            Ok(json!({}))
        }
        "courses.courseWork.create" | "courses.courseWork.patch" => {
            // Submissions exist once the work is published, as in Classroom.
            let value = generic(state, ctx, route, params, query, body)?;
            let course = text(&value, "courseId").unwrap_or_default().to_string();
            create_submissions(state, &course, &value, None);
            Ok(value)
        }
        "courses.courseWork.studentSubmissions.list" => {
            submissions_list(state, ctx, route, params, query)
        }
        "courses.courseWork.studentSubmissions.get" => {
            let (_, sub) = submission(state, ctx, params)?;
            Ok(render_submission(state, sub))
        }
        "courses.courseWork.studentSubmissions.patch" => {
            submission_patch(state, ctx, route, params, query, body)
        }
        "courses.courseWork.studentSubmissions.turnIn"
        | "courses.courseWork.studentSubmissions.return"
        | "courses.courseWork.studentSubmissions.reclaim"
        | "courses.courseWork.studentSubmissions.modifyAttachments" => {
            submission_transition(state, ctx, route.action(), params, body)
        }
        "courses.courseWork.modifyAssignees" | "courses.announcements.modifyAssignees" => {
            modify_assignees(state, ctx, name, params, body)
        }
        "courses.courseWork.updateRubric" => update_rubric(state, ctx, route, params, query, body),
        n if n.ends_with("getAddOnContext") => {
            let (course, access) = course_read(state, ctx, param(params, "courseId"))?;
            let item = [param(params, "itemId"), q(query, "itemId").unwrap_or("")]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or(param(params, "postId"));
            let mut context = json!({
                "courseId": course,
                "itemId": item,
                "postId": item,
                "supportsStudentWork": false,
            });
            if access == Access::Teach {
                context["teacherContext"] = json!({});
            } else {
                context["studentContext"] = json!({});
            }
            Ok(context)
        }
        "invitations.create" => invitation_create(state, ctx, body),
        "invitations.get" => {
            let inv = state
                .find("invitations", "id", param(params, "id"))
                .cloned()
                .ok_or_else(Status::entity_not_found)?;
            if !may_see_invitation(state, ctx, &inv) {
                return Err(Status::caller_denied());
            }
            Ok(inv)
        }
        "invitations.list" => invitations_list(state, ctx, route, query),
        "invitations.delete" => {
            let inv = state
                .find("invitations", "id", param(params, "id"))
                .cloned()
                .ok_or_else(Status::entity_not_found)?;
            let course = text(&inv, "courseId").unwrap_or_default();
            if access(state, ctx, course) != Access::Teach {
                return Err(Status::caller_denied());
            }
            state.remove("invitations", "id", param(params, "id"));
            Ok(json!({}))
        }
        "invitations.accept" => invitation_accept(state, ctx, param(params, "id")),
        "registrations.create" => registration_create(state, ctx, body),
        "registrations.delete" => {
            state
                .remove(
                    "registrations",
                    "registrationId",
                    param(params, "registrationId"),
                )
                .ok_or_else(Status::entity_not_found)?;
            Ok(json!({}))
        }
        "userProfiles.get" => {
            let user = state
                .user(param(params, "userId"), ctx.me())
                .ok_or_else(Status::entity_not_found)?;
            Ok(profile(user, ctx))
        }
        n if n.starts_with("userProfiles.guardians.") => {
            guardians(state, ctx, route, params, query)
        }
        n if n.starts_with("userProfiles.guardianInvitations.") => {
            guardian_invitations(state, ctx, route, params, query, body)
        }
        _ => generic(state, ctx, route, params, query, body),
    }
}

fn members_kind(name: &str) -> &'static str {
    if name.starts_with("courses.students") {
        "students"
    } else {
        "teachers"
    }
}

fn render_member(state: &State, ctx: &Ctx, mut member: Value) -> Value {
    if let Some(user) = text(&member, "userId").and_then(|id| state.user_by_id(id)) {
        member["profile"] = profile(user, ctx);
    }
    member
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

// ---------------------------------------------------------------------------------------------
// Courses

fn course_create(state: &mut State, ctx: &Ctx, body: Value) -> ApiResult {
    let mut course = obj(body);
    if !matches!(ctx.user.role, Role::Admin | Role::Teacher) {
        return Err(Status::denied(
            "The caller does not have permission to create courses.",
        ));
    }
    let name = course
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if name.trim().is_empty() {
        return Err(Status::invalid("name: The course name is required."));
    }
    let owner_key = course
        .get("ownerId")
        .and_then(Value::as_str)
        .ok_or_else(|| Status::invalid("ownerId: The course owner is required."))?;
    let owner = state
        .user(owner_key, ctx.me())
        .cloned()
        .ok_or_else(|| Status::not_found("The owner is not a user of this domain."))?;
    if !matches!(owner.role, Role::Admin | Role::Teacher) {
        return Err(Status::precondition(
            "@UserCannotOwnCourse The user cannot own courses.",
        ));
    }
    if owner.id != ctx.me() && !ctx.is_admin() {
        return Err(Status::denied(
            "Only a domain administrator may create a course for another owner.",
        ));
    }
    let alias = match course.get("id").and_then(Value::as_str) {
        None | Some("") => None,
        Some(a) if a.starts_with("d:") || a.starts_with("p:") => {
            if state.aliases.contains_key(a) {
                return Err(Status::exists("Requested entity already exists"));
            }
            Some(a.to_string())
        }
        Some(_) => {
            return Err(Status::invalid(
                "id: A course id given on create must be an alias (d:... or p:...).",
            ));
        }
    };
    let id = state.new_id();
    let t = now();
    course.insert("id".into(), json!(id));
    course.insert("ownerId".into(), json!(owner.id));
    course
        .entry("courseState")
        .or_insert_with(|| json!("PROVISIONED"));
    course.insert("creationTime".into(), json!(t));
    course.insert("updateTime".into(), json!(t));
    course.insert("enrollmentCode".into(), json!(enrollment_code(&id)));
    course.insert(
        "alternateLink".into(),
        json!(format!("https://classroom.google.com/c/{}", link_id(&id))),
    );
    course.insert(
        "teacherGroupEmail".into(),
        json!(format!("course_teachers_{id}@school.example")),
    );
    course.insert(
        "courseGroupEmail".into(),
        json!(format!("course_{id}@school.example")),
    );
    course.insert(
        "calendarId".into(),
        json!(format!("classroom{id}@group.calendar.google.com")),
    );
    course.insert("guardiansEnabled".into(), json!(false));
    course.insert(
        "teacherFolder".into(),
        json!({"id": format!("folder-{id}"), "title": format!("{name} teachers")}),
    );
    let course = Value::Object(course);
    state.items_mut("courses").push(course.clone());
    if let Some(alias) = alias {
        state.aliases.insert(alias, id.clone());
    }
    state
        .items_mut(&format!("courses/{id}/teachers"))
        .push(json!({"courseId": id, "userId": owner.id}));
    Ok(course)
}

fn enrollment_code(id: &str) -> String {
    let mut h = DefaultHasher::new();
    id.hash(&mut h);
    let n = h.finish();
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..7)
        .map(|i| ALPHABET[((n >> (i * 5)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

fn link_id(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

fn courses_list(state: &State, ctx: &Ctx, route: &Route, query: &Query) -> ApiResult {
    let resolve = |key: &str| -> ApiResult<String> {
        state
            .user(key, ctx.me())
            .map(|u| u.id.clone())
            .ok_or_else(|| Status::not_found(format!("No user {key} in this domain.")))
    };
    let student = q(query, "studentId").map(resolve).transpose()?;
    let teacher = q(query, "teacherId").map(resolve).transpose()?;
    let states = q_all(query, "courseStates");
    let items = state
        .items("courses")
        .iter()
        .filter(|c| {
            let id = text(c, "id").unwrap_or_default();
            (ctx.is_admin() || state.is_member(id, ctx.me()))
                && student.as_ref().is_none_or(|s| state.is_student(id, s))
                && teacher.as_ref().is_none_or(|t| state.is_teacher(id, t))
                && (states.is_empty()
                    || states.contains(&text(c, "courseState").unwrap_or_default()))
        })
        .cloned()
        .collect();
    list_reply(route, query, items)
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

fn course_patch(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    key: &str,
    query: &Query,
    body: Value,
) -> ApiResult {
    let id = course_teach(state, ctx, key)?;
    let fields = if route.action() == "update" {
        let patch_route = spec()
            .by_id("classroom.courses.patch")
            .map(|r| r.patchable.clone())
            .unwrap_or_default();
        if text(&body, "name").is_none_or(|n| n.trim().is_empty()) {
            return Err(Status::invalid("name: The course name is required."));
        }
        patch_route
            .into_iter()
            .filter(|f| f != "ownerId" || body.get("ownerId").is_some())
            .collect()
    } else {
        update_mask(route, query)?
    };
    if fields.iter().any(|f| f == "name") && text(&body, "name").is_none_or(|n| n.trim().is_empty())
    {
        return Err(Status::invalid("name: The course name cannot be empty."));
    }
    let mut body = body;
    if fields.iter().any(|f| f == "ownerId") {
        let owner = text(&body, "ownerId")
            .and_then(|o| state.user(o, ctx.me()))
            .map(|u| u.id.clone())
            .ok_or_else(|| {
                Status::invalid("ownerId: The new owner is not a user of this domain.")
            })?;
        if !state.is_teacher(&id, &owner) {
            return Err(Status::precondition(
                "@UserNotTeacher The new owner must be a teacher of the course.",
            ));
        }
        body["ownerId"] = json!(owner);
    }
    let course = state
        .find_mut("courses", "id", &id)
        .ok_or_else(Status::entity_not_found)?;
    apply_mask(course, &body, &fields);
    course["updateTime"] = json!(now());
    Ok(course.clone())
}

fn course_delete(state: &mut State, ctx: &Ctx, key: &str) -> ApiResult {
    let id = course_teach(state, ctx, key)?;
    let owner = state
        .course(&id)
        .and_then(|c| text(c, "ownerId"))
        .unwrap_or_default();
    if !ctx.is_admin() && owner != ctx.me() {
        return Err(Status::denied(
            "Only the course owner or an administrator may delete it.",
        ));
    }
    state.remove("courses", "id", &id);
    state.aliases.retain(|_, c| *c != id);
    state.grading.remove(&id);
    state
        .items_mut("invitations")
        .retain(|i| text(i, "courseId") != Some(id.as_str()));
    Ok(json!({}))
}

fn alias_create(state: &mut State, ctx: &Ctx, key: &str, body: Value) -> ApiResult {
    let id = course_teach(state, ctx, key)?;
    let alias = text(&body, "alias").unwrap_or_default().to_string();
    let valid = |a: &str| {
        a.len() > 2
            && (a.starts_with("d:") || a.starts_with("p:"))
            && a[2..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if !valid(&alias) {
        return Err(Status::invalid(
            "alias: An alias must be d:NAME or p:NAME, with letters, digits, '-', '_' or '.'.",
        ));
    }
    if alias.starts_with("d:") && !ctx.is_admin() {
        return Err(Status::denied(
            "Only a domain administrator may create a domain-scoped alias.",
        ));
    }
    if state.aliases.contains_key(&alias) {
        return Err(Status::exists("Requested entity already exists"));
    }
    state.aliases.insert(alias.clone(), id);
    Ok(json!({"alias": alias}))
}

fn grading_update(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    key: &str,
    query: &Query,
    body: Value,
) -> ApiResult {
    let id = course_teach(state, ctx, key)?;
    let fields = update_mask(route, query)?;
    let mut settings = state.grading.get(&id).cloned().unwrap_or_else(|| json!({}));
    apply_mask(&mut settings, &body, &fields);
    if let Some(periods) = settings
        .get_mut("gradingPeriods")
        .and_then(Value::as_array_mut)
    {
        for period in periods.iter_mut() {
            if text(period, "id").is_none() {
                state.next_id += 1;
                period["id"] = json!(format!("gp{}", state.next_id));
            }
        }
    }
    state.grading.insert(id, settings.clone());
    Ok(settings)
}

// ---------------------------------------------------------------------------------------------
// Rosters

fn member_create(
    state: &mut State,
    ctx: &Ctx,
    student: bool,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    let key = param(params, "courseId");
    let course = state.course_id(key).ok_or_else(Status::entity_not_found)?;
    let user_key = text(&body, "userId")
        .ok_or_else(|| Status::invalid("userId: The user to add is required."))?;
    let user = state
        .user(user_key, ctx.me())
        .cloned()
        .ok_or_else(|| Status::not_found("The user does not exist in this domain."))?;
    match (student, q(query, "enrollmentCode")) {
        (true, Some(code)) => {
            if user.id != ctx.me() {
                return Err(Status::denied(
                    "An enrollment code only enrolls the requesting user.",
                ));
            }
            let expected = state
                .course(&course)
                .and_then(|c| text(c, "enrollmentCode"));
            if expected != Some(code) {
                return Err(Status::denied(
                    "The enrollment code is not valid for this course.",
                ));
            }
        }
        _ => {
            if access(state, ctx, &course) != Access::Teach {
                return Err(Status::caller_denied());
            }
        }
    }
    add_member(state, &course, &user, student)?;
    let kind = if student { "students" } else { "teachers" };
    let member = state
        .find(&format!("courses/{course}/{kind}"), "userId", &user.id)
        .cloned()
        .unwrap_or_default();
    Ok(render_member(state, ctx, member))
}

fn add_member(state: &mut State, course: &str, user: &User, student: bool) -> ApiResult<()> {
    if state.is_member(course, &user.id) {
        return Err(Status::exists(
            "Requested entity already exists: the user is already a member of the course.",
        ));
    }
    if student {
        if user.role != Role::Student {
            return Err(Status::precondition(
                "@UserInIllegalDomain Only students can be added to a course as students.",
            ));
        }
        state
            .items_mut(&format!("courses/{course}/students"))
            .push(json!({"courseId": course, "userId": user.id}));
        // A student who joins gets a submission for every work assigned to all students.
        let works: Vec<Value> = state
            .items(&format!("courses/{course}/courseWork"))
            .iter()
            .filter(|w| text(w, "assigneeMode") != Some("INDIVIDUAL_STUDENTS"))
            .cloned()
            .collect();
        for work in works {
            create_submissions(state, course, &work, Some(vec![user.id.clone()]));
        }
    } else {
        if !matches!(user.role, Role::Teacher | Role::Admin) {
            return Err(Status::precondition(
                "@UserCannotTeach Only teachers can be added to a course as teachers.",
            ));
        }
        state
            .items_mut(&format!("courses/{course}/teachers"))
            .push(json!({"courseId": course, "userId": user.id}));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Generic collections under a course

/// The resource a method works on: `courses.courseWork` for `courses.courseWork.patch`.
fn resource(route: &Route) -> &'static str {
    let name = route.name();
    name.rsplit_once('.').map_or(name, |(r, _)| r)
}

/// The schema of a resource's items.
fn item_schema(route: &Route) -> Option<String> {
    let spec = spec();
    let prefix = format!("classroom.{}", resource(route));
    if let Some(get) = spec.by_id(&format!("{prefix}.get")) {
        return get.response.clone();
    }
    if let Some(create) = spec.by_id(&format!("{prefix}.create")) {
        return create.request.clone();
    }
    let list = spec.by_id(&format!("{prefix}.list"))?;
    let response = list.response.as_deref()?;
    let field = spec.list_field(response)?;
    spec.properties(response)?[field]["items"]["$ref"]
        .as_str()
        .map(str::to_string)
}

/// The path parameter naming one item of the resource (`id`, `userId`, `attachmentId`, ...).
fn item_param(route: &Route) -> Option<String> {
    let prefix = format!("classroom.{}.", resource(route));
    spec()
        .routes
        .iter()
        .filter(|r| r.info.id.starts_with(&prefix) && !r.info.id[prefix.len()..].contains('.'))
        .filter(|r| matches!(r.action(), "get" | "delete" | "patch"))
        .find_map(|r| {
            r.template()
                .last()
                .filter(|(p, _)| *p)
                .map(|(_, n)| n.to_string())
        })
}

/// The field of an item holding its id.
fn id_field(schema: &str, item_param: &str, parents: &[&str]) -> String {
    let spec = spec();
    if spec.has(schema, item_param) {
        return item_param.to_string();
    }
    if spec.has(schema, "id") {
        return "id".to_string();
    }
    spec.properties(schema)
        .and_then(|p| {
            p.keys()
                .find(|k| k.ends_with("Id") && !parents.contains(&k.as_str()))
                .cloned()
        })
        .unwrap_or_else(|| "id".to_string())
}

/// The collection path of a call (`courses/1/courseWork/2/rubrics`), its item id if the call
/// names one, and parent items to check, as (collection, id).
fn collection(
    route: &Route,
    params: &Params,
    course: &str,
) -> (String, Option<String>, Vec<(String, String)>) {
    let template: Vec<(bool, &str)> = route.template().skip(1).collect();
    let has_item = matches!(route.action(), "get" | "patch" | "delete")
        && template.last().is_some_and(|(p, _)| *p);
    let upto = if has_item {
        template.len() - 1
    } else {
        template.len()
    };
    let mut parts: Vec<String> = Vec::new();
    let mut parents = Vec::new();
    for (i, (is_param, name)) in template[..upto].iter().enumerate() {
        if *is_param {
            let value = if *name == "courseId" {
                course.to_string()
            } else {
                param(params, name).to_string()
            };
            if i > 1 {
                parents.push((parts.join("/"), value.clone()));
            }
            parts.push(value);
        } else {
            parts.push(name.to_string());
        }
    }
    // Add-on attachments hang off a post, whatever the path calls it.
    if parts.len() >= 5 && parts[4] == "addOnAttachments" {
        parts[2] = "items".into();
        for (key, _) in &mut parents {
            let mut segments: Vec<&str> = key.split('/').collect();
            if segments.len() >= 3 {
                segments[2] = "items";
            }
            *key = segments.join("/");
        }
    }
    let item = has_item.then(|| param(params, template[template.len() - 1].1).to_string());
    (parts.join("/"), item, parents)
}

/// Fields Classroom requires on create, by schema.
const REQUIRED: &[(&str, &[&str])] = &[
    ("CourseWork", &["title", "workType"]),
    ("Announcement", &["text"]),
    ("Topic", &["name"]),
    ("CourseWorkMaterial", &["title"]),
    ("StudentGroup", &["title"]),
    (
        "AddOnAttachment",
        &["title", "teacherViewUri", "studentViewUri"],
    ),
    ("StudentGroupMember", &["userId"]),
];

fn is_student_visible(item: &Value, me: &str) -> bool {
    let published = text(item, "state").is_none_or(|s| s == "PUBLISHED");
    let assigned = text(item, "assigneeMode") != Some("INDIVIDUAL_STUDENTS")
        || item["individualStudentsOptions"]["studentIds"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(me)));
    published && assigned
}

fn generic(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    if !route.info.path.starts_with("v1/courses/{courseId}/") {
        return Err(Status::unimplemented(route.info.id));
    }
    let (course, access) = course_read(state, ctx, param(params, "courseId"))?;
    let (key, item_id, parents) = collection(route, params, &course);
    let schema = item_schema(route).unwrap_or_default();
    let item_param = item_param(route).unwrap_or_else(|| "id".into());
    let parent_names: Vec<&str> = route.param_names().collect();
    let field = id_field(&schema, &item_param, &parent_names);
    for (collection, id) in &parents {
        let parent_field = "id";
        let found = if collection.ends_with("/items") {
            ["announcements", "courseWork", "courseWorkMaterials"]
                .iter()
                .any(|k| {
                    state
                        .find(&format!("courses/{course}/{k}"), parent_field, id)
                        .is_some()
                })
        } else {
            state.find(collection, parent_field, id).is_some()
        };
        if !found {
            return Err(Status::entity_not_found());
        }
    }
    let teaching = access == Access::Teach;
    if matches!(route.action(), "create" | "patch" | "delete") {
        modifiable(state, &course)?;
    }
    let student_filtered = matches!(
        resource(route),
        "courses.courseWork" | "courses.announcements" | "courses.courseWorkMaterials"
    );
    match route.action() {
        "create" => {
            if !teaching {
                return Err(Status::caller_denied());
            }
            let mut item = obj(body);
            for (s, fields) in REQUIRED {
                if *s == schema {
                    for f in *fields {
                        if item.get(*f).is_none_or(|v| v.is_null() || v == "") {
                            return Err(Status::invalid(format!(
                                "{}: This field is required.",
                                crate::spec::snake(f)
                            )));
                        }
                    }
                }
            }
            if item
                .get("maxPoints")
                .and_then(Value::as_f64)
                .is_some_and(|p| p < 0.0)
            {
                return Err(Status::invalid("max_points: Must not be negative."));
            }
            let id = if matches!(field.as_str(), "userId") {
                let user = item
                    .get(&field)
                    .and_then(Value::as_str)
                    .and_then(|u| state.user(u, ctx.me()))
                    .map(|u| u.id.clone())
                    .ok_or_else(|| Status::not_found("The user does not exist."))?;
                if state.find(&key, &field, &user).is_some() {
                    return Err(Status::exists("Requested entity already exists"));
                }
                user
            } else {
                state.new_id()
            };
            item.insert(field.clone(), json!(id));
            let spec = spec();
            for (name, value) in params {
                let value = if name == "courseId" {
                    course.clone()
                } else {
                    value.clone()
                };
                if spec.has(&schema, name) {
                    item.insert(name.clone(), json!(value));
                }
            }
            for name in ["itemId", "postId"] {
                if spec.has(&schema, name) && !item.contains_key(name) {
                    let v = [param(params, "itemId"), param(params, "postId")]
                        .into_iter()
                        .chain(q(query, "itemId"))
                        .chain(q(query, "postId"))
                        .find(|s| !s.is_empty())
                        .unwrap_or_default();
                    item.insert(name.into(), json!(v));
                }
            }
            let t = now();
            for f in ["creationTime", "updateTime"] {
                if spec.has(&schema, f) {
                    item.insert(f.into(), json!(t));
                }
            }
            if spec.has(&schema, "creatorUserId") {
                item.insert("creatorUserId".into(), json!(ctx.me()));
            }
            if spec.has(&schema, "associatedWithDeveloper") {
                item.insert("associatedWithDeveloper".into(), json!(true));
            }
            if spec.has(&schema, "alternateLink") {
                item.insert(
                    "alternateLink".into(),
                    json!(format!(
                        "https://classroom.google.com/c/{}/a/{}/details",
                        link_id(&course),
                        link_id(&id)
                    )),
                );
            }
            if spec.has(&schema, "state") && !item.contains_key("state") {
                item.insert("state".into(), json!("DRAFT"));
            }
            if spec.has(&schema, "assigneeMode") && !item.contains_key("assigneeMode") {
                item.insert("assigneeMode".into(), json!("ALL_STUDENTS"));
            }
            if schema == "Rubric" {
                if state.items(&key).iter().next().is_some() {
                    return Err(Status::exists("The course work already has a rubric."));
                }
                assign_rubric_ids(state, &mut item);
            }
            let item = Value::Object(item);
            state.items_mut(&key).push(item.clone());
            Ok(item)
        }
        "get" => {
            let id = item_id.unwrap_or_default();
            let item = state
                .find(&key, &field, &id)
                .cloned()
                .ok_or_else(Status::entity_not_found)?;
            if student_filtered && !teaching && !is_student_visible(&item, ctx.me()) {
                return Err(Status::entity_not_found());
            }
            Ok(item)
        }
        "list" => {
            let mut items: Vec<Value> = state.items(&key).to_vec();
            if student_filtered && !teaching {
                items.retain(|i| is_student_visible(i, ctx.me()));
            }
            for name in [
                "courseWorkStates",
                "announcementStates",
                "courseWorkMaterialStates",
            ] {
                let states = q_all(query, name);
                if !states.is_empty() {
                    items.retain(|i| states.contains(&text(i, "state").unwrap_or_default()));
                }
            }
            if let Some(link) = q(query, "materialLink") {
                items.retain(|i| i["materials"].to_string().contains(link));
            }
            if let Some(drive) = q(query, "materialDriveId") {
                items.retain(|i| i["materials"].to_string().contains(drive));
            }
            if route.query.contains_key("orderBy") {
                order_by(&mut items, q(query, "orderBy").unwrap_or("updateTime desc"))?;
            }
            list_reply(route, query, items)
        }
        "patch" => {
            if !teaching {
                return Err(Status::caller_denied());
            }
            let fields = update_mask(route, query)?;
            let id = item_id.unwrap_or_default();
            let mut state_ids = None;
            if schema == "Rubric" {
                let mut b = obj(body.clone());
                assign_rubric_ids(state, &mut b);
                state_ids = Some(Value::Object(b));
            }
            let body = state_ids.unwrap_or(body);
            let item = state
                .find_mut(&key, &field, &id)
                .ok_or_else(Status::entity_not_found)?;
            if item.get("state").and_then(Value::as_str) == Some("PUBLISHED")
                && body.get("state").and_then(Value::as_str) == Some("DRAFT")
                && fields.iter().any(|f| f == "state")
            {
                return Err(Status::precondition(
                    "Published work cannot be returned to the draft state.",
                ));
            }
            apply_mask(item, &body, &fields);
            if item.get("updateTime").is_some() {
                item["updateTime"] = json!(now());
            }
            Ok(item.clone())
        }
        "delete" => {
            if !teaching {
                return Err(Status::caller_denied());
            }
            let id = item_id.unwrap_or_default();
            state
                .remove(&key, &field, &id)
                .ok_or_else(Status::entity_not_found)?;
            Ok(json!({}))
        }
        _ => Err(Status::unimplemented(route.info.id)),
    }
}

fn assign_rubric_ids(state: &mut State, rubric: &mut Map<String, Value>) {
    if let Some(criteria) = rubric.get_mut("criteria").and_then(Value::as_array_mut) {
        for criterion in criteria {
            if text(criterion, "id").is_none() {
                state.next_id += 1;
                criterion["id"] = json!(format!("c{}", state.next_id));
            }
            if let Some(levels) = criterion.get_mut("levels").and_then(Value::as_array_mut) {
                for level in levels {
                    if text(level, "id").is_none() {
                        state.next_id += 1;
                        level["id"] = json!(format!("l{}", state.next_id));
                    }
                }
            }
        }
    }
}

/// Sorts by Classroom's `orderBy`: `updateTime` or `dueDate`, `asc` or `desc`, comma-separated.
fn order_by(items: &mut [Value], order: &str) -> ApiResult<()> {
    let mut keys = Vec::new();
    for part in order.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or_default();
        let desc = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(Status::invalid(format!(
                    "orderBy: unknown direction {other:?}; use asc or desc."
                )));
            }
        };
        if !matches!(field, "updateTime" | "dueDate") {
            return Err(Status::invalid(format!(
                "orderBy: {field:?} is not supported; use updateTime or dueDate."
            )));
        }
        keys.push((field.to_string(), desc));
    }
    let sort_key = |item: &Value, field: &str| -> String {
        if field == "dueDate" {
            let d = &item["dueDate"];
            match (d["year"].as_i64(), d["month"].as_i64(), d["day"].as_i64()) {
                (Some(y), Some(m), Some(day)) => format!("{y:04}-{m:02}-{day:02}"),
                _ => "~".to_string(),
            }
        } else {
            text(item, field).unwrap_or_default().to_string()
        }
    };
    items.sort_by(|a, b| {
        for (field, desc) in &keys {
            let ord = sort_key(a, field).cmp(&sort_key(b, field));
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Submissions

fn create_submissions(state: &mut State, course: &str, work: &Value, only: Option<Vec<String>>) {
    let Some(work_id) = text(work, "id") else {
        return;
    };
    if text(work, "state") != Some("PUBLISHED") {
        return;
    }
    let students = match (only, text(work, "assigneeMode")) {
        (Some(ids), _) => ids,
        (None, Some("INDIVIDUAL_STUDENTS")) => work["individualStudentsOptions"]["studentIds"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        (None, _) => state.student_ids(course),
    };
    let key = format!("courses/{course}/courseWork/{work_id}/studentSubmissions");
    let work_type = text(work, "workType").unwrap_or("ASSIGNMENT").to_string();
    for student in students {
        if state.find(&key, "userId", &student).is_some() {
            continue;
        }
        state.next_id += 1;
        let id = format!("Cg4I{}", state.next_id * 104_729);
        let t = now();
        let mut sub = json!({
            "courseId": course,
            "courseWorkId": work_id,
            "id": id,
            "userId": student,
            "creationTime": t,
            "updateTime": t,
            "state": "CREATED",
            "alternateLink": format!("https://classroom.google.com/c/{}/a/{}/submissions/student/{}",
                link_id(course), link_id(work_id), link_id(&student)),
            "courseWorkType": work_type,
            "associatedWithDeveloper": true,
            "submissionHistory": [{"stateHistory": {
                "state": "CREATED", "stateTimestamp": t, "actorUserId": student,
            }}],
        });
        if work_type == "ASSIGNMENT" {
            sub["assignmentSubmission"] = json!({});
        }
        state.items_mut(&key).push(sub);
    }
}

/// Whether the work's due date and time have passed.
fn past_due(work: &Value) -> bool {
    let d = &work["dueDate"];
    let (Some(y), Some(m), Some(day)) =
        (d["year"].as_i64(), d["month"].as_i64(), d["day"].as_i64())
    else {
        return false;
    };
    let t = &work["dueTime"];
    let due = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:00.000Z",
        t["hours"].as_i64().unwrap_or(23),
        t["minutes"].as_i64().unwrap_or(59)
    );
    due < now()
}

fn render_submission(state: &State, mut sub: Value) -> Value {
    if sub.get("late").is_none() {
        let course = text(&sub, "courseId").unwrap_or_default();
        let work = text(&sub, "courseWorkId").unwrap_or_default();
        let unsubmitted = matches!(
            text(&sub, "state"),
            Some("NEW" | "CREATED" | "RECLAIMED_BY_STUDENT")
        );
        if unsubmitted
            && state
                .find(&format!("courses/{course}/courseWork"), "id", work)
                .is_some_and(past_due)
        {
            sub["late"] = json!(true);
        }
    }
    sub
}

/// The submission a call names, after checking the caller may see it.
fn submission(state: &State, ctx: &Ctx, params: &Params) -> ApiResult<(String, Value)> {
    let (course, access) = course_read(state, ctx, param(params, "courseId"))?;
    let work = param(params, "courseWorkId");
    state
        .find(&format!("courses/{course}/courseWork"), "id", work)
        .ok_or_else(Status::entity_not_found)?;
    let key = format!("courses/{course}/courseWork/{work}/studentSubmissions");
    let sub = state
        .find(&key, "id", param(params, "id"))
        .cloned()
        .ok_or_else(Status::entity_not_found)?;
    if access != Access::Teach && text(&sub, "userId") != Some(ctx.me()) {
        return Err(Status::caller_denied());
    }
    Ok((key, sub))
}

fn submissions_list(
    state: &State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
) -> ApiResult {
    let (course, access) = course_read(state, ctx, param(params, "courseId"))?;
    let work = param(params, "courseWorkId");
    let works: Vec<String> = if work == "-" {
        state
            .items(&format!("courses/{course}/courseWork"))
            .iter()
            .filter_map(|w| text(w, "id").map(str::to_string))
            .collect()
    } else {
        state
            .find(&format!("courses/{course}/courseWork"), "id", work)
            .ok_or_else(Status::entity_not_found)?;
        vec![work.to_string()]
    };
    let user = match q(query, "userId") {
        Some(u) => Some(
            state
                .user(u, ctx.me())
                .map(|u| u.id.clone())
                .ok_or_else(|| Status::not_found(format!("No user {u} in this domain.")))?,
        ),
        None => None,
    };
    let states = q_all(query, "states");
    let late = q(query, "late").unwrap_or("LATE_VALUES_UNSPECIFIED");
    let mut items = Vec::new();
    for w in works {
        for sub in state.items(&format!(
            "courses/{course}/courseWork/{w}/studentSubmissions"
        )) {
            let sub = render_submission(state, sub.clone());
            let owner = text(&sub, "userId").unwrap_or_default();
            let is_late = sub["late"].as_bool().unwrap_or(false);
            let keep = (access == Access::Teach || owner == ctx.me())
                && user.as_deref().is_none_or(|u| u == owner)
                && (states.is_empty() || states.contains(&text(&sub, "state").unwrap_or_default()))
                && match late {
                    "LATE_ONLY" => is_late,
                    "NOT_LATE_ONLY" => !is_late,
                    _ => true,
                };
            if keep {
                items.push(sub);
            }
        }
    }
    list_reply(route, query, items)
}

fn submission_patch(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    let (key, sub) = submission(state, ctx, params)?;
    let course = text(&sub, "courseId").unwrap_or_default();
    if access(state, ctx, course) != Access::Teach {
        return Err(Status::denied(
            "Only a teacher of the course may grade submissions.",
        ));
    }
    let fields = update_mask(route, query)?;
    for f in &fields {
        if body.get(f).and_then(Value::as_f64).is_some_and(|g| g < 0.0) {
            return Err(Status::invalid(format!(
                "{}: A grade must not be negative.",
                crate::spec::snake(f)
            )));
        }
    }
    let item = state
        .find_mut(&key, "id", text(&sub, "id").unwrap_or_default())
        .ok_or_else(Status::entity_not_found)?;
    apply_mask(item, &body, &fields);
    item["updateTime"] = json!(now());
    Ok(item.clone())
}

fn submission_transition(
    state: &mut State,
    ctx: &Ctx,
    action: &str,
    params: &Params,
    body: Value,
) -> ApiResult {
    let (key, sub) = submission(state, ctx, params)?;
    let course = text(&sub, "courseId").unwrap_or_default().to_string();
    modifiable(state, &course)?;
    let owner = text(&sub, "userId").unwrap_or_default().to_string();
    let current = text(&sub, "state").unwrap_or("NEW").to_string();
    let work = state
        .find(
            &format!("courses/{course}/courseWork"),
            "id",
            text(&sub, "courseWorkId").unwrap_or_default(),
        )
        .cloned()
        .unwrap_or_default();
    let only_owner = || {
        if owner == ctx.me() {
            Ok(())
        } else {
            Err(Status::denied(
                "Only the student who owns the submission may do this.",
            ))
        }
    };
    let (next, reply) = match action {
        "turnIn" => {
            only_owner()?;
            if matches!(current.as_str(), "TURNED_IN") {
                return Err(Status::precondition(
                    "The submission has already been turned in.",
                ));
            }
            ("TURNED_IN", json!({}))
        }
        "reclaim" => {
            only_owner()?;
            if current != "TURNED_IN" {
                return Err(Status::precondition(
                    "The submission has not been turned in, so it cannot be reclaimed.",
                ));
            }
            ("RECLAIMED_BY_STUDENT", json!({}))
        }
        "return" => {
            if access(state, ctx, &course) != Access::Teach {
                return Err(Status::denied(
                    "Only a teacher of the course may return submissions.",
                ));
            }
            if current == "RETURNED" {
                return Err(Status::precondition(
                    "The submission has already been returned.",
                ));
            }
            ("RETURNED", json!({}))
        }
        _ => {
            // modifyAttachments
            only_owner()?;
            if text(&work, "workType") != Some("ASSIGNMENT") {
                return Err(Status::precondition(
                    "Attachments can only be added to submissions of assignments.",
                ));
            }
            if matches!(current.as_str(), "TURNED_IN" | "RETURNED") {
                return Err(Status::precondition(
                    "The submission is turned in or returned: reclaim it before changing attachments.",
                ));
            }
            let add = body["addAttachments"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if add.is_empty() {
                return Err(Status::invalid(
                    "add_attachments: At least one attachment is required.",
                ));
            }
            let item = state
                .find_mut(&key, "id", text(&sub, "id").unwrap_or_default())
                .ok_or_else(Status::entity_not_found)?;
            let list = item["assignmentSubmission"]
                .as_object_mut()
                .map(|s| s.entry("attachments").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = list {
                list.extend(add);
            }
            item["updateTime"] = json!(now());
            return Ok(item.clone());
        }
    };
    let late = next == "TURNED_IN" && past_due(&work);
    let me = ctx.me().to_string();
    let item = state
        .find_mut(&key, "id", text(&sub, "id").unwrap_or_default())
        .ok_or_else(Status::entity_not_found)?;
    let t = now();
    item["state"] = json!(next);
    item["updateTime"] = json!(t);
    if next == "TURNED_IN" {
        if late {
            item["late"] = json!(true);
        } else if let Some(map) = item.as_object_mut() {
            map.remove("late");
        }
    }
    if next == "RETURNED"
        && let Some(draft) = item.get("draftGrade").cloned()
    {
        item["assignedGrade"] = draft;
    }
    if let Some(history) = item["submissionHistory"].as_array_mut() {
        history.push(json!({"stateHistory": {
            "state": next, "stateTimestamp": t, "actorUserId": me,
        }}));
    }
    Ok(reply)
}

fn modify_assignees(
    state: &mut State,
    ctx: &Ctx,
    name: &str,
    params: &Params,
    body: Value,
) -> ApiResult {
    let course = course_teach(state, ctx, param(params, "courseId"))?;
    let kind = if name.starts_with("courses.courseWork") {
        "courseWork"
    } else {
        "announcements"
    };
    let key = format!("courses/{course}/{kind}");
    let id = param(params, "id");
    let mode = text(&body, "assigneeMode")
        .ok_or_else(|| Status::invalid("assignee_mode: This field is required."))?
        .to_string();
    let students = state.student_ids(&course);
    let item = state
        .find(&key, "id", id)
        .cloned()
        .ok_or_else(Status::entity_not_found)?;
    let mut ids: Vec<String> = item["individualStudentsOptions"]["studentIds"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let options = &body["modifyIndividualStudentsOptions"];
    let list = |field: &str| -> Vec<String> {
        options[field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (add, remove) = (list("addStudentIds"), list("removeStudentIds"));
    let mut updated = item.clone();
    match mode.as_str() {
        "INDIVIDUAL_STUDENTS" => {
            for s in add.iter().chain(&remove) {
                if !students.contains(s) {
                    return Err(Status::invalid(format!(
                        "modify_individual_students_options: {s} is not a student of the course."
                    )));
                }
            }
            ids.retain(|i| !remove.contains(i));
            for a in &add {
                if !ids.contains(a) {
                    ids.push(a.clone());
                }
            }
            if ids.is_empty() {
                return Err(Status::invalid(
                    "modify_individual_students_options: At least one student must be assigned.",
                ));
            }
            updated["assigneeMode"] = json!("INDIVIDUAL_STUDENTS");
            updated["individualStudentsOptions"] = json!({"studentIds": ids});
        }
        "ALL_STUDENTS" => {
            if !add.is_empty() || !remove.is_empty() {
                return Err(Status::invalid(
                    "modify_individual_students_options: Not allowed with ALL_STUDENTS.",
                ));
            }
            updated["assigneeMode"] = json!("ALL_STUDENTS");
            if let Some(map) = updated.as_object_mut() {
                map.remove("individualStudentsOptions");
            }
        }
        other => {
            return Err(Status::invalid(format!(
                "assignee_mode: {other} is not a valid assignee mode."
            )));
        }
    }
    updated["updateTime"] = json!(now());
    if let Some(slot) = state.find_mut(&key, "id", id) {
        *slot = updated.clone();
    }
    if kind == "courseWork" {
        create_submissions(state, &course, &updated, None);
    }
    Ok(updated)
}

fn update_rubric(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    let course = course_teach(state, ctx, param(params, "courseId"))?;
    let work = param(params, "courseWorkId");
    state
        .find(&format!("courses/{course}/courseWork"), "id", work)
        .ok_or_else(Status::entity_not_found)?;
    let fields = update_mask(route, query)?;
    let key = format!("courses/{course}/courseWork/{work}/rubrics");
    let id = match q(query, "id") {
        Some(id) => id.to_string(),
        None => state
            .items(&key)
            .first()
            .and_then(|r| text(r, "id"))
            .map(str::to_string)
            .ok_or_else(Status::entity_not_found)?,
    };
    let mut body = obj(body);
    assign_rubric_ids(state, &mut body);
    let body = Value::Object(body);
    let rubric = state
        .find_mut(&key, "id", &id)
        .ok_or_else(Status::entity_not_found)?;
    apply_mask(rubric, &body, &fields);
    rubric["updateTime"] = json!(now());
    Ok(rubric.clone())
}

// ---------------------------------------------------------------------------------------------
// Invitations and registrations

fn may_see_invitation(state: &State, ctx: &Ctx, inv: &Value) -> bool {
    text(inv, "userId") == Some(ctx.me())
        || access(state, ctx, text(inv, "courseId").unwrap_or_default()) == Access::Teach
}

fn invitation_create(state: &mut State, ctx: &Ctx, body: Value) -> ApiResult {
    let course_key = text(&body, "courseId")
        .ok_or_else(|| Status::invalid("course_id: This field is required."))?;
    let user_key =
        text(&body, "userId").ok_or_else(|| Status::invalid("user_id: This field is required."))?;
    let role =
        text(&body, "role").ok_or_else(|| Status::invalid("role: This field is required."))?;
    if !matches!(role, "STUDENT" | "TEACHER" | "OWNER") {
        return Err(Status::invalid(format!(
            "role: {role} is not a role one can invite to."
        )));
    }
    let course = state
        .course_id(course_key)
        .ok_or_else(Status::entity_not_found)?;
    if access(state, ctx, &course) != Access::Teach {
        return Err(Status::caller_denied());
    }
    let user = state
        .user(user_key, ctx.me())
        .cloned()
        .ok_or_else(|| Status::not_found("The invited user does not exist."))?;
    let already = match role {
        "STUDENT" => state.is_student(&course, &user.id),
        _ => state.is_teacher(&course, &user.id) && role == "TEACHER",
    };
    if already {
        return Err(Status::exists(
            "The user is already a member of the course in that role.",
        ));
    }
    if state.items("invitations").iter().any(|i| {
        text(i, "courseId") == Some(course.as_str()) && text(i, "userId") == Some(user.id.as_str())
    }) {
        return Err(Status::exists("Requested entity already exists"));
    }
    let invitation = json!({
        "id": state.new_id(),
        "userId": user.id,
        "courseId": course,
        "role": role,
    });
    state.items_mut("invitations").push(invitation.clone());
    Ok(invitation)
}

fn invitations_list(state: &State, ctx: &Ctx, route: &Route, query: &Query) -> ApiResult {
    let user = q(query, "userId");
    let course = q(query, "courseId");
    if user.is_none() && course.is_none() {
        return Err(Status::invalid(
            "Either user_id or course_id must be specified.",
        ));
    }
    let user = match user {
        Some(u) => Some(
            state
                .user(u, ctx.me())
                .map(|u| u.id.clone())
                .ok_or_else(|| Status::not_found(format!("No user {u} in this domain.")))?,
        ),
        None => None,
    };
    let course = course.map(|c| state.course_id(c).unwrap_or_else(|| c.to_string()));
    let items = state
        .items("invitations")
        .iter()
        .filter(|i| {
            user.as_deref().is_none_or(|u| text(i, "userId") == Some(u))
                && course
                    .as_deref()
                    .is_none_or(|c| text(i, "courseId") == Some(c))
                && may_see_invitation(state, ctx, i)
        })
        .cloned()
        .collect();
    list_reply(route, query, items)
}

fn invitation_accept(state: &mut State, ctx: &Ctx, id: &str) -> ApiResult {
    let inv = state
        .find("invitations", "id", id)
        .cloned()
        .ok_or_else(Status::entity_not_found)?;
    if text(&inv, "userId") != Some(ctx.me()) {
        return Err(Status::denied(
            "Only the invited user may accept an invitation.",
        ));
    }
    let course = text(&inv, "courseId").unwrap_or_default().to_string();
    let role = text(&inv, "role").unwrap_or_default();
    let user = ctx.user.clone();
    if role == "STUDENT" {
        add_member(state, &course, &user, true)?;
    } else {
        if !state.is_teacher(&course, &user.id) {
            add_member(state, &course, &user, false)?;
        }
        if role == "OWNER"
            && let Some(c) = state.find_mut("courses", "id", &course)
        {
            c["ownerId"] = json!(user.id);
            c["updateTime"] = json!(now());
        }
    }
    state.remove("invitations", "id", id);
    Ok(json!({}))
}

fn registration_create(state: &mut State, ctx: &Ctx, body: Value) -> ApiResult {
    let feed_type = body["feed"]["feedType"]
        .as_str()
        .ok_or_else(|| Status::invalid("feed.feed_type: This field is required."))?;
    if body["cloudPubsubTopic"]["topicName"].as_str().is_none() {
        return Err(Status::invalid(
            "cloud_pubsub_topic.topic_name: This field is required.",
        ));
    }
    match feed_type {
        "DOMAIN_ROSTER_CHANGES" => {
            if !ctx.is_admin() {
                return Err(Status::denied(
                    "Only a domain administrator may register for domain roster changes.",
                ));
            }
        }
        "COURSE_ROSTER_CHANGES" | "COURSE_WORK_CHANGES" => {
            let info = if feed_type == "COURSE_ROSTER_CHANGES" {
                "courseRosterChangesInfo"
            } else {
                "courseWorkChangesInfo"
            };
            let course = body["feed"][info]["courseId"].as_str().ok_or_else(|| {
                Status::invalid(format!(
                    "feed.{}.course_id: This field is required.",
                    crate::spec::snake(info)
                ))
            })?;
            course_read(state, ctx, course)?;
        }
        other => {
            return Err(Status::invalid(format!(
                "feed.feed_type: {other} is not supported."
            )));
        }
    }
    let mut registration = body;
    registration["registrationId"] = json!(state.new_id());
    let expiry = std::time::SystemTime::now() + std::time::Duration::from_secs(7 * 24 * 3600);
    registration["expiryTime"] = json!(crate::store::timestamp(expiry));
    state.items_mut("registrations").push(registration.clone());
    Ok(registration)
}

// ---------------------------------------------------------------------------------------------
// Guardians

/// Whether the caller may see (and, unless a guardian, manage) a student's guardians.
fn guardian_access(state: &State, ctx: &Ctx, student: &str, manage: bool) -> bool {
    if ctx.is_admin() {
        return true;
    }
    let teaches = state
        .courses_of(student)
        .iter()
        .any(|c| state.is_teacher(c, ctx.me()));
    if manage {
        return teaches;
    }
    teaches
        || ctx.me() == student
        || state
            .find(
                &format!("userProfiles/{student}/guardians"),
                "guardianId",
                ctx.me(),
            )
            .is_some()
}

/// The students a call covers: one, or every visible one for `-`.
fn students_for(state: &State, ctx: &Ctx, key: &str, manage: bool) -> ApiResult<Vec<String>> {
    if key == "-" {
        return Ok(state
            .users
            .iter()
            .filter(|u| u.role == Role::Student && guardian_access(state, ctx, &u.id, manage))
            .map(|u| u.id.clone())
            .collect());
    }
    let student = state
        .user(key, ctx.me())
        .filter(|u| u.role == Role::Student)
        .ok_or_else(|| Status::not_found("The student does not exist."))?;
    if !guardian_access(state, ctx, &student.id, manage) {
        return Err(Status::caller_denied());
    }
    Ok(vec![student.id.clone()])
}

fn render_guardian(state: &State, ctx: &Ctx, mut g: Value) -> Value {
    if let Some(user) = text(&g, "guardianId").and_then(|id| state.user_by_id(id)) {
        g["guardianProfile"] = profile(user, ctx);
    }
    g
}

fn guardians(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
) -> ApiResult {
    let action = route.action();
    let manage = action == "delete";
    let key = param(params, "studentId");
    if key == "-" && action != "list" {
        return Err(Status::invalid(
            "student_id: '-' is only allowed when listing.",
        ));
    }
    let students = students_for(state, ctx, key, manage)?;
    match action {
        "list" => {
            let email = q(query, "invitedEmailAddress");
            let mut items = Vec::new();
            for s in &students {
                for g in state.items(&format!("userProfiles/{s}/guardians")) {
                    if email.is_none_or(|e| text(g, "invitedEmailAddress") == Some(e)) {
                        items.push(render_guardian(state, ctx, g.clone()));
                    }
                }
            }
            list_reply(route, query, items)
        }
        "get" => {
            let student = students.first().ok_or_else(Status::entity_not_found)?;
            let g = state
                .find(
                    &format!("userProfiles/{student}/guardians"),
                    "guardianId",
                    param(params, "guardianId"),
                )
                .cloned()
                .ok_or_else(Status::entity_not_found)?;
            Ok(render_guardian(state, ctx, g))
        }
        _ => {
            let student = students.first().ok_or_else(Status::entity_not_found)?;
            state
                .remove(
                    &format!("userProfiles/{student}/guardians"),
                    "guardianId",
                    param(params, "guardianId"),
                )
                .ok_or_else(Status::entity_not_found)?;
            Ok(json!({}))
        }
    }
}

fn guardian_invitations(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    let action = route.action();
    let key = param(params, "studentId");
    if key == "-" && action != "list" {
        return Err(Status::invalid(
            "student_id: '-' is only allowed when listing.",
        ));
    }
    let students = students_for(state, ctx, key, true)?;
    // One student unless listing ('-' is refused above for anything else).
    let first = || {
        students
            .first()
            .cloned()
            .ok_or_else(|| Status::not_found("The student does not exist."))
    };
    let coll = |s: &str| format!("userProfiles/{s}/guardianInvitations");
    match action {
        "list" => {
            let email = q(query, "invitedEmailAddress");
            let states = q_all(query, "states");
            let mut items = Vec::new();
            for s in &students {
                for i in state.items(&coll(s)) {
                    if email.is_none_or(|e| text(i, "invitedEmailAddress") == Some(e))
                        && (states.is_empty()
                            || states.contains(&text(i, "state").unwrap_or_default()))
                    {
                        items.push(i.clone());
                    }
                }
            }
            list_reply(route, query, items)
        }
        "get" => state
            .find(
                &coll(&first()?),
                "invitationId",
                param(params, "invitationId"),
            )
            .cloned()
            .ok_or_else(Status::entity_not_found),
        "create" => {
            let student = &first()?;
            let email = text(&body, "invitedEmailAddress")
                .filter(|e| e.contains('@'))
                .ok_or_else(|| {
                    Status::invalid("invited_email_address: A valid email address is required.")
                })?
                .to_string();
            let guardians = format!("userProfiles/{student}/guardians");
            if state.items(&guardians).iter().any(|g| {
                text(g, "invitedEmailAddress").is_some_and(|e| e.eq_ignore_ascii_case(&email))
            }) {
                return Err(Status::exists(
                    "The invited person is already a guardian of the student.",
                ));
            }
            if state.items(&coll(student)).iter().any(|i| {
                text(i, "state") == Some("PENDING")
                    && text(i, "invitedEmailAddress")
                        .is_some_and(|e| e.eq_ignore_ascii_case(&email))
            }) {
                return Err(Status::exists(
                    "A pending invitation for this address already exists.",
                ));
            }
            let invitation = json!({
                "studentId": student,
                "invitationId": state.new_id(),
                "invitedEmailAddress": email,
                "state": "PENDING",
                "creationTime": now(),
            });
            state.items_mut(&coll(student)).push(invitation.clone());
            Ok(invitation)
        }
        _ => {
            // patch
            let fields = update_mask(route, query)?;
            if fields != ["state"] || text(&body, "state") != Some("COMPLETE") {
                return Err(Status::invalid(
                    "Only the state can be patched, and only to COMPLETE.",
                ));
            }
            let inv = state
                .find_mut(
                    &coll(&first()?),
                    "invitationId",
                    param(params, "invitationId"),
                )
                .ok_or_else(Status::entity_not_found)?;
            if text(inv, "state") != Some("PENDING") {
                return Err(Status::precondition("The invitation is not pending."));
            }
            inv["state"] = json!("COMPLETE");
            Ok(inv.clone())
        }
    }
}

/// The guardian's click on the invitation link.
pub(crate) fn accept_guardian_invitation(
    state: &mut State,
    student: &str,
    invitation: &str,
) -> ApiResult<String> {
    let student = state
        .user(student, "")
        .filter(|u| u.role == Role::Student)
        .map(|u| u.id.clone())
        .ok_or_else(|| Status::not_found("The student does not exist."))?;
    let key = format!("userProfiles/{student}/guardianInvitations");
    let inv = state
        .find_mut(&key, "invitationId", invitation)
        .ok_or_else(Status::entity_not_found)?;
    if text(inv, "state") != Some("PENDING") {
        return Err(Status::precondition("The invitation is not pending."));
    }
    inv["state"] = json!("COMPLETE");
    let email = text(inv, "invitedEmailAddress")
        .unwrap_or_default()
        .to_string();
    let guardian = match state.user(&email, "") {
        Some(u) => u.id.clone(),
        None => {
            let local = email.split('@').next().unwrap_or("guardian").to_string();
            crate::seed::add_user(state, &email, &local, "(guardian)", Role::Guardian)
        }
    };
    let guardians = format!("userProfiles/{student}/guardians");
    if state.find(&guardians, "guardianId", &guardian).is_none() {
        state.items_mut(&guardians).push(json!({
            "studentId": student,
            "guardianId": guardian,
            "invitedEmailAddress": email,
        }));
    }
    Ok(guardian)
}
