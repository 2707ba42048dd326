//! The metadata server of Google's compute platforms (Compute Engine, GKE, Cloud Run, Cloud
//! Functions, App Engine flexible): access tokens for the service account attached to the
//! machine, with no key anywhere.

use std::time::Duration;

use super::AuthError;
use super::cache::{Fetch, TokenCache, cached_credentials};
use super::http::{self, Endpoint, TokenResponse, TokenTransport, parse_token};
use async_trait::async_trait;

/// The metadata server's address on Google's compute platforms. Link-local, so plain HTTP:
/// the `Metadata-Flavor: Google` header, which a browser or a forwarding proxy does not add,
/// is what keeps a forged request from reaching it.
pub const METADATA_HOST: &str = "metadata.google.internal";

/// The environment variable that overrides [`METADATA_HOST`] (`host` or `host:port`), as in
/// Google's other client libraries; tests point it at a local server.
pub const METADATA_HOST_ENV: &str = "GCE_METADATA_HOST";

/// How long [`default_credentials`](super::default_credentials) waits for the metadata server
/// to answer before concluding this is not a Google compute platform.
pub const METADATA_DETECT_TIMEOUT: Duration = Duration::from_secs(3);

const TOKEN_PATH: &str = "computeMetadata/v1/instance/service-accounts/default/token";
const EMAIL_PATH: &str = "computeMetadata/v1/instance/service-accounts/default/email";

/// Access tokens for the service account attached to this machine, from the metadata server.
///
/// Tokens are asked for with the scopes given (`?scopes=`), so the per-call scope check knows
/// what they hold; with none, the instance's default scopes apply and the scopes are unknown.
/// The metadata server is reached over plain HTTP at [`METADATA_HOST`] (or
/// [`GCE_METADATA_HOST`](METADATA_HOST_ENV)); it is link-local, never TLS.
///
/// ```no_run
/// use classroom::Scope;
/// use classroom::auth::MetadataServerCredentials;
///
/// let credentials = MetadataServerCredentials::new([Scope::CoursesReadonly]);
/// ```
pub struct MetadataServerCredentials {
    cache: TokenCache<Metadata>,
}

cached_credentials!(MetadataServerCredentials);

#[derive(Debug)]
pub(crate) struct Metadata {
    host: String,
    scopes: Vec<String>,
    transport: TokenTransport,
}

impl MetadataServerCredentials {
    /// Tokens for `scopes`, from the metadata server named by `GCE_METADATA_HOST`, else
    /// [`METADATA_HOST`].
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let host = std::env::var(METADATA_HOST_ENV)
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| METADATA_HOST.to_string());
        Self::with_host(host, scopes)
    }

    pub(crate) fn with_host<I, S>(host: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        MetadataServerCredentials {
            cache: TokenCache::new(
                Metadata {
                    host: host.into(),
                    scopes: scopes.into_iter().map(|s| s.as_ref().to_string()).collect(),
                    transport: TokenTransport::default(),
                },
                None,
            ),
        }
    }

    /// Asks this metadata server (`host` or `host:port`) instead.
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.cache.source.host = host.into();
        self
    }

    /// How long a token call may take in all (default
    /// [`DEFAULT_TOKEN_TIMEOUT`](crate::auth::DEFAULT_TOKEN_TIMEOUT)).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.cache.source.transport.request = timeout;
        self
    }

    /// The email of the service account attached to this machine, which
    /// [`Impersonation`](crate::auth::Impersonation) needs when the machine's own account
    /// signs (keyless domain-wide delegation as itself).
    pub async fn email(&self) -> Result<String, AuthError> {
        let source = &self.cache.source;
        email(&source.host, source.transport.clone()).await
    }
}

fn url(host: &str, path: &str) -> String {
    let host = host.trim_end_matches('/');
    if host.starts_with("http://") || host.starts_with("https://") {
        format!("{host}/{path}")
    } else {
        format!("http://{host}/{path}")
    }
}

fn endpoint(uri: &str, transport: TokenTransport) -> Endpoint<'_> {
    Endpoint {
        uri,
        // The metadata server is link-local and speaks plain HTTP only.
        allow_http: true,
        opt_in: "",
        transport,
    }
}

/// Whether a reply comes from a metadata server: it says so in `Metadata-Flavor`.
fn flavored(reply: &http::Reply) -> bool {
    reply
        .headers
        .get("metadata-flavor")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"google"))
}

fn metadata_error(reply: &http::Reply, what: &str) -> AuthError {
    let message = format!(
        "{} answered HTTP {} to {what}: {}",
        reply.shown,
        reply.status,
        reply.error_text(&[])
    );
    match reply.status {
        429 | 500.. => AuthError::Unavailable { message },
        404 => AuthError::Metadata {
            message: format!(
                "{message} (no service account is attached to this machine, or it lacks the \
                 scopes asked for: attach one, or stop the instance and change its scopes)"
            ),
        },
        _ => AuthError::Metadata { message },
    }
}

/// The attached service account's email; also how the metadata server is detected.
pub(crate) async fn email(host: &str, transport: TokenTransport) -> Result<String, AuthError> {
    let uri = url(host, EMAIL_PATH);
    let reply = http::call(
        &endpoint(&uri, transport),
        reqwest::Method::GET,
        None,
        &[("metadata-flavor", "Google")],
        None,
    )
    .await?;
    if !flavored(&reply) {
        return Err(AuthError::Metadata {
            message: format!(
                "{} answered without `Metadata-Flavor: Google`: not a metadata server",
                reply.shown
            ),
        });
    }
    if reply.status != 200 {
        return Err(metadata_error(&reply, "the service account email request"));
    }
    let email = String::from_utf8_lossy(&reply.body).trim().to_string();
    if email.is_empty() || email.len() > 320 || email.contains(char::is_whitespace) {
        return Err(AuthError::MalformedResponse {
            status: reply.status,
            message: "the metadata server's service account email is not an email".into(),
        });
    }
    Ok(email)
}

#[async_trait]
impl Fetch for Metadata {
    async fn fetch(&self) -> Result<TokenResponse, AuthError> {
        let mut uri = url(&self.host, TOKEN_PATH);
        if !self.scopes.is_empty() {
            uri.push_str("?scopes=");
            uri.extend(url::form_urlencoded::byte_serialize(
                self.scopes.join(",").as_bytes(),
            ));
        }
        let reply = http::call(
            &endpoint(&uri, self.transport.clone()),
            reqwest::Method::GET,
            None,
            &[("metadata-flavor", "Google")],
            None,
        )
        .await?;
        if reply.status != 200 {
            return Err(metadata_error(&reply, "the token request"));
        }
        // A reply naming its scopes wins; otherwise the token holds the scopes asked for.
        parse_token(reply.status, &reply.body, &self.scopes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_accept_a_host_a_host_and_port_or_a_url() {
        assert_eq!(
            url("metadata.google.internal", EMAIL_PATH),
            format!("http://metadata.google.internal/{EMAIL_PATH}")
        );
        assert_eq!(
            url("127.0.0.1:8080", TOKEN_PATH),
            format!("http://127.0.0.1:8080/{TOKEN_PATH}")
        );
        assert_eq!(
            url("http://127.0.0.1:9/", TOKEN_PATH),
            format!("http://127.0.0.1:9/{TOKEN_PATH}")
        );
    }
}
