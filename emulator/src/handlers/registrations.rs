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
            course_read(state, ctx, course)?;
        }
        other => {
            return Err(Status::invalid(format!(
                "feed.feed_type: {other} is not supported."
            )));
        }
    }
    let mut registration = body;
    registration["registrationId"] = json!(state.new_id());
    let expiry = std::time::SystemTime::now() + std::time::Duration::from_secs(7 * 24 * 3600);
    registration["expiryTime"] = json!(crate::store::timestamp(expiry));
    state.items_mut("registrations").push(registration.clone());
    Ok(registration)
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
