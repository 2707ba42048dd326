//! Access tokens and the credentials trait.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::AuthError;

/// An OAuth 2.0 access token, with the scopes it holds when known.
///
/// Its `Debug` output never shows the token itself.
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<str>,
    scopes: Option<Arc<[String]>>,
    expires_at: Option<DateTime<Utc>>,
}

impl AccessToken {
    /// A token whose scopes are unknown: calls made with it skip the scope check.
    pub fn new(secret: impl Into<String>) -> Self {
        AccessToken {
            secret: Arc::from(secret.into()),
            scopes: None,
            expires_at: None,
        }
    }

    /// Records the scopes the token holds (URLs, as in a token response's `scope`).
    pub fn with_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// Records when the token expires.
    pub fn with_expiry(mut self, expires_at: DateTime<Utc>) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The token itself, for an `Authorization: Bearer` header. Keep it out of logs.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The scopes the token holds, if known.
    pub fn scopes(&self) -> Option<&[String]> {
        self.scopes.as_deref()
    }

    /// When the token expires, if known.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A source of access tokens.
///
/// Implementations cache and refresh as they see fit; the client calls
/// [`access_token`](Credentials::access_token) once per request, and
/// [`invalidate`](Credentials::invalidate) when the API answers 401 to a token.
///
/// The scopes of the token decide which calls the client lets through: a call none of them
/// authorizes fails with [`Error::MissingScope`](crate::Error::MissingScope) before sending.
/// A token whose scopes are unknown ([`AccessToken::scopes`] is `None`) skips that check.
#[async_trait]
pub trait Credentials: Send + Sync + fmt::Debug {
    /// A token valid for at least the next few seconds.
    async fn access_token(&self) -> Result<AccessToken, AuthError>;

    /// The API rejected `token` as invalid or expired; the next call should get a fresh one.
    async fn invalidate(&self, token: &AccessToken) {
        let _ = token;
    }
}

/// A fixed access token obtained elsewhere (e.g. `gcloud auth print-access-token`).
///
/// Say which scopes it holds ([`BearerToken::new`]) and the client refuses, before sending,
/// every call they cannot authorize, as it does for every other credential. A token whose
/// scopes you do not know can only skip that check, and you choose so by name
/// ([`BearerToken::unchecked`]).
///
/// ```
/// use classroom::{BearerToken, Scope};
///
/// let checked = BearerToken::new("ya29.token", [Scope::CoursesReadonly, Scope::RostersReadonly]);
/// let unchecked = BearerToken::unchecked("ya29.token"); // the server decides every call
/// # let _ = (checked, unchecked);
/// ```
#[derive(Clone, Debug)]
pub struct BearerToken {
    token: AccessToken,
}

impl BearerToken {
    /// A token holding `scopes` ([`Scope`](crate::Scope)s or their URLs).
    pub fn new<I, S>(token: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BearerToken::unchecked(token).with_scopes(scopes)
    }

    /// A token whose scopes are not known: no call is checked against scopes before sending,
    /// and the server decides each one (a 403 `ACCESS_TOKEN_SCOPE_INSUFFICIENT` where none
    /// fits). Prefer [`BearerToken::new`] with the scopes the token was granted.
    pub fn unchecked(token: impl Into<String>) -> Self {
        BearerToken {
            token: AccessToken::new(token),
        }
    }

    /// Declares the scopes the token holds ([`Scope`](crate::Scope)s or their URLs).
    pub fn with_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        BearerToken {
            token: self.token.with_scopes(scopes),
        }
    }
}

#[async_trait]
impl Credentials for BearerToken {
    async fn access_token(&self) -> Result<AccessToken, AuthError> {
        Ok(self.token.clone())
    }
}
