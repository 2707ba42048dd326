//! The one error type of the SDK, and Google's error JSON decoded.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::Scope;
use crate::auth::AuthError;
use crate::reason::ClassroomReason;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a call.
///
/// Use the predicates ([`Error::is_missing_scope`], [`Error::is_already_exists`],
/// [`Error::is_retryable`], ...) and accessors ([`Error::api`], [`Error::http_status`]) rather
/// than matching where you can: they stay stable as variants gain detail. Every variant and
/// error struct is `#[non_exhaustive]`, so new detail is not a breaking change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The credentials hold no scope that authorizes the method. Nothing was sent.
    #[error(
        "{method} needs one of the scopes {accepted}, but the credentials hold {granted}; request one of \
         those scopes when you authorize (nothing was sent)",
        accepted = ScopeList(accepted),
        granted = if granted.is_empty() { "none".to_string() } else { granted.join(" ") }
    )]
    #[non_exhaustive]
    MissingScope {
        /// The method id, e.g. `classroom.courses.create`.
        method: &'static str,
        /// Any one of these would authorize the call.
        accepted: Vec<Scope>,
        /// The scopes the credentials hold, as the token lists them (URLs).
        granted: Vec<String>,
        /// The Classroom scopes among `granted`, as [`Scope`]s.
        granted_scopes: Vec<Scope>,
    },

    /// A request argument or a client setting is invalid (e.g. an empty id). Nothing was sent.
    #[error("invalid argument for {method}: {message}")]
    #[non_exhaustive]
    InvalidInput {
        /// The method id.
        method: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },

    /// Getting or refreshing an access token failed.
    #[error(transparent)]
    Auth(#[from] AuthError),

    /// The server answered with an error status.
    #[error(transparent)]
    Api(Box<ApiError>),

    /// The request did not complete: connection refused or reset, timeout, TLS failure, a reply
    /// cut off.
    #[error(
        "{method}: the request{to} did not complete ({kind}){tries}; {advice}",
        to = url.as_deref().map(|u| format!(" to {u}")).unwrap_or_default(),
        tries = Tries(*attempts, *elapsed),
        advice = kind.advice()
    )]
    #[non_exhaustive]
    Transport {
        /// The method id.
        method: &'static str,
        /// What failed.
        kind: TransportKind,
        /// The underlying error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
        /// Where the request went: scheme, host, port and path, never the query (which may
        /// hold a page token) or userinfo. `None` when not known.
        url: Option<String>,
        /// How many attempts were made before giving up (0 when not counted).
        attempts: u32,
        /// How long the attempts and the waits between them took.
        elapsed: Duration,
    },

    /// The server's reply could not be decoded as the method's response type.
    #[error(
        "{method}: the response (HTTP {status}) is not the expected JSON{at}: {message}; body starts: {excerpt:?}",
        at = path.as_deref().map(|p| format!(" at `{p}`")).unwrap_or_default()
    )]
    #[non_exhaustive]
    Decode {
        /// The method id.
        method: &'static str,
        /// The HTTP status of the reply.
        status: u16,
        /// Where in the JSON the decoder failed, e.g. `courses[3].courseState`, when known.
        path: Option<String>,
        /// What the decoder said.
        message: String,
        /// The beginning of the body, for diagnosis.
        excerpt: String,
        /// The decoder's error.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    /// The reply was longer than the client reads. Nothing past the limit was held in memory.
    #[error(
        "{method}: the response (HTTP {status}) is longer than the limit of {limit} bytes; raise \
         it with ClassroomBuilder::max_response_bytes if the server is trusted, or ask for less \
         (a smaller page size, a `fields` selector)"
    )]
    #[non_exhaustive]
    ResponseTooLarge {
        /// The method id.
        method: &'static str,
        /// The HTTP status of the reply.
        status: u16,
        /// The limit, in bytes.
        limit: usize,
    },

    /// A list would not end: the server kept sending page tokens that lead nowhere new.
    #[error(
        "{method}: stopped listing because {kind}; the server's paging is broken, so the items read so far may be incomplete"
    )]
    #[non_exhaustive]
    PageLoop {
        /// The list method's id.
        method: &'static str,
        /// How the list failed to end.
        kind: PageLoop,
    },

    /// A batch reply held no answer that belongs to this call for certain: no part carried the
    /// Content-ID the SDK wrote for the call, or more than one did. No other call's answer is
    /// ever taken in its place. The call was sent, so a write may have been carried out.
    #[error(
        "{method}: {kind}, so the call's result is unknown (no other part was taken for it); \
         the server may have acted on it, so check before resending a write"
    )]
    #[non_exhaustive]
    BatchUnmatched {
        /// The method id of the call.
        method: &'static str,
        /// Why no answer could be matched.
        kind: Unmatched,
    },

    /// No rule of the [`MockTransport`](crate::testing::MockTransport) matched the call
    /// (feature `test-support`); the message names the call and the rules there are.
    #[cfg(feature = "test-support")]
    #[error("{method}: {message}")]
    #[non_exhaustive]
    MockUnmatched {
        /// The method id.
        method: &'static str,
        /// Which call, and which rules there are.
        message: String,
    },
}

/// What kind of failure ended a request before a reply was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportKind {
    /// No connection could be made (DNS, TLS handshake, unreachable): nothing reached the
    /// server.
    Connect,
    /// The host answered that nothing listens on the port: nothing reached the server, and the
    /// address is likely wrong or the server not running. On a loopback address this is not
    /// retried, as nothing else would answer there a few seconds later.
    Refused,
    /// The attempt or the call ran out of time.
    Timeout,
    /// The connection closed while the reply was read, or the reply was not valid HTTP.
    CutOff,
    /// The connection failed after the request may have been sent.
    Other,
}

impl TransportKind {
    fn advice(self) -> &'static str {
        match self {
            TransportKind::Connect => {
                "the address may be wrong (check the root URL) or the network is down; retry \
                 once it is reachable"
            }
            TransportKind::Refused => {
                "nothing is listening at that address: the root URL may be wrong, or the server \
                 is not running"
            }
            TransportKind::Timeout => {
                "the server or network is slow; retry later or raise the timeout \
                 (ClassroomBuilder::timeout, RetryPolicy::max_elapsed or RequestOptions::with_timeout)"
            }
            TransportKind::CutOff | TransportKind::Other => {
                "the server may have acted on the request; check before resending a write"
            }
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "could not connect",
            TransportKind::Refused => "connection refused",
            TransportKind::Timeout => "timed out",
            TransportKind::CutOff => "the reply was cut off",
            TransportKind::Other => "connection failed",
        })
    }
}

/// How a list failed to end.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageLoop {
    /// The server sent a page token it had sent before.
    RepeatedToken(String),
    /// This many pages in a row were empty yet named a next page (see
    /// [`ClassroomBuilder::max_empty_pages`](crate::ClassroomBuilder::max_empty_pages)).
    EmptyPages(u32),
}

impl fmt::Display for PageLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageLoop::RepeatedToken(token) => {
                write!(f, "the server sent page token {token:?} a second time")
            }
            PageLoop::EmptyPages(n) => {
                write!(f, "{n} pages in a row were empty yet named a next page")
            }
        }
    }
}

/// Why a batch reply held no answer for a call; see [`Error::BatchUnmatched`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unmatched {
    /// No part of the reply carried the call's Content-ID.
    Missing,
    /// More than one part carried the call's Content-ID.
    Repeated,
}

impl fmt::Display for Unmatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unmatched::Missing => "the batch reply has no part with this call's Content-ID",
            Unmatched::Repeated => {
                "the batch reply has more than one part with this call's Content-ID"
            }
        })
    }
}

/// " after 3 attempts over 2.1 s", or nothing when the attempts were not counted.
struct Tries(u32, Duration);

impl fmt::Display for Tries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Tries(attempts, elapsed) = *self;
        match attempts {
            0 => Ok(()),
            1 => write!(f, " after 1 attempt over {:.1} s", elapsed.as_secs_f64()),
            n => write!(f, " after {n} attempts over {:.1} s", elapsed.as_secs_f64()),
        }
    }
}

struct ScopeList<'a>(&'a [Scope]);

impl fmt::Display for ScopeList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<_> = self.0.iter().map(|s| s.url()).collect();
        f.write_str(&urls.join(" | "))
    }
}

impl Error {
    /// The method was refused before sending for want of a scope.
    pub fn is_missing_scope(&self) -> bool {
        matches!(self, Error::MissingScope { .. })
    }

    /// The server's error, when it answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of the server's reply, if one was read.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.http_status),
            Error::Decode { status, .. } | Error::ResponseTooLarge { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The canonical code of the server's error, when it answered with one.
    pub fn code(&self) -> Option<Code> {
        self.api().map(ApiError::code)
    }

    /// The resource exists already (409 `ALREADY_EXISTS`): for a create under an alias, the
    /// course is there, whether an earlier attempt or someone else made it.
    pub fn is_already_exists(&self) -> bool {
        self.api().is_some_and(ApiError::is_already_exists)
    }

    /// The system is not in a state the call requires (400 `FAILED_PRECONDITION`): an archived
    /// course, a submission in the wrong state, a user not in the domain.
    pub fn is_failed_precondition(&self) -> bool {
        self.api().is_some_and(ApiError::is_failed_precondition)
    }

    /// The resource does not exist, or the user may not see it (404).
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(ApiError::is_not_found)
    }

    /// Classroom's own code for the error (`@CourseMemberLimitReached ...`), if the server
    /// sent one: `e.classroom_reason() == Some(&ClassroomReason::UserInvitationQuotaExhausted)`.
    pub fn classroom_reason(&self) -> Option<&ClassroomReason> {
        self.api().and_then(|e| e.classroom_reason.as_ref())
    }

    /// The item belongs to another developer project (403 `@ProjectPermissionDenied`): only
    /// the Cloud project whose OAuth client created a piece of coursework may change it or
    /// its submissions. Lasting; never retried. Check
    /// [`CourseWork::created_by_this_project`](crate::models::CourseWork::created_by_this_project)
    /// before writing to leave such calls unsent.
    pub fn is_project_permission_denied(&self) -> bool {
        self.api()
            .is_some_and(ApiError::is_project_permission_denied)
    }

    /// An attempt or the whole call ran out of time.
    pub fn is_timeout(&self) -> bool {
        matches!(
            self,
            Error::Transport {
                kind: TransportKind::Timeout,
                ..
            }
        )
    }

    /// No connection could be made, refused or otherwise: nothing reached the server.
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            Error::Transport {
                kind: TransportKind::Connect | TransportKind::Refused,
                ..
            }
        )
    }

    /// The user may not do this (403 for any reason other than a token scope); see
    /// [`ApiError::is_permission_denied`].
    pub fn is_permission_denied(&self) -> bool {
        self.api().is_some_and(ApiError::is_permission_denied)
    }

    /// The token lacks a scope the method needs (403 `ACCESS_TOKEN_SCOPE_INSUFFICIENT`), as
    /// the server said; [`Error::is_missing_scope`] is the same found before sending.
    pub fn is_scope_insufficient(&self) -> bool {
        self.api().is_some_and(ApiError::is_scope_insufficient)
    }

    /// The token is missing, invalid or expired (401).
    pub fn is_unauthenticated(&self) -> bool {
        self.api().is_some_and(ApiError::is_unauthenticated)
    }

    /// Rate limited (429) by a quota that refills within a minute; see
    /// [`ApiError::is_rate_limited`].
    pub fn is_rate_limited(&self) -> bool {
        self.api().is_some_and(ApiError::is_rate_limited)
    }

    /// The condition will not clear within seconds (a daily quota, a member limit, ...); see
    /// [`ApiError::is_lasting`].
    pub fn is_lasting(&self) -> bool {
        self.api().is_some_and(ApiError::is_lasting)
    }

    /// How long the server asked to wait before retrying (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|e| e.retry_after)
    }

    /// The method id of the call that failed, e.g. `classroom.courses.get`, when the error
    /// belongs to one call (not to the token endpoint).
    pub fn method(&self) -> Option<&'static str> {
        match self {
            Error::Api(e) => Some(e.method),
            Error::MissingScope { method, .. }
            | Error::InvalidInput { method, .. }
            | Error::Transport { method, .. }
            | Error::Decode { method, .. }
            | Error::ResponseTooLarge { method, .. }
            | Error::PageLoop { method, .. }
            | Error::BatchUnmatched { method, .. } => Some(method),
            #[cfg(feature = "test-support")]
            Error::MockUnmatched { method, .. } => Some(method),
            Error::Auth(_) => None,
        }
    }

    /// A batch reply held no answer that belongs to this call for certain
    /// ([`Error::BatchUnmatched`]).
    pub fn is_batch_unmatched(&self) -> bool {
        matches!(self, Error::BatchUnmatched { .. })
    }

    /// Whether the failure is transient: trying again later may succeed (rate limits, server
    /// overload, network failures, a token endpoint that was unavailable).
    ///
    /// Transient is not the same as safe to resend: a create that timed out or got a 503 may
    /// have been carried out. The SDK's own retries resend only what cannot duplicate (see
    /// [`RetryPolicy`](crate::RetryPolicy)); do the same before resending a write yourself.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Transport { .. } | Error::BatchUnmatched { .. } => true,
            Error::Auth(e) => e.is_transient(),
            _ => false,
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(Box::new(e))
    }
}

/// Google's canonical error codes (`google.rpc.Code`), the `status` of an error reply.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Code {
    /// `CANCELLED` (HTTP 499).
    Cancelled,
    /// `UNKNOWN` (HTTP 500).
    Unknown,
    /// `INVALID_ARGUMENT` (HTTP 400): the request is wrong; fix it before resending.
    InvalidArgument,
    /// `DEADLINE_EXCEEDED` (HTTP 504).
    DeadlineExceeded,
    /// `NOT_FOUND` (HTTP 404).
    NotFound,
    /// `ALREADY_EXISTS` (HTTP 409).
    AlreadyExists,
    /// `PERMISSION_DENIED` (HTTP 403).
    PermissionDenied,
    /// `RESOURCE_EXHAUSTED` (HTTP 429): a rate limit or a quota.
    ResourceExhausted,
    /// `FAILED_PRECONDITION` (HTTP 400).
    FailedPrecondition,
    /// `ABORTED` (HTTP 409): a conflict with a concurrent change.
    Aborted,
    /// `OUT_OF_RANGE` (HTTP 400).
    OutOfRange,
    /// `UNIMPLEMENTED` (HTTP 501).
    Unimplemented,
    /// `INTERNAL` (HTTP 500).
    Internal,
    /// `UNAVAILABLE` (HTTP 503).
    Unavailable,
    /// `DATA_LOSS` (HTTP 500).
    DataLoss,
    /// `UNAUTHENTICATED` (HTTP 401).
    Unauthenticated,
    /// A status this SDK does not know, as sent.
    Other(String),
}

impl Code {
    const NAMES: [(&'static str, Code); 16] = [
        ("CANCELLED", Code::Cancelled),
        ("UNKNOWN", Code::Unknown),
        ("INVALID_ARGUMENT", Code::InvalidArgument),
        ("DEADLINE_EXCEEDED", Code::DeadlineExceeded),
        ("NOT_FOUND", Code::NotFound),
        ("ALREADY_EXISTS", Code::AlreadyExists),
        ("PERMISSION_DENIED", Code::PermissionDenied),
        ("RESOURCE_EXHAUSTED", Code::ResourceExhausted),
        ("FAILED_PRECONDITION", Code::FailedPrecondition),
        ("ABORTED", Code::Aborted),
        ("OUT_OF_RANGE", Code::OutOfRange),
        ("UNIMPLEMENTED", Code::Unimplemented),
        ("INTERNAL", Code::Internal),
        ("UNAVAILABLE", Code::Unavailable),
        ("DATA_LOSS", Code::DataLoss),
        ("UNAUTHENTICATED", Code::Unauthenticated),
    ];

    /// The code as Google writes it, e.g. `ALREADY_EXISTS`.
    pub fn as_str(&self) -> &str {
        match self {
            Code::Other(s) => s,
            known => Code::NAMES
                .iter()
                .find(|(_, c)| c == known)
                .map_or("", |(name, _)| name),
        }
    }

    /// The code an HTTP status stands for when a reply names none (Google's mapping; 409 is
    /// `ABORTED`, as a bare 409 cannot be told to mean `ALREADY_EXISTS`).
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::InvalidArgument,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            409 => Code::Aborted,
            412 => Code::FailedPrecondition,
            416 => Code::OutOfRange,
            429 => Code::ResourceExhausted,
            499 => Code::Cancelled,
            501 => Code::Unimplemented,
            503 => Code::Unavailable,
            504 => Code::DeadlineExceeded,
            500..=599 => Code::Internal,
            _ => Code::Unknown,
        }
    }
}

impl From<&str> for Code {
    fn from(name: &str) -> Code {
        Code::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or_else(|| Code::Other(name.to_string()), |(_, c)| c.clone())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error reply from the API, decoded from Google's error JSON
/// (`{"error": {"code", "message", "status", "errors", "details"}}`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The method id.
    pub method: &'static str,
    /// The ids in the call's path, by parameter name, as given: `[("courseId", "999")]` for
    /// `courses.topics.list("999")`. Never the query (page tokens) or anything secret.
    pub ids: Vec<(&'static str, String)>,
    /// The HTTP status.
    pub http_status: u16,
    /// The canonical status the reply named, e.g. [`Code::PermissionDenied`]; see
    /// [`ApiError::code`] for one that is always there.
    pub status: Option<Code>,
    /// The server's message.
    pub message: String,
    /// The machine-readable reason, e.g. `ACCESS_TOKEN_SCOPE_INSUFFICIENT`, from the
    /// `ErrorInfo` detail or, failing that, from the legacy `errors` list.
    pub reason: Option<String>,
    /// The error domain that goes with `reason`, e.g. `googleapis.com`.
    pub domain: Option<String>,
    /// Every detail object, as sent (`@type` included).
    pub details: Vec<serde_json::Value>,
    /// How long the server asked to wait before retrying (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// The raw body when it was not Google's error JSON (an HTML page from a proxy, say).
    pub body: Option<String>,
    /// Classroom's own code from the start of the message (`@CourseMemberLimitReached ...`).
    pub classroom_reason: Option<ClassroomReason>,
}

impl ApiError {
    /// The canonical code: the reply's `status`, or the one its HTTP status stands for.
    pub fn code(&self) -> Code {
        self.status
            .clone()
            .unwrap_or_else(|| Code::from_http_status(self.http_status))
    }

    /// The token lacks a scope the method needs (403 with reason
    /// `ACCESS_TOKEN_SCOPE_INSUFFICIENT`). Re-authorize with the method's scope.
    ///
    /// Not to be confused with [`ApiError::is_permission_denied`]: that is the *user* lacking a
    /// right (a teacher removing the course owner, say), which no scope fixes.
    pub fn is_scope_insufficient(&self) -> bool {
        self.http_status == 403
            && matches!(
                self.reason.as_deref(),
                Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT" | "insufficientPermissions")
            )
    }

    /// The user may not do this (403 `PERMISSION_DENIED` for any reason other than a token scope).
    pub fn is_permission_denied(&self) -> bool {
        self.http_status == 403 && !self.is_scope_insufficient()
    }

    /// The resource does not exist, or the user may not see it (404).
    pub fn is_not_found(&self) -> bool {
        self.http_status == 404
    }

    /// Another developer project created the item (403 `PERMISSION_DENIED` whose message
    /// starts `@ProjectPermissionDenied`); see [`Error::is_project_permission_denied`].
    pub fn is_project_permission_denied(&self) -> bool {
        self.http_status == 403
            && self.classroom_reason == Some(ClassroomReason::ProjectPermissionDenied)
    }

    /// The resource exists already (`ALREADY_EXISTS`, HTTP 409).
    pub fn is_already_exists(&self) -> bool {
        self.code() == Code::AlreadyExists
    }

    /// The system is not in the state the call requires (`FAILED_PRECONDITION`).
    pub fn is_failed_precondition(&self) -> bool {
        self.code() == Code::FailedPrecondition
    }

    /// The token is missing, invalid or expired (401).
    pub fn is_unauthenticated(&self) -> bool {
        self.http_status == 401
    }

    /// Rate limited (429) by a quota that refills within a minute; see
    /// [`ApiError::is_lasting`] for daily quotas.
    pub fn is_rate_limited(&self) -> bool {
        self.http_status == 429 && !self.is_lasting()
    }

    /// Whether the condition will not clear within seconds: a daily quota, a member limit, a
    /// resource owned by another project, an archived course. Such errors are never retried;
    /// [`ClassroomReason::advice`] says what to do.
    pub fn is_lasting(&self) -> bool {
        self.classroom_reason
            .as_ref()
            .is_some_and(ClassroomReason::is_lasting)
            || self.reason.as_deref() == Some("dailyLimitExceeded")
            || self.details.iter().any(|d| {
                d.pointer("/metadata/quota_limit")
                    .and_then(|v| v.as_str())
                    .is_some_and(|limit| limit.contains("PerDay"))
            })
    }

    /// Whether the failure is transient (408, 429, 500, 502, 503, 504, and not
    /// [lasting](ApiError::is_lasting)): the same request may succeed later. Not the same as
    /// safe to resend; see [`Error::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        matches!(self.http_status, 408 | 429 | 500 | 502 | 503 | 504) && !self.is_lasting()
    }

    /// Decodes an error reply; any body, JSON or not, gives an `ApiError`.
    pub(crate) fn from_response(
        method: &'static str,
        http_status: u16,
        retry_after: Option<Duration>,
        body: &[u8],
    ) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: Body,
        }
        #[derive(Deserialize)]
        struct Body {
            #[serde(default)]
            message: String,
            #[serde(default)]
            status: Option<String>,
            #[serde(default)]
            errors: Vec<Legacy>,
            #[serde(default)]
            details: Vec<serde_json::Value>,
        }
        #[derive(Deserialize)]
        struct Legacy {
            #[serde(default)]
            reason: Option<String>,
            #[serde(default)]
            domain: Option<String>,
        }

        let mut error = ApiError {
            method,
            ids: Vec::new(),
            http_status,
            status: None,
            message: String::new(),
            reason: None,
            domain: None,
            details: Vec::new(),
            retry_after,
            body: None,
            classroom_reason: None,
        };
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope { error: b }) => {
                let info = b.details.iter().find(|d| {
                    d.get("@type").and_then(|t| t.as_str())
                        == Some("type.googleapis.com/google.rpc.ErrorInfo")
                });
                let text = |v: Option<&serde_json::Value>, key: &str| {
                    v.and_then(|v| v.get(key))
                        .and_then(|r| r.as_str())
                        .map(str::to_string)
                };
                error.reason = text(info, "reason")
                    .or_else(|| b.errors.first().and_then(|e| e.reason.clone()));
                error.domain = text(info, "domain")
                    .or_else(|| b.errors.first().and_then(|e| e.domain.clone()));
                error.classroom_reason = ClassroomReason::from_message(&b.message);
                error.message = b.message;
                error.status = b.status.as_deref().map(Code::from);
                error.details = b.details;
            }
            Err(_) => {
                error.body = Some(crate::net::excerpt(body, 2048));
                error.message =
                    format!("HTTP {http_status} with a body that is not Google's error JSON");
            }
        }
        error
    }
}

impl ApiError {
    /// The ids of the call's path, as [`ApiError::ids`], set by the request loop.
    pub(crate) fn with_ids(mut self, ids: &[(&'static str, &str)]) -> Self {
        self.ids = ids.iter().map(|(n, v)| (*n, v.to_string())).collect();
        self
    }
}

impl fmt::Display for ApiError {
    /// The method, the ids it was called with, the HTTP status and the canonical code, the
    /// reasons (Google's and Classroom's) and Google's message, then what to do:
    /// `classroom.courses.get (id 12345) failed with HTTP 404 NOT_FOUND: Requested entity was
    /// not found.; no such resource, or ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.method)?;
        if !self.ids.is_empty() {
            let ids: Vec<String> = self.ids.iter().map(|(n, v)| format!("{n} {v}")).collect();
            write!(f, " ({})", ids.join(", "))?;
        }
        write!(f, " failed with HTTP {} {}", self.http_status, self.code())?;
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if let Some(advice) = self
            .classroom_reason
            .as_ref()
            .and_then(ClassroomReason::advice)
        {
            write!(f, "; {advice}")?;
        } else if self.is_scope_insufficient() {
            f.write_str(
                "; the token lacks a scope for this method: authorize again with one of its scopes",
            )?;
        } else if self.http_status == 401 {
            f.write_str(
                "; the access token is missing, invalid or expired: refresh it or sign in again",
            )?;
        } else if self.http_status == 404 {
            f.write_str(
                "; there is no such resource, or the signed-in user may not see it: check the \
                 ids, and that the user is a member of the course or a domain admin",
            )?;
        } else if self.is_permission_denied() {
            f.write_str(
                "; the signed-in user may not do this: act as a user with the role it needs \
                 (the course's teacher or owner, or a domain admin)",
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}
