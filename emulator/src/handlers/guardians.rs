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
