//! Calls to token and revocation endpoints: TLS required off loopback, one HTTP client per
//! connect timeout (ring TLS, no redirects), form posts, replies read up to a cap, and token
//! responses decoded without ever echoing a secret.

use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use serde::Deserialize;
use url::Url;

use super::{AccessToken, AuthError, ClientAuth, OAuthClient, RefreshToken};
use crate::net::json_error;
use crate::net::{BodyError, read_body, redacted, require_tls};

/// The longest reply a token or revocation endpoint may send: 256 KiB. A token reply is a few
/// kilobytes (Google's, with an ID token, about 2 KiB); the cap leaves room for large error
/// pages while keeping a runaway or hostile server from filling memory.
pub const TOKEN_REPLY_LIMIT: usize = 256 * 1024;

/// How long a token or revocation call may take in all, connecting included, unless set
/// otherwise with [`OAuthClient::timeout`] or
/// [`ServiceAccountCredentials::timeout`](super::ServiceAccountCredentials::timeout).
pub const DEFAULT_TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting to a token or revocation endpoint may take, unless set otherwise with
/// [`OAuthClient::connect_timeout`] or
/// [`ServiceAccountCredentials::connect_timeout`](super::ServiceAccountCredentials::connect_timeout).
pub const DEFAULT_TOKEN_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How token and revocation calls are sent: their timeouts, and the application's own HTTP
/// client when it gave one.
#[derive(Clone, Debug)]
pub(crate) struct TokenTransport {
    pub(crate) request: Duration,
    pub(crate) connect: Duration,
    /// The application's client (proxies, its roots of trust, pool sizes), used as it is; the
    /// SDK's own otherwise.
    pub(crate) client: Option<reqwest::Client>,
}

impl Default for TokenTransport {
    fn default() -> Self {
        TokenTransport {
            request: DEFAULT_TOKEN_TIMEOUT,
            connect: DEFAULT_TOKEN_CONNECT_TIMEOUT,
            client: None,
        }
    }
}

impl TokenTransport {
    /// The client token calls go out on.
    fn client(&self) -> Result<reqwest::Client, AuthError> {
        match &self.client {
            Some(client) => Ok(client.clone()),
            None => http(self.connect),
        }
    }
}

/// Where a token call goes and how: the URL as configured, whether `http` off loopback was
/// allowed (and the setting that allows it, for the error), and how it is sent.
pub(crate) struct Endpoint<'a> {
    pub(crate) uri: &'a str,
    pub(crate) allow_http: bool,
    pub(crate) opt_in: &'static str,
    pub(crate) transport: TokenTransport,
}

/// Which grant a token request carries: the same OAuth error code calls for different advice
/// for each (RFC 6749 §5.2 leaves `invalid_grant` to mean many things).
#[derive(Clone, Debug)]
pub(crate) enum Grant {
    RefreshToken,
    AuthorizationCode,
    /// A service account's signed assertion (RFC 7523); `subject` when acting for a user.
    JwtBearer {
        subject: Option<String>,
        client_id: Option<String>,
        scopes: Vec<String>,
    },
    ClientCredentials,
    Revocation,
}

impl Grant {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Grant::RefreshToken => "refresh_token",
            Grant::AuthorizationCode => "authorization_code",
            Grant::JwtBearer { .. } => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Grant::ClientCredentials => "client_credentials",
            Grant::Revocation => "token revocation",
        }
    }
}

/// A token endpoint's successful reply.
#[derive(Debug)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: AccessToken,
    pub(crate) refresh_token: Option<RefreshToken>,
    /// `expires_in`, which the cache counts on tokio's clock.
    pub(crate) expires_in: Option<Duration>,
    /// The token could not be saved to the store; the token is good all the same.
    pub(crate) store_error: Option<AuthError>,
    /// The ID token (`openid` asked for), not yet verified.
    pub(crate) id_token: Option<String>,
}

/// The HTTP client for a connect timeout; clients are kept, so connections are reused.
fn http(connect: Duration) -> Result<reqwest::Client, AuthError> {
    static CLIENTS: Mutex<Vec<(Duration, reqwest::Client)>> = Mutex::new(Vec::new());
    let mut clients = CLIENTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, client)) = clients.iter().find(|(d, _)| *d == connect) {
        return Ok(client.clone());
    }
    let failed =
        |e: String| AuthError::flow(format!("the HTTP client for token calls failed: {e}"));
    let tls = crate::net::tls_config().map_err(|e| failed(e.to_string()))?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .user_agent(concat!("classroom-rust/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(connect)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| failed(e.to_string()))?;
    clients.push((connect, client.clone()));
    Ok(client)
}

/// Form fields whose values are secrets: never shown in an error, even when a server echoes
/// them back.
const SECRET_FIELDS: [&str; 6] = [
    "client_secret",
    "refresh_token",
    "code",
    "code_verifier",
    "assertion",
    "token",
];

/// Posts a form, authenticating as `client` when given; any reply but 2xx becomes an error
/// mapped for `grant`.
pub(crate) async fn post_form(
    endpoint: &Endpoint<'_>,
    mut form: Vec<(&'static str, String)>,
    client: Option<&OAuthClient>,
    grant: &Grant,
) -> Result<(u16, bytes::Bytes), AuthError> {
    let url = Url::parse(endpoint.uri).map_err(|e| {
        AuthError::flow(format!(
            "the {} endpoint is not an absolute URL ({e})",
            endpoint_kind(grant)
        ))
    })?;
    require_tls(&url, endpoint.allow_http, endpoint.opt_in)
        .map_err(|message| AuthError::InsecureEndpoint { message })?;
    let mut request = endpoint
        .transport
        .client()?
        .post(url.clone())
        .timeout(endpoint.transport.request);
    if let Some(client) = client {
        match (client.provider.client_auth, &client.secret) {
            (ClientAuth::HttpBasic, Some(secret)) => {
                let enc = |s: &str| url_encode(s);
                let pair = format!("{}:{}", enc(&client.id), enc(secret.secret()));
                let basic = base64::engine::general_purpose::STANDARD.encode(pair);
                request = request.header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"));
            }
            (_, secret) => {
                form.push(("client_id", client.id.clone()));
                if let Some(secret) = secret {
                    form.push(("client_secret", secret.secret().to_string()));
                }
            }
        }
    }
    let mut secrets: Vec<&str> = form
        .iter()
        .filter(|(k, _)| SECRET_FIELDS.contains(k))
        .map(|(_, v)| v.as_str())
        .collect();
    if let Some(secret) = client.and_then(|c| c.secret.as_ref()) {
        secrets.push(secret.secret());
    }
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let shown = redacted(&url);
    let response = request
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable(&url, &shown, &e))?;
    let status = response.status().as_u16();
    let bytes = read_reply(response, status, &shown).await?;
    if (200..300).contains(&status) {
        return Ok((status, bytes));
    }
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    let parsed = serde_json::from_slice::<OAuthError>(&bytes).ok();
    Err(match parsed {
        _ if status == 429 || status >= 500 => AuthError::Unavailable {
            message: format!("{shown} answered HTTP {status}"),
        },
        Some(e) => {
            let description = e
                .error_description
                .map(|d| crate::net::excerpt(scrub(&d, &secrets).as_bytes(), 300));
            let code = crate::net::excerpt(scrub(&e.error, &secrets).as_bytes(), 60);
            AuthError::from_token_error(&code, description, grant)
        }
        None => AuthError::MalformedResponse {
            status,
            message: format!(
                "expected an OAuth 2.0 error JSON; body starts: {:?}",
                crate::net::excerpt(
                    scrub(&String::from_utf8_lossy(&bytes), &secrets).as_bytes(),
                    200
                )
            ),
        },
    })
}

fn endpoint_kind(grant: &Grant) -> &'static str {
    match grant {
        Grant::Revocation => "revocation",
        _ => "token",
    }
}

/// `text` with every value we sent as a secret blanked, as sent and in the encodings a server
/// may echo it in (form/URL, JSON, HTML).
pub(crate) fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let json = serde_json::to_string(secret).unwrap_or_default();
        let json = json.trim_matches('"').to_string();
        let html = secret
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
        let percent =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        for form in [secret.to_string(), url_encode(secret), percent, json, html] {
            if !form.is_empty() && out.contains(&form) {
                out = out.replace(&form, "[redacted]");
            }
        }
    }
    out
}

/// Asks a token endpoint for a token. Without a `scope` in the reply, the token holds the
/// scopes requested (RFC 6749 §5.1); without either, its scopes are unknown.
pub(crate) async fn request_token(
    endpoint: &Endpoint<'_>,
    form: Vec<(&'static str, String)>,
    client: Option<&OAuthClient>,
    requested: &[String],
    grant: &Grant,
) -> Result<TokenResponse, AuthError> {
    let (status, bytes) = post_form(endpoint, form, client, grant).await?;
    parse_token(status, &bytes, requested)
}

pub(crate) fn parse_token(
    status: u16,
    body: &[u8],
    requested: &[String],
) -> Result<TokenResponse, AuthError> {
    #[derive(Deserialize)]
    struct Raw {
        access_token: String,
        token_type: Option<String>,
        expires_in: Option<serde_json::Value>,
        refresh_token: Option<String>,
        scope: Option<String>,
        id_token: Option<String>,
    }
    let malformed = |message: String| AuthError::MalformedResponse { status, message };
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a token response: {}", json_error(&e))))?;
    // RFC 6749 §5.1: token_type is required; only Bearer (RFC 6750) is something we can use.
    match raw.token_type.as_deref() {
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(kind) => {
            return Err(malformed(format!(
                "token_type {:?} is not supported (only Bearer)",
                crate::net::excerpt(kind.as_bytes(), 40)
            )));
        }
        None => {
            return Err(malformed(
                "token_type is missing (RFC 6749 §5.1 requires it; only Bearer is supported)"
                    .into(),
            ));
        }
    }
    if raw.access_token.is_empty() {
        return Err(malformed("access_token is empty".into()));
    }
    let expires_in = match &raw.expires_in {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .filter(|s| (0..=10 * 365 * 86_400).contains(s))
                .ok_or_else(|| malformed("expires_in is not a number of seconds".into()))?,
        ),
    };
    let mut token = AccessToken::new(raw.access_token);
    if let Some(seconds) = expires_in {
        token = token.with_expiry(Utc::now() + chrono::Duration::seconds(seconds));
    }
    match raw.scope {
        Some(scope) => token = token.with_scopes(scope.split_whitespace()),
        None if !requested.is_empty() => token = token.with_scopes(requested.iter().cloned()),
        None => {}
    }
    Ok(TokenResponse {
        access_token: token,
        refresh_token: raw.refresh_token.map(RefreshToken::new),
        expires_in: expires_in.map(|s| Duration::from_secs(s.unsigned_abs())),
        store_error: None,
        id_token: raw.id_token,
    })
}

/// A reply to [`call`], whatever its status: the status, the headers, and the body (capped).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: bytes::Bytes,
    /// The URL as it may be shown in an error (no userinfo, no query values).
    pub(crate) shown: String,
}

impl Reply {
    /// Google's JSON error (`{"error": {"status", "message"}}`), or an excerpt of the body,
    /// fit for an error message: at most 300 characters, `secrets` blanked.
    pub(crate) fn error_text(&self, secrets: &[&str]) -> String {
        #[derive(Deserialize)]
        struct Outer {
            error: Inner,
        }
        #[derive(Deserialize)]
        struct Inner {
            status: Option<String>,
            message: Option<String>,
        }
        let text = match serde_json::from_slice::<Outer>(&self.body) {
            Ok(Outer { error }) => format!(
                "{}{}",
                error.status.map(|s| format!("{s}: ")).unwrap_or_default(),
                error.message.unwrap_or_default()
            ),
            Err(_) => String::from_utf8_lossy(&self.body).into_owned(),
        };
        crate::net::excerpt(scrub(&text, secrets).as_bytes(), 300)
    }
}

/// Sends a request with an optional bearer token, extra headers and a JSON body to `endpoint`
/// (TLS required off loopback unless allowed; no redirects; reply capped at
/// [`TOKEN_REPLY_LIMIT`]) and returns the reply whatever its status. Transport failures are
/// [`AuthError::Unavailable`].
pub(crate) async fn call(
    endpoint: &Endpoint<'_>,
    method: reqwest::Method,
    bearer: Option<&AccessToken>,
    headers: &[(&'static str, &str)],
    body: Option<&serde_json::Value>,
) -> Result<Reply, AuthError> {
    let url = Url::parse(endpoint.uri)
        .map_err(|e| AuthError::flow(format!("{:?} is not an absolute URL ({e})", endpoint.uri)))?;
    require_tls(&url, endpoint.allow_http, endpoint.opt_in)
        .map_err(|message| AuthError::InsecureEndpoint { message })?;
    let shown = redacted(&url);
    let mut request = endpoint
        .transport
        .client()?
        .request(method, url.clone())
        .timeout(endpoint.transport.request)
        .header(reqwest::header::ACCEPT, "application/json");
    if let Some(token) = bearer {
        request = request.bearer_auth(token.secret());
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let response = request
        .send()
        .await
        .map_err(|e| unreachable(&url, &shown, &e))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = read_reply(response, status, &shown).await?;
    Ok(Reply {
        status,
        headers,
        body,
        shown,
    })
}

/// `application/x-www-form-urlencoded`, as the form body and (RFC 6749 §2.3.1) HTTP Basic
/// credentials need.
fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The error for an endpoint that could not be reached: [`AuthError::Refused`] for a refused
/// connection to loopback (no use retrying), [`AuthError::Unavailable`] otherwise.
fn unreachable(url: &url::Url, shown: &str, e: &reqwest::Error) -> AuthError {
    if crate::net::is_refused(e) && crate::net::is_loopback(url) {
        return AuthError::Refused {
            endpoint: shown.to_string(),
        };
    }
    AuthError::Unavailable {
        message: format!("{shown} could not be reached ({})", transport_kind(e)),
    }
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if crate::net::is_refused(e) {
        "connection refused"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    }
}

/// A reply's body, read under [`TOKEN_REPLY_LIMIT`]; `shown` is the endpoint as errors show it.
async fn read_reply(
    response: reqwest::Response,
    status: u16,
    shown: &str,
) -> Result<bytes::Bytes, AuthError> {
    read_body(response, TOKEN_REPLY_LIMIT)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => AuthError::MalformedResponse {
                status,
                message: format!("the reply from {shown} is larger than {limit} bytes"),
            },
            BodyError::Transport(e) => AuthError::Unavailable {
                message: format!(
                    "the reply from {shown} was cut off ({})",
                    transport_kind(&e)
                ),
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_blanks_secrets_in_every_echoed_encoding() {
        let secret = "s3cr&t/+=\"x";
        for echoed in [
            "s3cr&t/+=\"x".to_string(),
            url_encode(secret),
            "s3cr&amp;t/+=&quot;x".to_string(),
            "s3cr&t/+=\\\"x".to_string(),
        ] {
            let page = format!("<p>you sent client_secret={echoed}</p>");
            let shown = scrub(&page, &[secret]);
            assert!(!shown.contains(&echoed), "{shown}");
            assert!(shown.contains("[redacted]"), "{shown}");
        }
    }

    #[test]
    fn token_type_is_required_and_must_be_bearer() {
        let ok = parse_token(200, br#"{"access_token":"a","token_type":"bearer"}"#, &[]);
        assert!(ok.is_ok());
        for body in [
            &br#"{"access_token":"a"}"#[..],
            br#"{"access_token":"a","token_type":"N_A"}"#,
            br#"{"access_token":"a","token_type":"DPoP"}"#,
        ] {
            assert!(
                matches!(
                    parse_token(200, body, &[]),
                    Err(AuthError::MalformedResponse { .. })
                ),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
