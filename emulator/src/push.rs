//! Classroom's push notifications as Pub/Sub delivers them: each registration's topic maps to
//! a push endpoint ([`EmulatorBuilder::push_endpoint`], `--push TOPIC=URL`); on each roster,
//! coursework or submission change made through the API, the emulator POSTs to the endpoint
//! of every live registration whose feed covers it and whose user may still see it, what a
//! push subscription would: the message wrapped (`{"message": {...}, "subscription"}`) or
//! unwrapped (the notification as the body, metadata in `x-goog-pubsub-*` headers and the
//! `registrationId` attribute as a header), with `Authorization: Bearer` an OIDC token of
//! the push service account signed by the emulator's key (published with the RISC key at
//! [`Emulator::jwks_url`]). A non-2xx answer is retried with backoff, up to
//! [`PUSH_ATTEMPTS`] attempts. Deliveries go one at a time, in order.
//!
//! For tests: [`Emulator::pause_pushes`] drops pushes (as lost) until
//! [`Emulator::resume_pushes`]; [`Emulator::deliver_next_twice`] delivers the next message
//! twice with one message id; [`Emulator::sign_push_token`] signs any claims.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use bytes::Bytes;
use http_body_util::Full;
use serde_json::{Value, json};

use crate::store::State;
use crate::{Emulator, EmulatorBuilder, Shared};

/// The push subscription's service account by default (the `email` of the OIDC tokens).
pub const DEFAULT_PUSH_SERVICE_ACCOUNT: &str =
    "classroom-push@emulator-demo.iam.gserviceaccount.com";

/// The issuer of the push OIDC tokens: Google's.
pub const PUSH_ISSUER: &str = "https://accounts.google.com";

/// Attempts per push before it is given up (the first and its retries).
pub const PUSH_ATTEMPTS: u32 = 6;

/// How a push subscription delivers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushFormat {
    /// Pub/Sub's default: a JSON envelope with the data in base64.
    #[default]
    Wrapped,
    /// Payload unwrapping with write metadata: the notification as the body.
    Unwrapped,
}

#[derive(Clone, Debug)]
struct Target {
    url: String,
    format: PushFormat,
}

pub(crate) struct Outgoing {
    target: Target,
    topic: String,
    registration_id: String,
    data: Value,
    message_id: String,
    publish_time: String,
    twice: bool,
}

/// The push side of the emulator's state.
pub(crate) struct Pusher {
    endpoints: Mutex<HashMap<String, Target>>,
    tx: tokio::sync::mpsc::UnboundedSender<Outgoing>,
    rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Outgoing>>>,
    paused: AtomicBool,
    twice: AtomicUsize,
    next_id: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    pending: AtomicU64,
    service_account: String,
    audience: Option<String>,
}

/// What the builder configures.
#[derive(Clone, Debug, Default)]
pub(crate) struct PushConfig {
    pub(crate) endpoints: Vec<(String, String, PushFormat)>,
    pub(crate) service_account: Option<String>,
    pub(crate) audience: Option<String>,
}

impl Pusher {
    pub(crate) fn new(config: &PushConfig) -> Pusher {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        Pusher {
            endpoints: Mutex::new(
                config
                    .endpoints
                    .iter()
                    .map(|(topic, url, format)| {
                        (
                            topic.clone(),
                            Target {
                                url: url.clone(),
                                format: *format,
                            },
                        )
                    })
                    .collect(),
            ),
            tx,
            rx: Mutex::new(Some(rx)),
            paused: AtomicBool::new(false),
            twice: AtomicUsize::new(0),
            next_id: AtomicU64::new(4_000_000_000_000_000),
            delivered: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            service_account: config
                .service_account
                .clone()
                .unwrap_or_else(|| DEFAULT_PUSH_SERVICE_ACCOUNT.to_string()),
            audience: config.audience.clone(),
        }
    }

    pub(crate) fn take_receiver(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Outgoing>> {
        self.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn target(&self, topic: &str) -> Option<Target> {
        self.endpoints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(topic)
            .cloned()
    }
}

/// A change the API made that registrations may be told of.
pub(crate) struct Change {
    collection: &'static str,
    event_type: &'static str,
    course_id: String,
    resource_id: Value,
}

/// What must be read before a call changes the state (what a delete removes).
pub(crate) fn before(
    state: &State,
    me: &str,
    method: &str,
    params: &[(String, String)],
) -> Option<Change> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    };
    let course_id = state.course_id(param("courseId"))?;
    match method {
        "courses.students.delete" | "courses.teachers.delete" => {
            let user = state.user(param("userId"), me)?.id.clone();
            Some(Change {
                collection: if method == "courses.students.delete" {
                    "courses.students"
                } else {
                    "courses.teachers"
                },
                event_type: "DELETED",
                resource_id: json!({ "courseId": course_id, "userId": user }),
                course_id,
            })
        }
        "courses.courseWork.delete" => Some(Change {
            collection: "courses.courseWork",
            event_type: "DELETED",
            resource_id: json!({ "courseId": course_id, "id": param("id") }),
            course_id,
        }),
        m if m.starts_with("courses.courseWork.studentSubmissions.")
            && !m.ends_with(".get")
            && !m.ends_with(".list") =>
        {
            Some(Change {
                collection: "courses.courseWork.studentSubmissions",
                event_type: "MODIFIED",
                resource_id: json!({
                    "courseId": course_id,
                    "courseWorkId": param("courseWorkId"),
                    "id": param("id"),
                }),
                course_id,
            })
        }
        _ => None,
    }
}

/// The change a successful call made, given what [`before`] read and what it answered.
pub(crate) fn after(method: &str, before: Option<Change>, value: &Value) -> Option<Change> {
    let text = |field: &str| value[field].as_str().unwrap_or_default().to_string();
    match method {
        "courses.students.create" | "courses.teachers.create" => Some(Change {
            collection: if method == "courses.students.create" {
                "courses.students"
            } else {
                "courses.teachers"
            },
            event_type: "CREATED",
            resource_id: json!({ "courseId": text("courseId"), "userId": text("userId") }),
            course_id: text("courseId"),
        }),
        "courses.courseWork.create" | "courses.courseWork.patch" => Some(Change {
            collection: "courses.courseWork",
            event_type: if method.ends_with("create") {
                "CREATED"
            } else {
                "MODIFIED"
            },
            resource_id: json!({ "courseId": text("courseId"), "id": text("id") }),
            course_id: text("courseId"),
        }),
        _ => before,
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Whether `user` still holds a live grant for `client`: a token or a refresh token.
fn has_grant(state: &State, user: &str, client: &str) -> bool {
    let now = SystemTime::now();
    state
        .tokens
        .values()
        .any(|g| g.user == user && g.client_id == client && g.expires > now)
        || state
            .refresh_tokens
            .values()
            .any(|g| g.user == user && g.client_id == client)
}

/// Queues the pushes a change causes.
pub(crate) fn publish(shared: &Shared, state: &State, change: Change) {
    let now = unix_now();
    let roster = change.collection.starts_with("courses.students")
        || change.collection.starts_with("courses.teachers");
    for registration in state.items("registrations") {
        let expires = registration["_expires"].as_u64().unwrap_or(0);
        if expires <= now {
            continue;
        }
        let feed = registration["feed"]["feedType"]
            .as_str()
            .unwrap_or_default();
        let course = registration["_course"].as_str().unwrap_or_default();
        let covers = match feed {
            "DOMAIN_ROSTER_CHANGES" => roster,
            "COURSE_ROSTER_CHANGES" => roster && course == change.course_id,
            "COURSE_WORK_CHANGES" => !roster && course == change.course_id,
            _ => false,
        };
        let user = registration["_user"].as_str().unwrap_or_default();
        let client = registration["_client"].as_str().unwrap_or_default();
        let admin = state
            .user_by_id(user)
            .is_some_and(|u| u.role == crate::Role::Admin);
        // Only what the registration's user can see, while the grant lasts.
        let sees = admin || state.is_member(&change.course_id, user);
        if !covers || !sees || !has_grant(state, user, client) {
            continue;
        }
        let topic = registration["cloudPubsubTopic"]["topicName"]
            .as_str()
            .unwrap_or_default();
        let Some(target) = shared.push.target(topic) else {
            continue;
        };
        if shared.push.paused.load(Ordering::SeqCst) {
            shared.push.dropped.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        let twice = shared
            .push
            .twice
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let message_id = shared
            .push
            .next_id
            .fetch_add(1, Ordering::SeqCst)
            .to_string();
        shared.push.pending.fetch_add(1, Ordering::SeqCst);
        let _ = shared.push.tx.send(Outgoing {
            target,
            topic: topic.to_string(),
            registration_id: registration["registrationId"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            data: json!({
                "collection": change.collection,
                "eventType": change.event_type,
                "resourceId": change.resource_id,
            }),
            message_id,
            publish_time: crate::store::now(),
            twice,
        });
    }
}

/// Delivers queued pushes, one at a time, until the emulator stops.
pub(crate) async fn deliver(
    shared: std::sync::Arc<Shared>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Outgoing>,
) {
    while let Some(message) = rx.recv().await {
        let times = if message.twice { 2 } else { 1 };
        for _ in 0..times {
            let mut delay = Duration::from_millis(50);
            let mut ok = false;
            for attempt in 0..PUSH_ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                if post(&shared, &message)
                    .await
                    .is_ok_and(|s| (200..300).contains(&s))
                {
                    ok = true;
                    break;
                }
            }
            let counter = if ok {
                &shared.push.delivered
            } else {
                &shared.push.failed
            };
            counter.fetch_add(1, Ordering::SeqCst);
        }
        shared.push.pending.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One POST of a push; the HTTP status.
async fn post(shared: &Shared, message: &Outgoing) -> Result<u16, String> {
    let url = &message.target.url;
    let rest = url
        .strip_prefix("http://")
        .ok_or("the emulator pushes to http:// endpoints only")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let audience = shared.push.audience.clone().unwrap_or_else(|| url.clone());
    let token = oidc_token(&shared.push.service_account, &audience, unix_now());
    let subscription = format!(
        "{}-push",
        message.topic.replacen("/topics/", "/subscriptions/", 1)
    );
    let mut request = hyper::Request::post(path)
        .header("host", authority)
        .header("authorization", format!("Bearer {token}"))
        .header(
            "user-agent",
            "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
        );
    let body = match message.target.format {
        PushFormat::Wrapped => {
            request = request.header("content-type", "application/json");
            json!({
                "message": {
                    "data": base64::engine::general_purpose::STANDARD
                        .encode(message.data.to_string()),
                    "attributes": { "registrationId": message.registration_id },
                    "messageId": message.message_id,
                    "message_id": message.message_id,
                    "publishTime": message.publish_time,
                    "publish_time": message.publish_time,
                },
                "subscription": subscription,
            })
            .to_string()
        }
        PushFormat::Unwrapped => {
            request = request
                .header("content-type", "application/json")
                .header("x-goog-pubsub-message-id", &message.message_id)
                .header("x-goog-pubsub-publish-time", &message.publish_time)
                .header("x-goog-pubsub-subscription-name", &subscription)
                .header("registrationId", &message.registration_id);
            message.data.to_string()
        }
    };
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let exchange = async {
        let stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<u16, String>(response.status().as_u16())
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| "timed out".to_string())?
}

fn oidc_token(service_account: &str, audience: &str, now: u64) -> String {
    crate::iam::sign(
        crate::risc::signing_key(),
        crate::RISC_KEY_ID,
        &json!({
            "iss": PUSH_ISSUER,
            "aud": audience,
            "azp": "117000000000000000001",
            "sub": "117000000000000000001",
            "email": service_account,
            "email_verified": true,
            "iat": now,
            "exp": now + 3600,
        }),
    )
}

impl EmulatorBuilder {
    /// Pushes the notifications of registrations on `topic` (`projects/P/topics/T`) to `url`
    /// (`http://...`), wrapped; may be given for several topics.
    pub fn push_endpoint(self, topic: impl Into<String>, url: impl Into<String>) -> Self {
        self.push_endpoint_as(topic, url, PushFormat::Wrapped)
    }

    /// As [`push_endpoint`](Self::push_endpoint), in the given format.
    pub fn push_endpoint_as(
        mut self,
        topic: impl Into<String>,
        url: impl Into<String>,
        format: PushFormat,
    ) -> Self {
        self.push.endpoints.push((topic.into(), url.into(), format));
        self
    }

    /// The service account the push OIDC tokens name (default
    /// [`DEFAULT_PUSH_SERVICE_ACCOUNT`]).
    pub fn push_service_account(mut self, email: impl Into<String>) -> Self {
        self.push.service_account = Some(email.into());
        self
    }

    /// The audience of the push OIDC tokens (default: each endpoint's URL, as Pub/Sub's).
    pub fn push_audience(mut self, audience: impl Into<String>) -> Self {
        self.push.audience = Some(audience.into());
        self
    }

    /// How long a registration lasts (default a week, as Classroom's).
    pub fn registration_lifetime(mut self, lifetime: Duration) -> Self {
        self.registration_lifetime = lifetime;
        self
    }
}

impl Emulator {
    /// Pushes the notifications of registrations on `topic` to `url` from now on.
    pub fn set_push_endpoint(&self, topic: &str, url: &str, format: PushFormat) {
        self.shared
            .push
            .endpoints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                topic.to_string(),
                Target {
                    url: url.to_string(),
                    format,
                },
            );
    }

    /// The service account the push OIDC tokens name.
    pub fn push_service_account(&self) -> String {
        self.shared.push.service_account.clone()
    }

    /// Drops every push from now until [`resume_pushes`](Self::resume_pushes), as if lost.
    pub fn pause_pushes(&self) {
        self.shared.push.paused.store(true, Ordering::SeqCst);
    }

    /// Pushes again after [`pause_pushes`](Self::pause_pushes); what was dropped stays lost.
    pub fn resume_pushes(&self) {
        self.shared.push.paused.store(false, Ordering::SeqCst);
    }

    /// Delivers the next message twice, with the same message id (Pub/Sub delivers at least
    /// once).
    pub fn deliver_next_twice(&self) {
        self.shared.push.twice.fetch_add(1, Ordering::SeqCst);
    }

    /// Deliveries answered 2xx so far (a message delivered twice counts twice).
    pub fn pushes_delivered(&self) -> u64 {
        self.shared.push.delivered.load(Ordering::SeqCst)
    }

    /// Pushes dropped while paused.
    pub fn pushes_dropped(&self) -> u64 {
        self.shared.push.dropped.load(Ordering::SeqCst)
    }

    /// Deliveries given up after [`PUSH_ATTEMPTS`] non-2xx answers.
    pub fn pushes_failed(&self) -> u64 {
        self.shared.push.failed.load(Ordering::SeqCst)
    }

    /// Messages queued or being delivered.
    pub fn pushes_pending(&self) -> u64 {
        self.shared.push.pending.load(Ordering::SeqCst)
    }

    /// A valid push OIDC token for `audience`, issued now.
    pub fn push_token(&self, audience: &str) -> String {
        oidc_token(&self.shared.push.service_account, audience, unix_now())
    }

    /// Signs any claims as a push OIDC token with the emulator's key: for tokens with another
    /// audience, issuer or service account, unverified email, or bad times.
    pub fn sign_push_token(&self, claims: &Value) -> String {
        crate::iam::sign(crate::risc::signing_key(), crate::RISC_KEY_ID, claims)
    }
}
