//! Guardians and guardian invitations.
//!
//! The conditions of the methods' descriptions, in the order checked:
//!
//! - a `student_id` that is neither a numeric user id, an email address, `me`, nor (listing)
//!   `-`: 400 `INVALID_ARGUMENT`;
//! - `-` by anyone but a domain administrator: 403 `PERMISSION_DENIED`;
//! - a student Classroom has no record of: 404 `NOT_FOUND` for `guardians.list` and the
//!   `guardianInvitations` methods; 403 `PERMISSION_DENIED` for `guardians.get` and
//!   `guardians.delete` ("if no user that matches the provided `student_id` is visible");
//! - guardians turned off for the student's domain (for `-`, the caller's;
//!   [`Emulator::disable_guardians`](crate::Emulator::disable_guardians)): 403
//!   `PERMISSION_DENIED`;
//! - a caller who may not see (or manage) the student's guardians: 403 `PERMISSION_DENIED`.
//!   Administrators and the student's teachers manage them; the student and the student's
//!   guardians may also see the guardians;
//! - `guardianInvitations.create`: read-only fields, a state other than `PENDING`, a body
//!   `studentId` naming another student, or an invalid address (no single `@`, a local part
//!   over 64 or an address over 254 characters, a space, a domain without a dot): 400
//!   `INVALID_ARGUMENT`; an address that is already a guardian's (the address invited, or the
//!   guardian's account) or has a pending invitation for the student: 409 `ALREADY_EXISTS`;
//!   past the guardian link limit ([`Quotas::guardian_link_limit`](crate::Quotas)): 429
//!   `RESOURCE_EXHAUSTED`.
//!
//! `invitedEmailAddress` "is only visible to domain administrators": it is left out of the
//! guardians and guardian invitations answered to anyone else. What is not modelled: the
//! guardian's rejections of invitations ("already rejected too many requests").

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

/// How a method answers for a student Classroom has no record of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Missing {
    NotFound,
    Denied,
}

/// The domain of an email address, lower case.
fn domain_of(email: &str) -> String {
    email
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// PERMISSION_DENIED "if guardians are not enabled for the domain in question".
fn guardians_enabled(state: &State, email: &str) -> ApiResult<()> {
    let domain = domain_of(email);
    if state.guardians_off.contains(&domain) {
        return Err(Status::denied(format!(
            "Guardians are not enabled for the domain {domain}."
        )));
    }
    Ok(())
}

/// INVALID_ARGUMENT "if a `student_id` is specified, but its format cannot be recognized (it
/// is not an email address, nor a `student_id` from the API, nor the literal string `me`)".
fn recognizable(key: &str) -> ApiResult<()> {
    let numeric = !key.is_empty() && key.bytes().all(|b| b.is_ascii_digit());
    if key == "me" || numeric || key.contains('@') {
        return Ok(());
    }
    Err(Status::invalid(format!(
        "student_id: {:?} is not a user id, an email address or \"me\".",
        key.chars().take(100).collect::<String>()
    )))
}

/// The students a call covers: one, or every visible one for `-`.
fn students_for(
    state: &State,
    ctx: &Ctx,
    key: &str,
    manage: bool,
    missing: Missing,
) -> ApiResult<Vec<String>> {
    if key == "-" {
        // guardians.list and guardianInvitations.list: PERMISSION_DENIED "if "-" is
        // specified as the student_id and the user is not a domain administrator".
        if !ctx.is_admin() {
            return Err(Status::denied(
                "Only a domain administrator may list across all students with '-'.",
            ));
        }
        guardians_enabled(state, &ctx.user.email)?;
        return Ok(state
            .users
            .iter()
            .filter(|u| {
                u.role == Role::Student
                    && !state.guardians_off.contains(&domain_of(&u.email))
                    && guardian_access(state, ctx, &u.id, manage)
            })
            .map(|u| u.id.clone())
            .collect());
    }
    recognizable(key)?;
    let student = state
        .user(key, ctx.me())
        .filter(|u| u.role == Role::Student)
        .ok_or_else(|| match missing {
            Missing::NotFound => Status::not_found("The student does not exist."),
            Missing::Denied => Status::caller_denied(),
        })?;
    guardians_enabled(state, &student.email)?;
    if !guardian_access(state, ctx, &student.id, manage) {
        return Err(Status::caller_denied());
    }
    Ok(vec![student.id.clone()])
}

/// Leaves out `invitedEmailAddress` for anyone but a domain administrator: "This field is
/// only visible to domain administrators."
fn visible(ctx: &Ctx, mut value: Value) -> Value {
    if !ctx.is_admin()
        && let Some(fields) = value.as_object_mut()
    {
        fields.remove("invitedEmailAddress");
    }
    value
}

/// Whether an address may be invited: one `@`, a local part of at most 64 characters, a
/// domain with a dot inside, no spaces, at most 254 characters in all.
fn valid_email(email: &str) -> bool {
    email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
}

/// The guardian links of a student: guardians and pending invitations.
fn student_links(state: &State, student: &str) -> usize {
    let pending = state
        .items(&format!("userProfiles/{student}/guardianInvitations"))
        .iter()
        .filter(|i| text(i, "state") == Some("PENDING"))
        .count();
    state
        .items(&format!("userProfiles/{student}/guardians"))
        .len()
        + pending
}

/// Whether a guardian record is the guardian at `email`: the address invited, or the
/// guardian's account.
fn is_guardian_at(state: &State, guardian: &Value, email: &str) -> bool {
    text(guardian, "invitedEmailAddress").is_some_and(|e| e.eq_ignore_ascii_case(email))
        || text(guardian, "guardianId")
            .and_then(|id| state.user_by_id(id))
            .is_some_and(|u| u.email.eq_ignore_ascii_case(email))
}

/// The guardian links of the guardian at `email`, across students: guardians and pending
/// invitations.
fn guardian_links(state: &State, email: &str) -> usize {
    state
        .collections
        .iter()
        .filter(|(key, _)| key.starts_with("userProfiles/"))
        .map(|(key, items)| {
            if key.ends_with("/guardians") {
                items
                    .iter()
                    .filter(|g| is_guardian_at(state, g, email))
                    .count()
            } else if key.ends_with("/guardianInvitations") {
                items
                    .iter()
                    .filter(|i| {
                        text(i, "state") == Some("PENDING")
                            && text(i, "invitedEmailAddress")
                                .is_some_and(|e| e.eq_ignore_ascii_case(email))
                    })
                    .count()
            } else {
                0
            }
        })
        .sum()
}

fn render_guardian(state: &State, ctx: &Ctx, mut g: Value) -> Value {
    if let Some(user) = text(&g, "guardianId").and_then(|id| state.user_by_id(id)) {
        g["guardianProfile"] = profile(user, ctx);
    }
    visible(ctx, g)
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
    // guardians.get and guardians.delete: PERMISSION_DENIED "if no user that matches the
    // provided `student_id` is visible to the requesting user"; guardians.list: NOT_FOUND.
    let missing = if action == "list" {
        Missing::NotFound
    } else {
        Missing::Denied
    };
    let students = students_for(state, ctx, key, manage, missing)?;
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
    let students = students_for(state, ctx, key, true, Missing::NotFound)?;
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
                        items.push(visible(ctx, i.clone()));
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
            .map(|i| visible(ctx, i))
            .ok_or_else(Status::entity_not_found),
        "create" => {
            let student = &first()?;
            // "Failing to set these fields, or setting any other fields in the request, will
            // result in an error": INVALID_ARGUMENT for read-only fields or a state other than
            // PENDING. The body's studentId is required, and must be the path's student.
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
            let Some(named) = text(&body, "studentId") else {
                return Err(Status::invalid(
                    "student_id: Required: the request must set student_id and invited_email_address.",
                ));
            };
            if state.user(named, ctx.me()).map(|u| u.id.as_str()) != Some(student.as_str()) {
                return Err(Status::invalid(
                    "student_id: The body names another student than the path.",
                ));
            }
            let email = text(&body, "invitedEmailAddress")
                .filter(|e| valid_email(e))
                .ok_or_else(|| {
                    Status::invalid("invited_email_address: A valid email address is required.")
                })?
                .to_string();
            let guardians = format!("userProfiles/{student}/guardians");
            if state
                .items(&guardians)
                .iter()
                .any(|g| is_guardian_at(state, g, &email))
            {
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
            // RESOURCE_EXHAUSTED "if the student or guardian has exceeded the guardian link
            // limit".
            if let Some(limit) = state.guardian_link_limit {
                let (student_has, guardian_has) =
                    (student_links(state, student), guardian_links(state, &email));
                if student_has >= limit as usize {
                    return Err(Status::exhausted(format!(
                        "The student has reached the guardian link limit ({limit} guardians and pending invitations)."
                    )));
                }
                if guardian_has >= limit as usize {
                    return Err(Status::exhausted(format!(
                        "The guardian has reached the guardian link limit ({limit} students linked or invited)."
                    )));
                }
            }
            let invitation = json!({
                "studentId": student,
                "invitationId": state.new_id(),
                "invitedEmailAddress": email,
                "state": "PENDING",
                "creationTime": now(),
            });
            state.items_mut(&coll(student)).push(invitation.clone());
            Ok(visible(ctx, invitation))
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
            let inv = inv.clone();
            Ok(visible(ctx, inv))
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
