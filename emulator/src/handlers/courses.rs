//! Courses, their aliases and grading period settings.

use std::hash::{DefaultHasher, Hash, Hasher};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{
    Ctx, Params, Query, apply_mask, course_read, course_teach, list_reply, not_modifiable, obj,
    owner_active, param, q, q_all, text, update_mask,
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
    // A course starts PROVISIONED (the default) or ACTIVE. It cannot start ARCHIVED, DECLINED
    // or SUSPENDED: each is reached only from another state (DECLINED "only ... if it is in
    // the PROVISIONED state"), SUSPENDED only by Google.
    match course.get("courseState").and_then(Value::as_str) {
        None | Some("COURSE_STATE_UNSPECIFIED" | "PROVISIONED" | "ACTIVE") => {}
        Some(other) => {
            return Err(Status::invalid(format!(
                "courseState: A course is created PROVISIONED or ACTIVE, not {other}."
            )));
        }
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
    if owner.disabled {
        return Err(Status::precondition(
            "The course owner's account is disabled.",
        ));
    }
    title_without_url(&name)?;
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
    if q(query, "studentId").is_some_and(|s| !s.is_empty())
        && q(query, "teacherId").is_some_and(|t| !t.is_empty())
    {
        // "If specified, `teacher_id` must be empty" (and the other way round).
        return Err(Status::invalid(
            "Only one of studentId and teacherId may be given.",
        ));
    }
    let student = q(query, "studentId").map(resolve).transpose()?;
    let teacher = q(query, "teacherId").map(resolve).transpose()?;
    let states = q_all(query, "courseStates");
    // An enum query value Classroom does not define is a malformed argument.
    if let Some(bad) = states.iter().find(|s| {
        !matches!(
            **s,
            "ACTIVE" | "ARCHIVED" | "PROVISIONED" | "DECLINED" | "SUSPENDED"
        )
    }) {
        return Err(Status::invalid(format!(
            "Invalid value at 'course_states' ({bad:?}): not a course state"
        )));
    }
    // "Returned courses are ordered by creation time, with the most recently created coming
    // first": the store holds them in creation order.
    let items = state
        .items("courses")
        .iter()
        .rev()
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
    let current = state.course(&id).cloned().unwrap_or_default();
    let from = text(&current, "courseState")
        .unwrap_or("PROVISIONED")
        .to_string();
    let mut fields: Vec<String> = if route.action() == "update" {
        let patch_route = spec()
            .by_id("classroom.courses.patch")
            .map(|r| r.patchable.clone())
            .unwrap_or_default();
        if text(&body, "name").is_none_or(|n| n.trim().is_empty()) {
            return Err(Status::invalid("name: The course name is required."));
        }
        // An update replaces the course, but leaves the owner, and `levels` ("not cleared if
        // omitted"), as they are when not given; an unspecified state stays as it is too.
        patch_route
            .into_iter()
            .filter(|f| {
                !matches!(f.as_str(), "ownerId" | "levels" | "courseState")
                    || body.get(f.as_str()).is_some_and(|v| !v.is_null())
            })
            .collect()
    } else {
        update_mask(route, query)?
    };
    if route.action() == "update" && text(&body, "courseState") == Some("COURSE_STATE_UNSPECIFIED")
    {
        fields.retain(|f| f != "courseState");
    }
    if fields.iter().any(|f| f == "name") && text(&body, "name").is_none_or(|n| n.trim().is_empty())
    {
        return Err(Status::invalid("name: The course name cannot be empty."));
    }
    let to = if fields.iter().any(|f| f == "courseState") {
        match text(&body, "courseState") {
            None | Some("COURSE_STATE_UNSPECIFIED") => {
                return Err(Status::invalid(
                    "courseState: The update mask names courseState; give the state to set.",
                ));
            }
            Some(to) => to.to_string(),
        }
    } else {
        from.clone()
    };
    let mut body = body;
    let mut transfer = false;
    if fields.iter().any(|f| f == "ownerId") {
        // An ownership transfer. Classroom: "Admins can also specify this field in a patch
        // course request to transfer ownership"; the new owner must already teach the course
        // (IneligibleOwner), needs no acceptance, and the old owner stays a co-teacher.
        let owner = text(&body, "ownerId")
            .and_then(|o| state.user(o, ctx.me()))
            .cloned()
            .ok_or_else(|| {
                Status::invalid("ownerId: The new owner is not a user of this domain.")
            })?;
        let current_owner = text(&current, "ownerId").unwrap_or_default();
        if owner.id != current_owner {
            if !ctx.is_admin() {
                return Err(Status::denied(
                    "Only a domain administrator may transfer a course's ownership; a teacher \
                     invites the new owner (invitations.create with role OWNER).",
                ));
            }
            transfer = true;
        }
        body["ownerId"] = json!(owner.id);
    }
    // What the request changes besides the state: a field given its current value is not a
    // change.
    let changes = fields.iter().filter(|f| *f != "courseState").any(|f| {
        match (body.get(f.as_str()), current.get(f.as_str())) {
            (None | Some(Value::Null), None | Some(Value::Null)) => false,
            (new, old) => new != old,
        }
    });
    if to != from {
        if from == "SUSPENDED" {
            return Err(not_modifiable(&from));
        }
        if !state_move_allowed(&from, &to) {
            return Err(Status::precondition(format!(
                "The course cannot go from {from} to {to}: PROVISIONED goes to ACTIVE or \
                 DECLINED, DECLINED back to PROVISIONED, ACTIVE to ARCHIVED and ARCHIVED back \
                 to ACTIVE; only Google suspends a course."
            )));
        }
    } else if changes && matches!(from.as_str(), "ARCHIVED" | "DECLINED" | "SUSPENDED") {
        // "The course state can be changed in a request that changes other properties": a
        // request that also moves the state out of ARCHIVED (or DECLINED) may change them.
        return Err(not_modifiable(&from));
    }
    if !transfer && (changes || to != from) {
        owner_active(state, &id)?;
    }
    if transfer {
        let owner = text(&body, "ownerId").unwrap_or_default();
        if !state.is_teacher(&id, owner) {
            return Err(Status::precondition(
                "@IneligibleOwner The new owner must already be a teacher of the course.",
            ));
        }
        if state.user_by_id(owner).is_some_and(|u| u.disabled) {
            return Err(Status::precondition(
                "@IneligibleOwner The new owner's account is disabled.",
            ));
        }
    }
    if fields.iter().any(|f| f == "name") {
        title_without_url(text(&body, "name").unwrap_or_default())?;
    }
    let course = state
        .find_mut("courses", "id", &id)
        .ok_or_else(Status::entity_not_found)?;
    apply_mask(course, &body, &fields);
    course["updateTime"] = json!(now());
    Ok(course.clone())
}

/// The moves between course states the `CourseState` enum allows: PROVISIONED "may ... change
/// it to the `ACTIVE` or `DECLINED` states", DECLINED may only go back to PROVISIONED, ACTIVE
/// may be archived and an ARCHIVED course changed "to a different state" (ACTIVE: it can be
/// neither PROVISIONED nor DECLINED, which are reached only from each other). SUSPENDED is
/// Google's doing.
fn state_move_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("PROVISIONED", "ACTIVE" | "DECLINED")
            | ("DECLINED", "PROVISIONED")
            | ("ACTIVE", "ARCHIVED")
            | ("ARCHIVED", "ACTIVE")
    )
}

/// `@CourseTitleCannotContainUrl`: a course name holding a URL (a word with a scheme, such as
/// `https://...`, or starting `www.`).
fn title_without_url(name: &str) -> ApiResult<()> {
    let url = name.split_whitespace().any(|word| {
        let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
        let scheme = word.split_once("://").is_some_and(|(scheme, rest)| {
            !scheme.is_empty()
                && !rest.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        });
        let www = word
            .get(..4)
            .is_some_and(|w| w.eq_ignore_ascii_case("www."))
            && word.len() > 4;
        scheme || www
    });
    if url {
        return Err(Status::precondition(
            "@CourseTitleCannotContainUrl A course name cannot contain a URL.",
        ));
    }
    Ok(())
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
