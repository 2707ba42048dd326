//! Registrations kept alive: created, recorded, renewed before expiry, deleted.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::Classroom;
use crate::models::{CloudPubsubTopic, Feed, FeedType, Registration};

/// How long before its expiry a registration is renewed, by default: two days of a week's
/// registration, so that a day of failed renewals still leaves time.
pub const DEFAULT_RENEW_BEFORE: Duration = Duration::from_secs(2 * 24 * 3600);

/// How long after a renewal failed for a passing reason it is tried again, by default.
pub const DEFAULT_RETRY_DELAY: Duration = Duration::from_secs(15 * 60);

/// What the keeper knows of a registration. Classroom has no method that lists registrations:
/// this record is the only trace of one, so keep it ([`RegistrationKeeper::records`], then
/// [`RegistrationKeeper::restore`] after a restart).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RegistrationRecord {
    /// Classroom's id of the registration (pushes carry it as `registrationId`).
    pub registration_id: String,
    /// The feed: `DOMAIN_ROSTER_CHANGES`, `COURSE_ROSTER_CHANGES` or `COURSE_WORK_CHANGES`.
    pub feed_type: String,
    /// The course of a course feed.
    pub course_id: Option<String>,
    /// The Pub/Sub topic, `projects/P/topics/T`.
    pub topic: String,
    /// The user whose grant the registration rests on (as the keeper's client lookup knows
    /// them).
    pub user: String,
    /// Until when Classroom sends notifications for it.
    pub expiry: DateTime<Utc>,
}

impl RegistrationRecord {
    fn feed(&self) -> Feed {
        let mut feed = Feed {
            feed_type: Some(FeedType::from(self.feed_type.as_str())),
            ..Default::default()
        };
        match self.feed_type.as_str() {
            "COURSE_ROSTER_CHANGES" => {
                feed.course_roster_changes_info = Some(crate::models::CourseRosterChangesInfo {
                    course_id: self.course_id.clone(),
                })
            }
            "COURSE_WORK_CHANGES" => {
                feed.course_work_changes_info = Some(crate::models::CourseWorkChangesInfo {
                    course_id: self.course_id.clone(),
                })
            }
            _ => {}
        }
        feed
    }
}

/// A registration's feed, for [`RegistrationKeeper::register`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedSpec {
    /// Every roster change of the domain (an administrator's grant).
    DomainRoster,
    /// The roster changes of one course.
    CourseRoster(String),
    /// The coursework and submission changes of one course.
    CourseWork(String),
}

impl FeedSpec {
    fn parts(&self) -> (&'static str, Option<String>) {
        match self {
            FeedSpec::DomainRoster => ("DOMAIN_ROSTER_CHANGES", None),
            FeedSpec::CourseRoster(c) => ("COURSE_ROSTER_CHANGES", Some(c.clone())),
            FeedSpec::CourseWork(c) => ("COURSE_WORK_CHANGES", Some(c.clone())),
        }
    }
}

/// What happened to a registration the keeper holds.
#[derive(Debug)]
#[non_exhaustive]
pub enum KeeperEvent {
    /// Renewed: the record as it is now (its id may have changed).
    Renewed {
        /// The record.
        record: RegistrationRecord,
    },
    /// It cannot be renewed with what the user granted: the grant was revoked, Classroom
    /// refuses the grant (`@MissingGrant`: domain-wide delegation, or no grant for this
    /// project), or the user lost access to the feed. It is not tried again: ask the user to
    /// sign in and consent, then [`register`](RegistrationKeeper::register) again and run
    /// the reconcile pass for what was missed.
    NeedsConsent {
        /// The record.
        record: RegistrationRecord,
        /// Why.
        error: crate::Error,
    },
    /// Renewing failed for a passing reason (or one the keeper cannot judge); tried again
    /// after the retry delay.
    RetryLater {
        /// The record.
        record: RegistrationRecord,
        /// Why.
        error: crate::Error,
    },
}

/// Whether an error from `registrations.create` means the user must act (consent again).
pub fn needs_consent(error: &crate::Error) -> bool {
    if let crate::Error::Auth(auth) = error {
        // A token that cannot be had again without the user: revoked, expired for good.
        return auth.is_consent_required() || !auth.is_transient();
    }
    error.api().is_some_and(|api| {
        api.is_unauthenticated()
            || api.is_permission_denied()
            || api.is_not_found()
            || api
                .classroom_reason
                .as_ref()
                .is_some_and(|r| r.as_str() == "MissingGrant")
    })
}

/// Finds the client that acts for a registration's user.
pub type ClientLookup = Arc<dyn Fn(&str) -> Option<Classroom> + Send + Sync>;

struct Entry {
    record: RegistrationRecord,
    /// When to renew; `None` while it needs consent.
    due: Option<Instant>,
}

/// Keeps registrations alive.
///
/// Classroom's registrations last a week and cannot be listed. The keeper
///
/// - creates them ([`register`](Self::register)) with the user's client, found through a
///   lookup you give it, and records each one's id, feed, topic, user and expiry
///   ([`records`](Self::records); [`restore`](Self::restore) puts them back after a restart);
/// - renews each [`renew_before`](Self::renew_before) its expiry by registering again with
///   the same feed and topic ([`run`](Self::run) sleeps until the next is due), and tries a
///   failed renewal again after [`retry_delay`](Self::retry_delay);
/// - reports one that cannot be renewed with the user's grant as
///   [`KeeperEvent::NeedsConsent`], and stops trying it;
/// - deletes on request ([`delete`](Self::delete)).
pub struct RegistrationKeeper {
    clients: ClientLookup,
    entries: Mutex<Vec<Entry>>,
    renew_before: Duration,
    retry_delay: Duration,
    changed: tokio::sync::Notify,
}

impl fmt::Debug for RegistrationKeeper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationKeeper")
            .field("registrations", &self.lock().len())
            .field("renew_before", &self.renew_before)
            .finish_non_exhaustive()
    }
}

impl RegistrationKeeper {
    /// A keeper that acts for a registration's user through the client `clients` returns for
    /// them (`None`: the user is gone; their registrations are reported as needing consent).
    pub fn new(clients: impl Fn(&str) -> Option<Classroom> + Send + Sync + 'static) -> Self {
        RegistrationKeeper {
            clients: Arc::new(clients),
            entries: Mutex::default(),
            renew_before: DEFAULT_RENEW_BEFORE,
            retry_delay: DEFAULT_RETRY_DELAY,
            changed: tokio::sync::Notify::new(),
        }
    }

    /// Renews this long before expiry (default [`DEFAULT_RENEW_BEFORE`]).
    pub fn renew_before(mut self, before: Duration) -> Self {
        self.renew_before = before;
        self
    }

    /// Tries a failed renewal again after this long (default [`DEFAULT_RETRY_DELAY`]).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn due_for(&self, expiry: DateTime<Utc>) -> Instant {
        let left = (expiry - Utc::now()).to_std().unwrap_or_default();
        Instant::now() + left.saturating_sub(self.renew_before)
    }

    async fn create(
        &self,
        user: &str,
        feed: Feed,
        topic: &str,
    ) -> crate::Result<RegistrationRecord> {
        let classroom = (self.clients)(user).ok_or_else(|| crate::Error::InvalidInput {
            method: "classroom.registrations.create",
            message: format!("the keeper's client lookup has no client for user {user:?}"),
        })?;
        let registered = classroom
            .registrations()
            .create(Registration {
                feed: Some(feed.clone()),
                cloud_pubsub_topic: Some(CloudPubsubTopic {
                    topic_name: Some(topic.to_string()),
                }),
                ..Default::default()
            })
            .send()
            .await?;
        let course_id = feed
            .course_roster_changes_info
            .and_then(|i| i.course_id)
            .or_else(|| feed.course_work_changes_info.and_then(|i| i.course_id));
        Ok(RegistrationRecord {
            registration_id: registered.registration_id.unwrap_or_default(),
            feed_type: feed
                .feed_type
                .map(|f| f.as_str().to_string())
                .unwrap_or_default(),
            course_id,
            topic: topic.to_string(),
            user: user.to_string(),
            // A server that names no expiry: Classroom's week.
            expiry: registered
                .expiry_time
                .unwrap_or_else(|| Utc::now() + chrono::Duration::days(7)),
        })
    }

    /// Registers `user` for `feed` on `topic`, records the registration and keeps it.
    pub async fn register(
        &self,
        user: &str,
        feed: FeedSpec,
        topic: &str,
    ) -> crate::Result<RegistrationRecord> {
        let (feed_type, course_id) = feed.parts();
        let spec = RegistrationRecord {
            registration_id: String::new(),
            feed_type: feed_type.to_string(),
            course_id,
            topic: topic.to_string(),
            user: user.to_string(),
            expiry: Utc::now(),
        };
        let record = self.create(user, spec.feed(), topic).await?;
        self.keep(record.clone());
        Ok(record)
    }

    fn keep(&self, record: RegistrationRecord) {
        let due = Some(self.due_for(record.expiry));
        let mut entries = self.lock();
        entries.retain(|e| e.record.registration_id != record.registration_id);
        entries.push(Entry { record, due });
        drop(entries);
        self.changed.notify_one();
    }

    /// Takes back records kept before (after a restart): each is renewed when due, at once if
    /// that is past.
    pub fn restore(&self, records: impl IntoIterator<Item = RegistrationRecord>) {
        for record in records {
            self.keep(record);
        }
    }

    /// Every registration held, including those that need consent.
    pub fn records(&self) -> Vec<RegistrationRecord> {
        self.lock().iter().map(|e| e.record.clone()).collect()
    }

    /// The record of a registration, by id (a push's `registrationId`).
    pub fn record(&self, registration_id: &str) -> Option<RegistrationRecord> {
        self.lock()
            .iter()
            .find(|e| e.record.registration_id == registration_id)
            .map(|e| e.record.clone())
    }

    /// The registrations that cannot be renewed until their user consents again.
    pub fn needing_consent(&self) -> Vec<RegistrationRecord> {
        self.lock()
            .iter()
            .filter(|e| e.due.is_none())
            .map(|e| e.record.clone())
            .collect()
    }

    /// When the next renewal is due, if any is.
    pub fn next_due(&self) -> Option<Instant> {
        self.lock().iter().filter_map(|e| e.due).min()
    }

    /// Deletes a registration from Classroom and forgets it. One Classroom no longer knows
    /// (404) is forgotten all the same.
    pub async fn delete(&self, registration_id: &str) -> crate::Result<()> {
        let Some(record) = self.record(registration_id) else {
            return Ok(());
        };
        if let Some(classroom) = (self.clients)(&record.user) {
            match classroom
                .registrations()
                .delete(registration_id)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        self.lock()
            .retain(|e| e.record.registration_id != registration_id);
        self.changed.notify_one();
        Ok(())
    }

    /// Renews every registration that is due now; says what happened to each.
    pub async fn renew_due(&self) -> Vec<KeeperEvent> {
        let now = Instant::now();
        let due: Vec<RegistrationRecord> = self
            .lock()
            .iter()
            .filter(|e| e.due.is_some_and(|d| d <= now))
            .map(|e| e.record.clone())
            .collect();
        let mut events = Vec::new();
        for old in due {
            let outcome = match (self.clients)(&old.user) {
                Some(_) => self.create(&old.user, old.feed(), &old.topic).await,
                None => Err(crate::Error::Auth(
                    crate::auth::AuthError::ConsentRequired {
                        description: Some(format!("no client for user {:?}", old.user)),
                    },
                )),
            };
            let mut entries = self.lock();
            let Some(entry) = entries
                .iter_mut()
                .find(|e| e.record.registration_id == old.registration_id)
            else {
                continue; // deleted meanwhile
            };
            match outcome {
                Ok(record) => {
                    entry.due = Some(self.due_for(record.expiry));
                    entry.record = record.clone();
                    events.push(KeeperEvent::Renewed { record });
                }
                Err(error) if needs_consent(&error) => {
                    entry.due = None;
                    events.push(KeeperEvent::NeedsConsent { record: old, error });
                }
                Err(error) => {
                    entry.due = Some(Instant::now() + self.retry_delay);
                    events.push(KeeperEvent::RetryLater { record: old, error });
                }
            }
        }
        events
    }

    /// Renews registrations as they fall due, forever, sending what happened to `events`;
    /// ends when `events` is closed. Spawn it: `tokio::spawn(keeper.clone().run(tx))`.
    pub async fn run(self: Arc<Self>, events: tokio::sync::mpsc::UnboundedSender<KeeperEvent>) {
        loop {
            let next = self.next_due();
            let changed = self.changed.notified();
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = changed => continue,
                        () = events.closed() => return,
                    }
                }
                None => {
                    tokio::select! {
                        () = changed => continue,
                        () = events.closed() => return,
                    }
                }
            }
            for event in self.renew_due().await {
                if events.send(event).is_err() {
                    return;
                }
            }
        }
    }
}
