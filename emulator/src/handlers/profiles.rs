//! User profiles, as the caller's scopes allow them to be seen.

use serde_json::{Value, json};

use super::{Ctx, Params, param};
use crate::Role;
use crate::errors::{ApiResult, Status};
use crate::store::{State, User};
use classroom_spec::Scope;

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

pub(super) fn user_profile_get(state: &State, ctx: &Ctx, params: &Params) -> ApiResult {
    // "PERMISSION_DENIED if ... no profile exists with the requested ID": an unknown user is
    // not told apart from one the caller may not see.
    // Nor one the caller has no business seeing: a profile is the user's own, an
    // administrator's to read, or that of someone the caller shares a course with.
    let user = state
        .user(param(params, "userId"), ctx.me())
        .filter(|user| {
            user.id == ctx.me()
                || ctx.is_admin()
                || state.items("courses").iter().any(|c| {
                    let course = c["id"].as_str().unwrap_or_default();
                    state.is_member(course, ctx.me()) && state.is_member(course, &user.id)
                })
        })
        .ok_or_else(Status::caller_denied)?;
    Ok(profile(user, ctx))
}
