//! The one error type of the SDK, and Google's error JSON decoded.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::Scope;
use crate::auth::AuthError;

/// A `Result` whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong with a call.
///
/// Use the predicates ([`Error::is_missing_scope`], [`Error::is_retryable`], ...) and
/// accessors ([`Error::api`], [`Error::http_status`]) rather than matching where you can:
/// they stay stable as variants gain detail.
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
    MissingScope {
        /// The method id, e.g. `classroom.courses.create`.
        method: &'static str,
        /// Any one of these would authorize the call.
        accepted: Vec<Scope>,
        /// The scopes the credentials hold.
        granted: Vec<String>,
    },

    /// A request argument is invalid (e.g. an empty id). Nothing was sent.
    #[error("invalid argument for {method}: {message}")]
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

    /// The request did not complete: connection refused or reset, timeout, TLS failure.
    #[error(
        "{method}: the request did not complete ({kind}); check the network and the root URL, then retry"
    )]
    Transport {
        /// The method id.
        method: &'static str,
        /// What failed, in a few words.
        kind: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The server's reply could not be decoded as the method's response type.
    #[error(
        "{method}: the response (HTTP {status}) is not the expected JSON: {message}; body starts: {excerpt:?}"
    )]
    Decode {
        /// The method id.
        method: &'static str,
        /// The HTTP status of the reply.
        status: u16,
        /// What the decoder said.
        message: String,
        /// The beginning of the body, for diagnosis.
        excerpt: String,
    },
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

    /// The HTTP status of the server's error reply, if there was one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.http_status),
            Error::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether trying again later may succeed: rate limits, server overload, network failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api(e) => e.is_retryable(),
            Error::Transport { .. } => true,
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

/// An error reply from the API, decoded from Google's error JSON
/// (`{"error": {"code", "message", "status", "errors", "details"}}`).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// The method id.
    pub method: &'static str,
    /// The HTTP status.
    pub http_status: u16,
    /// The canonical status, e.g. `PERMISSION_DENIED`, `NOT_FOUND`, `INVALID_ARGUMENT`.
    pub status: Option<String>,
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
}

impl ApiError {
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

    /// The token is missing, invalid or expired (401).
    pub fn is_unauthenticated(&self) -> bool {
        self.http_status == 401
    }

    /// Rate limited or quota exhausted (429).
    pub fn is_rate_limited(&self) -> bool {
        self.http_status == 429
    }

    /// Whether the same request may succeed later: 429, 500, 502, 503, 504.
    pub fn is_retryable(&self) -> bool {
        matches!(self.http_status, 429 | 500 | 502 | 503 | 504)
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
            http_status,
            status: None,
            message: String::new(),
            reason: None,
            domain: None,
            details: Vec::new(),
            retry_after,
            body: None,
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
                error.message = b.message;
                error.status = b.status;
                error.details = b.details;
            }
            Err(_) => {
                error.body = Some(excerpt(body, 2048));
                error.message =
                    format!("HTTP {http_status} with a body that is not Google's error JSON");
            }
        }
        error
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed with HTTP {}", self.method, self.http_status)?;
        if let Some(status) = &self.status {
            write!(f, " {status}")?;
        }
        if let Some(reason) = &self.reason {
            write!(f, " ({reason})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        if self.is_scope_insufficient() {
            f.write_str(
                "; the token lacks a scope for this method: authorize again with one of its scopes",
            )?;
        } else if self.http_status == 401 {
            f.write_str(
                "; the access token is missing, invalid or expired: refresh it or sign in again",
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// The first `max` bytes of a body as text, cut on a character boundary.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max)]);
    let mut s = text.into_owned();
    if body.len() > max {
        s.push('…');
    }
    s
}
