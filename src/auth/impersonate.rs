//! Acting as a service account through the IAM Credentials API, with no key file: its
//! `generateAccessToken` ([`ImpersonatedCredentials`]) and `signJwt` (keyless domain-wide
//! delegation, [`ServiceAccountCredentials::keyless`](super::ServiceAccountCredentials::keyless)).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::cache::{Fetch, TokenCache, cached_credentials};
use super::http::{self, Endpoint, TokenResponse, TokenTransport};
use super::{AccessToken, AuthError, Credentials};

/// The IAM Credentials API.
pub const IAM_CREDENTIALS_URI: &str = "https://iamcredentials.googleapis.com/";

/// The scope the credentials that call the IAM Credentials API need.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Who acts as which service account through the IAM Credentials API: the target service
/// account, and the credentials of the caller (any [`Credentials`]: the metadata server's,
/// [`default_credentials`](super::default_credentials), a user's), which must hold
/// [`CLOUD_PLATFORM_SCOPE`] and be granted the *Service Account Token Creator* role
/// (`roles/iam.serviceAccountTokenCreator`) on the target.
///
/// Used by [`ImpersonatedCredentials`] (`generateAccessToken`) and by
/// [`ServiceAccountCredentials::keyless`](super::ServiceAccountCredentials::keyless)
/// (`signJwt`).
#[derive(Clone)]
pub struct Impersonation {
    pub(crate) service_account: String,
    source: Arc<dyn Credentials>,
    base: String,
    delegates: Vec<String>,
    allow_http: bool,
    pub(crate) transport: TokenTransport,
}

impl fmt::Debug for Impersonation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Impersonation")
            .field("service_account", &self.service_account)
            .field("source", &self.source)
            .field("base", &self.base)
            .field("delegates", &self.delegates)
            .finish_non_exhaustive()
    }
}

impl Impersonation {
    /// Acts as `service_account` (its email) with the caller's `source` credentials.
    pub fn new(service_account: impl Into<String>, source: impl Credentials + 'static) -> Self {
        Self::shared(service_account, Arc::new(source))
    }

    /// As [`new`](Self::new), with credentials shared with other users.
    pub fn shared(service_account: impl Into<String>, source: Arc<dyn Credentials>) -> Self {
        Impersonation {
            service_account: service_account.into(),
            source,
            base: IAM_CREDENTIALS_URI.to_string(),
            delegates: Vec::new(),
            allow_http: false,
            transport: TokenTransport::default(),
        }
    }

    /// The IAM Credentials API's root URL (default [`IAM_CREDENTIALS_URI`]), e.g. the
    /// emulator's `Emulator::iam_url()` or a private endpoint.
    pub fn endpoint(mut self, root: impl Into<String>) -> Self {
        let mut root = root.into();
        if !root.ends_with('/') {
            root.push('/');
        }
        self.base = root;
        self
    }

    /// A delegation chain (service account emails), each granted the token creator role on
    /// the next, the last on the target.
    pub fn delegates<I, S>(mut self, delegates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.delegates = delegates.into_iter().map(Into::into).collect();
        self
    }

    /// Lets the IAM endpoint use `http://` on a host other than loopback (refused by default
    /// with [`AuthError::InsecureEndpoint`]: the caller's bearer token would cross in clear).
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_http = true;
        self
    }

    /// How long an IAM call may take in all (default
    /// [`DEFAULT_TOKEN_TIMEOUT`](crate::auth::DEFAULT_TOKEN_TIMEOUT)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport.request = timeout;
        self
    }

    /// The target service account's email.
    pub fn service_account(&self) -> &str {
        &self.service_account
    }

    fn url(&self, method: &str) -> String {
        let email: String =
            percent_encoding::utf8_percent_encode(&self.service_account, SEGMENT).collect();
        format!(
            "{}v1/projects/-/serviceAccounts/{email}:{method}",
            self.base
        )
    }

    fn delegate_names(&self) -> Vec<String> {
        self.delegates
            .iter()
            .map(|d| format!("projects/-/serviceAccounts/{d}"))
            .collect()
    }

    /// Calls an IAM Credentials method with the caller's token; a 401 invalidates that token
    /// and the call is made once more with a fresh one.
    async fn call(
        &self,
        method: &str,
        permission: &'static str,
        body: serde_json::Value,
    ) -> Result<bytes::Bytes, AuthError> {
        let uri = self.url(method);
        let endpoint = Endpoint {
            uri: &uri,
            allow_http: self.allow_http,
            opt_in: "Impersonation::allow_insecure_http()",
            transport: self.transport.clone(),
        };
        let mut retried = false;
        loop {
            let token = self.source.access_token().await?;
            let reply = http::call(
                &endpoint,
                reqwest::Method::POST,
                Some(&token),
                &[],
                Some(&body),
            )
            .await?;
            if reply.status == 401 && !retried {
                self.source.invalidate(&token).await;
                retried = true;
                continue;
            }
            if (200..300).contains(&reply.status) {
                return Ok(reply.body);
            }
            let text = reply.error_text(&[token.secret()]);
            return Err(match reply.status {
                401 | 403 | 404 => AuthError::ImpersonationDenied {
                    service_account: self.service_account.clone(),
                    permission,
                    status: reply.status,
                    message: text,
                },
                429 | 500.. => AuthError::Unavailable {
                    message: format!("{} answered HTTP {}: {text}", reply.shown, reply.status),
                },
                status => AuthError::MalformedResponse {
                    status,
                    message: format!("the IAM Credentials API refused the request: {text}"),
                },
            });
        }
    }

    /// Has IAM sign `claims` as a JWT with one of the service account's Google-managed keys.
    pub(crate) async fn sign_jwt(&self, claims: &serde_json::Value) -> Result<String, AuthError> {
        let mut body = json!({ "payload": claims.to_string() });
        if !self.delegates.is_empty() {
            body["delegates"] = json!(self.delegate_names());
        }
        let reply = self
            .call("signJwt", "iam.serviceAccounts.signJwt", body)
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Signed {
            signed_jwt: String,
        }
        let signed: Signed =
            serde_json::from_slice(&reply).map_err(|e| AuthError::MalformedResponse {
                status: 200,
                message: format!("not a signJwt reply: {}", crate::net::json_error(&e)),
            })?;
        if signed.signed_jwt.split('.').count() != 3 {
            return Err(AuthError::MalformedResponse {
                status: 200,
                message: "signJwt's signedJwt is not a JWT".into(),
            });
        }
        Ok(signed.signed_jwt)
    }
}

/// Characters escaped in a path segment (an email's `@` stays, as Google's clients send it).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'@')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_');

/// Access tokens of a service account, issued by the IAM Credentials API
/// (`generateAccessToken`) to a caller allowed to impersonate it: the account's own access,
/// with no key file and no domain-wide delegation. For calls on behalf of a user of the
/// domain, use [`ServiceAccountCredentials::keyless`](super::ServiceAccountCredentials::keyless)
/// with a subject.
///
/// ```no_run
/// # async fn run() -> Result<(), classroom::auth::AuthError> {
/// use classroom::Scope;
/// use classroom::auth::{CLOUD_PLATFORM_SCOPE, ImpersonatedCredentials, Impersonation, default_credentials};
///
/// let ambient = default_credentials([CLOUD_PLATFORM_SCOPE]).await?;
/// let credentials = ImpersonatedCredentials::new(
///     Impersonation::new("roster-sync@my-project.iam.gserviceaccount.com", ambient),
///     [Scope::CoursesReadonly],
/// );
/// # Ok(()) }
/// ```
pub struct ImpersonatedCredentials {
    cache: TokenCache<Generate>,
}

cached_credentials!(ImpersonatedCredentials);

#[derive(Debug)]
pub(crate) struct Generate {
    iam: Impersonation,
    scopes: Vec<String>,
    lifetime: Duration,
}

impl ImpersonatedCredentials {
    /// Tokens of the impersonated service account for `scopes`, living one hour.
    pub fn new<I, S>(iam: Impersonation, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ImpersonatedCredentials {
            cache: TokenCache::new(
                Generate {
                    iam,
                    scopes: scopes.into_iter().map(|s| s.as_ref().to_string()).collect(),
                    lifetime: Duration::from_secs(3600),
                },
                None,
            ),
        }
    }

    /// How long each token lives (default one hour; up to 12 hours where the organization
    /// allows it).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.cache.source.lifetime = lifetime;
        self
    }
}

#[async_trait]
impl Fetch for Generate {
    async fn fetch(&self) -> Result<TokenResponse, AuthError> {
        let mut body = json!({
            "scope": self.scopes,
            "lifetime": format!("{}s", self.lifetime.as_secs().max(1)),
        });
        if !self.iam.delegates.is_empty() {
            body["delegates"] = json!(self.iam.delegate_names());
        }
        let reply = self
            .iam
            .call(
                "generateAccessToken",
                "iam.serviceAccounts.getAccessToken",
                body,
            )
            .await?;
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Generated {
            access_token: String,
            expire_time: DateTime<Utc>,
        }
        let generated: Generated =
            serde_json::from_slice(&reply).map_err(|e| AuthError::MalformedResponse {
                status: 200,
                message: format!(
                    "not a generateAccessToken reply: {}",
                    crate::net::json_error(&e)
                ),
            })?;
        if generated.access_token.is_empty() {
            return Err(AuthError::MalformedResponse {
                status: 200,
                message: "generateAccessToken's accessToken is empty".into(),
            });
        }
        let expires_in = (generated.expire_time - Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO);
        let mut token = AccessToken::new(generated.access_token).with_expiry(generated.expire_time);
        if !self.scopes.is_empty() {
            token = token.with_scopes(self.scopes.iter().cloned());
        }
        Ok(TokenResponse {
            access_token: token,
            refresh_token: None,
            expires_in: Some(expires_in),
            store_error: None,
            id_token: None,
        })
    }
}
