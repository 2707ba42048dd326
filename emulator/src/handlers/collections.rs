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

fn is_student_visible(item: &Value, me: &str) -> bool {
    let published = text(item, "state").is_none_or(|s| s == "PUBLISHED");
    let assigned = text(item, "assigneeMode") != Some("INDIVIDUAL_STUDENTS")
        || item["individualStudentsOptions"]["studentIds"]
            .as_array()
            .is_some_and(|ids| ids.iter().any(|i| i.as_str() == Some(me)));
    published && assigned
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
    }
    let teaching = access == Access::Teach;
    if matches!(route.action(), "create" | "patch" | "delete") {
        modifiable(state, &course)?;
    }
    let student_filtered = matches!(
        resource(route),
        "courses.courseWork" | "courses.announcements" | "courses.courseWorkMaterials"
    );
    match route.action() {
        "create" => {
            if !teaching {
                return Err(Status::caller_denied());
            }
            let mut item = obj(body);
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
            if item
                .get("maxPoints")
                .and_then(Value::as_f64)
                .is_some_and(|p| p < 0.0)
            {
                return Err(Status::invalid("max_points: Must not be negative."));
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
            if spec.has(&schema, "associatedWithDeveloper") {
                item.insert("associatedWithDeveloper".into(), json!(true));
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
                if state.items(&key).iter().next().is_some() {
                    return Err(Status::exists("The course work already has a rubric."));
                }
                assign_rubric_ids(state, &mut item);
            }
            let item = Value::Object(item);
            state.items_mut(&key).push(item.clone());
            Ok(item)
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
            Ok(item)
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
                let states = q_all(query, name);
                if !states.is_empty() {
                    items.retain(|i| states.contains(&text(i, "state").unwrap_or_default()));
                }
            }
            if let Some(link) = q(query, "materialLink") {
                items.retain(|i| i["materials"].to_string().contains(link));
            }
            if let Some(drive) = q(query, "materialDriveId") {
                items.retain(|i| i["materials"].to_string().contains(drive));
            }
            if route.query.contains_key("orderBy") {
                order_by(&mut items, q(query, "orderBy").unwrap_or("updateTime desc"))?;
            }
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
            let body = state_ids.unwrap_or(body);
            let item = state
                .find_mut(&key, &field, &id)
                .ok_or_else(Status::entity_not_found)?;
            if item.get("state").and_then(Value::as_str) == Some("PUBLISHED")
                && body.get("state").and_then(Value::as_str) == Some("DRAFT")
                && fields.iter().any(|f| f == "state")
            {
                return Err(Status::precondition(
                    "Published work cannot be returned to the draft state.",
                ));
            }
            apply_mask(item, &body, &fields);
            if item.get("updateTime").is_some() {
                item["updateTime"] = json!(now());
            }
            Ok(item.clone())
        }
        "delete" => {
            if !teaching {
                return Err(Status::caller_denied());
            }
            let id = item_id.unwrap_or_default();
            state
                .remove(&key, &field, &id)
                .ok_or_else(Status::entity_not_found)?;
            Ok(json!({}))
        }
        _ => Err(Status::unimplemented(route.info.id)),
    }
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
fn order_by(items: &mut [Value], order: &str) -> ApiResult<()> {
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
        if !matches!(field, "updateTime" | "dueDate") {
            return Err(Status::invalid(format!(
                "orderBy: {field:?} is not supported; use updateTime or dueDate."
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
    let mut context = json!({
        "courseId": course,
        "itemId": item,
        "postId": item,
        "supportsStudentWork": false,
    });
    if access == Access::Teach {
        context["teacherContext"] = json!({});
    } else {
        context["studentContext"] = json!({});
    }
    Ok(context)
}
