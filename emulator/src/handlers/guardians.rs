//! Guardians and guardian invitations.

use serde_json::{Value, json};

use super::profiles::profile;
use super::{Ctx, Params, Query, list_reply, param, q, q_all, text, update_mask};
use crate::Role;
use crate::errors::{ApiResult, Status};
use crate::spec::Route;
use crate::store::{State, now};

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
        // guardians.list and guardianInvitations.list: PERMISSION_DENIED "if "-" is
        // specified as the student_id and the user is not a domain administrator".
        if !ctx.is_admin() {
            return Err(Status::denied(
                "Only a domain administrator may list across all students with '-'.",
            ));
        }
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

pub(super) fn guardians(
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
            // PERMISSION_DENIED "if the invited_email_address filter is set by a user who is
            // not a domain administrator".
            if email.is_some() && !ctx.is_admin() {
                return Err(Status::denied(
                    "Only a domain administrator may filter guardians by invited_email_address.",
                ));
            }
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

pub(super) fn guardian_invitations(
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
            // "If specified, only results with the specified state values are returned.
            // Otherwise, results with a state of PENDING are returned."
            let mut states = q_all(query, "states");
            if states.is_empty() {
                states.push("PENDING");
            }
            if let Some(bad) = states
                .iter()
                .find(|s| !matches!(**s, "PENDING" | "COMPLETE"))
            {
                return Err(Status::invalid(format!(
                    "states: {bad:?} is not a state a guardian invitation can be in (PENDING, COMPLETE)."
                )));
            }
            let mut items = Vec::new();
            for s in &students {
                for i in state.items(&coll(s)) {
                    if email.is_none_or(|e| {
                        text(i, "invitedEmailAddress").is_some_and(|a| a.eq_ignore_ascii_case(e))
                    }) && states.contains(&text(i, "state").unwrap_or_default())
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
            // "Failing to set these fields, or setting any other fields in the request, will
            // result in an error": INVALID_ARGUMENT for read-only fields or a state other than
            // PENDING. A studentId, if given, must be the path's student.
            if let Some(other) = body.as_object().and_then(|b| {
                b.keys()
                    .find(|k| !matches!(k.as_str(), "studentId" | "invitedEmailAddress" | "state"))
            }) {
                return Err(Status::invalid(format!(
                    "{other}: This field is read-only; set only student_id and invited_email_address."
                )));
            }
            if text(&body, "state").is_some_and(|s| s != "PENDING") {
                return Err(Status::invalid(
                    "state: A new guardian invitation can only be PENDING.",
                ));
            }
            if let Some(named) = text(&body, "studentId")
                && state.user(named, ctx.me()).map(|u| u.id.as_str()) != Some(student.as_str())
            {
                return Err(Status::invalid(
                    "student_id: The body names another student than the path.",
                ));
            }
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
