//! Pub/Sub push bodies, wrapped and unwrapped, decoded into Classroom events.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::PushError;

/// The collection a notification is about (`collection`). Unknown values are kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Collection {
    /// `courses.students`: a student joined or left a course (roster feeds).
    Students,
    /// `courses.teachers`: a teacher joined or left a course (roster feeds).
    Teachers,
    /// `courses.courseWork` (course work feeds).
    CourseWork,
    /// `courses.courseWork.studentSubmissions` (course work feeds).
    StudentSubmissions,
    /// A collection this SDK does not know, as sent.
    Unknown(String),
}

impl Collection {
    /// The collection as Classroom writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Collection::Students => "courses.students",
            Collection::Teachers => "courses.teachers",
            Collection::CourseWork => "courses.courseWork",
            Collection::StudentSubmissions => "courses.courseWork.studentSubmissions",
            Collection::Unknown(other) => other,
        }
    }
}

impl From<&str> for Collection {
    fn from(value: &str) -> Self {
        match value {
            "courses.students" => Collection::Students,
            "courses.teachers" => Collection::Teachers,
            "courses.courseWork" => Collection::CourseWork,
            "courses.courseWork.studentSubmissions" => Collection::StudentSubmissions,
            other => Collection::Unknown(other.to_string()),
        }
    }
}

impl fmt::Display for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the resource changed (`eventType`). Unknown values are kept.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventType {
    /// `CREATED`.
    Created,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
    /// A value this SDK does not know, as sent.
    Unknown(String),
}

impl EventType {
    /// The event type as Classroom writes it.
    pub fn as_str(&self) -> &str {
        match self {
            EventType::Created => "CREATED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
            EventType::Unknown(other) => other,
        }
    }
}

impl From<&str> for EventType {
    fn from(value: &str) -> Self {
        match value {
            "CREATED" => EventType::Created,
            "MODIFIED" => EventType::Modified,
            "DELETED" => EventType::Deleted,
            other => EventType::Unknown(other.to_string()),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which resource changed (`resourceId`), typed by collection. Its fields are the arguments of
/// the collection's `get` method, as sent (a course is named by its id, never by an alias).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ResourceId {
    /// A course member (`courses.students`, `courses.teachers`).
    Member {
        /// The course.
        course_id: String,
        /// The user.
        user_id: String,
    },
    /// A coursework item.
    CourseWork {
        /// The course.
        course_id: String,
        /// The coursework.
        course_work_id: String,
    },
    /// A student submission.
    Submission {
        /// The course.
        course_id: String,
        /// The coursework it belongs to.
        course_work_id: String,
        /// The submission.
        submission_id: String,
    },
    /// The resource id of a collection this SDK does not know, as sent.
    Other(BTreeMap<String, String>),
}

/// A Classroom notification: what changed, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// The collection.
    pub collection: Collection,
    /// How it changed.
    pub event_type: EventType,
    /// Which resource.
    pub resource: ResourceId,
}

/// For a person: `student 1001 joined course 42`, `coursework 7 created in course 42`; a
/// collection or event type this SDK does not know is shown as sent.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = |created: &str, deleted: &str| match &self.event_type {
            EventType::Created => created.to_string(),
            EventType::Deleted => deleted.to_string(),
            EventType::Modified => "changed in".to_string(),
            EventType::Unknown(other) => format!("{other} in"),
        };
        match (&self.collection, &self.resource) {
            (
                Collection::Students | Collection::Teachers,
                ResourceId::Member { course_id, user_id },
            ) => {
                let role = if self.collection == Collection::Students {
                    "student"
                } else {
                    "teacher"
                };
                write!(
                    f,
                    "{role} {user_id} {} course {course_id}",
                    verb("joined", "left")
                )
            }
            (
                _,
                ResourceId::CourseWork {
                    course_id,
                    course_work_id,
                },
            ) => write!(
                f,
                "coursework {course_work_id} {} course {course_id}",
                verb("created in", "deleted from")
            ),
            (
                _,
                ResourceId::Submission {
                    course_id,
                    course_work_id,
                    submission_id,
                },
            ) => write!(
                f,
                "submission {submission_id} of coursework {course_work_id} {} course {course_id}",
                verb("created in", "deleted from")
            ),
            (collection, _) => write!(
                f,
                "{collection} {}: {}",
                self.event_type,
                self.to_json()["resourceId"]
            ),
        }
    }
}

impl Event {
    /// The notification as Classroom publishes it (the message data), for test servers.
    pub fn to_json(&self) -> serde_json::Value {
        let resource = match &self.resource {
            ResourceId::Member { course_id, user_id } => {
                serde_json::json!({ "courseId": course_id, "userId": user_id })
            }
            ResourceId::CourseWork {
                course_id,
                course_work_id,
            } => serde_json::json!({ "courseId": course_id, "id": course_work_id }),
            ResourceId::Submission {
                course_id,
                course_work_id,
                submission_id,
            } => serde_json::json!({
                "courseId": course_id, "courseWorkId": course_work_id, "id": submission_id
            }),
            ResourceId::Other(map) => serde_json::json!(map),
        };
        serde_json::json!({
            "collection": self.collection.as_str(),
            "eventType": self.event_type.as_str(),
            "resourceId": resource,
        })
    }

    /// Decodes Classroom's notification (the message data).
    pub fn decode(data: &[u8]) -> Result<Event, PushError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Payload {
            collection: String,
            event_type: String,
            #[serde(default)]
            resource_id: BTreeMap<String, serde_json::Value>,
        }
        let payload: Payload = serde_json::from_slice(data).map_err(|e| {
            malformed(format!(
                "the message data is not a Classroom notification ({{\"collection\", \
                 \"eventType\", \"resourceId\"}}): {e}; is the subscription's topic the one \
                 registered with Classroom?"
            ))
        })?;
        // Ids are strings; a number is taken as its digits.
        let mut ids: BTreeMap<String, String> = payload
            .resource_id
            .into_iter()
            .filter_map(|(k, v)| match v {
                serde_json::Value::String(s) => Some((k, s)),
                serde_json::Value::Number(n) => Some((k, n.to_string())),
                _ => None,
            })
            .collect();
        let collection = Collection::from(payload.collection.as_str());
        let mut take = |field: &str| {
            ids.remove(field).filter(|v| !v.is_empty()).ok_or_else(|| {
                malformed(format!(
                    "the {} notification's resourceId has no {field}",
                    payload.collection
                ))
            })
        };
        let resource = match collection {
            Collection::Students | Collection::Teachers => ResourceId::Member {
                course_id: take("courseId")?,
                user_id: take("userId")?,
            },
            Collection::CourseWork => ResourceId::CourseWork {
                course_id: take("courseId")?,
                course_work_id: take("id")?,
            },
            Collection::StudentSubmissions => ResourceId::Submission {
                course_id: take("courseId")?,
                course_work_id: take("courseWorkId")?,
                submission_id: take("id")?,
            },
            Collection::Unknown(_) => ResourceId::Other(ids),
        };
        Ok(Event {
            collection,
            event_type: EventType::from(payload.event_type.as_str()),
            resource,
        })
    }
}

/// A push message: Pub/Sub's metadata and the Classroom event it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushMessage {
    /// Pub/Sub's id of the message; a redelivery keeps it, so duplicates are dropped by it.
    pub message_id: String,
    /// When Pub/Sub received the message, when the push says.
    pub publish_time: Option<DateTime<Utc>>,
    /// The subscription that delivered it, when the push says.
    pub subscription: Option<String>,
    /// The registration that caused it (`registrationId`), to delete or to match against
    /// what a [`RegistrationKeeper`](super::RegistrationKeeper) holds.
    pub registration_id: Option<String>,
    /// Every message attribute, as sent.
    pub attributes: BTreeMap<String, String>,
    /// What changed.
    pub event: Event,
}

/// Pub/Sub's headers on an unwrapped push with metadata written.
const SUBSCRIPTION_HEADER: &str = "x-goog-pubsub-subscription-name";
const MESSAGE_ID_HEADER: &str = "x-goog-pubsub-message-id";
const PUBLISH_TIME_HEADER: &str = "x-goog-pubsub-publish-time";

/// Headers an unwrapped push carries that are no message attribute.
fn transport_header(name: &str) -> bool {
    name.starts_with("x-goog-pubsub-")
        || matches!(
            name,
            "authorization"
                | "content-type"
                | "content-length"
                | "host"
                | "user-agent"
                | "accept"
                | "accept-encoding"
                | "connection"
                | "from"
                | "traceparent"
                | "x-cloud-trace-context"
                | "x-forwarded-for"
                | "x-forwarded-proto"
        )
}

impl PushMessage {
    /// Decodes a push request body, with the request's headers (names in any case):
    ///
    /// - *wrapped* (Pub/Sub's default): the body is `{"message": {"data": BASE64,
    ///   "attributes": {...}, "messageId", "publishTime"}, "subscription"}`;
    /// - *unwrapped* (payload unwrapping): the body is the notification itself; with *write
    ///   metadata*, the message id, publish time and subscription come in
    ///   `x-goog-pubsub-message-id`, `x-goog-pubsub-publish-time` and
    ///   `x-goog-pubsub-subscription-name`, and each attribute as a header of its own name
    ///   (`registrationId`). Without a message id the message cannot be de-duplicated and is
    ///   refused: enable write metadata.
    pub fn decode<'a, I>(headers: I, body: &[u8]) -> Result<PushMessage, PushError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
        if value.as_ref().is_some_and(|v| v.get("message").is_some()) {
            return Self::decode_wrapped(body);
        }
        let mut message_id = None;
        let mut publish_time = None;
        let mut subscription = None;
        let mut attributes = BTreeMap::new();
        for (name, value) in headers {
            let lower = name.to_ascii_lowercase();
            match lower.as_str() {
                MESSAGE_ID_HEADER => message_id = Some(value.trim().to_string()),
                PUBLISH_TIME_HEADER => {
                    publish_time = DateTime::parse_from_rfc3339(value.trim())
                        .ok()
                        .map(|t| t.with_timezone(&Utc))
                }
                SUBSCRIPTION_HEADER => subscription = Some(value.trim().to_string()),
                other if !transport_header(other) => {
                    // HTTP lower-cases names; Classroom's one attribute is camel-case.
                    let key = if other == "registrationid" {
                        "registrationId".to_string()
                    } else {
                        name.to_string()
                    };
                    attributes.insert(key, value.to_string());
                }
                _ => {}
            }
        }
        let message_id = message_id.filter(|m| !m.is_empty()).ok_or_else(|| {
            malformed(
                "the body is not a wrapped push ({\"message\": ...}) and carries no \
                 x-goog-pubsub-message-id header: enable write metadata on the unwrapped \
                 subscription, so that duplicates can be told apart"
                    .to_string(),
            )
        })?;
        let event = Event::decode(body)?;
        Ok(PushMessage {
            message_id,
            publish_time,
            subscription,
            registration_id: attributes.get("registrationId").cloned(),
            attributes,
            event,
        })
    }

    /// Decodes a wrapped push body (`{"message": {...}, "subscription": ...}`).
    pub fn decode_wrapped(body: &[u8]) -> Result<PushMessage, PushError> {
        #[derive(Deserialize)]
        struct Envelope {
            message: Message,
            #[serde(default)]
            subscription: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Message {
            #[serde(default)]
            data: String,
            #[serde(default)]
            attributes: BTreeMap<String, String>,
            // Pub/Sub sends each of these twice, camel-case and snake-case.
            #[serde(default, rename = "messageId")]
            message_id: Option<String>,
            #[serde(default, rename = "message_id")]
            message_id_snake: Option<String>,
            #[serde(default, rename = "publishTime")]
            publish_time: Option<DateTime<Utc>>,
            #[serde(default, rename = "publish_time")]
            publish_time_snake: Option<DateTime<Utc>>,
        }
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
            malformed(format!(
                "the body is not a Pub/Sub push request ({{\"message\": {{\"data\", \
                 \"attributes\", \"messageId\"}}, \"subscription\"}}): {e}"
            ))
        })?;
        let message = envelope.message;
        let message_id = message
            .message_id
            .or(message.message_id_snake)
            .filter(|m| !m.is_empty())
            .ok_or_else(|| malformed("the push message has no messageId".to_string()))?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(message.data.trim())
            .map_err(|_| malformed("message.data is not base64".to_string()))?;
        let event = Event::decode(&data)?;
        Ok(PushMessage {
            message_id,
            publish_time: message.publish_time.or(message.publish_time_snake),
            subscription: envelope.subscription,
            registration_id: message.attributes.get("registrationId").cloned(),
            attributes: message.attributes,
            event,
        })
    }
}

fn malformed(message: String) -> PushError {
    PushError::Malformed { message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_reads_as_a_sentence_and_an_unknown_one_as_sent() {
        let event = |collection: &str, event_type: &str, ids: serde_json::Value| {
            let data = serde_json::json!({
                "collection": collection, "eventType": event_type, "resourceId": ids,
            });
            Event::decode(data.to_string().as_bytes())
                .unwrap()
                .to_string()
        };
        let member = serde_json::json!({"courseId": "42", "userId": "7"});
        assert_eq!(
            event("courses.students", "CREATED", member.clone()),
            "student 7 joined course 42"
        );
        assert_eq!(
            event("courses.teachers", "DELETED", member.clone()),
            "teacher 7 left course 42"
        );
        assert_eq!(
            event(
                "courses.courseWork",
                "MODIFIED",
                serde_json::json!({"courseId": "42", "id": "9"})
            ),
            "coursework 9 changed in course 42"
        );
        assert_eq!(
            event(
                "courses.courseWork.studentSubmissions",
                "CREATED",
                serde_json::json!({"courseId": "42", "courseWorkId": "9", "id": "s1"})
            ),
            "submission s1 of coursework 9 created in course 42"
        );
        assert_eq!(
            event(
                "courses.posts",
                "EXPLODED",
                serde_json::json!({"courseId": "42"})
            ),
            "courses.posts EXPLODED: {\"courseId\":\"42\"}"
        );
    }

    fn wrapped(data: &serde_json::Value) -> Vec<u8> {
        serde_json::json!({
            "message": {
                "data": base64::engine::general_purpose::STANDARD.encode(data.to_string()),
                "attributes": {"registrationId": "r1"},
                "messageId": "42",
                "message_id": "42",
                "publishTime": "2024-05-01T10:00:00.123Z",
                "publish_time": "2024-05-01T10:00:00.123Z",
            },
            "subscription": "projects/p/subscriptions/s",
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn wrapped_and_unwrapped_bodies_decode_to_the_same_event() {
        let data = serde_json::json!({
            "collection": "courses.courseWork.studentSubmissions",
            "eventType": "MODIFIED",
            "resourceId": {"courseId": "1", "courseWorkId": "2", "id": "3"},
        });
        let a = PushMessage::decode([], &wrapped(&data)).unwrap();
        let headers = [
            ("X-Goog-PubSub-Message-Id", "42"),
            ("x-goog-pubsub-publish-time", "2024-05-01T10:00:00.123Z"),
            (
                "x-goog-pubsub-subscription-name",
                "projects/p/subscriptions/s",
            ),
            ("registrationid", "r1"),
            ("content-type", "application/json"),
        ];
        let b = PushMessage::decode(headers, data.to_string().as_bytes()).unwrap();
        assert_eq!(a, b, "both delivery formats give one typed message");
        assert_eq!(
            a.event.resource,
            ResourceId::Submission {
                course_id: "1".into(),
                course_work_id: "2".into(),
                submission_id: "3".into()
            }
        );
        assert_eq!(a.registration_id.as_deref(), Some("r1"));
    }

    #[test]
    fn unknown_collections_and_event_types_are_kept() {
        let data = serde_json::json!({
            "collection": "courses.announcements",
            "eventType": "ARCHIVED",
            "resourceId": {"courseId": "1", "id": "9"},
        });
        let m = PushMessage::decode([], &wrapped(&data)).unwrap();
        assert_eq!(
            m.event.collection,
            Collection::Unknown("courses.announcements".into())
        );
        assert_eq!(m.event.event_type, EventType::Unknown("ARCHIVED".into()));
        assert!(matches!(m.event.resource, ResourceId::Other(ref ids) if ids["id"] == "9"));
        let round = Event::decode(m.event.to_json().to_string().as_bytes()).unwrap();
        assert_eq!(round, m.event, "to_json is what decode reads");
    }

    #[test]
    fn an_unwrapped_push_without_a_message_id_is_refused() {
        let data = r#"{"collection":"courses.students","eventType":"CREATED","resourceId":{"courseId":"1","userId":"2"}}"#;
        let e = PushMessage::decode([], data.as_bytes()).unwrap_err();
        assert_eq!(e.http_status(), 400, "{e}");
    }
}
