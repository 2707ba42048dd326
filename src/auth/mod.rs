//! Authorization: credentials that yield access tokens, and the scopes they carry.
//!
//! Every call asks its client's [`Credentials`] for an [`AccessToken`]. When the token says
//! which scopes it holds, the request path refuses, before sending, any call that none of
//! them authorizes ([`Error::MissingScope`](crate::Error::MissingScope)). A token whose scopes
//! are unknown (a bare token from elsewhere) skips that check; the server then decides.

mod scopes;
mod token;

pub use scopes::Scope;
pub use token::{AccessToken, BearerToken, Credentials};

pub(crate) use scopes::authorizes;

/// Why an access token could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint refused the request with an OAuth 2.0 error code.
    #[error("the token endpoint refused the request: {code}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        /// The OAuth 2.0 error code, e.g. `invalid_grant`.
        code: String,
        /// The server's description, if any.
        description: Option<String>,
    },

    /// The token endpoint could not be reached or answered with something other than a token.
    #[error("the token endpoint could not be used: {message}")]
    Unavailable {
        /// What went wrong.
        message: String,
    },
}

impl AuthError {
    /// Whether asking again later may succeed (the endpoint was unreachable or overloaded).
    pub fn is_transient(&self) -> bool {
        matches!(self, AuthError::Unavailable { .. })
    }
}
