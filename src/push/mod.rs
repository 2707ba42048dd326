//! Classroom push notifications through Cloud Pub/Sub: decode, verify, de-duplicate, keep
//! registrations alive, and read what changed.
//!
//! # How it fits together
//!
//! 1. A [`RegistrationKeeper`] registers a feed (a course's roster, a course's coursework, the
//!    domain's roster) on a Pub/Sub topic with a user's grant, records the registration
//!    (Classroom cannot list them), renews it before its week runs out, and reports one that
//!    the user's grant no longer covers ([`KeeperEvent::NeedsConsent`]).
//! 2. Pub/Sub POSTs each notification to your HTTPS endpoint, with an OIDC token of the push
//!    subscription's service account. Hand the request to a [`PushReceiver`]: it verifies the
//!    token ([`PushVerifier`]: Google's signature, your audience, your service account),
//!    decodes the body, wrapped or unwrapped ([`PushMessage`]), and drops a message it has
//!    already seen ([`DedupStore`]). Answer 2xx for [`Received`], and the status of a
//!    [`PushError`] otherwise: Pub/Sub delivers again on anything but 2xx.
//! 3. A notification names what changed, not how it is now. [`Read::for_event`] is the read
//!    that fetches it (the matching `get`, or a coursework's submissions); a [`Coalescer`]
//!    makes one read of a burst.
//! 4. Pushes can be lost: a registration lapsed, the endpoint was down past Pub/Sub's
//!    retention, a message was refused. The reconcile pass ([`coursework_changed_since`],
//!    [`submissions_changed_since`], and the roster lists) reads what changed without push;
//!    run it at start, after a registration was renewed late or re-created, and now and then.
//!
//! If applying a message fails, call [`PushReceiver::forget`] and answer an error status, so
//! that the redelivery is applied rather than dropped as a duplicate.
//!
//! The emulator (`classroom-emulator`) publishes pushes the way Pub/Sub does, signed with its
//! own key; `examples/push_receiver.rs` is a receiver that runs on it.

mod changes;
mod dedup;
mod event;
mod keeper;
mod verify;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use changes::{Coalescer, Fetched, Read, coursework_changed_since, submissions_changed_since};
pub use dedup::{DedupError, DedupStore, MAX_REMEMBERED_MESSAGES, MemoryDedup};
pub use event::{Collection, Event, EventType, PushMessage, ResourceId};
pub use keeper::{
    ClientLookup, DEFAULT_RENEW_BEFORE, DEFAULT_RETRY_DELAY, FeedSpec, KeeperEvent,
    RegistrationKeeper, RegistrationRecord, needs_consent,
};
pub use verify::{DEFAULT_LEEWAY, GOOGLE_ISSUER, PushIdentity, PushVerifier};

/// How long a message id is remembered by default: Pub/Sub redelivers an unacknowledged
/// message within minutes, and a message answered 2xx is rarely delivered again later.
pub const DEFAULT_DEDUP_WINDOW: Duration = Duration::from_secs(3600);

/// The largest push body looked at. Classroom's notifications are a few hundred bytes.
pub const MAX_PUSH_BODY: usize = 64 * 1024;

/// Why a push was refused. Nothing was applied; answer [`http_status`](PushError::http_status).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// No `Authorization: Bearer` token: the subscription does not authenticate its pushes.
    #[error("the push carries no bearer token; enable authentication on the push subscription")]
    Unauthenticated,
    /// The token is not a JWT with the claims an OIDC token has.
    #[error("the push token is malformed: {message}")]
    InvalidToken {
        /// What is wrong.
        message: String,
    },
    /// The token is signed with another algorithm than RS256 (`none`, `HS256`, ...).
    #[error("the push token's algorithm {alg:?} is not accepted (only RS256)")]
    UnsupportedAlgorithm {
        /// Its header's `alg`.
        alg: String,
    },
    /// No published key has the token's `kid`, even after fetching the keys again.
    #[error("no published key has id {kid:?}")]
    UnknownKey {
        /// Its header's `kid`.
        kid: String,
    },
    /// The signature does not verify with the key the token names.
    #[error("the push token's signature does not verify")]
    BadSignature,
    /// The token was not issued by Google.
    #[error("the push token's issuer {issuer:?} is not Google's")]
    WrongIssuer {
        /// Its `iss`.
        issuer: String,
    },
    /// The token is for another audience.
    #[error("the push token's audience {audience:?} is not {expected:?}")]
    WrongAudience {
        /// Its `aud`.
        audience: Vec<String>,
        /// The audience configured.
        expected: String,
    },
    /// The token names another service account.
    #[error("the push token is for {email:?}, not the push service account {expected:?}")]
    WrongServiceAccount {
        /// Its `email`.
        email: String,
        /// The service account configured.
        expected: String,
    },
    /// The token's `email_verified` is not true.
    #[error("the push token's email is not verified")]
    EmailNotVerified,
    /// The token has expired.
    #[error("the push token expired {seconds_ago} s ago")]
    Expired {
        /// How long ago.
        seconds_ago: i64,
    },
    /// The token's `iat` lies in the future beyond the leeway.
    #[error("the push token is issued {seconds_ahead} s in the future")]
    IssuedInFuture {
        /// How far ahead.
        seconds_ahead: i64,
    },
    /// Google's keys could not be had; a redelivery may succeed.
    #[error("the signing keys could not be had: {message}")]
    Keys {
        /// Why.
        message: String,
    },
    /// The body is not a push of a Classroom notification.
    #[error("{message}")]
    Malformed {
        /// What is wrong.
        message: String,
    },
    /// The de-duplication store failed; a redelivery may succeed.
    #[error(transparent)]
    Store(#[from] DedupError),
}

impl PushError {
    /// The HTTP status to answer: 401 without a token, 403 for a token refused, 400 for a
    /// body that is no Classroom push, 503 when the failure is ours.
    pub fn http_status(&self) -> u16 {
        match self {
            PushError::Unauthenticated => 401,
            PushError::Malformed { .. } => 400,
            PushError::Keys { .. } | PushError::Store(_) => 503,
            _ => 403,
        }
    }

    /// Whether the token was refused (as opposed to the body, or a failure of ours).
    pub fn is_token_refused(&self) -> bool {
        matches!(self.http_status(), 401 | 403)
    }
}

/// A verified, decoded push.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Received {
    /// The message.
    pub message: PushMessage,
    /// Who pushed it.
    pub identity: PushIdentity,
    /// Whether the message id was seen within the window: answer 2xx and apply nothing.
    pub duplicate: bool,
}

/// Verifies, decodes and de-duplicates pushes. See the [module docs](self).
///
/// ```no_run
/// # async fn run(authorization: Option<&str>, headers: Vec<(String, String)>, body: Vec<u8>)
/// # -> Result<(), classroom::push::PushError> {
/// use classroom::push::{PushReceiver, PushVerifier};
///
/// let receiver = PushReceiver::new(PushVerifier::new(
///     "https://example.com/classroom/push",
///     "push-invoker@my-project.iam.gserviceaccount.com",
/// ));
/// let headers = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
/// let received = receiver.receive(authorization, headers, &body).await?;
/// if !received.duplicate {
///     println!("{:?}", received.message.event);
/// }
/// # Ok(()) }
/// ```
pub struct PushReceiver {
    verifier: PushVerifier,
    dedup: Arc<dyn DedupStore>,
    window: Duration,
}

impl fmt::Debug for PushReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushReceiver")
            .field("verifier", &self.verifier)
            .field("dedup", &self.dedup)
            .field("window", &self.window)
            .finish()
    }
}

impl PushReceiver {
    /// A receiver verifying with `verifier`, de-duplicating in memory for
    /// [`DEFAULT_DEDUP_WINDOW`].
    pub fn new(verifier: PushVerifier) -> Self {
        PushReceiver {
            verifier,
            dedup: Arc::new(MemoryDedup::new()),
            window: DEFAULT_DEDUP_WINDOW,
        }
    }

    /// Remembers message ids in `store` (shared between replicas, say).
    pub fn dedup_store(mut self, store: Arc<dyn DedupStore>) -> Self {
        self.dedup = store;
        self
    }

    /// Remembers a message id this long (default [`DEFAULT_DEDUP_WINDOW`]).
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The verifier.
    pub fn verifier(&self) -> &PushVerifier {
        &self.verifier
    }

    /// Verifies the `Authorization` header, decodes the body (with the request's headers, for
    /// unwrapped pushes) and claims its message id. Nothing from the body is read before the
    /// token is verified.
    pub async fn receive<'a, I>(
        &self,
        authorization: Option<&str>,
        headers: I,
        body: &[u8],
    ) -> Result<Received, PushError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let identity = self.verifier.verify(authorization).await?;
        if body.len() > MAX_PUSH_BODY {
            return Err(PushError::Malformed {
                message: "the body is larger than 64 KiB".into(),
            });
        }
        let message = PushMessage::decode(headers, body)?;
        let fresh = self.dedup.claim(&message.message_id, self.window).await?;
        Ok(Received {
            message,
            identity,
            duplicate: !fresh,
        })
    }

    /// Gives up the claim on a message whose effects could not be applied, so that its
    /// redelivery is applied.
    pub async fn forget(&self, message_id: &str) -> Result<(), PushError> {
        Ok(self.dedup.release(message_id).await?)
    }
}
