//! Student submissions and their state machine, coursework assignees and rubrics.

use serde_json::{Value, json};

use super::collections::{
    assign_rubric_ids, check_rubric, empty_assignees, is_student_visible, item_path,
    owns_course_work, project_denied, render_item, same_project,
};
use super::courses::link_id;
use super::{
    Access, Ctx, Params, Query, access, apply_mask, course_read, course_teach, list_reply,
    modifiable, obj, param, q, q_all, text, update_mask, user_filter,
};
use crate::errors::{ApiResult, Status};
use crate::spec::Route;
use crate::store::{State, now};

pub(super) fn create_submissions(
    state: &mut State,
    course: &str,
    work: &Value,
    only: Option<Vec<String>>,
) {
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

/// A submission as the caller sees it: `late` worked out, `associatedWithDeveloper` true when
/// the caller's project created the coursework, and `draftGrade` only for teachers.
fn render_submission(state: &State, ctx: &Ctx, teaching: bool, mut sub: Value) -> Value {
    let path = format!(
        "courses/{}/courseWork/{}",
        text(&sub, "courseId").unwrap_or_default(),
        text(&sub, "courseWorkId").unwrap_or_default()
    );
    sub["associatedWithDeveloper"] = json!(same_project(state, ctx, &path));
    if !teaching && let Some(map) = sub.as_object_mut() {
        map.remove("draftGrade");
    }
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
pub(super) fn submission(state: &State, ctx: &Ctx, params: &Params) -> ApiResult<(String, Value)> {
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

/// `@ProjectPermissionDenied` unless the caller's project created the submission's coursework
/// (or an add-on attachment on it).
fn check_project(state: &State, ctx: &Ctx, sub: &Value) -> ApiResult<()> {
    let course = text(sub, "courseId").unwrap_or_default();
    let work = text(sub, "courseWorkId").unwrap_or_default();
    if owns_course_work(state, ctx, course, work) {
        Ok(())
    } else {
        Err(project_denied())
    }
}

/// A grade as Classroom keeps it: rounded to two decimal places.
fn round_grade(grade: f64) -> f64 {
    (grade * 100.0).round() / 100.0
}

pub(super) fn submissions_list(
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
    let user = user_filter(state, ctx, q(query, "userId"))?;
    let states = q_all(query, "states");
    let late = q(query, "late").unwrap_or("LATE_VALUES_UNSPECIFIED");
    let mut items = Vec::new();
    for w in works {
        for sub in state.items(&format!(
            "courses/{course}/courseWork/{w}/studentSubmissions"
        )) {
            let sub = render_submission(state, ctx, access == Access::Teach, sub.clone());
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

pub(super) fn submission_patch(
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
    modifiable(state, course)?;
    check_project(state, ctx, &sub)?;
    let mut body = body;
    for f in &fields {
        if let Some(grade) = body.get(f).and_then(Value::as_f64) {
            if grade < 0.0 {
                return Err(Status::invalid(format!(
                    "{}: A grade must not be negative.",
                    crate::spec::snake(f)
                )));
            }
            body[f.as_str()] = json!(round_grade(grade));
        }
    }
    let item = state
        .find_mut(&key, "id", text(&sub, "id").unwrap_or_default())
        .ok_or_else(Status::entity_not_found)?;
    apply_mask(item, &body, &fields);
    item["updateTime"] = json!(now());
    let item = item.clone();
    Ok(render_submission(state, ctx, true, item))
}

pub(super) fn submission_transition(
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
    let teaching = access(state, ctx, &course) == Access::Teach;
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
    let next = match action {
        "turnIn" => {
            only_owner()?;
            check_project(state, ctx, &sub)?;
            if matches!(current.as_str(), "TURNED_IN") {
                return Err(Status::precondition(
                    "The submission has already been turned in.",
                ));
            }
            "TURNED_IN"
        }
        "reclaim" => {
            only_owner()?;
            check_project(state, ctx, &sub)?;
            if current != "TURNED_IN" {
                return Err(Status::precondition(
                    "The submission has not been turned in, so it cannot be reclaimed.",
                ));
            }
            "RECLAIMED_BY_STUDENT"
        }
        "return" => {
            if !teaching {
                return Err(Status::denied(
                    "Only a teacher of the course may return submissions.",
                ));
            }
            check_project(state, ctx, &sub)?;
            // Returning may leave the state as it is: a returned submission stays returned.
            "RETURNED"
        }
        _ => {
            // modifyAttachments
            only_owner()?;
            check_project(state, ctx, &sub)?;
            if text(&work, "workType") != Some("ASSIGNMENT") {
                return Err(Status::invalid(
                    "Attachments may only be added to submissions of course work with work_type ASSIGNMENT.",
                ));
            }
            let mode = text(&work, "submissionModificationMode").unwrap_or_default();
            if current == "TURNED_IN" && mode != "MODIFIABLE" {
                return Err(Status::denied(
                    "The submission is turned in and the course work's submission_modification_mode \
                     is MODIFIABLE_UNTIL_TURNED_IN: reclaim it before changing attachments.",
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
            if add.iter().any(|a| !a["form"].is_null()) {
                return Err(Status::invalid(
                    "add_attachments: Form attachments are not supported.",
                ));
            }
            let had = sub["assignmentSubmission"]["attachments"]
                .as_array()
                .map_or(0, Vec::len);
            if had + add.len() > 20 {
                return Err(Status::invalid(
                    "add_attachments: A student submission may not have more than 20 attachments.",
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
            let item = item.clone();
            return Ok(render_submission(state, ctx, teaching, item));
        }
    };
    if next == current {
        return Ok(json!({}));
    }
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
    // Unlike the Classroom application, the API's return leaves assignedGrade as it is.
    if let Some(history) = item["submissionHistory"].as_array_mut() {
        history.push(json!({"stateHistory": {
            "state": next, "stateTimestamp": t, "actorUserId": me,
        }}));
    }
    Ok(json!({}))
}

pub(super) fn modify_assignees(
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
    modifiable(state, &course)?;
    // Changing who a post is for changes the post: only its project may.
    let path = item_path(&key, id);
    let may = if kind == "courseWork" {
        owns_course_work(state, ctx, &course, id)
    } else {
        same_project(state, ctx, &path)
    };
    if !may {
        return Err(project_denied());
    }
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
                return Err(empty_assignees());
            }
            updated["assigneeMode"] = json!("INDIVIDUAL_STUDENTS");
            updated["individualStudentsOptions"] = json!({"studentIds": ids});
        }
        "ALL_STUDENTS" => {
            if !options.is_null() {
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
    let schema = if kind == "courseWork" {
        create_submissions(state, &course, &updated, None);
        "CourseWork"
    } else {
        "Announcement"
    };
    Ok(render_item(state, ctx, schema, &path, updated))
}

pub(super) fn update_rubric(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    let (course, access) = course_read(state, ctx, param(params, "courseId"))?;
    let work = param(params, "courseWorkId");
    let found = state
        .find(&format!("courses/{course}/courseWork"), "id", work)
        .ok_or_else(Status::entity_not_found)?;
    if access != Access::Teach {
        // "NOT_FOUND if ... the user doesn't have access to the corresponding course work".
        return Err(if is_student_visible(found, ctx.me()) {
            Status::caller_denied()
        } else {
            Status::entity_not_found()
        });
    }
    let fields = update_mask(route, query)?;
    modifiable(state, &course)?;
    if !owns_course_work(state, ctx, &course, work) {
        return Err(project_denied());
    }
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
    let mut rubric = state
        .find(&key, "id", &id)
        .cloned()
        .ok_or_else(Status::entity_not_found)?;
    apply_mask(&mut rubric, &body, &fields);
    check_rubric(&rubric)?;
    rubric["updateTime"] = json!(now());
    if let Some(slot) = state.find_mut(&key, "id", &id) {
        *slot = rubric.clone();
    }
    Ok(rubric)
}

pub(super) fn submission_get(state: &State, ctx: &Ctx, params: &Params) -> ApiResult {
    let (_, sub) = submission(state, ctx, params)?;
    let teaching = access(state, ctx, text(&sub, "courseId").unwrap_or_default()) == Access::Teach;
    Ok(render_submission(state, ctx, teaching, sub))
}
