//! The one path every call takes: URL building, scope check, authorization header, retries,
//! and decoding of the reply.

use std::borrow::Cow;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;
use tracing::Instrument;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::ApiKey;
use crate::deadline;
use crate::error::TransportKind;
use crate::net::excerpt;
use crate::net::{self, BodyError};
use crate::retry::{self, Failure};
use crate::{ApiError, Classroom, Error, FieldMask, MethodInfo, Result, RetryPolicy, Scope};

/// The header that carries an API key (Google's alternative to the `key` query parameter,
/// which would put the key in every URL).
pub(crate) const API_KEY_HEADER: &str = "x-goog-api-key";

/// Everything but RFC 3986's unreserved characters is percent-encoded, in paths and queries
/// alike, so an id holding `/`, `?`, `#`, `%`, spaces or non-ASCII stays one path segment.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Options for one call, apart from the method's own parameters: every request builder takes
/// them through its `with_*` methods (`with_retry`, `with_timeout`, `with_idempotency`,
/// `with_fields`, `with_quota_user`, `with_api_key`, or all at once with `with_options`), a
/// namespace no
/// parameter of the API can collide with. What is not set here comes from the client.
///
/// ```no_run
/// # async fn run(classroom: classroom::Classroom) -> classroom::Result<()> {
/// use std::time::Duration;
/// use classroom::models::Course;
/// use classroom::RetryPolicy;
///
/// // Created under a domain alias, a course cannot be created twice: a retry that meets the
/// // course an earlier attempt made answers ALREADY_EXISTS. So the create may be retried.
/// let course = Course {
///     id: Some("d:sis-2026-math-101".into()),
///     name: Some("Math 101".into()),
///     owner_id: Some("me".into()),
///     ..Default::default()
/// };
/// match classroom
///     .courses()
///     .create(course)
///     .with_idempotency(true)
///     .with_timeout(Duration::from_secs(20))
///     .with_retry(RetryPolicy::default().max_attempts(8))
///     .send()
///     .await
/// {
///     Ok(created) => println!("created {}", created.id.unwrap_or_default()),
///     Err(e) if e.is_already_exists() => println!("already there: done"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct RequestOptions {
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) idempotent: Option<bool>,
    pub(crate) fields: Option<String>,
    pub(crate) quota_user: Option<String>,
    pub(crate) api_key: Option<ApiKey>,
}

impl RequestOptions {
    /// Retries this call by `policy` instead of the client's.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Bounds each attempt of this call, from asking for a token to the end of the reply,
    /// instead of the client's [`timeout`](crate::ClassroomBuilder::timeout). The retry
    /// policy's `max_elapsed` still bounds the whole call.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Declares whether sending this call twice has the same effect as sending it once, which
    /// decides what may be retried (see [`RetryPolicy`]). By default `GET`, `PUT` and `DELETE`
    /// are idempotent and `POST` and `PATCH` are not; a create under an alias (`d:` or `p:`
    /// id) can safely be declared idempotent.
    pub fn with_idempotency(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Selects the fields to return (a partial response), e.g. `"courses(id,name),nextPageToken"`.
    pub fn with_fields(mut self, fields: impl Into<String>) -> Self {
        self.fields = Some(fields.into());
        self
    }

    /// Attributes the call to a user for quota purposes (at most 40 characters).
    pub fn with_quota_user(mut self, quota_user: impl Into<String>) -> Self {
        self.quota_user = Some(quota_user.into());
        self
    }

    /// Sends this API key with the call instead of the client's (see
    /// [`ClassroomBuilder::api_key`](crate::ClassroomBuilder::api_key)).
    pub fn with_api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }
}

/// The per-call option setters of every request builder, generated into each as inherent
/// methods so that they need no import; each sets the same option on [`RequestOptions`].
macro_rules! request_options {
    () => {
        /// Sets every per-call option at once, replacing any set before.
        pub fn with_options(mut self, options: $crate::RequestOptions) -> Self {
            self.options = options;
            self
        }

        /// Retries this call by `policy` instead of the client's; see
        /// [`RequestOptions::with_retry`](crate::RequestOptions::with_retry).
        pub fn with_retry(mut self, policy: $crate::RetryPolicy) -> Self {
            self.options = self.options.with_retry(policy);
            self
        }

        /// Bounds each attempt of this call; see
        /// [`RequestOptions::with_timeout`](crate::RequestOptions::with_timeout).
        pub fn with_timeout(mut self, timeout: ::std::time::Duration) -> Self {
            self.options = self.options.with_timeout(timeout);
            self
        }

        /// Declares whether the call is safe to send twice, which decides what may be retried;
        /// see [`RequestOptions::with_idempotency`](crate::RequestOptions::with_idempotency).
        pub fn with_idempotency(mut self, idempotent: bool) -> Self {
            self.options = self.options.with_idempotency(idempotent);
            self
        }

        /// Selects the fields to return (a partial response), e.g.
        /// `"courses(id,name),nextPageToken"`.
        pub fn with_fields(
            mut self,
            fields: impl ::std::convert::Into<::std::string::String>,
        ) -> Self {
            self.options = self.options.with_fields(fields);
            self
        }

        /// Attributes the call to a user for quota purposes (at most 40 characters).
        pub fn with_quota_user(
            mut self,
            quota_user: impl ::std::convert::Into<::std::string::String>,
        ) -> Self {
            self.options = self.options.with_quota_user(quota_user);
            self
        }

        /// Sends this API key with the call instead of the client's; see
        /// [`RequestOptions::with_api_key`](crate::RequestOptions::with_api_key).
        pub fn with_api_key(mut self, key: $crate::auth::ApiKey) -> Self {
            self.options = self.options.with_api_key(key);
            self
        }
    };
}
pub(crate) use request_options;

/// A call as a generated builder describes it.
pub(crate) struct Call<'a> {
    pub(crate) method: &'static MethodInfo,
    pub(crate) path_params: Vec<(&'static str, &'a str)>,
    pub(crate) query: Query,
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) options: &'a RequestOptions,
    /// Whether the method's response schema is empty, so that an empty 2xx body is a success.
    pub(crate) empty_response: bool,
    /// For a page of a list, how many items were asked for (0 when not known), so that the
    /// page's vector is allocated once at that size rather than grown as items are decoded.
    pub(crate) expected_items: usize,
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

/// The URL for a call: the root URL with the method's path (its template filled with encoded
/// parameters) after the root's own, and the query string. Only the path and query are parsed
/// here; the root's scheme, host and port were parsed once, when the client was built.
pub(crate) fn url(root: &reqwest::Url, call: &Call<'_>) -> Result<reqwest::Url> {
    let method = call.method;
    let invalid = |message: String| Error::InvalidInput {
        method: method.id,
        message,
    };
    let mut path = String::with_capacity(root.path().len() + method.path.len() + 32);
    path.push_str(root.path());
    let mut rest = method.path;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
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
        path.extend(utf8_percent_encode(value, ENCODE));
        rest = &rest[close + 1..];
    }
    path.push_str(rest);
    let mut query = String::with_capacity(64);
    query.push_str("prettyPrint=false");
    let extra = [
        ("fields", &call.options.fields),
        ("quotaUser", &call.options.quota_user),
    ];
    let pairs = call.query.pairs.iter().map(|(k, v)| (*k, v.as_ref()));
    let extra = extra
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)));
    for (name, value) in pairs.chain(extra) {
        query.push('&');
        query.extend(utf8_percent_encode(name, ENCODE));
        query.push('=');
        query.extend(utf8_percent_encode(value, ENCODE));
    }
    let mut url = root.clone();
    url.set_path(&path);
    url.set_query(Some(&query));
    Ok(url)
}

impl Classroom {
    /// Sends a call and decodes its JSON reply as `R`.
    pub(crate) async fn execute<R: DeserializeOwned>(&self, call: Call<'_>) -> Result<R> {
        let (method, empty_ok) = (call.method, call.empty_response);
        let expected_items = call.expected_items;
        let (status, body) = self.send(call).await?;
        crate::wire::with_page_capacity(expected_items, body.len(), || {
            decode(method, status, &body, empty_ok)
        })
    }

    /// Sends a call whose reply carries nothing.
    #[allow(dead_code)]
    pub(crate) async fn execute_empty(&self, call: Call<'_>) -> Result<()> {
        self.send(call).await.map(|_| ())
    }

    /// Sends a call inside a `classroom.call` span naming its method.
    async fn send(&self, call: Call<'_>) -> Result<(u16, Bytes)> {
        let span = tracing::debug_span!("classroom.call", method = call.method.id);
        self.send_attempts(call).instrument(span).await
    }

    /// The one place that sends: for each attempt a token, the scope check, the request and
    /// its reply read under the size cap, all within the attempt's time; between attempts the
    /// retry decision ([`retry::decide`]) and the client's retry budget.
    ///
    /// Traced (never with a secret): each attempt's outcome and latency at `debug`, each retry
    /// and why at `info`, so that a call retrying for minutes is not silent.
    async fn send_attempts(&self, call: Call<'_>) -> Result<(u16, Bytes)> {
        let method = call.method;
        let url = url(self.root(), &call)?;
        let verb = match method.http_method {
            crate::HttpMethod::Get => reqwest::Method::GET,
            crate::HttpMethod::Post => reqwest::Method::POST,
            crate::HttpMethod::Put => reqwest::Method::PUT,
            crate::HttpMethod::Patch => reqwest::Method::PATCH,
            crate::HttpMethod::Delete => reqwest::Method::DELETE,
        };
        let body = call.body.map(Bytes::from);
        let settings = self.settings();
        let policy = call.options.retry.as_ref().unwrap_or(&settings.retry);
        let idempotent = call
            .options
            .idempotent
            .or(settings.idempotency)
            .unwrap_or(method.http_method.is_idempotent());
        let timeout = call.options.timeout.unwrap_or(settings.timeout);
        let api_key = call.options.api_key.as_ref().or(settings.api_key.as_ref());
        let credentials = self.credentials();

        if let Some(limit) = &settings.rate_limit {
            limit.acquire(1).await;
        }
        // Waiting for the first turn under the rate limit is not the call's time.
        let started = Instant::now();
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            if attempt > 1
                && let Some(limit) = &settings.rate_limit
            {
                limit.acquire(1).await;
            }
            let left = policy.budget().saturating_sub(started.elapsed());
            // The attempt's time bounds the token fetch here and the exchange (connecting,
            // sending and the whole body) through `deadline::within`, which arms no timer while
            // the call runs. reqwest's per-request timeout arms one: 2-3% of a small call
            // (see `deadline`); `tokio::time::timeout` around the exchange cost 10% of a
            // listing's CPU (a timer polled at every chunk of the body; list_throughput).
            let attempt_started = Instant::now();
            let limit = timeout.min(left);
            // Out of time before sending: nothing reached the server, so even a write may retry.
            let not_sent = || (Some(Failure::NotSent), timed_out(method, &url));
            let exchange = async {
                let token = tokio::time::timeout(limit, credentials.access_token())
                    .await
                    .map_err(|_| not_sent())?
                    .map_err(|e| {
                        let failure = e.is_transient().then_some(Failure::NotSent);
                        (failure, Error::Auth(e))
                    })?;
                check_scopes(method, &token).map_err(|e| (None, e))?;
                #[cfg(feature = "test-support")]
                if let Some(mock) = self.mock() {
                    let params = call
                        .path_params
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .chain(
                            call.query
                                .pairs
                                .iter()
                                .map(|(n, v)| (n.to_string(), v.to_string())),
                        )
                        .collect();
                    let (status, retry_after, reply) = mock
                        .answer(method.id, params, body.as_deref())
                        .map_err(|message| {
                            (
                                None,
                                Error::MockUnmatched {
                                    method: method.id,
                                    message,
                                },
                            )
                        })?;
                    return Ok((token, status, retry_after, Bytes::from(reply)));
                }
                let left = limit.saturating_sub(attempt_started.elapsed());
                if left.is_zero() {
                    return Err(not_sent());
                }
                let mut request = self
                    .http()
                    .request(verb.clone(), url.clone())
                    .bearer_auth(token.secret());
                if let Some(key) = api_key {
                    request = request.header(API_KEY_HEADER, key.secret());
                }
                if let Some(agent) = &self.settings().user_agent {
                    request = request.header(reqwest::header::USER_AGENT, agent);
                }
                if let Some(body) = &body {
                    request = request
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(body.clone());
                }
                let reply = async {
                    let response = request
                        .send()
                        .await
                        .map_err(|e| sent_failure(method, &url, e))?;
                    let status = response.status().as_u16();
                    let retry_after = retry_after(response.headers(), Utc::now());
                    let body = net::read_body(response, settings.max_response_bytes)
                        .await
                        .map_err(|e| match e {
                            BodyError::TooLarge { limit } => (
                                None,
                                Error::ResponseTooLarge {
                                    method: method.id,
                                    status,
                                    limit,
                                },
                            ),
                            BodyError::Transport(e) => sent_failure(method, &url, e),
                        })?;
                    Ok((status, retry_after, body))
                };
                // Connecting, sending and the whole body, within what is left of the attempt.
                let Some(reply) = deadline::within(left, reply).await else {
                    return Err((Some(Failure::TimedOut), timed_out(method, &url)));
                };
                let (status, retry_after, body) = reply?;
                Ok((token, status, retry_after, body))
            };
            let outcome = exchange.await;
            let latency_ms = attempt_started.elapsed().as_millis() as u64;
            let (failure, error) = match outcome {
                Ok((_, status @ 200..=299, _, body)) => {
                    tracing::debug!(attempt, status, latency_ms, "answered");
                    settings.retry_budget.deposit();
                    return Ok((status, body));
                }
                Ok((token, status, retry_after, body)) => {
                    if status == 401 && !refreshed {
                        refreshed = true;
                        credentials.invalidate(&token).await;
                        // Credentials that cannot refresh (a fixed token) give the same token
                        // back; sending it again would only earn the same 401. Credentials
                        // that can no longer refresh (a grant revoked elsewhere) say so, with
                        // advice a bare 401 lacks.
                        // Within what is left of the attempt's time, as the first fetch.
                        let left = limit.saturating_sub(attempt_started.elapsed());
                        match tokio::time::timeout(left, credentials.access_token()).await {
                            Ok(Ok(fresh)) if fresh.secret() != token.secret() => continue,
                            Ok(Err(e)) if !e.is_transient() => return Err(Error::Auth(e)),
                            _ => {}
                        }
                    }
                    let error = ApiError::from_response(method.id, status, retry_after, &body)
                        .with_ids(&call.path_params);
                    // A rate limit the limiter did not foresee: every call under it pauses.
                    if status == 429
                        && !error.is_lasting()
                        && let Some(limit) = &settings.rate_limit
                    {
                        let pause = retry_after.unwrap_or(crate::limit::PAUSE_AFTER_429);
                        limit.pause(pause).await;
                    }
                    let failure = Failure::Status {
                        status,
                        retry_after,
                        lasting: error.is_lasting(),
                    };
                    (Some(failure), Error::from(error))
                }
                Err(failed) => failed,
            };
            tracing::debug!(attempt, status = error.http_status(), latency_ms, %error, "failed");
            let error = gave_up(error, attempt, started.elapsed());
            let Some(failure) = failure else {
                return Err(error);
            };
            match retry::decide(
                policy,
                idempotent,
                failure,
                attempt,
                started.elapsed(),
                retry::jitter(),
            ) {
                Some(delay) if settings.retry_budget.withdraw(failure.cost()) => {
                    tracing::info!(
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        why = %error,
                        "retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
                Some(_) => {
                    tracing::info!(attempt, %error, "not retrying: the client's retry budget is spent");
                    return Err(error);
                }
                None => return Err(error),
            }
        }
    }
}

pub(crate) fn check_scopes(
    method: &'static MethodInfo,
    token: &crate::auth::AccessToken,
) -> Result<()> {
    match token.scopes() {
        Some(granted) if !method.is_authorized_by(granted) => Err(Error::MissingScope {
            method: method.id,
            accepted: method.authorizing_scopes().collect(),
            granted: granted.to_vec(),
            granted_scopes: granted.iter().filter_map(|g| Scope::from_url(g)).collect(),
        }),
        _ => Ok(()),
    }
}

/// A transport failure once the request was on its way, with what it means for a retry: a
/// connection that was never made sent nothing; anything later may have reached the server.
/// A connection to this machine that was refused is not retried: nothing listens there, and
/// nothing will a few seconds later.
pub(crate) fn sent_failure(
    method: &'static MethodInfo,
    url: &reqwest::Url,
    e: reqwest::Error,
) -> (Option<Failure>, Error) {
    let (failure, kind) = if net::is_refused(&e) {
        let failure = (!net::is_loopback(url)).then_some(Failure::NotSent);
        let error = Error::Transport {
            method: method.id,
            kind: TransportKind::Refused,
            source: Some(Box::new(e)),
            url: Some(shown_url(url)),
            attempts: 0,
            elapsed: Duration::ZERO,
        };
        return (failure, error);
    } else if e.is_connect() {
        (Failure::NotSent, TransportKind::Connect)
    } else if e.is_timeout() {
        (Failure::TimedOut, TransportKind::Timeout)
    } else if e.is_body() || e.is_decode() {
        (Failure::AfterSend, TransportKind::CutOff)
    } else {
        (Failure::AfterSend, TransportKind::Other)
    };
    let error = Error::Transport {
        method: method.id,
        kind,
        source: Some(Box::new(e)),
        url: Some(shown_url(url)),
        attempts: 0,
        elapsed: Duration::ZERO,
    };
    (Some(failure), error)
}

/// An attempt that ran out of time (whether anything reached the server is the caller's
/// [`Failure`]).
pub(crate) fn timed_out(method: &'static MethodInfo, url: &reqwest::Url) -> Error {
    Error::Transport {
        method: method.id,
        kind: TransportKind::Timeout,
        source: None,
        url: Some(shown_url(url)),
        attempts: 0,
        elapsed: Duration::ZERO,
    }
}

/// A URL as errors show it: scheme, host, port and path; no userinfo, query or fragment.
pub(crate) fn shown_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// The error a call ends with after `attempts` attempts over `elapsed`: a transport error
/// says how many attempts were made and how long they took, and so does a token endpoint that
/// stayed unreachable.
pub(crate) fn gave_up(error: Error, attempts: u32, elapsed: Duration) -> Error {
    match error {
        Error::Transport {
            method,
            kind,
            source,
            url,
            ..
        } => Error::Transport {
            method,
            kind,
            source,
            url,
            attempts,
            elapsed,
        },
        Error::Auth(crate::auth::AuthError::Unavailable { mut message }) if attempts > 1 => {
            message.push_str(&format!(
                ", {attempts} times over {:.1} s",
                elapsed.as_secs_f64()
            ));
            Error::Auth(crate::auth::AuthError::Unavailable { message })
        }
        other => other,
    }
}

/// `Retry-After` as a wait from `now`: whole seconds or an HTTP date, anything else ignored.
/// Values past what a `Duration` holds saturate; a date in the past is no wait.
pub(crate) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: DateTime<Utc>,
) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    retry_after_value(value, now)
}

/// A `Retry-After` value as a wait from `now`; see [`retry_after`].
pub(crate) fn retry_after_value(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let when = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (when.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Decodes a success reply. An empty body is a success only for a method whose response is
/// empty; for the others it is an error, not a value with nothing in it.
pub(crate) fn decode<R: DeserializeOwned>(
    method: &'static MethodInfo,
    status: u16,
    body: &[u8],
    empty_ok: bool,
) -> Result<R> {
    let failed = |message: String,
                  path: Option<String>,
                  source: Option<Box<dyn std::error::Error + Send + Sync>>| {
        Error::Decode {
            method: method.id,
            status,
            path,
            message,
            excerpt: excerpt(body, 512),
            source,
        }
    };
    // Checking UTF-8 once for the whole body and decoding from `str` is faster than
    // `from_slice`, which checks every string as it goes.
    let text = std::str::from_utf8(body).map_err(|e| {
        failed(
            format!("the body is not UTF-8 ({e})"),
            None,
            Some(Box::new(e)),
        )
    })?;
    let text = match text.trim_ascii() {
        "" if empty_ok => "{}",
        "" => {
            return Err(failed(
                "the body is empty, but the method returns a value".into(),
                None,
                None,
            ));
        }
        _ => text,
    };
    serde_json::from_str(text).map_err(|e| {
        // Decode again, only now that it failed, to learn where.
        let mut de = serde_json::Deserializer::from_str(text);
        let path = match serde_path_to_error::deserialize::<_, R>(&mut de) {
            Err(located) => Some(located.path().to_string()).filter(|p| p != "."),
            Ok(_) => None,
        };
        failed(e.to_string(), path, Some(Box::new(e)))
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    use super::*;
    use crate::models::{Course, ListCourseWorkResponse, ListCoursesResponse};
    use crate::resources::courses::{Get, List};

    fn sample_list() -> Vec<u8> {
        br#"{"courses":[{"id":"1","name":"Math","courseState":"ACTIVE","creationTime":"2026-01-02T03:04:05Z","gradebookSettings":{"gradeCategories":[{"id":"g","weight":10}]},"teacherFolder":{"id":"f"}}],"nextPageToken":"t"}"#.to_vec()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any header value a server sends as `Retry-After`, at any time: no panic, and a wait
        /// only from digits or a date.
        #[test]
        fn retry_after_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..40), secs in any::<i64>()) {
            let now = DateTime::from_timestamp(secs % 253_402_300_799, 0).unwrap_or_default();
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let mut headers = HeaderMap::new();
                headers.insert(RETRY_AFTER, value);
                let _ = retry_after(&headers, now);
            }
        }

        #[test]
        fn digit_retry_after_saturates(digits in "[0-9]{1,60}") {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(&digits).unwrap());
            let wait = retry_after(&headers, Utc::now()).unwrap();
            let expected = digits.parse::<u64>().unwrap_or(u64::MAX);
            prop_assert_eq!(wait, Duration::from_secs(expected));
        }

        /// A call's URL is the root's, with the path after the root's own path and every
        /// byte of a parameter but RFC 3986's unreserved ones percent-encoded, whatever the
        /// value, for a root at a host's top and one under a path.
        #[test]
        fn url_encodes_every_value(id in "[^./]\\PC{0,12}|\\PC{2,12}", fields in "\\PC{0,12}") {
            let options = RequestOptions::default().with_fields(fields.clone());
            let call = Call {
                method: &Get::METHOD,
                path_params: vec![("id", &id)],
                query: Query::default(),
                body: None,
                options: &options,
                empty_response: false,
                expected_items: 0,
            };
            let encode = |value: &str| utf8_percent_encode(value, ENCODE).to_string();
            for root in ["http://127.0.0.1:8080/", "https://proxy.example/classroom/api/"] {
                let root = reqwest::Url::parse(root).unwrap();
                match url(&root, &call) {
                    Ok(url) => prop_assert_eq!(
                        url.as_str(),
                        format!(
                            "{root}v1/courses/{}?prettyPrint=false&fields={}",
                            encode(&id),
                            encode(&fields)
                        )
                    ),
                    Err(e) => prop_assert!(id == ".." , "{e}"),
                }
            }
        }

        /// Arbitrary bytes as a success or an error reply: a value or a typed error.
        #[test]
        fn any_body_decodes_or_errs(body in proptest::collection::vec(any::<u8>(), 0..512), status in 100u16..600) {
            let _ = decode::<Course>(&Get::METHOD, 200, &body, false);
            let _ = decode::<ListCoursesResponse>(&List::METHOD, 200, &body, true);
            let error = ApiError::from_response(Get::METHOD.id, status, None, &body);
            prop_assert_eq!(error.http_status, status);
            let _ = error.to_string();
        }

        /// A real reply with bytes flipped, cut or spliced: a value or a typed error.
        #[test]
        fn mutated_json_decodes_or_errs(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut body = sample_list();
            for (at, byte) in flips {
                let i = at.index(body.len());
                body[i] = byte;
            }
            let whole = body.clone();
            body.truncate(cut.index(body.len() + 1));
            for body in [whole, body] {
                match decode::<ListCoursesResponse>(&List::METHOD, 200, &body, false) {
                    Ok(_) => {}
                    Err(Error::Decode { excerpt, .. }) => prop_assert!(excerpt.len() <= 512 * 3 + 3),
                    Err(other) => prop_assert!(false, "not a decode error: {other:?}"),
                }
                let _ = decode::<ListCourseWorkResponse>(&List::METHOD, 200, &body, false);
            }
        }
    }

    #[test]
    fn the_unmutated_sample_decodes() {
        let page: ListCoursesResponse = decode(&List::METHOD, 200, &sample_list(), false).unwrap();
        assert_eq!(page.courses.len(), 1);
    }
}
