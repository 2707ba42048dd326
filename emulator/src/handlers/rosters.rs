//! Rosters: a course's teachers and students, and the invitations that add them.

use serde_json::{Value, json};

use super::profiles::profile;
use super::submissions::create_submissions;
use super::{
    Access, Ctx, Params, Query, access, course_read, course_teach, list_reply, modifiable,
    owner_active, param, q, text, user_filter,
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
    // "FAILED_PRECONDITION if the requested user's account is disabled, for the following
    // request errors: ... CourseNotModifiable ... InactiveCourseOwner".
    modifiable(state, &course)?;
    owner_active(state, &course)?;
    if user.disabled && !state.is_member(&course, &user.id) {
        return Err(disabled_user());
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
    let owner_disabled = state
        .course(&course)
        .and_then(|c| text(c, "ownerId"))
        .and_then(|o| state.user_by_id(o))
        .is_some_and(|o| o.disabled);
    if kind == "teachers" && owner_disabled && state.is_teacher(&course, &user) {
        // "FAILED_PRECONDITION if the course no longer has an active owner."
        return Err(Status::precondition(
            "@CannotRemoveTeacherWithNoCourseOwner The course has no active owner; transfer \
             it to an active teacher before removing teachers.",
        ));
    }
    state
        .remove(&format!("courses/{course}/{kind}"), "userId", &user)
        .ok_or_else(Status::entity_not_found)?;
    Ok(json!({}))
}

/// The documented `FAILED_PRECONDITION` for a user whose account is disabled.
fn disabled_user() -> Status {
    Status::precondition("The requested user's account is disabled.")
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
    if user.disabled {
        return Err(disabled_user());
    }
    // "FAILED_PRECONDITION ... if the user already has this role or a role with greater
    // permissions": student < teacher < owner.
    let rank = |role: &str| match role {
        "STUDENT" => 1,
        "TEACHER" => 2,
        _ => 3,
    };
    let held = if state.course(&course).and_then(|c| text(c, "ownerId")) == Some(user.id.as_str()) {
        Some("OWNER")
    } else if state.is_teacher(&course, &user.id) {
        Some("TEACHER")
    } else if state.is_student(&course, &user.id) {
        Some("STUDENT")
    } else {
        None
    };
    if let Some(held) = held.filter(|held| rank(held) >= rank(role)) {
        return Err(Status::precondition(format!(
            "The user is already {} of the course; an invitation as {role} would give them \
             nothing more.",
            match held {
                "OWNER" => "the owner",
                "TEACHER" => "a teacher",
                _ => "a student",
            }
        )));
    }
    if role == "OWNER" && !matches!(user.role, Role::Teacher | Role::Admin) {
        return Err(Status::precondition(
            "@IneligibleOwner The invited user cannot own courses.",
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
    modifiable(state, &course)?;
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

/// Disabled accounts, set on the state directly: over HTTP, as a client sees them.
#[cfg(test)]
mod disabled_accounts {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use classroom_spec::Scope;
    use serde_json::{Value, json};

    use crate::{Emulator, demo};

    /// Sends one request as `user`; the status and the decoded body.
    fn call(
        emulator: &Emulator,
        user: &str,
        method: &str,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let token = emulator.token_for(user, &[Scope::Courses, Scope::Rosters]);
        let body = body.to_string();
        let mut stream = TcpStream::connect(emulator.addr()).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer \
             {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    fn disable(emulator: &Emulator, email: &str) {
        let mut state = emulator.shared.state();
        let user = state.users.iter_mut().find(|u| u.email == email).unwrap();
        user.disabled = true;
    }

    /// Asserts a 400 `FAILED_PRECONDITION` whose message starts with `start`.
    fn refused(answer: (u16, Value), start: &str, why: &str) {
        let message = answer.1["error"]["message"].as_str().unwrap_or("");
        assert!(
            answer.0 == 400
                && answer.1["error"]["status"] == "FAILED_PRECONDITION"
                && message.starts_with(start),
            "{why}: {answer:?}"
        );
    }

    #[test]
    fn a_disabled_account_neither_owns_nor_joins_courses() {
        let emulator = Emulator::builder().empty().start().unwrap();
        let course = call(
            &emulator,
            demo::ADMIN,
            "POST",
            "/v1/courses",
            json!({"name": "Latin", "ownerId": demo::TEACHER, "courseState": "ACTIVE"}),
        );
        assert_eq!(course.0, 200, "{course:?}");
        let id = course.1["id"].as_str().unwrap().to_string();
        call(
            &emulator,
            demo::ADMIN,
            "POST",
            &format!("/v1/courses/{id}/teachers"),
            json!({"userId": demo::SECOND_TEACHER}),
        );
        call(
            &emulator,
            demo::ADMIN,
            "POST",
            &format!("/v1/courses/{id}/teachers"),
            json!({"userId": demo::ADMIN}),
        );
        disable(&emulator, demo::SECOND_STUDENT);
        refused(
            call(
                &emulator,
                demo::ADMIN,
                "POST",
                &format!("/v1/courses/{id}/students"),
                json!({"userId": demo::SECOND_STUDENT}),
            ),
            "The requested user's account is disabled",
            "courses.students.create of a disabled user",
        );
        refused(
            call(
                &emulator,
                demo::TEACHER,
                "POST",
                "/v1/invitations",
                json!({"courseId": id, "userId": demo::SECOND_STUDENT, "role": "STUDENT"}),
            ),
            "The requested user's account is disabled",
            "invitations.create for a disabled user",
        );

        disable(&emulator, demo::SECOND_TEACHER);
        refused(
            call(
                &emulator,
                demo::ADMIN,
                "POST",
                "/v1/courses",
                json!({"name": "Greek", "ownerId": demo::SECOND_TEACHER}),
            ),
            "The course owner's account is disabled",
            "courses.create for a disabled owner",
        );
        refused(
            call(
                &emulator,
                demo::ADMIN,
                "PATCH",
                &format!("/v1/courses/{id}?updateMask=ownerId"),
                json!({"ownerId": demo::SECOND_TEACHER}),
            ),
            "@IneligibleOwner ",
            "an ownership transfer to a disabled teacher",
        );

        // The owner's account goes: the course refuses changes until a co-teacher owns it.
        disable(&emulator, demo::TEACHER);
        refused(
            call(
                &emulator,
                demo::ADMIN,
                "PATCH",
                &format!("/v1/courses/{id}?updateMask=name"),
                json!({"name": "Classical Latin"}),
            ),
            "@InactiveCourseOwner ",
            "courses.patch of a course whose owner is disabled",
        );
        refused(
            call(
                &emulator,
                demo::ADMIN,
                "POST",
                &format!("/v1/courses/{id}/students"),
                json!({"userId": demo::STUDENT}),
            ),
            "@InactiveCourseOwner ",
            "courses.students.create in a course whose owner is disabled",
        );
        refused(
            call(
                &emulator,
                demo::ADMIN,
                "DELETE",
                &format!("/v1/courses/{id}/teachers/{}", demo::ADMIN),
                Value::Null,
            ),
            "@CannotRemoveTeacherWithNoCourseOwner ",
            "courses.teachers.delete while the course has no active owner",
        );
        let moved = call(
            &emulator,
            demo::ADMIN,
            "PATCH",
            &format!("/v1/courses/{id}?updateMask=ownerId"),
            json!({"ownerId": demo::ADMIN}),
        );
        assert_eq!(moved.0, 200, "a transfer to an active owner: {moved:?}");
        let added = call(
            &emulator,
            demo::ADMIN,
            "POST",
            &format!("/v1/courses/{id}/students"),
            json!({"userId": demo::STUDENT}),
        );
        assert_eq!(added.0, 200, "{added:?}");
    }
}
