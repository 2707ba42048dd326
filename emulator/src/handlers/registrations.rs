//! Push notification registrations.

use serde_json::{Value, json};

use super::{Ctx, Params, course_read, param};
use crate::errors::{ApiResult, Status};
use crate::store::State;

pub(super) fn registration_create(state: &mut State, ctx: &Ctx, body: Value) -> ApiResult {
    let feed_type = body["feed"]["feedType"]
        .as_str()
        .ok_or_else(|| Status::invalid("feed.feed_type: This field is required."))?;
    let Some(topic) = body["cloudPubsubTopic"]["topicName"].as_str() else {
        return Err(Status::invalid(
            "cloud_pubsub_topic.topic_name: This field is required.",
        ));
    };
    // "The name of a Cloud Pub/Sub topic ... in the form `projects/{project}/topics/{topic}`".
    if !matches!(
        topic.split('/').collect::<Vec<_>>()[..],
        ["projects", project, "topics", name] if !project.is_empty() && !name.is_empty()
    ) {
        return Err(Status::invalid(format!(
            "cloud_pubsub_topic.topic_name: {topic:?} is not of the form projects/PROJECT/topics/TOPIC."
        )));
    }
    // Classroom takes registrations only on a user's own grant to the project: a token a
    // service account obtained (domain-wide delegation) has none.
    if state.service_accounts.contains_key(&ctx.client_id) {
        return Err(Status::denied(
            "@MissingGrant The user has not granted this Developer Console project access for \
             the requested feed; domain-wide delegation of authority is not supported for push \
             notifications. Register with the user's own OAuth grant.",
        ));
    }
    let mut course_id = String::new();
    match feed_type {
        "DOMAIN_ROSTER_CHANGES" => {
            if !ctx.is_admin() {
                return Err(Status::denied(
                    "Only a domain administrator may register for domain roster changes.",
                ));
            }
        }
        "COURSE_ROSTER_CHANGES" | "COURSE_WORK_CHANGES" => {
            let info = if feed_type == "COURSE_ROSTER_CHANGES" {
                "courseRosterChangesInfo"
            } else {
                "courseWorkChangesInfo"
            };
            let course = body["feed"][info]["courseId"].as_str().ok_or_else(|| {
                Status::invalid(format!(
                    "feed.{}.course_id: This field is required.",
                    crate::spec::snake(info)
                ))
            })?;
            course_id = course_read(state, ctx, course)?.0;
        }
        other => {
            return Err(Status::invalid(format!(
                "feed.feed_type: {other} is not supported."
            )));
        }
    }
    let lifetime = match state.registration_lifetime {
        d if d.is_zero() => std::time::Duration::from_secs(7 * 24 * 3600),
        d => d,
    };
    let expiry = std::time::SystemTime::now() + lifetime;
    let expires = expiry
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    // "You can extend it at any point before it expires by making an identical request": the
    // same user and project registering the same feed on the same topic extend it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let same = |r: &Value| {
        r["feed"] == body["feed"]
            && r["cloudPubsubTopic"]["topicName"] == body["cloudPubsubTopic"]["topicName"]
            && r["_user"] == json!(ctx.me())
            && r["_client"] == json!(ctx.client_id)
            && r["_expires"].as_u64().is_some_and(|e| e > now)
    };
    let existing = state.items("registrations").iter().position(same);
    let mut registration = body;
    registration["registrationId"] = match existing {
        Some(i) => state.items("registrations")[i]["registrationId"].clone(),
        None => json!(state.new_id()),
    };
    registration["expiryTime"] = json!(crate::store::timestamp(expiry));
    let reply = registration.clone();
    // Kept with the registration, never answered: whom it acts for, and until when.
    registration["_user"] = json!(ctx.me());
    registration["_client"] = json!(ctx.client_id);
    registration["_course"] = json!(course_id);
    registration["_expires"] = json!(expires);
    match existing {
        Some(i) => state.items_mut("registrations")[i] = registration,
        None => state.items_mut("registrations").push(registration),
    }
    Ok(reply)
}

pub(super) fn registration_delete(state: &mut State, params: &Params) -> ApiResult {
    state
        .remove(
            "registrations",
            "registrationId",
            param(params, "registrationId"),
        )
        .ok_or_else(Status::entity_not_found)?;
    Ok(json!({}))
}
