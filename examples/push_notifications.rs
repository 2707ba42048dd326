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

use std::io::Read;
use std::path::PathBuf;

use base64::Engine;
use chrono::Utc;
use clap::Parser;
use classroom::models::{CloudPubsubTopic, CourseRosterChangesInfo, Feed, FeedType, Registration};
use classroom::push::{PushMessage, ResourceId};
use classroom::{BearerToken, Classroom, Scope};
use classroom_emulator::{Emulator, Role};
use common::{Auth, BoxError, text};

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
/// and decodes the push message Classroom would send for it. (The emulator can also deliver
/// pushes to an endpoint: the push_receiver example receives them live.)
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
        println!("{}", describe(&PushMessage::decode_wrapped(&body)?));
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
        let message = PushMessage::decode_wrapped(body.as_bytes())?;
        println!("{}", describe(&message));
        // The resource id is the get method's arguments, as they are.
        if let ResourceId::Member { course_id, user_id } = &message.event.resource {
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
/// request body Pub/Sub would deliver for it, to show decoding on its own.
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
    // A new student of the domain, so that joining works in any demo course (each already
    // holds demo students).
    let student = "ravi.patel@school.example";
    if emulator.user_id(student).is_none() {
        emulator.add_user(student, "Ravi", "Patel", Role::Student);
    }
    let joined = admin
        .courses()
        .students()
        .create(
            course,
            classroom::models::Student {
                user_id: Some(student.into()),
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

/// A push message for a person: what changed, then Pub/Sub's details.
fn describe(message: &PushMessage) -> String {
    let mut out = format!("decoded event: {}", message.event);
    out.push_str(&format!("\n  message {}", message.message_id));
    if let Some(at) = message.publish_time {
        out.push_str(&format!(", published {at}"));
    }
    if let Some(subscription) = &message.subscription {
        out.push_str(&format!(", via {subscription}"));
    }
    if let Some(id) = &message.registration_id {
        out.push_str(&format!("\n  registration {id}"));
    }
    out
}
