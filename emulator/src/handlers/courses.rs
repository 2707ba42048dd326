//! Courses, their aliases and grading period settings.

use std::hash::{DefaultHasher, Hash, Hasher};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{
    Ctx, Params, Query, apply_mask, course_read, course_teach, list_reply, obj, param, q, q_all,
    text, update_mask,
};
use crate::Role;
use crate::errors::{ApiResult, Status};
use crate::spec::{Route, spec};
use crate::store::{State, now};

pub(super) fn course_create(state: &mut State, ctx: &Ctx, body: Value) -> ApiResult {
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
    // Unset or COURSE_STATE_UNSPECIFIED: the default, PROVISIONED ("No returned Course
    // message will use this value").
    if matches!(
        course.get("courseState").and_then(Value::as_str),
        None | Some("COURSE_STATE_UNSPECIFIED")
    ) {
        course.insert("courseState".into(), json!("PROVISIONED"));
    }
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

pub(super) fn link_id(id: &str) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

pub(super) fn courses_list(state: &State, ctx: &Ctx, route: &Route, query: &Query) -> ApiResult {
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

pub(super) fn course_patch(
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
        // An ownership transfer. Classroom: "Admins can also specify this field in a patch
        // course request to transfer ownership"; the new owner must already teach the course
        // (IneligibleOwner), needs no acceptance, and the old owner stays a co-teacher.
        let owner = text(&body, "ownerId")
            .and_then(|o| state.user(o, ctx.me()))
            .map(|u| u.id.clone())
            .ok_or_else(|| {
                Status::invalid("ownerId: The new owner is not a user of this domain.")
            })?;
        let current = state
            .course(&id)
            .and_then(|c| text(c, "ownerId"))
            .unwrap_or_default();
        if owner != current {
            if !ctx.is_admin() {
                return Err(Status::denied(
                    "Only a domain administrator may transfer a course's ownership; a teacher \
                     invites the new owner (invitations.create with role OWNER).",
                ));
            }
            if !state.is_teacher(&id, &owner) {
                return Err(Status::precondition(
                    "@IneligibleOwner The new owner must already be a teacher of the course.",
                ));
            }
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

pub(super) fn course_delete(state: &mut State, ctx: &Ctx, key: &str) -> ApiResult {
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

pub(super) fn alias_create(state: &mut State, ctx: &Ctx, key: &str, body: Value) -> ApiResult {
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

pub(super) fn grading_update(
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

pub(super) fn course_get(state: &State, ctx: &Ctx, params: &Params) -> ApiResult {
    let (id, _) = course_read(state, ctx, param(params, "id"))?;
    Ok(state.course(&id).cloned().unwrap_or_default())
}

pub(super) fn grading_get(state: &State, ctx: &Ctx, params: &Params) -> ApiResult {
    let (id, _) = course_read(state, ctx, param(params, "courseId"))?;
    Ok(state.grading.get(&id).cloned().unwrap_or_else(|| json!({})))
}

// ---------------------------------------------------------------------------------------------
// Aliases

pub(super) fn aliases_list(
    state: &State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
) -> ApiResult {
    let (id, _) = course_read(state, ctx, param(params, "courseId"))?;
    let items = state
        .aliases
        .iter()
        .filter(|(_, c)| **c == id)
        .map(|(a, _)| json!({"alias": a}))
        .collect();
    list_reply(route, query, items)
}

pub(super) fn alias_delete(state: &mut State, ctx: &Ctx, params: &Params) -> ApiResult {
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
