//! Registers for a course's roster changes on a Cloud Pub/Sub topic, and decodes the push
//! messages Pub/Sub delivers into typed events.
//!
//! ```text
//! cargo run --example push_notifications
//! cargo run --example push_notifications -- --client-secret client_secret.json --token token.json \
//!     --course 123456 --topic projects/my-project/topics/classroom
//! cargo run --example push_notifications -- --decode saved-push.json
//! ```

mod common;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::PathBuf;

use base64::Engine;
use chrono::{DateTime, Utc};
use clap::Parser;
use classroom::models::{CloudPubsubTopic, CourseRosterChangesInfo, Feed, FeedType, Registration};
use classroom::{BearerToken, Classroom, Scope};
use classroom_emulator::{Emulator, demo};
use common::{Auth, BoxError, text};
use serde::Deserialize;

/// Registers for a course's roster changes (students and teachers joining and leaving) on a
/// Cloud Pub/Sub topic, or decodes a push message from such a topic.
///
/// Setting up, once: create the topic, and grant
/// classroom-notifications@system.gserviceaccount.com the Pub/Sub Publisher role on it; then
/// create a push subscription whose endpoint is your HTTPS receiver. A registration lasts a
/// week: renew it before its expiry by registering again with the same arguments.
///
/// Registering needs a user's own grant (--client-secret with --token, or
/// --authorized-user): Classroom refuses domain-wide delegation here (@MissingGrant). The user
/// must be able to see the course's roster. Scopes used: classroom.push-notifications,
/// classroom.rosters.readonly.
///
/// Decoding (--decode) reads the JSON body Pub/Sub POSTs to your endpoint:
///   {"message": {"data": BASE64, "attributes": {"registrationId": ...}, "messageId": ...,
///    "publishTime": ...}, "subscription": ...}
/// whose data is Classroom's notification:
///   {"collection": "courses.students", "eventType": "CREATED",
///    "resourceId": {"courseId": ..., "userId": ...}}
/// The resourceId fields are the arguments of the collection's get method, unmodified.
///
/// With no arguments it registers on a local emulator, enrols a student in the demo course,
/// and decodes the push message Classroom would send for it (the emulator sends none itself).
#[derive(Parser, Debug)]
#[command(name = "push_notifications", version, verbatim_doc_comment)]
struct Args {
    /// The course whose roster changes to receive (id or alias); required with credentials
    #[arg(long, value_name = "COURSE_ID")]
    course: Option<String>,

    /// The Pub/Sub topic: projects/PROJECT/topics/TOPIC; required with credentials
    #[arg(long, value_name = "TOPIC_NAME")]
    topic: Option<String>,

    /// Only decode this saved push request body (`-`: stdin) and print the event; nothing is
    /// registered and no credentials are needed
    #[arg(long, value_name = "FILE", conflicts_with_all = ["course", "topic"])]
    decode: Option<PathBuf>,

    #[command(flatten)]
    auth: Auth,
}

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(mut args: Args) -> Result<(), BoxError> {
    if let Some(path) = &args.decode {
        let mut body = Vec::new();
        if path.as_os_str() == "-" {
            std::io::stdin().read_to_end(&mut body)?;
        } else {
            body =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        }
        let event = PushEvent::decode(&body)?;
        println!("{event}");
        return Ok(());
    }

    let target = args
        .auth
        .target(&[Scope::PushNotifications, Scope::RostersReadonly], |e| e)?;
    if target.is_emulator(&args.auth) {
        args.course.get_or_insert_with(|| "d:history".into());
        args.topic
            .get_or_insert_with(|| "projects/emulator-demo/topics/classroom-rosters".into());
    }
    let course = args.course.ok_or("--course is required to register")?;
    let topic = args.topic.ok_or("--topic is required to register")?;
    let classroom = target.builder.build()?;

    let registration = Registration {
        feed: Some(Feed {
            feed_type: Some(FeedType::CourseRosterChanges),
            course_roster_changes_info: Some(CourseRosterChangesInfo {
                course_id: Some(course.clone()),
            }),
            ..Default::default()
        }),
        cloud_pubsub_topic: Some(CloudPubsubTopic {
            topic_name: Some(topic.clone()),
        }),
        ..Default::default()
    };
    let registered = classroom
        .registrations()
        .create(registration)
        .send()
        .await?;
    println!(
        "registered {} for the roster changes of course {course} on {topic}",
        text(&registered.registration_id)
    );
    if let Some(expiry) = registered.expiry_time {
        println!("  expires {expiry}: register again with the same arguments before then");
    }

    if let Some(emulator) = &target.emulator {
        let body = demo_push(emulator, &course, &registered).await?;
        println!("a push message as Pub/Sub delivers it:\n  {body}");
        let event = PushEvent::decode(body.as_bytes())?;
        println!("{event}");
        // The resource id is the get method's arguments, as they are.
        if let Resource::Student { course_id, user_id } = &event.notification.resource {
            let student = classroom
                .courses()
                .students()
                .get(course_id, user_id)
                .send()
                .await?;
            let name = student.profile.and_then(|p| p.name?.full_name);
            println!(
                "  courses.students.get({course_id}, {user_id}): {}",
                name.unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// Makes a roster change on the emulator (a student joins the course) and returns the push
/// request body Pub/Sub would deliver for it: the emulator publishes no notifications.
async fn demo_push(
    emulator: &Emulator,
    course: &str,
    registration: &Registration,
) -> Result<String, BoxError> {
    let scopes = [Scope::Rosters];
    let admin = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(
            emulator.token_for("admin", &scopes),
            scopes.map(|s| s.url()),
        ))
        .build()?;
    let joined = admin
        .courses()
        .students()
        .create(
            course,
            classroom::models::Student {
                user_id: Some(demo::STUDENTS[2].into()),
                ..Default::default()
            },
        )
        .send()
        .await?;
    // Notifications name the course by its id, never by an alias.
    let course_id = joined.course_id.unwrap_or_else(|| course.to_string());
    let notification = serde_json::json!({
        "collection": "courses.students",
        "eventType": "CREATED",
        "resourceId": {"courseId": course_id, "userId": joined.user_id},
    });
    let data = base64::engine::general_purpose::STANDARD.encode(notification.to_string());
    Ok(serde_json::json!({
        "message": {
            "attributes": {"registrationId": registration.registration_id},
            "data": data,
            "messageId": "2070443601311540",
            "publishTime": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        },
        "subscription": "projects/emulator-demo/subscriptions/classroom-rosters-push",
    })
    .to_string())
}

/// A decoded push message: Pub/Sub's envelope and Classroom's notification in it.
#[derive(Debug)]
struct PushEvent {
    /// The subscription that delivered it.
    subscription: String,
    /// Pub/Sub's id of the message (redeliveries keep it: use it to drop duplicates).
    message_id: String,
    /// When Pub/Sub received it.
    publish_time: Option<DateTime<Utc>>,
    /// The registration that caused it (`registrations.delete` takes it to unregister).
    registration_id: Option<String>,
    /// What changed.
    notification: Notification,
}

/// Classroom's notification: which resource changed, and how.
#[derive(Debug)]
struct Notification {
    change: Change,
    resource: Resource,
}

/// How a resource changed (`eventType`).
#[derive(Debug, PartialEq, Eq)]
enum Change {
    Created,
    Modified,
    Deleted,
    /// A value this program does not know.
    Other(String),
}

/// The resource that changed: `collection` and `resourceId`, whose fields are the arguments
/// of the collection's get method.
#[derive(Debug)]
enum Resource {
    /// `courses.students`: a student joined or left a course.
    Student { course_id: String, user_id: String },
    /// `courses.teachers`: a teacher joined or left a course.
    Teacher { course_id: String, user_id: String },
    /// `courses.courseWork` (course-work feeds).
    CourseWork { course_id: String, id: String },
    /// `courses.courseWork.studentSubmissions` (course-work feeds).
    Submission {
        course_id: String,
        course_work_id: String,
        id: String,
    },
    /// A collection this program does not know, with its resource id as sent.
    Other {
        collection: String,
        resource_id: BTreeMap<String, String>,
    },
}

/// Why a push request body could not be decoded.
#[derive(Debug)]
enum DecodeError {
    Envelope(serde_json::Error),
    Data(base64::DecodeError),
    Notification(serde_json::Error),
    MissingId {
        collection: String,
        field: &'static str,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Envelope(_) => f.write_str(
                "the body is not a Pub/Sub push request ({\"message\": {\"data\": ..., \
                 \"attributes\": ..., \"messageId\": ...}, \"subscription\": ...}); save the \
                 whole body your endpoint received",
            ),
            DecodeError::Data(_) => f.write_str("message.data is not base64"),
            DecodeError::Notification(_) => f.write_str(
                "message.data is not a Classroom notification ({\"collection\", \"eventType\", \
                 \"resourceId\"}); is the subscription's topic the one registered with Classroom?",
            ),
            DecodeError::MissingId { collection, field } => write!(
                f,
                "the {collection} notification's resourceId has no {field}"
            ),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Envelope(e) | DecodeError::Notification(e) => Some(e),
            DecodeError::Data(e) => Some(e),
            DecodeError::MissingId { .. } => None,
        }
    }
}

impl PushEvent {
    /// Decodes the body of a Pub/Sub push request carrying a Classroom notification.
    fn decode(body: &[u8]) -> Result<PushEvent, DecodeError> {
        #[derive(Deserialize)]
        struct Envelope {
            message: Message,
            #[serde(default)]
            subscription: String,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Message {
            #[serde(default)]
            data: String,
            #[serde(default)]
            attributes: BTreeMap<String, String>,
            #[serde(default, alias = "message_id")]
            message_id: String,
            #[serde(default, alias = "publish_time")]
            publish_time: Option<DateTime<Utc>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Payload {
            collection: String,
            event_type: String,
            #[serde(default)]
            resource_id: BTreeMap<String, String>,
        }

        let envelope: Envelope = serde_json::from_slice(body).map_err(DecodeError::Envelope)?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(envelope.message.data.trim())
            .map_err(DecodeError::Data)?;
        let payload: Payload = serde_json::from_slice(&data).map_err(DecodeError::Notification)?;
        let change = match payload.event_type.as_str() {
            "CREATED" => Change::Created,
            "MODIFIED" => Change::Modified,
            "DELETED" => Change::Deleted,
            other => Change::Other(other.to_string()),
        };
        let mut ids = payload.resource_id;
        let collection = payload.collection;
        let mut take = |field: &'static str| {
            ids.remove(field).ok_or_else(|| DecodeError::MissingId {
                collection: collection.clone(),
                field,
            })
        };
        let resource = match collection.as_str() {
            "courses.students" => Resource::Student {
                course_id: take("courseId")?,
                user_id: take("userId")?,
            },
            "courses.teachers" => Resource::Teacher {
                course_id: take("courseId")?,
                user_id: take("userId")?,
            },
            "courses.courseWork" => Resource::CourseWork {
                course_id: take("courseId")?,
                id: take("id")?,
            },
            "courses.courseWork.studentSubmissions" => Resource::Submission {
                course_id: take("courseId")?,
                course_work_id: take("courseWorkId")?,
                id: take("id")?,
            },
            _ => Resource::Other {
                collection: collection.clone(),
                resource_id: ids,
            },
        };
        let mut attributes = envelope.message.attributes;
        Ok(PushEvent {
            subscription: envelope.subscription,
            message_id: envelope.message.message_id,
            publish_time: envelope.message.publish_time,
            registration_id: attributes.remove("registrationId"),
            notification: Notification { change, resource },
        })
    }
}

impl fmt::Display for PushEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = &self.notification;
        let verb = |joined: &str, left: &str| match &n.change {
            Change::Created => joined.to_string(),
            Change::Deleted => left.to_string(),
            Change::Modified => "changed in".to_string(),
            Change::Other(other) => format!("{other} in"),
        };
        write!(f, "decoded event: ")?;
        match &n.resource {
            Resource::Student { course_id, user_id } => write!(
                f,
                "student {user_id} {} course {course_id}",
                verb("joined", "left")
            )?,
            Resource::Teacher { course_id, user_id } => write!(
                f,
                "teacher {user_id} {} course {course_id}",
                verb("joined", "left")
            )?,
            Resource::CourseWork { course_id, id } => write!(
                f,
                "coursework {id} {} course {course_id}",
                verb("created in", "deleted from")
            )?,
            Resource::Submission {
                course_id,
                course_work_id,
                id,
            } => write!(
                f,
                "submission {id} of coursework {course_work_id} {} course {course_id}",
                verb("created in", "deleted from")
            )?,
            Resource::Other {
                collection,
                resource_id,
            } => write!(f, "{collection} {:?}: {resource_id:?}", n.change)?,
        }
        write!(f, "\n  message {}", self.message_id)?;
        if let Some(at) = self.publish_time {
            write!(f, ", published {at}")?;
        }
        if !self.subscription.is_empty() {
            write!(f, ", via {}", self.subscription)?;
        }
        if let Some(id) = &self.registration_id {
            write!(f, "\n  registration {id}")?;
        }
        Ok(())
    }
}
