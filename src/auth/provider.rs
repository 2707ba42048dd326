//! OAuth 2.0 providers and clients as data: Google's by default, any RFC 6749 server otherwise.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::http::{Endpoint, Grant, TokenTransport};
use super::{AuthError, ClientSecret};

/// Where an OAuth 2.0 server takes authorization requests, token requests and revocations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    /// The authorization endpoint, where users consent.
    pub auth_uri: String,
    /// The token endpoint.
    pub token_uri: String,
    /// The revocation endpoint (RFC 7009), if the server has one.
    pub revoke_uri: Option<String>,
    /// How the client authenticates to the token endpoint.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Whether the token and revocation endpoints may use `http://` on a host other than
    /// loopback (default `false`); see [`Provider::allow_insecure_http`].
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// How a client sends its id and secret to the token endpoint (RFC 6749 §2.3.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body, as Google documents.
    #[default]
    RequestBody,
    /// HTTP Basic authentication, which every RFC 6749 server must accept.
    HttpBasic,
}

/// Google's authorization endpoint.
pub const GOOGLE_AUTH_URI: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Google's token endpoint.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
/// Google's revocation endpoint.
pub const GOOGLE_REVOKE_URI: &str = "https://oauth2.googleapis.com/revoke";

impl Provider {
    /// Google's OAuth 2.0 endpoints.
    pub fn google() -> Self {
        Provider::new(GOOGLE_AUTH_URI, GOOGLE_TOKEN_URI).with_revoke_uri(GOOGLE_REVOKE_URI)
    }

    /// Another server's endpoints; the client authenticates in the request body.
    pub fn new(auth_uri: impl Into<String>, token_uri: impl Into<String>) -> Self {
        Provider {
            auth_uri: auth_uri.into(),
            token_uri: token_uri.into(),
            revoke_uri: None,
            client_auth: ClientAuth::RequestBody,
            allow_insecure_http: false,
        }
    }

    /// A server known only by its token endpoint: enough for client credentials, refresh
    /// tokens and service accounts, which never send a user to an authorization page.
    pub fn token_endpoint(token_uri: impl Into<String>) -> Self {
        Provider::new("", token_uri)
    }

    /// Sets the revocation endpoint.
    pub fn with_revoke_uri(mut self, uri: impl Into<String>) -> Self {
        self.revoke_uri = Some(uri.into());
        self
    }

    /// Sets how the client authenticates to the token endpoint.
    pub fn with_client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// Lets the token and revocation endpoints use `http://` on hosts other than loopback.
    ///
    /// By default such an endpoint is refused with [`AuthError::InsecureEndpoint`] before
    /// anything is sent, since the client secret, refresh tokens and codes would cross the
    /// network in clear. Loopback hosts (`localhost`, `127.0.0.0/8`, `[::1]`) are always
    /// allowed. Call this only when a TLS-terminating proxy you control sits in between.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }
}

impl Default for Provider {
    fn default() -> Self {
        Provider::google()
    }
}

/// Which kind of OAuth client a `client_secret.json` describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientKind {
    /// A web application (`"web"`): the authorization-code flow with registered redirect URIs.
    Web,
    /// A desktop app (`"installed"`): the loopback flow.
    Installed,
    /// Built in code.
    Other,
}

/// An OAuth 2.0 client: its id, its secret (if confidential) and the provider it belongs to.
#[derive(Clone)]
pub struct OAuthClient {
    pub(crate) id: String,
    pub(crate) secret: Option<ClientSecret>,
    pub(crate) provider: Provider,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) kind: ClientKind,
    pub(crate) transport: TokenTransport,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("id", &self.id)
            .field("secret", &self.secret)
            .field("provider", &self.provider)
            .field("kind", &self.kind)
            .field("timeout", &self.transport.request)
            .field("connect_timeout", &self.transport.connect)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// A client of Google's OAuth server.
    pub fn new(id: impl Into<String>, secret: Option<ClientSecret>) -> Self {
        OAuthClient {
            id: id.into(),
            secret,
            provider: Provider::google(),
            redirect_uris: Vec::new(),
            kind: ClientKind::Other,
            transport: TokenTransport::default(),
        }
    }

    /// Uses another provider (the emulator, a test server, any RFC 6749 server).
    pub fn with_provider(mut self, provider: Provider) -> Self {
        self.provider = provider;
        self
    }

    /// Sets how the client authenticates to the token endpoint, e.g.
    /// [`ClientAuth::HttpBasic`] for a server that refuses secrets in the body, without
    /// rebuilding the provider.
    pub fn with_client_auth(mut self, auth: ClientAuth) -> Self {
        self.provider.client_auth = auth;
        self
    }

    /// How long a token or revocation call of this client may take in all (default
    /// [`DEFAULT_TOKEN_TIMEOUT`](crate::auth::DEFAULT_TOKEN_TIMEOUT), 30 s). Token calls use
    /// their own HTTP client, not the [`Classroom`](crate::Classroom) client's settings.
    /// Credentials built from this client (refresh, client credentials, code exchange) keep it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.transport.request = timeout;
        self
    }

    /// How long connecting to the token or revocation endpoint may take (default
    /// [`DEFAULT_TOKEN_CONNECT_TIMEOUT`](crate::auth::DEFAULT_TOKEN_CONNECT_TIMEOUT), 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.transport.connect = timeout;
        self
    }

    /// Sends token calls on your own HTTP client: its proxy, its roots of trust, its pool.
    /// The SDK still sets each call's timeout ([`timeout`](Self::timeout)), refuses a token
    /// endpoint that is not `https` (loopback aside), caps the reply it reads, and keeps
    /// secrets out of errors; `connect_timeout` is then the client's own. Build the client
    /// with `redirect(reqwest::redirect::Policy::none())`: a token endpoint has no business
    /// redirecting a request that carries a secret.
    /// Credentials built from this client (refresh, client credentials, code exchange) keep
    /// it.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.transport.client = Some(client);
        self
    }

    /// The token endpoint as a call target; `opt_in` names the setting that allows `http`.
    pub(crate) fn token_endpoint(&self, opt_in: &'static str) -> Endpoint<'_> {
        Endpoint {
            uri: &self.provider.token_uri,
            allow_http: self.provider.allow_insecure_http,
            opt_in,
            transport: self.transport.clone(),
        }
    }

    /// Reads a `client_secret.json` downloaded from the Google Cloud console (`web` or
    /// `installed`).
    pub fn from_client_secret_file(path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        let text = read_file(path)?;
        Self::parse_client_secret(&path.display().to_string(), &text)
    }

    /// Parses the text of a `client_secret.json`.
    pub fn from_client_secret_json(json: &str) -> Result<Self, AuthError> {
        Self::parse_client_secret("client_secret.json", json)
    }

    fn parse_client_secret(what: &str, json: &str) -> Result<Self, AuthError> {
        #[derive(Deserialize)]
        struct File {
            web: Option<Entry>,
            installed: Option<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            client_id: String,
            client_secret: Option<ClientSecret>,
            auth_uri: Option<String>,
            token_uri: Option<String>,
            #[serde(default)]
            redirect_uris: Vec<String>,
        }
        let file: File = parse_json(what, json)?;
        let (kind, entry) = match (file.web, file.installed) {
            (Some(web), None) => (ClientKind::Web, web),
            (None, Some(installed)) => (ClientKind::Installed, installed),
            _ => {
                return Err(AuthError::file(
                    what,
                    "expected exactly one of \"web\" or \"installed\" at the top level; download the \
                     OAuth client's JSON from the Google Cloud console (APIs & Services > Credentials)",
                ));
            }
        };
        let google = Provider::google();
        Ok(OAuthClient {
            id: entry.client_id,
            secret: entry.client_secret,
            provider: Provider {
                auth_uri: entry.auth_uri.unwrap_or(google.auth_uri),
                token_uri: entry.token_uri.unwrap_or(google.token_uri),
                ..google
            },
            redirect_uris: entry.redirect_uris,
            kind,
            transport: TokenTransport::default(),
        })
    }

    /// The client id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The provider the client belongs to.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// The redirect URIs listed in `client_secret.json`.
    pub fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }

    /// Which kind of client this is.
    pub fn kind(&self) -> ClientKind {
        self.kind
    }

    /// Revokes an access or refresh token (RFC 7009). Revoking a refresh token also ends the
    /// access tokens it produced.
    pub async fn revoke(&self, token: &str) -> Result<(), AuthError> {
        let uri = self.provider.revoke_uri.as_deref().ok_or_else(|| {
            AuthError::flow("the provider has no revocation endpoint (Provider::revoke_uri)")
        })?;
        let endpoint = Endpoint {
            uri,
            allow_http: self.provider.allow_insecure_http,
            opt_in: "Provider::allow_insecure_http()",
            transport: self.transport.clone(),
        };
        let form = vec![("token", token.to_string())];
        super::http::post_form(&endpoint, form, Some(self), &Grant::Revocation)
            .await
            .map(|_| ())
    }
}

pub(crate) fn read_file(path: &Path) -> Result<String, AuthError> {
    std::fs::read_to_string(path)
        .map_err(|e| AuthError::file(path.display().to_string(), format!("cannot be read: {e}")))
}

/// Parses JSON, naming the file and the place of the error but never quoting the content.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    json: &str,
) -> Result<T, AuthError> {
    serde_json::from_str(json).map_err(|e| AuthError::file(what, crate::net::json_error(&e)))
}
