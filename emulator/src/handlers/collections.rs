//! The collections under a course that Classroom treats alike (coursework, announcements,
//! topics, materials, rubrics, student groups, add-on attachments, ...): one generic
//! create/get/list/patch/delete keyed by the parent path and driven by the discovery document.

use serde_json::{Map, Value, json};

use super::courses::link_id;
use super::submissions::create_submissions;
use super::{
    Access, Ctx, Params, Query, apply_mask, course_read, list_reply, modifiable, obj, param, q,
    q_all, text, update_mask,
};
use crate::errors::{ApiResult, Status};
use crate::spec::{Route, spec};
use crate::store::{State, now};

/// The resource a method works on: `courses.courseWork` for `courses.courseWork.patch`.
pub(super) fn resource(route: &Route) -> &'static str {
    let name = route.name();
    name.rsplit_once('.').map_or(name, |(r, _)| r)
}

/// The schema of a resource's items.
fn item_schema(route: &Route) -> Option<String> {
    let spec = spec();
    let prefix = format!("classroom.{}", resource(route));
    if let Some(get) = spec.by_id(&format!("{prefix}.get")) {
        return get.response.clone();
    }
    if let Some(create) = spec.by_id(&format!("{prefix}.create")) {
        return create.request.clone();
    }
    let list = spec.by_id(&format!("{prefix}.list"))?;
    let response = list.response.as_deref()?;
    let field = spec.list_field(response)?;
    spec.properties(response)?[field]["items"]["$ref"]
        .as_str()
        .map(str::to_string)
}

/// The path parameter naming one item of the resource (`id`, `userId`, `attachmentId`, ...).
fn item_param(route: &Route) -> Option<String> {
    let prefix = format!("classroom.{}.", resource(route));
    spec()
        .routes
        .iter()
        .filter(|r| r.info.id.starts_with(&prefix) && !r.info.id[prefix.len()..].contains('.'))
        .filter(|r| matches!(r.action(), "get" | "delete" | "patch"))
        .find_map(|r| {
            r.template()
                .last()
                .filter(|(p, _)| *p)
                .map(|(_, n)| n.to_string())
        })
}

/// The field of an item holding its id.
fn id_field(schema: &str, item_param: &str, parents: &[&str]) -> String {
    let spec = spec();
    if spec.has(schema, item_param) {
        return item_param.to_string();
    }
    if spec.has(schema, "id") {
        return "id".to_string();
    }
    spec.properties(schema)
        .and_then(|p| {
            p.keys()
                .find(|k| k.ends_with("Id") && !parents.contains(&k.as_str()))
                .cloned()
        })
        .unwrap_or_else(|| "id".to_string())
}

/// The collection path of a call (`courses/1/courseWork/2/rubrics`), its item id if the call
/// names one, and parent items to check, as (collection, id).
fn collection(
    route: &Route,
    params: &Params,
    course: &str,
) -> (String, Option<String>, Vec<(String, String)>) {
    let template: Vec<(bool, &str)> = route.template().skip(1).collect();
    let has_item = matches!(route.action(), "get" | "patch" | "delete")
        && template.last().is_some_and(|(p, _)| *p);
    let upto = if has_item {
        template.len() - 1
    } else {
        template.len()
    };
    let mut parts: Vec<String> = Vec::new();
    let mut parents = Vec::new();
    for (i, (is_param, name)) in template[..upto].iter().enumerate() {
        if *is_param {
            let value = if *name == "courseId" {
                course.to_string()
            } else {
                param(params, name).to_string()
            };
            if i > 1 {
                parents.push((parts.join("/"), value.clone()));
            }
            parts.push(value);
        } else {
            parts.push(name.to_string());
        }
    }
    // Add-on attachments hang off a post, whatever the path calls it.
    if parts.len() >= 5 && parts[4] == "addOnAttachments" {
        parts[2] = "items".into();
        for (key, _) in &mut parents {
            let mut segments: Vec<&str> = key.split('/').collect();
            if segments.len() >= 3 {
                segments[2] = "items";
            }
            *key = segments.join("/");
        }
    }
    let item = has_item.then(|| param(params, template[template.len() - 1].1).to_string());
    (parts.join("/"), item, parents)
}

/// Fields Classroom requires on create, by schema.
const REQUIRED: &[(&str, &[&str])] = &[
    ("CourseWork", &["title", "workType"]),
    ("Announcement", &["text"]),
    ("Topic", &["name"]),
    ("CourseWorkMaterial", &["title"]),
    ("StudentGroup", &["title"]),
    (
        "AddOnAttachment",
        &["title", "teacherViewUri", "studentViewUri"],
    ),
    ("StudentGroupMember", &["userId"]),
];

pub(super) fn is_student_visible(item: &Value, me: &str) -> bool {
    let published = text(item, "state").is_none_or(|s| s == "PUBLISHED");
    let assigned = text(item, "assigneeMode") != Some("INDIVIDUAL_STUDENTS")
        || item["individualStudentsOptions"]["studentIds"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(me)));
    published && assigned
}

/// The resources whose deleted items Classroom remembers (a second delete, or a patch, is
/// `FAILED_PRECONDITION`), with the noun their messages use.
const TOMBSTONED: &[(&str, &str)] = &[
    ("courses.courseWork", "course work"),
    ("courses.announcements", "announcement"),
    ("courses.courseWorkMaterials", "course work material"),
    ("courses.topics", "topic"),
];

/// The path keying an item in [`State::projects`] and [`State::deleted`].
pub(super) fn item_path(collection: &str, id: &str) -> String {
    format!("{collection}/{id}")
}

/// `PERMISSION_DENIED` for an item another Developer Console project created.
pub(super) fn project_denied() -> Status {
    Status::denied(
        "@ProjectPermissionDenied The Developer Console project is not permitted to make this \
         request: the item was created with the OAuth client ID of another project.",
    )
}

/// Whether the caller's project (OAuth client) created the item at `path`.
pub(super) fn same_project(state: &State, ctx: &Ctx, path: &str) -> bool {
    state
        .projects
        .get(path)
        .is_some_and(|p| *p == ctx.client_id)
}

/// Whether the caller's project may modify a coursework and its submissions: it created the
/// coursework, or an add-on attachment on it.
pub(super) fn owns_course_work(state: &State, ctx: &Ctx, course: &str, work: &str) -> bool {
    let attachments = format!("courses/{course}/items/{work}/addOnAttachments/");
    same_project(state, ctx, &format!("courses/{course}/courseWork/{work}"))
        || state
            .projects
            .iter()
            .any(|(path, p)| path.starts_with(&attachments) && *p == ctx.client_id)
}

/// An item as the caller sees it: `associatedWithDeveloper` says whether the caller's project
/// created it, and `alternateLink` is there only once the item is published.
pub(super) fn render_item(
    state: &State,
    ctx: &Ctx,
    schema: &str,
    path: &str,
    mut item: Value,
) -> Value {
    let spec = spec();
    if spec.has(schema, "associatedWithDeveloper") {
        item["associatedWithDeveloper"] = json!(same_project(state, ctx, path));
    }
    if spec.has(schema, "alternateLink")
        && spec.has(schema, "state")
        && text(&item, "state") != Some("PUBLISHED")
        && let Some(map) = item.as_object_mut()
    {
        map.remove("alternateLink");
    }
    item
}

/// Topic names as Classroom keeps them: trimmed, inner runs of whitespace collapsed.
fn topic_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks a coursework, announcement, material or topic as it would be stored (the body of a
/// create, or the item with a patch applied) against what the API reference requires of it.
fn check_post(
    state: &State,
    course: &str,
    schema: &str,
    item: &Value,
    creating: bool,
    own_id: Option<&str>,
) -> ApiResult<()> {
    let chars = |f: &str| text(item, f).map_or(0, |t| t.chars().count());
    let required = |f: &str| {
        Status::invalid(format!(
            "{}: This field is required.",
            crate::spec::snake(f)
        ))
    };
    let too_long = |f: &str, max: usize| {
        Status::invalid(format!(
            "{}: Must be no longer than {max} characters.",
            crate::spec::snake(f)
        ))
    };
    match schema {
        "CourseWork" | "CourseWorkMaterial" => {
            if chars("title") == 0 {
                return Err(required("title"));
            }
            if chars("title") > 3000 {
                return Err(too_long("title", 3000));
            }
            if chars("description") > 30_000 {
                return Err(too_long("description", 30_000));
            }
        }
        "Announcement" => {
            if chars("text") == 0 {
                return Err(required("text"));
            }
            if chars("text") > 30_000 {
                return Err(too_long("text", 30_000));
            }
        }
        "Topic" => {
            let name = topic_name(text(item, "name").unwrap_or_default());
            if name.is_empty() {
                return Err(required("name"));
            }
            if name.chars().count() > 100 {
                return Err(too_long("name", 100));
            }
            let taken = state
                .items(&format!("courses/{course}/topics"))
                .iter()
                .any(|t| text(t, "name") == Some(name.as_str()) && text(t, "topicId") != own_id);
            if taken {
                let message = format!("A topic named {name:?} already exists in the course.");
                return Err(if creating {
                    Status::exists(message)
                } else {
                    Status::precondition(message)
                });
            }
            return Ok(());
        }
        _ => return Ok(()),
    }
    if item["materials"].as_array().is_some_and(|m| m.len() > 20) {
        return Err(Status::invalid(
            "materials: No more than 20 material items are allowed.",
        ));
    }
    match text(item, "state") {
        None if !creating => {
            return Err(Status::invalid(
                "state: A state is required; it cannot be cleared.",
            ));
        }
        Some(s) if s.ends_with("_UNSPECIFIED") && !creating => {
            return Err(Status::invalid(format!(
                "state: {s} is not a state to set."
            )));
        }
        Some("DELETED") => {
            return Err(Status::invalid(
                "state: DELETED cannot be set; delete the item instead.",
            ));
        }
        _ => {}
    }
    if let Some(topic) = text(item, "topicId").filter(|t| !t.is_empty())
        && state
            .find(&format!("courses/{course}/topics"), "topicId", topic)
            .is_none()
    {
        return Err(Status::invalid(format!(
            "topic_id: {topic} is not a topic of the course."
        )));
    }
    if schema != "CourseWork" {
        return check_assignees(state, course, item);
    }
    match text(item, "workType") {
        None => return Err(required("workType")),
        Some("COURSE_WORK_TYPE_UNSPECIFIED") => {
            return Err(Status::invalid(
                "work_type: COURSE_WORK_TYPE_UNSPECIFIED is not a work type.",
            ));
        }
        Some("MULTIPLE_CHOICE_QUESTION") => {
            if strings(&item["multipleChoiceQuestion"]["choices"]).is_empty() {
                return Err(Status::invalid(
                    "multiple_choice_question: Required, with choices, for MULTIPLE_CHOICE_QUESTION work.",
                ));
            }
        }
        Some(_) => {
            if !item["multipleChoiceQuestion"].is_null() {
                return Err(Status::invalid(
                    "multiple_choice_question: Must not be set unless work_type is MULTIPLE_CHOICE_QUESTION.",
                ));
            }
        }
    }
    match (item["dueDate"].is_null(), item["dueTime"].is_null()) {
        (true, false) => {
            return Err(Status::invalid(
                "due_date: Must be specified when due_time is specified.",
            ));
        }
        (false, true) => {
            return Err(Status::invalid(
                "due_time: Must be specified when due_date is specified.",
            ));
        }
        _ => {}
    }
    if let Some(points) = item.get("maxPoints").and_then(Value::as_f64)
        && (points < 0.0 || points.fract() != 0.0)
    {
        return Err(Status::invalid(
            "max_points: Must be a non-negative integer value.",
        ));
    }
    if let Some(period) = text(item, "gradingPeriodId").filter(|p| !p.is_empty()) {
        let known = state.grading.get(course).is_some_and(|g| {
            g["gradingPeriods"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| text(p, "id") == Some(period)))
        });
        if !known {
            return Err(Status::invalid(format!(
                "grading_period_id: {period} is not a grading period of the course."
            )));
        }
    }
    check_assignees(state, course, item)
}

/// `individualStudentsOptions` only with `INDIVIDUAL_STUDENTS`, naming students of the course,
/// at least one (`@EmptyAssignees` otherwise, as `modifyAssignees` answers).
fn check_assignees(state: &State, course: &str, item: &Value) -> ApiResult<()> {
    let options = &item["individualStudentsOptions"];
    if text(item, "assigneeMode") != Some("INDIVIDUAL_STUDENTS") {
        if !options.is_null() {
            return Err(Status::invalid(
                "individual_students_options: Set only when assignee_mode is INDIVIDUAL_STUDENTS.",
            ));
        }
        return Ok(());
    }
    let ids = strings(&options["studentIds"]);
    if ids.is_empty() {
        return Err(empty_assignees());
    }
    let students = state.student_ids(course);
    if let Some(stranger) = ids.iter().find(|i| !students.contains(i)) {
        return Err(Status::invalid(format!(
            "individual_students_options: {stranger} is not a student of the course."
        )));
    }
    Ok(())
}

/// `FAILED_PRECONDITION` for an item assigned to nobody.
pub(super) fn empty_assignees() -> Status {
    Status::precondition(
        "@EmptyAssignees With assignee_mode INDIVIDUAL_STUDENTS at least one student must be assigned.",
    )
}

/// Removes the fields the schema calls read-only from a create body: Classroom sets them.
fn strip_read_only(schema: &str, item: &mut Map<String, Value>) {
    if let Some(properties) = spec().properties(schema) {
        for (name, def) in properties {
            if def["description"]
                .as_str()
                .is_some_and(|d| d.contains("Read-only"))
            {
                item.remove(name);
            }
        }
    }
}

pub(super) fn generic(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    if !route.info.path.starts_with("v1/courses/{courseId}/") {
        return Err(Status::unimplemented(route.info.id));
    }
    let (course, access) = course_read(state, ctx, param(params, "courseId"))?;
    let (key, item_id, parents) = collection(route, params, &course);
    let schema = item_schema(route).unwrap_or_default();
    let item_param = item_param(route).unwrap_or_else(|| "id".into());
    let parent_names: Vec<&str> = route.param_names().collect();
    let field = id_field(&schema, &item_param, &parent_names);
    for (collection, id) in &parents {
        let parent_field = "id";
        let found = if collection.ends_with("/items") {
            ["announcements", "courseWork", "courseWorkMaterials"]
                .iter()
                .any(|k| {
                    state
                        .find(&format!("courses/{course}/{k}"), parent_field, id)
                        .is_some()
                })
        } else {
            state.find(collection, parent_field, id).is_some()
        };
        if !found {
            return Err(Status::entity_not_found());
        }
        // A post the caller may not see is as missing to the items under it: "NOT_FOUND if
        // ... the user doesn't have access to the corresponding course work" (rubrics).
        let hidden = access != Access::Teach
            && ["announcements", "courseWork", "courseWorkMaterials"]
                .iter()
                .filter(|k| {
                    collection.ends_with("/items") || collection.ends_with(&format!("/{k}"))
                })
                .filter_map(|k| state.find(&format!("courses/{course}/{k}"), "id", id))
                .any(|post| !is_student_visible(post, ctx.me()));
        if hidden {
            return Err(Status::entity_not_found());
        }
    }
    let teaching = access == Access::Teach;
    if matches!(route.action(), "create" | "patch" | "delete") {
        modifiable(state, &course)?;
    }
    let student_filtered = matches!(
        resource(route),
        "courses.courseWork" | "courses.announcements" | "courses.courseWorkMaterials"
    );
    let tombstoned = TOMBSTONED
        .iter()
        .find(|(r, _)| *r == resource(route))
        .map(|(_, noun)| *noun);
    let posts = matches!(
        schema.as_str(),
        "CourseWork" | "Announcement" | "CourseWorkMaterial" | "Topic"
    );
    // Rubrics are changed by the project that created their coursework.
    let work_of_rubric = (schema == "Rubric").then(|| param(params, "courseWorkId").to_string());
    match route.action() {
        "create" => {
            if !teaching {
                return Err(Status::caller_denied());
            }
            if let Some(work) = &work_of_rubric
                && !owns_course_work(state, ctx, &course, work)
            {
                return Err(project_denied());
            }
            let mut item = obj(body);
            if posts || schema == "Rubric" {
                strip_read_only(&schema, &mut item);
            }
            if schema == "Topic"
                && let Some(name) = item.get("name").and_then(Value::as_str)
            {
                let name = topic_name(name);
                item.insert("name".into(), json!(name));
            }
            for f in ["state", "assigneeMode", "submissionModificationMode"] {
                if item
                    .get(f)
                    .and_then(Value::as_str)
                    .is_some_and(|v| v.ends_with("_UNSPECIFIED"))
                {
                    item.remove(f);
                }
            }
            for (s, fields) in REQUIRED {
                if *s == schema {
                    for f in *fields {
                        if item.get(*f).is_none_or(|v| v.is_null() || v == "") {
                            return Err(Status::invalid(format!(
                                "{}: This field is required.",
                                crate::spec::snake(f)
                            )));
                        }
                    }
                }
            }
            if posts {
                check_post(
                    state,
                    &course,
                    &schema,
                    &Value::Object(item.clone()),
                    true,
                    None,
                )?;
            }
            let id = if matches!(field.as_str(), "userId") {
                let user = item
                    .get(&field)
                    .and_then(Value::as_str)
                    .and_then(|u| state.user(u, ctx.me()))
                    .map(|u| u.id.clone())
                    .ok_or_else(|| Status::not_found("The user does not exist."))?;
                if state.find(&key, &field, &user).is_some() {
                    return Err(Status::exists("Requested entity already exists"));
                }
                user
            } else {
                state.new_id()
            };
            item.insert(field.clone(), json!(id));
            let spec = spec();
            for (name, value) in params {
                let value = if name == "courseId" {
                    course.clone()
                } else {
                    value.clone()
                };
                if spec.has(&schema, name) {
                    item.insert(name.clone(), json!(value));
                }
            }
            for name in ["itemId", "postId"] {
                if spec.has(&schema, name) && !item.contains_key(name) {
                    let v = [param(params, "itemId"), param(params, "postId")]
                        .into_iter()
                        .chain(q(query, "itemId"))
                        .chain(q(query, "postId"))
                        .find(|s| !s.is_empty())
                        .unwrap_or_default();
                    item.insert(name.into(), json!(v));
                }
            }
            let t = now();
            for f in ["creationTime", "updateTime"] {
                if spec.has(&schema, f) {
                    item.insert(f.into(), json!(t));
                }
            }
            if spec.has(&schema, "creatorUserId") {
                item.insert("creatorUserId".into(), json!(ctx.me()));
            }
            if spec.has(&schema, "alternateLink") {
                item.insert(
                    "alternateLink".into(),
                    json!(format!(
                        "https://classroom.google.com/c/{}/a/{}/details",
                        link_id(&course),
                        link_id(&id)
                    )),
                );
            }
            if spec.has(&schema, "state") && !item.contains_key("state") {
                item.insert("state".into(), json!("DRAFT"));
            }
            if spec.has(&schema, "assigneeMode") && !item.contains_key("assigneeMode") {
                item.insert("assigneeMode".into(), json!("ALL_STUDENTS"));
            }
            if schema == "Rubric" {
                check_rubric(&Value::Object(item.clone()))?;
                if state.items(&key).iter().next().is_some() {
                    return Err(Status::exists("The course work already has a rubric."));
                }
                assign_rubric_ids(state, &mut item);
            }
            let item = Value::Object(item);
            let path = item_path(&key, &id);
            state.projects.insert(path.clone(), ctx.client_id.clone());
            state.items_mut(&key).push(item.clone());
            Ok(render_item(state, ctx, &schema, &path, item))
        }
        "get" => {
            let id = item_id.unwrap_or_default();
            let item = state
                .find(&key, &field, &id)
                .cloned()
                .ok_or_else(Status::entity_not_found)?;
            if student_filtered && !teaching && !is_student_visible(&item, ctx.me()) {
                return Err(Status::entity_not_found());
            }
            Ok(render_item(
                state,
                ctx,
                &schema,
                &item_path(&key, &id),
                item,
            ))
        }
        "list" => {
            let mut items: Vec<Value> = state.items(&key).to_vec();
            if student_filtered && !teaching {
                items.retain(|i| is_student_visible(i, ctx.me()));
            }
            for name in [
                "courseWorkStates",
                "announcementStates",
                "courseWorkMaterialStates",
            ] {
                if !route.query.contains_key(name) {
                    continue;
                }
                // Unspecified, Classroom lists the published items only.
                let mut states = q_all(query, name);
                if states.is_empty() {
                    states = vec!["PUBLISHED"];
                }
                items.retain(|i| states.contains(&text(i, "state").unwrap_or_default()));
            }
            if let Some(link) = q(query, "materialLink") {
                items.retain(|i| i["materials"].to_string().contains(link));
            }
            if let Some(drive) = q(query, "materialDriveId") {
                items.retain(|i| i["materials"].to_string().contains(drive));
            }
            if route.query.contains_key("orderBy") {
                let due_date = schema == "CourseWork";
                order_by(
                    &mut items,
                    q(query, "orderBy").unwrap_or("updateTime desc"),
                    due_date,
                )?;
            }
            let items = items
                .into_iter()
                .map(|i| {
                    let path = item_path(&key, text(&i, &field).unwrap_or_default());
                    render_item(state, ctx, &schema, &path, i)
                })
                .collect();
            list_reply(route, query, items)
        }
        "patch" => {
            if !teaching {
                return Err(Status::caller_denied());
            }
            let fields = update_mask(route, query)?;
            let id = item_id.unwrap_or_default();
            let mut state_ids = None;
            if schema == "Rubric" {
                let mut b = obj(body.clone());
                assign_rubric_ids(state, &mut b);
                state_ids = Some(Value::Object(b));
            }
            let mut body = state_ids.unwrap_or(body);
            let path = item_path(&key, &id);
            let Some(current) = state.find(&key, &field, &id).cloned() else {
                return Err(match tombstoned {
                    Some(noun) if state.deleted.contains(&path) => already_deleted(noun),
                    _ => Status::entity_not_found(),
                });
            };
            let may = match &work_of_rubric {
                Some(work) => owns_course_work(state, ctx, &course, work),
                None if schema == "CourseWork" => owns_course_work(state, ctx, &course, &id),
                None if posts => same_project(state, ctx, &path),
                None => true,
            };
            if !may {
                return Err(project_denied());
            }
            if schema == "Topic"
                && let Some(name) = body.get("name").and_then(Value::as_str)
            {
                body["name"] = json!(topic_name(name));
            }
            if text(&current, "state") == Some("PUBLISHED")
                && body.get("state").and_then(Value::as_str) == Some("DRAFT")
                && fields.iter().any(|f| f == "state")
            {
                return Err(Status::precondition(
                    "Published work cannot be returned to the draft state.",
                ));
            }
            let mut updated = current;
            apply_mask(&mut updated, &body, &fields);
            if posts {
                check_post(state, &course, &schema, &updated, false, Some(&id))?;
            }
            if schema == "Rubric" {
                check_rubric(&updated)?;
            }
            if updated.get("updateTime").is_some() {
                updated["updateTime"] = json!(now());
            }
            if let Some(slot) = state.find_mut(&key, &field, &id) {
                *slot = updated.clone();
            }
            Ok(render_item(state, ctx, &schema, &path, updated))
        }
        "delete" => {
            if !teaching {
                return Err(Status::caller_denied());
            }
            let id = item_id.unwrap_or_default();
            let path = item_path(&key, &id);
            if state.find(&key, &field, &id).is_none() {
                return Err(match tombstoned {
                    Some(noun) if state.deleted.contains(&path) => already_deleted(noun),
                    _ => Status::entity_not_found(),
                });
            }
            // Topics are deleted by any teacher; the rest by the project that made them.
            let may = match schema.as_str() {
                "CourseWork" | "Announcement" | "CourseWorkMaterial" | "Rubric" => {
                    same_project(state, ctx, &path)
                }
                _ => true,
            };
            if !may {
                return Err(project_denied());
            }
            state.remove(&key, &field, &id);
            if tombstoned.is_some() {
                state.deleted.insert(path);
            }
            if schema == "Topic" {
                // Classroom moves the topic's posts to no topic.
                for kind in ["courseWork", "courseWorkMaterials"] {
                    for post in state.items_mut(&format!("courses/{course}/{kind}")) {
                        if text(post, "topicId") == Some(id.as_str())
                            && let Some(map) = post.as_object_mut()
                        {
                            map.remove("topicId");
                        }
                    }
                }
            }
            Ok(json!({}))
        }
        _ => Err(Status::unimplemented(route.info.id)),
    }
}

/// A rubric's criteria against the `Criterion` and `Level` field docs: a level has points or a
/// title; if one level of the rubric has points all do, distinct within their criterion; and
/// criteria and a source spreadsheet are not given together.
pub(super) fn check_rubric(rubric: &Value) -> ApiResult<()> {
    let bad = |why: &str| Status::invalid(format!("@RubricCriteriaInvalidFormat {why}"));
    let criteria = rubric["criteria"].as_array().cloned().unwrap_or_default();
    if !criteria.is_empty() && text(rubric, "sourceSpreadsheetId").is_some() {
        return Err(bad(
            "Give either criteria or source_spreadsheet_id, not both.",
        ));
    }
    let levels: Vec<&Value> = criteria
        .iter()
        .flat_map(|c| c["levels"].as_array().into_iter().flatten())
        .collect();
    let with_points = levels.iter().filter(|l| l["points"].is_number()).count();
    if with_points != 0 && with_points != levels.len() {
        return Err(bad(
            "If one level has points, every level of the rubric must.",
        ));
    }
    for level in &levels {
        if !level["points"].is_number() && text(level, "title").is_none_or(str::is_empty) {
            return Err(bad("A level without points must have a title."));
        }
    }
    if criteria
        .iter()
        .any(|c| c["levels"].as_array().is_none_or(Vec::is_empty))
    {
        return Err(bad("Every criterion needs at least one level."));
    }
    for criterion in &criteria {
        let mut points: Vec<f64> = criterion["levels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["points"].as_f64())
            .collect();
        points.sort_by(f64::total_cmp);
        if points.windows(2).any(|w| w[0] == w[1]) {
            return Err(bad("The points of a criterion's levels must be distinct."));
        }
    }
    Ok(())
}

/// `FAILED_PRECONDITION` for an item deleted before.
fn already_deleted(noun: &str) -> Status {
    Status::precondition(format!("The requested {noun} has already been deleted."))
}

pub(super) fn assign_rubric_ids(state: &mut State, rubric: &mut Map<String, Value>) {
    if let Some(criteria) = rubric.get_mut("criteria").and_then(Value::as_array_mut) {
        for criterion in criteria {
            if text(criterion, "id").is_none() {
                state.next_id += 1;
                criterion["id"] = json!(format!("c{}", state.next_id));
            }
            if let Some(levels) = criterion.get_mut("levels").and_then(Value::as_array_mut) {
                for level in levels {
                    if text(level, "id").is_none() {
                        state.next_id += 1;
                        level["id"] = json!(format!("l{}", state.next_id));
                    }
                }
            }
        }
    }
}

/// Sorts by Classroom's `orderBy`: `updateTime` or `dueDate`, `asc` or `desc`, comma-separated.
fn order_by(items: &mut [Value], order: &str, due_date: bool) -> ApiResult<()> {
    let mut keys = Vec::new();
    for part in order.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or_default();
        let desc = match words.next() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(Status::invalid(format!(
                    "orderBy: unknown direction {other:?}; use asc or desc."
                )));
            }
        };
        if !(field == "updateTime" || due_date && field == "dueDate") {
            let supported = if due_date {
                "updateTime or dueDate"
            } else {
                "updateTime"
            };
            return Err(Status::invalid(format!(
                "orderBy: {field:?} is not supported; use {supported}."
            )));
        }
        keys.push((field.to_string(), desc));
    }
    let sort_key = |item: &Value, field: &str| -> String {
        if field == "dueDate" {
            let d = &item["dueDate"];
            match (d["year"].as_i64(), d["month"].as_i64(), d["day"].as_i64()) {
                (Some(y), Some(m), Some(day)) => format!("{y:04}-{m:02}-{day:02}"),
                _ => "~".to_string(),
            }
        } else {
            text(item, field).unwrap_or_default().to_string()
        }
    };
    items.sort_by(|a, b| {
        for (field, desc) in &keys {
            let ord = sort_key(a, field).cmp(&sort_key(b, field));
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
    Ok(())
}

/// `courses.courseWork.create` and `.patch`: submissions exist once the work is published, as
/// in Classroom.
pub(super) fn course_work_write(
    state: &mut State,
    ctx: &Ctx,
    route: &Route,
    params: &Params,
    query: &Query,
    body: Value,
) -> ApiResult {
    let value = generic(state, ctx, route, params, query, body)?;
    let course = text(&value, "courseId").unwrap_or_default().to_string();
    create_submissions(state, &course, &value, None);
    Ok(value)
}

/// `*.getAddOnContext`: what an add-on iframe learns about where it runs.
pub(super) fn add_on_context(
    state: &State,
    ctx: &Ctx,
    params: &Params,
    query: &Query,
) -> ApiResult {
    let (course, access) = course_read(state, ctx, param(params, "courseId"))?;
    let item = [param(params, "itemId"), q(query, "itemId").unwrap_or("")]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or(param(params, "postId"));
    // "NOT_FOUND if one of the identified resources does not exist": the post, and the
    // attachment if one is named.
    let exists = ["courseWork", "announcements", "courseWorkMaterials"]
        .iter()
        .any(|k| {
            state
                .find(&format!("courses/{course}/{k}"), "id", item)
                .is_some()
        });
    if !exists {
        return Err(Status::entity_not_found());
    }
    if let Some(attachment) = q(query, "attachmentId").filter(|a| !a.is_empty())
        && state
            .find(
                &format!("courses/{course}/items/{item}/addOnAttachments"),
                "id",
                attachment,
            )
            .is_none()
    {
        return Err(Status::entity_not_found());
    }
    // Coursework takes student work and grades passed back; its student learns the
    // submission id an add-on's student submissions go by ("set exactly when
    // supportsStudentWork is true").
    let submission = state
        .find(
            &format!("courses/{course}/courseWork/{item}/studentSubmissions"),
            "userId",
            ctx.me(),
        )
        .and_then(|s| text(s, "id"));
    let supports = state
        .find(&format!("courses/{course}/courseWork"), "id", item)
        .is_some()
        && (access == Access::Teach || submission.is_some());
    let mut context = json!({
        "courseId": course,
        "itemId": item,
        "postId": item,
        "supportsStudentWork": supports,
    });
    if access == Access::Teach {
        context["teacherContext"] = json!({});
    } else if supports {
        context["studentContext"] = json!({"submissionId": submission});
    } else {
        context["studentContext"] = json!({});
    }
    Ok(context)
}
