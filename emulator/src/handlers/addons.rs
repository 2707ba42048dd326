//! The student submissions of an add-on attachment (`*.addOnAttachments.studentSubmissions`).
//!
//! An attachment on coursework that takes student work (it has a `studentWorkReviewUri`: an
//! activity-type attachment) has a submission for each student submission of the coursework,
//! under the same id: the `submissionId` that `AddOnContext.studentContext` gives the student
//! and that `studentWorkReviewUri` is opened with. Its `postSubmissionState` is the coursework
//! submission's state; `pointsEarned` is what the add-on passed back. An attachment that takes
//! no student work, or one on an announcement or material, has none.

use serde_json::{Value, json};

use super::collections::{is_student_visible, item_path, project_denied, same_project};
use super::{
    Access, Ctx, Params, Query, apply_mask, course_read, list_reply, param, text, update_mask,
};
use crate::errors::{ApiResult, Status};
use crate::spec::Route;
use crate::store::State;

/// `get`, `list` and `patch` of an add-on attachment's student submissions.
pub(super) fn attachment_submissions(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    let (course, access) = course_read(state, ctx, param(params, "courseId"))?;
    let teaching = access == Access::Teach;
    let item = [param(params, "itemId"), param(params, "postId")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or_default()
        .to_string();
    // "NOT_FOUND if one of the identified resources does not exist": the coursework (as the
    // caller may see it), the attachment and the submission.
    let work = state
        .find(&format!("courses/{course}/courseWork"), "id", &item)
        .cloned()
        .ok_or_else(Status::entity_not_found)?;
    if !teaching && !is_student_visible(&work, ctx.me()) {
        return Err(Status::entity_not_found());
    }
    let attachments = format!("courses/{course}/items/{item}/addOnAttachments");
    let attachment_id = param(params, "attachmentId").to_string();
    let attachment = state
        .find(&attachments, "id", &attachment_id)
        .cloned()
        .ok_or_else(Status::entity_not_found)?;
    let takes_work = !attachment["studentWorkReviewUri"].is_null();
    let grades = format!("{attachments}/{attachment_id}/studentSubmissions");
    let submissions = format!("courses/{course}/courseWork/{item}/studentSubmissions");
    let render = |state: &State, sub: &Value| {
        let id = text(sub, "id").unwrap_or_default();
        let mut out = json!({
            "id": id,
            "courseWorkSubmissionId": id,
            "postSubmissionState": text(sub, "state").unwrap_or("NEW"),
        });
        // "Requires the user to be a teacher in the course."
        if teaching {
            out["userId"] = sub["userId"].clone();
        }
        if let Some(points) = state
            .find(&grades, "id", id)
            .and_then(|g| g.get("pointsEarned"))
            .filter(|p| !p.is_null())
        {
            out["pointsEarned"] = points.clone();
        }
        out
    };
    if route.action() == "list" {
        let items = if takes_work {
            state
                .items(&submissions)
                .iter()
                .filter(|s| teaching || text(s, "userId") == Some(ctx.me()))
                .map(|s| render(state, s))
                .collect()
        } else {
            Vec::new()
        };
        return list_reply(route, query, items);
    }
    let submission_id = param(params, "submissionId");
    let sub = takes_work
        .then(|| state.find(&submissions, "id", submission_id).cloned())
        .flatten()
        .ok_or_else(Status::entity_not_found)?;
    if !teaching && text(&sub, "userId") != Some(ctx.me()) {
        return Err(Status::caller_denied());
    }
    if route.action() == "get" {
        return Ok(render(state, &sub));
    }
    // patch: "Requires the add-on to have been the original creator of the attachment and the
    // attachment to have a positive `max_points` value set."
    if !teaching {
        return Err(Status::caller_denied());
    }
    if !same_project(state, ctx, &item_path(&attachments, &attachment_id)) {
        return Err(project_denied());
    }
    let fields = update_mask(route, query)?;
    if attachment["maxPoints"].as_f64().is_none_or(|p| p <= 0.0) {
        return Err(Status::invalid(
            "The attachment has no positive max_points: it does not take grades.",
        ));
    }
    if let Some(points) = body.get("pointsEarned").filter(|p| !p.is_null())
        && points.as_f64().is_none_or(|p| p < 0.0)
    {
        return Err(Status::invalid(
            "points_earned: Must be a non-negative number.",
        ));
    }
    if state.find(&grades, "id", submission_id).is_none() {
        state.items_mut(&grades).push(json!({"id": submission_id}));
    }
    if let Some(grade) = state.find_mut(&grades, "id", submission_id) {
        apply_mask(grade, &body, &fields);
    }
    Ok(render(state, &sub))
}
