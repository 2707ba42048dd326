//! Rosters: a course's teachers and students, and the invitations that add them.

use serde_json::{Value, json};

use super::profiles::profile;
use super::submissions::create_submissions;
use super::{
    Access, Ctx, Params, Query, access, course_read, course_teach, list_reply, param, q, text,
    user_filter,
};
use crate::Role;
use crate::errors::{ApiResult, Status};
use crate::spec::Route;
use crate::store::{State, User, now};

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

pub(super) fn member_create(
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

pub(super) fn member_get(state: &State, ctx: &Ctx, name: &str, params: &Params) -> ApiResult {
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

pub(super) fn members_list(
    state: &State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
) -> ApiResult {
    let (course, _) = course_read(state, ctx, param(params, "courseId"))?;
    let kind = members_kind(route.name());
    let items = state
        .items(&format!("courses/{course}/{kind}"))
        .to_vec()
        .into_iter()
        .map(|m| render_member(state, ctx, m))
        .collect();
    list_reply(route, query, items)
}

pub(super) fn member_delete(
    state: &mut State,
    ctx: &Ctx,
    name: &str,
    params: &Params,
) -> ApiResult {
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
            "@CannotRemoveCourseOwner The course owner cannot be removed from the course's \
             teachers. Transfer ownership first.",
        ));
    }
    state
        .remove(&format!("courses/{course}/{kind}"), "userId", &user)
        .ok_or_else(Status::entity_not_found)?;
    Ok(json!({}))
}

// ---------------------------------------------------------------------------------------------
// Invitations

fn may_see_invitation(state: &State, ctx: &Ctx, inv: &Value) -> bool {
    text(inv, "userId") == Some(ctx.me())
        || access(state, ctx, text(inv, "courseId").unwrap_or_default()) == Access::Teach
}

pub(super) fn invitation_create(state: &mut State, ctx: &Ctx, body: Value) -> ApiResult {
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

pub(super) fn invitations_list(
    state: &State,
    ctx: &Ctx,
    route: &Route,
    query: &Query,
) -> ApiResult {
    let user = q(query, "userId");
    let course = q(query, "courseId");
    if user.is_none() && course.is_none() {
        return Err(Status::invalid(
            "Either user_id or course_id must be specified.",
        ));
    }
    let user = user_filter(state, ctx, user)?;
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

pub(super) fn invitation_accept(state: &mut State, ctx: &Ctx, id: &str) -> ApiResult {
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

pub(super) fn invitation_get(state: &State, ctx: &Ctx, params: &Params) -> ApiResult {
    let inv = state
        .find("invitations", "id", param(params, "id"))
        .cloned()
        .ok_or_else(Status::entity_not_found)?;
    if !may_see_invitation(state, ctx, &inv) {
        return Err(Status::caller_denied());
    }
    Ok(inv)
}

pub(super) fn invitation_delete(state: &mut State, ctx: &Ctx, params: &Params) -> ApiResult {
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
