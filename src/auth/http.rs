//! Calls to token and revocation endpoints: one shared HTTP client (ring TLS, no redirects),
//! form posts, and token responses decoded without ever echoing a secret.

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use chrono::Utc;
use serde::Deserialize;

use super::provider::json_error;
use super::{AccessToken, AuthError, ClientAuth, OAuthClient, RefreshToken};

/// A token endpoint's successful reply.
#[derive(Debug)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: AccessToken,
    pub(crate) refresh_token: Option<RefreshToken>,
}

fn http() -> Result<&'static reqwest::Client, AuthError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let tls = crate::client::tls_config().map_err(|e| e.to_string())?;
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls)
                .user_agent(concat!("classroom-rust/", env!("CARGO_PKG_VERSION")))
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| AuthError::flow(format!("the HTTP client for token calls failed: {e}")))
}

/// Posts a form, authenticating as `client` when given; any reply but 2xx becomes an error.
pub(crate) async fn post_form(
    uri: &str,
    mut form: Vec<(&'static str, String)>,
    client: Option<&OAuthClient>,
) -> Result<(u16, bytes::Bytes), AuthError> {
    let mut request = http()?.post(uri);
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
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let response = request
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| AuthError::Unavailable {
            message: format!("{uri} could not be reached ({})", transport_kind(&e)),
        })?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| AuthError::Unavailable {
        message: format!("the reply from {uri} was cut off ({})", transport_kind(&e)),
    })?;
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
            message: format!("{uri} answered HTTP {status}"),
        },
        Some(e) => AuthError::from_code(&e.error, e.error_description),
        None => AuthError::MalformedResponse {
            status,
            message: format!(
                "expected an OAuth 2.0 error JSON; body starts: {:?}",
                crate::error::excerpt(&bytes, 200)
            ),
        },
    })
}

/// Asks a token endpoint for a token. Without a `scope` in the reply, the token holds the
/// scopes requested (RFC 6749 §5.1); without either, its scopes are unknown.
pub(crate) async fn request_token(
    uri: &str,
    form: Vec<(&'static str, String)>,
    client: Option<&OAuthClient>,
    requested: &[String],
) -> Result<TokenResponse, AuthError> {
    let (status, bytes) = post_form(uri, form, client).await?;
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
    }
    let malformed = |message: String| AuthError::MalformedResponse { status, message };
    let raw: Raw = serde_json::from_slice(body)
        .map_err(|e| malformed(format!("not a token response: {}", json_error(&e))))?;
    if let Some(kind) = raw.token_type.as_deref()
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(malformed(format!(
            "token_type {kind:?} is not supported (only Bearer)"
        )));
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
                .ok_or_else(|| malformed(format!("expires_in {v} is not a number of seconds")))?,
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
    })
}

/// `application/x-www-form-urlencoded`, as the form body and (RFC 6749 §2.3.1) HTTP Basic
/// credentials need.
fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn transport_kind(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    }
}
