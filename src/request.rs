//! The one path every call takes: URL building, scope check, authorization header, retries,
//! and decoding of the reply.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::excerpt;
use crate::{ApiError, Classroom, Error, FieldMask, MethodInfo, Result};

/// Everything but RFC 3986's unreserved characters is percent-encoded, in paths and queries
/// alike, so an id holding `/`, `?`, `#`, `%`, spaces or non-ASCII stays one path segment.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Per-call options every method accepts.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallOptions {
    pub(crate) fields: Option<String>,
    pub(crate) quota_user: Option<String>,
}

/// A call as a generated builder describes it.
pub(crate) struct Call<'a> {
    pub(crate) method: &'static MethodInfo,
    pub(crate) path_params: &'a [(&'static str, &'a str)],
    pub(crate) query: Query,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) options: &'a CallOptions,
}

/// Query parameters in the order they were added; repeated parameters repeat their key.
#[derive(Debug, Default)]
pub(crate) struct Query {
    pairs: Vec<(&'static str, Cow<'static, str>)>,
}

impl Query {
    pub(crate) fn push_str(&mut self, name: &'static str, value: &str) {
        self.pairs.push((name, Cow::Owned(value.to_owned())));
    }
}

/// A value that can stand in a query string: scalars once, `Option`s when set, `Vec`s once per
/// element.
pub(crate) trait QueryValue {
    fn append(&self, name: &'static str, query: &mut Query);
}

macro_rules! display_query_value {
    ($($t:ty),*) => {$(
        impl QueryValue for $t {
            fn append(&self, name: &'static str, query: &mut Query) {
                query.pairs.push((name, Cow::Owned(self.to_string())));
            }
        }
    )*};
}

display_query_value!(String, i32, u32, i64, u64, f64, bool, FieldMask, NaiveDate);

impl QueryValue for DateTime<Utc> {
    fn append(&self, name: &'static str, query: &mut Query) {
        query.push_str(name, &self.to_rfc3339_opts(SecondsFormat::AutoSi, true));
    }
}

impl<T: QueryValue> QueryValue for Option<T> {
    fn append(&self, name: &'static str, query: &mut Query) {
        if let Some(value) = self {
            value.append(name, query);
        }
    }
}

impl<T: QueryValue> QueryValue for Vec<T> {
    fn append(&self, name: &'static str, query: &mut Query) {
        for value in self {
            value.append(name, query);
        }
    }
}

/// Serializes a request body.
pub(crate) fn encode<T: Serialize>(method: &'static MethodInfo, body: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(body).map_err(|e| Error::InvalidInput {
        method: method.id,
        message: format!("the request body cannot be encoded as JSON: {e}"),
    })
}

/// The URL for a call: root URL, path template filled with encoded parameters, query string.
pub(crate) fn url(root: &str, call: &Call<'_>) -> Result<String> {
    let method = call.method;
    let invalid = |message: String| Error::InvalidInput {
        method: method.id,
        message,
    };
    let mut url = String::with_capacity(root.len() + method.path.len() + 64);
    url.push_str(root);
    let mut rest = method.path;
    while let Some(open) = rest.find('{') {
        url.push_str(&rest[..open]);
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or_else(|| invalid(format!("bad path template {}", method.path)))?;
        let name = rest[open + 1..close].trim_start_matches('+');
        let value = call
            .path_params
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .ok_or_else(|| invalid(format!("no value for path parameter `{name}`")))?;
        if value.is_empty() {
            return Err(invalid(format!(
                "`{name}` is empty; pass the identifier of the resource"
            )));
        }
        if value == "." || value == ".." {
            return Err(invalid(format!(
                "`{name}` is `{value}`, which no resource is called"
            )));
        }
        url.extend(utf8_percent_encode(value, ENCODE));
        rest = &rest[close + 1..];
    }
    url.push_str(rest);
    url.push_str("?prettyPrint=false");
    let extra = [
        ("fields", &call.options.fields),
        ("quotaUser", &call.options.quota_user),
    ];
    let pairs = call.query.pairs.iter().map(|(k, v)| (*k, v.as_ref()));
    let extra = extra
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)));
    for (name, value) in pairs.chain(extra) {
        url.push('&');
        url.extend(utf8_percent_encode(name, ENCODE));
        url.push('=');
        url.extend(utf8_percent_encode(value, ENCODE));
    }
    Ok(url)
}

impl Classroom {
    /// Sends a call and decodes its JSON reply as `R`.
    pub(crate) async fn execute<R: DeserializeOwned>(&self, call: Call<'_>) -> Result<R> {
        let method = call.method;
        let (status, body) = self.send(call).await?;
        decode(method, status, &body)
    }

    /// Sends a call whose reply carries nothing.
    #[allow(dead_code)]
    pub(crate) async fn execute_empty(&self, call: Call<'_>) -> Result<()> {
        self.send(call).await.map(|_| ())
    }

    /// The one place that sends: scope check, bearer token, retries, error decoding.
    async fn send(&self, call: Call<'_>) -> Result<(u16, bytes::Bytes)> {
        let method = call.method;
        let url = url(self.root_url(), &call)?;
        let url = reqwest::Url::parse(&url).map_err(|e| Error::InvalidInput {
            method: method.id,
            message: format!(
                "the request URL {url:?} is invalid ({e}); check the client's root URL"
            ),
        })?;
        let verb = match method.http_method {
            crate::HttpMethod::Get => reqwest::Method::GET,
            crate::HttpMethod::Post => reqwest::Method::POST,
            crate::HttpMethod::Put => reqwest::Method::PUT,
            crate::HttpMethod::Patch => reqwest::Method::PATCH,
            crate::HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let body = call.body.map(bytes::Bytes::from);
        let credentials = self.credentials();
        let mut token = credentials.access_token().await?;
        check_scopes(method, &token)?;

        let policy = self.retry_policy();
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let mut request = self
                .http()
                .request(verb.clone(), url.clone())
                .bearer_auth(token.secret());
            if let Some(body) = &body {
                request = request
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            let outcome = request.send().await;
            let retry_delay = match outcome {
                Err(e) => {
                    // A failed connection never reached the server; anything later might have.
                    let safe = e.is_connect() || method.http_method.is_idempotent();
                    let error = transport(method, e);
                    match policy.delay(attempt, started, None) {
                        Some(delay) if safe => delay,
                        _ => return Err(error),
                    }
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = retry_after(response.headers());
                    let bytes = response.bytes().await.map_err(|e| transport(method, e))?;
                    if (200..300).contains(&status) {
                        return Ok((status, bytes));
                    }
                    if status == 401 && !refreshed {
                        refreshed = true;
                        credentials.invalidate(&token).await;
                        let fresh = credentials.access_token().await?;
                        // Credentials that cannot refresh (a fixed token) give the same token
                        // back; sending it again would only earn the same 401.
                        if fresh.secret() != token.secret() {
                            token = fresh;
                            check_scopes(method, &token)?;
                            continue;
                        }
                    }
                    let error = ApiError::from_response(method.id, status, retry_after, &bytes);
                    // 429 and 503 mean the request was not acted on; other 5xx might have been.
                    let safe = matches!(status, 429 | 503)
                        || (error.is_retryable() && method.http_method.is_idempotent());
                    match policy.delay(attempt, started, retry_after) {
                        Some(delay) if safe => delay,
                        _ => return Err(error.into()),
                    }
                }
            };
            tokio::time::sleep(retry_delay).await;
        }
    }
}

fn check_scopes(method: &'static MethodInfo, token: &crate::auth::AccessToken) -> Result<()> {
    match token.scopes() {
        Some(granted) if !crate::auth::authorizes(method, granted) => Err(Error::MissingScope {
            method: method.id,
            accepted: method.authorizing_scopes().collect(),
            granted: granted.to_vec(),
        }),
        _ => Ok(()),
    }
}

fn transport(method: &'static MethodInfo, e: reqwest::Error) -> Error {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the reply was cut off"
    } else {
        "connection failed"
    };
    Error::Transport {
        method: method.id,
        kind,
        source: Box::new(e),
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = DateTime::parse_from_rfc2822(value.trim()).ok()?;
    (when.with_timezone(&Utc) - Utc::now()).to_std().ok()
}

/// Decodes a success reply; an empty body reads as `{}`.
pub(crate) fn decode<R: DeserializeOwned>(
    method: &'static MethodInfo,
    status: u16,
    body: &[u8],
) -> Result<R> {
    let json: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(json).map_err(|e| Error::Decode {
        method: method.id,
        status,
        message: e.to_string(),
        excerpt: excerpt(body, 512),
    })
}
