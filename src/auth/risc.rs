//! Cross-Account Protection (RISC): a receiver for the security event tokens Google pushes when
//! something happens to a user's Google Account, which drops that user's tokens.
//!
//! See [`RiscReceiver`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use super::jwt::{self, JwtError, JwtVerifier};
use super::secret::constant_time_eq;
use super::{AuthError, TokenStore, UserCredentials};

/// The issuer of Google's security event tokens.
pub const GOOGLE_RISC_ISSUER: &str = "https://accounts.google.com/";

/// Where Google publishes the keys that sign its security event tokens.
pub const GOOGLE_RISC_JWKS_URI: &str = jwt::GOOGLE_JWKS_URI;

/// Google's RISC discovery document (`issuer`, `jwks_uri`), read by
/// [`RiscReceiver::discover`].
pub const GOOGLE_RISC_CONFIGURATION: &str =
    "https://accounts.google.com/.well-known/risc-configuration";

/// How old an event token may be by default (its `iat`): one day, enough for Google's
/// delivery retries while your endpoint is down for a while.
pub const DEFAULT_MAX_EVENT_AGE: Duration = Duration::from_secs(24 * 3600);

/// How far in the future an `iat` may lie (clock differences).
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(300);

/// The largest request body [`RiscReceiver::receive`] looks at. Google's tokens are about
/// 1 KB.
pub const MAX_EVENT_TOKEN: usize = 16 * 1024;

/// How many characters of a token the `prefix` identifier holds, as Google sends it.
pub(crate) const PREFIX_CHARS: usize = 16;

/// `jti`s remembered at most; past it, the oldest are forgotten first (their effects are
/// idempotent, so a replay of one only repeats a no-op).
const MAX_REMEMBERED: usize = 100_000;

const SESSIONS_REVOKED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked";
const TOKENS_REVOKED: &str = "https://schemas.openid.net/secevent/oauth/event-type/tokens-revoked";
const TOKEN_REVOKED: &str = "https://schemas.openid.net/secevent/oauth/event-type/token-revoked";
const ACCOUNT_DISABLED: &str =
    "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
const ACCOUNT_ENABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-enabled";
const CREDENTIAL_CHANGE: &str =
    "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required";
const VERIFICATION: &str = "https://schemas.openid.net/secevent/risc/event-type/verification";

/// A security event Google sends.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecurityEvent {
    /// All of the user's sessions were ended (`sessions-revoked`); e.g. a password reset.
    SessionsRevoked {
        /// The user's Google account id (`sub`).
        subject: String,
    },
    /// Every OAuth token the user granted your app was revoked (`tokens-revoked`).
    TokensRevoked {
        /// The user's Google account id (`sub`).
        subject: String,
    },
    /// One refresh token was revoked (`token-revoked`); the event names the token, not the
    /// user.
    TokenRevoked {
        /// Which token.
        token: RevokedToken,
    },
    /// The account was disabled (`account-disabled`).
    AccountDisabled {
        /// The user's Google account id (`sub`).
        subject: String,
        /// Why, when Google says: `hijacking` (the account was taken over) or
        /// `bulk-account` (spam or abuse).
        reason: Option<String>,
    },
    /// The account was enabled again (`account-enabled`).
    AccountEnabled {
        /// The user's Google account id (`sub`).
        subject: String,
    },
    /// The user should change their password (`account-credential-change-required`).
    CredentialChangeRequired {
        /// The user's Google account id (`sub`).
        subject: String,
    },
    /// A test event your `stream:verify` call asked for (`verification`).
    Verification {
        /// The `state` you passed to `stream:verify`.
        state: Option<String>,
    },
    /// An event type this SDK does not know.
    Unknown {
        /// The event type URI.
        event_type: String,
    },
}

impl SecurityEvent {
    /// The event type URI, as in the token.
    pub fn event_type(&self) -> &str {
        match self {
            SecurityEvent::SessionsRevoked { .. } => SESSIONS_REVOKED,
            SecurityEvent::TokensRevoked { .. } => TOKENS_REVOKED,
            SecurityEvent::TokenRevoked { .. } => TOKEN_REVOKED,
            SecurityEvent::AccountDisabled { .. } => ACCOUNT_DISABLED,
            SecurityEvent::AccountEnabled { .. } => ACCOUNT_ENABLED,
            SecurityEvent::CredentialChangeRequired { .. } => CREDENTIAL_CHANGE,
            SecurityEvent::Verification { .. } => VERIFICATION,
            SecurityEvent::Unknown { event_type } => event_type,
        }
    }

    /// The user the event is about, if it names one.
    pub fn subject(&self) -> Option<&str> {
        match self {
            SecurityEvent::SessionsRevoked { subject }
            | SecurityEvent::TokensRevoked { subject }
            | SecurityEvent::AccountDisabled { subject, .. }
            | SecurityEvent::AccountEnabled { subject }
            | SecurityEvent::CredentialChangeRequired { subject } => Some(subject),
            _ => None,
        }
    }

    /// The event as the `events` claim of a security event token carries it, with `issuer` as
    /// the subject's issuer: for test servers that mint tokens, such as the emulator's
    /// `security_event_token` (with its `risc_issuer`).
    pub fn to_claim(&self, issuer: &str) -> Value {
        let user =
            |sub: &str| serde_json::json!({ "subject_type": "iss-sub", "iss": issuer, "sub": sub });
        let body = match self {
            SecurityEvent::SessionsRevoked { subject }
            | SecurityEvent::TokensRevoked { subject }
            | SecurityEvent::AccountEnabled { subject }
            | SecurityEvent::CredentialChangeRequired { subject } => {
                serde_json::json!({ "subject": user(subject) })
            }
            SecurityEvent::AccountDisabled { subject, reason } => {
                let mut body = serde_json::json!({ "subject": user(subject) });
                if let Some(reason) = reason {
                    body["reason"] = reason.clone().into();
                }
                body
            }
            SecurityEvent::TokenRevoked { token } => serde_json::json!({
                "subject": {
                    "subject_type": "oauth_token",
                    "token_type": token.token_type,
                    "token_identifier_alg": token.algorithm,
                    "token": token.identifier,
                }
            }),
            SecurityEvent::Verification { state } => serde_json::json!({ "state": state }),
            SecurityEvent::Unknown { .. } => serde_json::json!({}),
        };
        serde_json::json!({ self.event_type(): body })
    }
}

/// The token a `token-revoked` event names: a prefix or a hash of it, never the token itself.
#[derive(Clone, PartialEq, Eq)]
pub struct RevokedToken {
    token_type: String,
    algorithm: String,
    identifier: String,
}

impl fmt::Debug for RevokedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevokedToken")
            .field("token_type", &self.token_type)
            .field("algorithm", &self.algorithm)
            .field("identifier", &"[redacted]")
            .finish()
    }
}

impl RevokedToken {
    /// The identifier of `token` by `algorithm` (`prefix`: its first 16 characters;
    /// `hash_base64_sha512_sha512`: base64 of SHA-512 over SHA-512 of it).
    pub fn identify(token_type: &str, algorithm: &str, token: &str) -> Self {
        let identifier = match algorithm {
            "hash_base64_sha512_sha512" => STANDARD.encode(double_sha512(token)),
            _ => token.chars().take(PREFIX_CHARS).collect(),
        };
        RevokedToken {
            token_type: token_type.to_string(),
            algorithm: algorithm.to_string(),
            identifier,
        }
    }

    /// The kind of token, e.g. `refresh_token`.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// How it is identified: `prefix` or `hash_base64_sha512_sha512`.
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// A token as an event names it, for tests of stores.
    #[cfg(test)]
    pub(crate) fn from_parts(token_type: &str, algorithm: &str, identifier: &str) -> Self {
        RevokedToken {
            token_type: token_type.to_string(),
            algorithm: algorithm.to_string(),
            identifier: identifier.to_string(),
        }
    }

    /// The identifier itself (a prefix of the token, or a hash of it): what a store looks
    /// the token up by. Not in `Debug`.
    #[cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]
    pub(crate) fn identifier(&self) -> &str {
        &self.identifier
    }

    /// Whether `token` is the one revoked.
    pub fn matches(&self, token: &str) -> bool {
        match self.algorithm.as_str() {
            "prefix" => {
                // At least 8 characters: a short prefix would match tokens it does not name.
                self.identifier.chars().count() >= 8
                    && token.len() >= self.identifier.len()
                    && token.is_char_boundary(self.identifier.len())
                    && constant_time_eq(&token[..self.identifier.len()], &self.identifier)
            }
            "hash_base64_sha512_sha512" => {
                let given = self.identifier.trim_end_matches('=');
                let hash = double_sha512(token);
                constant_time_eq(given, &STANDARD_NO_PAD.encode(&hash))
                    || constant_time_eq(given, &URL_SAFE_NO_PAD.encode(&hash))
            }
            _ => false,
        }
    }
}

pub(crate) fn double_sha512(token: &str) -> Vec<u8> {
    let once = ring::digest::digest(&ring::digest::SHA512, token.as_bytes());
    ring::digest::digest(&ring::digest::SHA512, once.as_ref())
        .as_ref()
        .to_vec()
}

/// What applying an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// The user's tokens were dropped from every holder registered for them; `holders` is
    /// how many held something (0: nothing was registered, or it was already gone).
    TokensDropped {
        /// The user, when the event names one.
        subject: Option<String>,
        /// How many stores and live credentials were cleared.
        holders: usize,
    },
    /// The event asks for nothing to be dropped (account enabled, credential change required,
    /// verification, an unknown type); act on it as your app sees fit.
    Nothing,
    /// This token (its `jti`) was applied before; nothing was done again.
    Duplicate,
}

/// For a person: `tokens of 1234 dropped from 2 holder(s)`, `nothing to drop`, `already applied`.
impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::TokensDropped { subject, holders } => write!(
                f,
                "tokens of {} dropped from {holders} holder(s)",
                subject.as_deref().unwrap_or("the account")
            ),
            Effect::Nothing => f.write_str("nothing to drop"),
            Effect::Duplicate => f.write_str("already applied; nothing done again"),
        }
    }
}

/// A verified, applied security event.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Receipt {
    /// The event.
    pub event: SecurityEvent,
    /// What was done about it.
    pub effect: Effect,
    /// The token's unique id.
    pub jti: String,
    /// When Google issued it.
    pub issued_at: DateTime<Utc>,
}

/// Why a security event token was refused. Nothing was changed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RiscError {
    /// The body is not a JWT with the claims a security event token has.
    #[error("not a security event token: {message}")]
    Malformed {
        /// What is wrong.
        message: String,
    },
    /// The token is signed with another algorithm than RS256.
    #[error("the token's algorithm {alg:?} is not accepted (only RS256)")]
    UnsupportedAlgorithm {
        /// The `alg` of its header.
        alg: String,
    },
    /// No published key has the token's `kid`, even after fetching the keys again.
    #[error("no published key has id {kid:?}")]
    UnknownKey {
        /// The `kid` of its header.
        kid: String,
    },
    /// The signature does not verify with the key the token names.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// The token's issuer is not the one configured.
    #[error("the token's issuer {issuer:?} is not {expected:?}")]
    WrongIssuer {
        /// The `iss` claim.
        issuer: String,
        /// The issuer configured.
        expected: String,
    },
    /// The token is not for any of our client ids.
    #[error("the token's audience {audience:?} names none of our client ids")]
    WrongAudience {
        /// The `aud` claim.
        audience: Vec<String>,
    },
    /// The token was issued longer ago than the receiver accepts.
    #[error("the token was issued {age_seconds} s ago, more than the {max_age_seconds} s accepted")]
    Stale {
        /// Its age.
        age_seconds: i64,
        /// The most accepted.
        max_age_seconds: u64,
    },
    /// The token's `iat` lies in the future, beyond the clock leeway.
    #[error("the token's iat lies {ahead_seconds} s in the future")]
    IssuedInFuture {
        /// How far.
        ahead_seconds: i64,
    },
    /// Google's keys could not be fetched; answer 503 so Google retries.
    #[error("the signing keys could not be had: {0}")]
    Keys(AuthError),
    /// The event was valid but could not be applied to the token store; answer 503 so Google
    /// retries (the `jti` is not remembered, so the retry applies it).
    #[error("the event could not be applied: {0}")]
    Store(AuthError),
}

impl RiscError {
    /// The HTTP status to answer: 400 for a token refused, 503 when the failure is ours and
    /// a retry may succeed.
    pub fn http_status(&self) -> u16 {
        if self.is_retryable() { 503 } else { 400 }
    }

    /// Whether Google should deliver the event again (keys or store unavailable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, RiscError::Keys(_) | RiscError::Store(_))
    }

    /// The RFC 8935 error code: `invalid_request`, `invalid_key`, `authentication_failed`,
    /// `invalid_issuer` or `invalid_audience`.
    pub fn code(&self) -> &'static str {
        match self {
            RiscError::UnknownKey { .. } | RiscError::UnsupportedAlgorithm { .. } => "invalid_key",
            RiscError::BadSignature => "authentication_failed",
            RiscError::WrongIssuer { .. } => "invalid_issuer",
            RiscError::WrongAudience { .. } => "invalid_audience",
            _ => "invalid_request",
        }
    }

    /// The JSON body to answer with (RFC 8935 §2.3): `{"err": code, "description": ...}`.
    pub fn response_body(&self) -> String {
        serde_json::json!({ "err": self.code(), "description": self.to_string() }).to_string()
    }
}

/// Where a receiver drops a user's tokens. [`TokenRegistry`] and
/// [`UserStoreSubjects`](super::UserStoreSubjects) implement it; implement it over your own
/// user table to clear tokens kept there.
#[async_trait]
pub trait SubjectTokens: Send + Sync + fmt::Debug {
    /// Drops every token held for the Google account `subject` (`sub`). Returns how many
    /// holders held something.
    async fn drop_subject(&self, subject: &str, reason: &str) -> Result<usize, AuthError>;

    /// Drops the refresh token `token` identifies, wherever it is held. Returns how many
    /// holders held it.
    async fn drop_token(&self, token: &RevokedToken, reason: &str) -> Result<usize, AuthError>;
}

/// Which tokens belong to which Google account: token stores and live credentials, by `sub`.
///
/// ```
/// use std::sync::Arc;
/// use classroom::auth::{MemoryStore, TokenRegistry, TokenStore};
///
/// let registry = Arc::new(TokenRegistry::new());
/// let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
/// // `sub` of the ID token the user's sign-in returned.
/// registry.register_store("110248495921238986420", store);
/// ```
#[derive(Default)]
pub struct TokenRegistry {
    holders: Mutex<HashMap<String, Vec<Holder>>>,
}

#[derive(Clone)]
enum Holder {
    Store(Arc<dyn TokenStore>),
    Credentials(Weak<UserCredentials>),
}

impl fmt::Debug for TokenRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRegistry")
            .field("subjects", &self.lock().len())
            .finish()
    }
}

impl TokenRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        TokenRegistry::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Holder>>> {
        self.holders.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `store` holds the tokens of the Google account `subject`.
    pub fn register_store(&self, subject: impl Into<String>, store: Arc<dyn TokenStore>) {
        self.lock()
            .entry(subject.into())
            .or_default()
            .push(Holder::Store(store));
    }

    /// Records that `credentials` act for the Google account `subject`. Held weakly: dropped
    /// credentials leave the registry on their own.
    pub fn register_credentials(
        &self,
        subject: impl Into<String>,
        credentials: &Arc<UserCredentials>,
    ) {
        let mut holders = self.lock();
        let list = holders.entry(subject.into()).or_default();
        list.retain(|h| !matches!(h, Holder::Credentials(w) if w.strong_count() == 0));
        list.push(Holder::Credentials(Arc::downgrade(credentials)));
    }

    /// Forgets everything registered for `subject` (e.g. when the user signs out).
    pub fn unregister(&self, subject: &str) {
        self.lock().remove(subject);
    }

    /// Whether anything is registered for `subject`.
    pub fn contains(&self, subject: &str) -> bool {
        self.lock().contains_key(subject)
    }

    async fn clear(holder: Holder, reason: &str) -> Result<bool, AuthError> {
        match holder {
            Holder::Store(store) => {
                let had = has_tokens(&store).await?;
                super::refresh::on_blocking_pool(move || store.clear()).await?;
                Ok(had)
            }
            Holder::Credentials(weak) => {
                let Some(credentials) = weak.upgrade() else {
                    return Ok(false);
                };
                let had =
                    credentials.refresh_token().is_some() || credentials.cached_token().is_some();
                match credentials.forget(reason).await {
                    Some(error) => Err(error),
                    None => Ok(had),
                }
            }
        }
    }
}

async fn has_tokens(store: &Arc<dyn TokenStore>) -> Result<bool, AuthError> {
    Ok(load(store).await?.is_some())
}

async fn load(store: &Arc<dyn TokenStore>) -> Result<Option<super::StoredToken>, AuthError> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || store.load())
        .await
        .map_err(|_| AuthError::Store {
            message: "the token store task failed".into(),
        })?
}

#[async_trait]
impl SubjectTokens for TokenRegistry {
    async fn drop_subject(&self, subject: &str, reason: &str) -> Result<usize, AuthError> {
        let holders = self.lock().get(subject).cloned().unwrap_or_default();
        let mut dropped = 0;
        for holder in holders {
            dropped += usize::from(Self::clear(holder, reason).await?);
        }
        Ok(dropped)
    }

    async fn drop_token(&self, token: &RevokedToken, reason: &str) -> Result<usize, AuthError> {
        let holders: Vec<Holder> = self.lock().values().flatten().cloned().collect();
        let mut dropped = 0;
        for holder in holders {
            let refresh = match &holder {
                Holder::Store(store) => load(store).await?.and_then(|t| t.refresh_token),
                Holder::Credentials(weak) => weak.upgrade().and_then(|c| c.refresh_token()),
            };
            if refresh.is_some_and(|r| token.matches(r.secret())) {
                dropped += usize::from(Self::clear(holder, reason).await?);
            }
        }
        Ok(dropped)
    }
}

/// Verifies security event tokens and applies them.
///
/// # How it fits together
///
/// Google POSTs each event to an HTTPS endpoint of yours as a signed JWT (a *security event
/// token*, `Content-Type: application/secevent+jwt`). Hand the request body to
/// [`RiscReceiver::receive`]; it
///
/// 1. verifies the token: RS256 signature against Google's published keys (fetched from
///    `jwks_uri` and cached; fetched again when a token names a key not yet seen), issuer,
///    audience (one of your OAuth client ids), and freshness (`iat` at most
///    [`max_age`](RiscReceiver::max_age) old and not in the future);
/// 2. decodes the event ([`SecurityEvent`]);
/// 3. applies it to your tokens through [`SubjectTokens`] (a [`TokenRegistry`], a
///    [`UserStoreSubjects`](super::UserStoreSubjects), or your own database): for sessions
///    revoked, tokens revoked and account disabled, every token held for the user is
///    dropped; for token revoked, the refresh token it identifies;
/// 4. returns a [`Receipt`]: the event and its [`Effect`]. Answer `202 Accepted`.
///
/// A refused token is a [`RiscError`] with the HTTP status and the RFC 8935 error body to
/// answer ([`RiscError::http_status`], [`RiscError::response_body`]); nothing was changed.
///
/// Delivering an event twice is harmless: a token whose `jti` was already applied is answered
/// with [`Effect::Duplicate`] and changes nothing, and every effect is idempotent anyway
/// (dropping tokens that are gone drops nothing), which also covers the `jti` memory lost on a
/// restart. `jti`s are remembered for as long as a token counts as fresh, so a replay is
/// either recognized or refused as stale.
///
/// # Mapping a Google account to its tokens
///
/// An event names the user by Google's account id, the `sub` of the ID token your sign-in
/// received (request the `openid` or `email` scope; Google only sends events for users who
/// granted one of `openid`, `email`, `profile`). Record which tokens belong to which `sub`:
///
/// - with a [`TokenRegistry`]: [`register_store`](TokenRegistry::register_store) each user's
///   [`TokenStore`] and [`register_credentials`](TokenRegistry::register_credentials) live
///   [`UserCredentials`] (held weakly); an event clears both, so no call is made on the
///   user's behalf afterwards: the next call fails with
///   [`AuthError::ConsentRequired`] before anything is sent;
/// - with many users' tokens in one SQLite or PostgreSQL store
///   ([`users::UserTokenStore`](super::users::UserTokenStore)): a
///   [`UserStoreSubjects`](super::UserStoreSubjects) over it, which marks the account's rows
///   in every tenant as needing consent (a `token-revoked` event: the row holding that
///   refresh token);
/// - or implement [`SubjectTokens`] over your own user table.
///
/// # Registering the receiver with Google
///
/// 1. In the Google Cloud console project of your OAuth client, enable the *RISC API*, and
///    create a service account with the *RISC Configuration Admin* role
///    (`roles/riscconfigs.admin`).
/// 2. Serve [`RiscReceiver::receive`] at an HTTPS URL (see `examples/risc_receiver.rs`).
/// 3. With that service account, make a self-signed JWT whose audience is
///    `https://risc.googleapis.com/google.identity.risc.v1beta.RiscManagementService`, and
///    call `POST https://risc.googleapis.com/v1beta/stream:update` with
///    `{"delivery": {"delivery_method": "https://schemas.openid.net/secevent/risc/delivery-method/push",
///    "url": "<your receiver URL>"}, "events_requested": [<the event type URIs>]}`.
/// 4. Test it: `POST https://risc.googleapis.com/v1beta/stream:verify` with `{"state": "..."}`
///    makes Google send a [`SecurityEvent::Verification`] carrying that state.
///
/// Google's guide: <https://developers.google.com/identity/protocols/risc>.
///
/// [`UserCredentials`]: super::UserCredentials
/// [`TokenStore`]: super::TokenStore
///
/// # Example
///
/// ```no_run
/// # async fn run(body: &[u8]) -> Result<(), classroom::auth::RiscError> {
/// use std::sync::Arc;
/// use classroom::auth::{RiscReceiver, TokenRegistry};
///
/// let registry = Arc::new(TokenRegistry::new());
/// let receiver = RiscReceiver::new(["1234.apps.googleusercontent.com"], registry.clone());
/// // In the handler of POST /risc:
/// let receipt = receiver.receive(body).await?;
/// println!("{:?} -> {:?}", receipt.event, receipt.effect);
/// # Ok(()) }
/// ```
pub struct RiscReceiver {
    audiences: Vec<String>,
    issuer: String,
    max_age: Duration,
    tokens: Arc<dyn SubjectTokens>,
    jwt: JwtVerifier,
    seen: Mutex<HashMap<String, i64>>,
}

impl fmt::Debug for RiscReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RiscReceiver")
            .field("audiences", &self.audiences)
            .field("issuer", &self.issuer)
            .field("jwks_uri", &self.jwt.jwks_uri)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl RiscReceiver {
    /// A receiver of Google's events for these OAuth client ids (the tokens' audience), which
    /// drops tokens through `tokens`.
    pub fn new<I, S>(client_ids: I, tokens: Arc<dyn SubjectTokens>) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RiscReceiver {
            audiences: client_ids.into_iter().map(Into::into).collect(),
            issuer: GOOGLE_RISC_ISSUER.to_string(),
            max_age: DEFAULT_MAX_EVENT_AGE,
            tokens,
            jwt: JwtVerifier::new(GOOGLE_RISC_JWKS_URI, "RiscReceiver::allow_insecure_http()"),
            seen: Mutex::default(),
        }
    }

    /// Accepts tokens from this issuer (default [`GOOGLE_RISC_ISSUER`]).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// Fetches the signing keys from here (default [`GOOGLE_RISC_JWKS_URI`]).
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwt.jwks_uri = uri.into();
        self
    }

    /// Accepts tokens issued at most this long ago (default [`DEFAULT_MAX_EVENT_AGE`]).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Lets the key and discovery URLs use `http://` off loopback (refused by default: keys
    /// fetched in clear could be replaced on the way).
    pub fn allow_insecure_http(mut self) -> Self {
        self.jwt.allow_http = true;
        self
    }

    /// Reads the issuer and key URL from a RISC discovery document (default
    /// [`GOOGLE_RISC_CONFIGURATION`]; the emulator serves one).
    pub async fn discover(mut self, configuration: &str) -> Result<Self, RiscError> {
        let reply = self.jwt.get(configuration).await.map_err(RiscError::Keys)?;
        #[derive(Deserialize)]
        struct Configuration {
            issuer: String,
            jwks_uri: String,
        }
        let config: Configuration = serde_json::from_slice(&reply.body).map_err(|e| {
            RiscError::Keys(AuthError::MalformedResponse {
                status: reply.status,
                message: format!("not a RISC configuration: {}", crate::net::json_error(&e)),
            })
        })?;
        self.issuer = config.issuer;
        self.jwt.jwks_uri = config.jwks_uri;
        Ok(self)
    }

    /// Verifies the security event token in `body` (the request body Google POSTs), applies
    /// its event, and says what it did. See [`RiscReceiver`].
    pub async fn receive(&self, body: &[u8]) -> Result<Receipt, RiscError> {
        let malformed = |message: &str| RiscError::Malformed {
            message: message.to_string(),
        };
        if body.len() > MAX_EVENT_TOKEN {
            return Err(malformed("the body is larger than 16 KiB"));
        }
        let token = std::str::from_utf8(body)
            .map_err(|_| malformed("the body is not UTF-8"))?
            .trim();
        let claims = self.jwt.verify(token).await.map_err(|e| match e {
            JwtError::Malformed(message) => RiscError::Malformed { message },
            JwtError::UnsupportedAlgorithm(alg) => RiscError::UnsupportedAlgorithm { alg },
            JwtError::UnknownKey(kid) => RiscError::UnknownKey { kid },
            JwtError::BadSignature => RiscError::BadSignature,
            JwtError::Keys(error) => RiscError::Keys(error),
        })?;
        let issuer = claims["iss"].as_str().unwrap_or_default();
        if issuer != self.issuer {
            return Err(RiscError::WrongIssuer {
                issuer: crate::net::excerpt(issuer.as_bytes(), 200),
                expected: self.issuer.clone(),
            });
        }
        let audience = jwt::audiences(&claims);
        if !audience.iter().any(|a| self.audiences.contains(a)) {
            return Err(RiscError::WrongAudience { audience });
        }
        let iat = claims["iat"]
            .as_i64()
            .ok_or_else(|| malformed("the token has no numeric iat"))?;
        let now = Utc::now().timestamp();
        let max_age = self.max_age.as_secs();
        let age = now.saturating_sub(iat);
        if age > i64::try_from(max_age).unwrap_or(i64::MAX) {
            return Err(RiscError::Stale {
                age_seconds: age,
                max_age_seconds: max_age,
            });
        }
        if -age > CLOCK_LEEWAY.as_secs() as i64 {
            return Err(RiscError::IssuedInFuture {
                ahead_seconds: -age,
            });
        }
        let jti = claims["jti"]
            .as_str()
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or_else(|| malformed("the token has no jti"))?
            .to_string();
        let event = decode_event(&claims["events"]).map_err(|m| malformed(&m))?;
        let issued_at = DateTime::from_timestamp(iat, 0).unwrap_or_default();
        if self.seen().contains_key(&jti) {
            return Ok(Receipt {
                event,
                effect: Effect::Duplicate,
                jti,
                issued_at,
            });
        }
        let effect = self.apply(&event).await.map_err(RiscError::Store)?;
        self.remember(&jti, iat, now);
        Ok(Receipt {
            event,
            effect,
            jti,
            issued_at,
        })
    }

    fn seen(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers a `jti` for as long as its token is fresh; forgets stale ones, then the
    /// oldest past [`MAX_REMEMBERED`].
    fn remember(&self, jti: &str, iat: i64, now: i64) {
        let mut seen = self.seen();
        if seen.len() >= MAX_REMEMBERED {
            let horizon = now.saturating_sub(self.max_age.as_secs() as i64);
            seen.retain(|_, at| *at >= horizon);
            if seen.len() >= MAX_REMEMBERED {
                let mut ages: Vec<i64> = seen.values().copied().collect();
                let (_, median, _) = ages.select_nth_unstable(MAX_REMEMBERED / 2);
                let median = *median;
                seen.retain(|_, at| *at > median);
            }
        }
        seen.insert(jti.to_string(), iat);
    }

    async fn apply(&self, event: &SecurityEvent) -> Result<Effect, AuthError> {
        let reason = format!(
            "Google reported {} for this account (Cross-Account Protection), so its tokens were \
             dropped; the user must sign in and consent again",
            event.event_type().rsplit('/').next().unwrap_or_default()
        );
        match event {
            SecurityEvent::SessionsRevoked { subject }
            | SecurityEvent::TokensRevoked { subject }
            | SecurityEvent::AccountDisabled { subject, .. } => {
                let holders = self.tokens.drop_subject(subject, &reason).await?;
                Ok(Effect::TokensDropped {
                    subject: Some(subject.clone()),
                    holders,
                })
            }
            SecurityEvent::TokenRevoked { token } => {
                let holders = self.tokens.drop_token(token, &reason).await?;
                Ok(Effect::TokensDropped {
                    subject: None,
                    holders,
                })
            }
            _ => Ok(Effect::Nothing),
        }
    }
}

fn decode_event(events: &Value) -> Result<SecurityEvent, String> {
    let events = events
        .as_object()
        .filter(|e| !e.is_empty())
        .ok_or("the token has no events claim")?;
    // A token carries one event; the first known type wins if there are more.
    let (event_type, body) = events
        .iter()
        .find(|(k, _)| known(k))
        .unwrap_or_else(|| events.iter().next().expect("non-empty"));
    let subject = || -> Result<String, String> {
        body["subject"]["sub"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("the {event_type} event names no subject (sub)"))
    };
    Ok(match event_type.as_str() {
        SESSIONS_REVOKED => SecurityEvent::SessionsRevoked {
            subject: subject()?,
        },
        TOKENS_REVOKED => SecurityEvent::TokensRevoked {
            subject: subject()?,
        },
        ACCOUNT_DISABLED => SecurityEvent::AccountDisabled {
            subject: subject()?,
            reason: body["reason"].as_str().map(str::to_string),
        },
        ACCOUNT_ENABLED => SecurityEvent::AccountEnabled {
            subject: subject()?,
        },
        CREDENTIAL_CHANGE => SecurityEvent::CredentialChangeRequired {
            subject: subject()?,
        },
        VERIFICATION => SecurityEvent::Verification {
            state: body["state"].as_str().map(str::to_string),
        },
        TOKEN_REVOKED => {
            let subject = &body["subject"];
            let field = |name: &str| {
                subject[name]
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| format!("the token-revoked event lacks subject.{name}"))
            };
            SecurityEvent::TokenRevoked {
                token: RevokedToken {
                    token_type: field("token_type").unwrap_or_else(|_| "refresh_token".into()),
                    algorithm: field("token_identifier_alg")?,
                    identifier: field("token")?,
                },
            }
        }
        other => SecurityEvent::Unknown {
            event_type: crate::net::excerpt(other.as_bytes(), 200),
        },
    })
}

fn known(event_type: &str) -> bool {
    [
        SESSIONS_REVOKED,
        TOKENS_REVOKED,
        TOKEN_REVOKED,
        ACCOUNT_DISABLED,
        ACCOUNT_ENABLED,
        CREDENTIAL_CHANGE,
        VERIFICATION,
    ]
    .contains(&event_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_effect_reads_as_a_sentence() {
        let dropped = Effect::TokensDropped {
            subject: Some("1234".into()),
            holders: 2,
        };
        assert_eq!(
            dropped.to_string(),
            "tokens of 1234 dropped from 2 holder(s)"
        );
        assert_eq!(Effect::Nothing.to_string(), "nothing to drop");
        assert_eq!(
            Effect::Duplicate.to_string(),
            "already applied; nothing done again"
        );
    }

    #[test]
    fn token_identifiers_match_their_token_only() {
        let token = "1//0gLx-refresh-token-value-xyz";
        for alg in ["prefix", "hash_base64_sha512_sha512"] {
            let id = RevokedToken::identify("refresh_token", alg, token);
            assert!(id.matches(token), "{alg}");
            assert!(!id.matches("1//0gLx-another-token-entirely"), "{alg}");
            assert!(!format!("{id:?}").contains("1//0gLx"), "{alg}: {id:?}");
        }
        let short = RevokedToken {
            token_type: "refresh_token".into(),
            algorithm: "prefix".into(),
            identifier: "1/".into(),
        };
        assert!(
            !short.matches(token),
            "a two-character prefix names nothing"
        );
    }

    #[test]
    fn events_round_trip_through_their_claim() {
        let events = [
            SecurityEvent::SessionsRevoked {
                subject: "1".into(),
            },
            SecurityEvent::TokensRevoked {
                subject: "2".into(),
            },
            SecurityEvent::TokenRevoked {
                token: RevokedToken::identify("refresh_token", "prefix", "abcdefghijklmnopqrstu"),
            },
            SecurityEvent::AccountDisabled {
                subject: "3".into(),
                reason: Some("hijacking".into()),
            },
            SecurityEvent::AccountEnabled {
                subject: "4".into(),
            },
            SecurityEvent::CredentialChangeRequired {
                subject: "5".into(),
            },
            SecurityEvent::Verification {
                state: Some("s".into()),
            },
        ];
        for event in events {
            let claim = event.to_claim(GOOGLE_RISC_ISSUER);
            assert_eq!(decode_event(&claim).unwrap(), event);
        }
        let unknown = serde_json::json!({ "https://example.com/new-type": {} });
        assert!(matches!(
            decode_event(&unknown).unwrap(),
            SecurityEvent::Unknown { .. }
        ));
    }

    #[test]
    fn refusals_map_to_rfc_8935_answers() {
        assert_eq!(RiscError::BadSignature.http_status(), 400);
        assert_eq!(RiscError::BadSignature.code(), "authentication_failed");
        let store = RiscError::Store(AuthError::Store {
            message: "disk".into(),
        });
        assert_eq!(store.http_status(), 503);
        let body: Value = serde_json::from_str(&store.response_body()).unwrap();
        assert_eq!(body["err"], "invalid_request");
    }
}
