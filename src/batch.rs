//! Batches: many calls, of any methods, sent as one `multipart/mixed` HTTP request each 50
//! calls (Classroom's limit), with one typed result per call.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tracing::Instrument;

use crate::net::{self, BodyError};
use crate::request::{self, Call};
use crate::retry::{self, Failure};
use crate::{ApiError, Classroom, Error, MethodInfo, Result, Unmatched};

/// The most calls Classroom accepts in one batch request; larger batches are split.
pub const MAX_BATCH_CALLS: usize = 50;

/// A call that can go in a [`Batch`]: every request builder is one.
pub trait BatchCall {
    /// What the call returns.
    type Response: DeserializeOwned;

    /// The call as a batch part (the path, query and body it would send).
    #[doc(hidden)]
    fn prepare(&self) -> Result<Prepared>;
}

/// A call ready to be written into a batch. Made only by the request builders.
#[doc(hidden)]
#[derive(Debug)]
pub struct Prepared {
    method: &'static MethodInfo,
    /// The ids in the path, for errors.
    ids: Vec<(&'static str, String)>,
    /// The path and query, e.g. `/v1/courses/123?prettyPrint=false`.
    target: String,
    body: Option<Bytes>,
    empty_response: bool,
    idempotent: Option<bool>,
}

impl Prepared {
    pub(crate) fn new(client: &Classroom, call: Call<'_>) -> Result<Prepared> {
        let url = request::url(client.root(), &call)?;
        Ok(Prepared {
            method: call.method,
            ids: call
                .path_params
                .iter()
                .map(|(n, v)| (*n, v.to_string()))
                .collect(),
            target: url[url::Position::BeforePath..].to_string(),
            body: call.body.map(Bytes::from),
            empty_response: call.empty_response,
            idempotent: call.options.idempotent,
        })
    }
}

/// Where a call's result will be in the [`BatchResults`]: what [`Batch::add`] hands back.
#[must_use = "the slot is how the call's result is taken from the batch's results"]
#[derive(Debug)]
pub struct BatchSlot<R> {
    batch: u64,
    index: usize,
    response: PhantomData<fn() -> R>,
}

/// Calls collected to be sent together. Made by [`Classroom::batch`].
///
/// ```no_run
/// # async fn run(classroom: classroom::Classroom) -> classroom::Result<()> {
/// let mut batch = classroom.batch();
/// let course = batch.add(classroom.courses().get("d:math-101"));
/// let students = batch.add(classroom.courses().students().list("d:math-101"));
/// let mut results = batch.send().await;
/// let course = results.take(course)?;
/// let students = results.take(students)?;
/// println!("{}: {} students", course.name.unwrap_or_default(), students.students.len());
/// # Ok(()) }
/// ```
///
/// What each call gets:
///
/// - The scope check applies to each call before anything is sent: a call the credentials
///   cannot authorize gets [`Error::MissingScope`] and is left out of the request.
/// - Calls go 50 to an HTTP request ([`MAX_BATCH_CALLS`]), one request after another; with a
///   [`RateLimit`](crate::RateLimit), each call counts as one against it.
/// - A call answered 429 or 503 is retried in a later batch under the same rules as a single
///   call (the client's [`RetryPolicy`](crate::RetryPolicy), the call's idempotency, the
///   client's retry budget); its error is the same [`ApiError`] a single call gets.
/// - A part of the reply belongs to a call only through the Content-ID the SDK wrote for that
///   call (a random tag per HTTP request and the call's number in it), never through its
///   position. A part whose Content-ID is unknown or missing is attached to no call; a call
///   that no part answers, or that more than one part claims, gets
///   [`Error::BatchUnmatched`] and never another call's result. Such a call was sent, so it is
///   retried only where that is safe: reads, and writes declared idempotent.
/// - Every wait is bounded as a single call's is: the token fetch and each HTTP request by the
///   client's [`timeout`](crate::ClassroomBuilder::timeout), everything after the first turn
///   under the rate limit by the [`RetryPolicy`](crate::RetryPolicy)'s total time.
/// - Per-call `with_retry`, `with_timeout` and `with_api_key` do not apply inside a batch,
///   which runs under the client's; `with_idempotency`, `with_fields` and `with_quota_user` do.
#[derive(Debug)]
pub struct Batch {
    client: Classroom,
    id: u64,
    calls: Vec<Result<Prepared>>,
}

/// The results of a sent [`Batch`], one per call, taken out by the [`BatchSlot`]s.
#[derive(Debug)]
pub struct BatchResults {
    id: u64,
    results: Vec<Option<Result<Reply>>>,
    calls: Vec<(&'static MethodInfo, bool)>,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    body: Bytes,
}

impl<S: crate::scope_check::ScopeSet> Classroom<S> {
    /// A batch of calls to send as few HTTP requests; see [`Batch`].
    pub fn batch(&self) -> Batch {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Batch {
            client: self.untyped(),
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            calls: Vec::new(),
        }
    }

    /// Sends calls of one method in batches and returns their results in order: the same as
    /// adding each to a [`Batch`] and taking every result.
    pub async fn send_batched<C: BatchCall>(
        &self,
        calls: impl IntoIterator<Item = C>,
    ) -> Vec<Result<C::Response>> {
        let mut batch = self.batch();
        let slots: Vec<_> = calls.into_iter().map(|call| batch.add(call)).collect();
        let mut results = batch.send().await;
        slots.into_iter().map(|slot| results.take(slot)).collect()
    }
}

impl Batch {
    /// Adds a call; its result will be in the slot returned.
    pub fn add<C: BatchCall>(&mut self, call: C) -> BatchSlot<C::Response> {
        self.calls.push(call.prepare());
        BatchSlot {
            batch: self.id,
            index: self.calls.len() - 1,
            response: PhantomData,
        }
    }

    /// How many calls the batch holds.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether the batch holds no call.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Sends every call and waits for all their results. It does not fail as a whole: each
    /// call has its own result, an error if the batch request carrying it failed.
    pub async fn send(self) -> BatchResults {
        let calls: Vec<_> = self
            .calls
            .iter()
            .map(|c| match c {
                Ok(p) => (p.method, p.empty_response),
                Err(_) => (&BATCH, false),
            })
            .collect();
        let mut results: Vec<Option<Result<Reply>>> = Vec::with_capacity(self.calls.len());
        let mut parts = Vec::with_capacity(self.calls.len());
        let mut pending = Vec::new();
        for (index, call) in self.calls.into_iter().enumerate() {
            match call {
                Ok(part) => {
                    results.push(None);
                    parts.push(Some(part));
                    pending.push(index);
                }
                Err(e) => {
                    results.push(Some(Err(e)));
                    parts.push(None);
                }
            }
        }
        let parts: Vec<Prepared> = parts
            .into_iter()
            .map(|p| p.unwrap_or_else(Prepared::placeholder))
            .collect();
        let span = tracing::debug_span!("classroom.batch", calls = pending.len());
        Sender {
            client: &self.client,
            parts: &parts,
            results: &mut results,
        }
        .run(pending)
        .instrument(span)
        .await;
        BatchResults {
            id: self.id,
            results,
            calls,
        }
    }
}

impl Prepared {
    /// Stands for a call that failed before it could be prepared; never sent.
    fn placeholder() -> Prepared {
        Prepared {
            method: &BATCH,
            ids: Vec::new(),
            target: String::new(),
            body: None,
            empty_response: false,
            idempotent: None,
        }
    }
}

impl BatchResults {
    /// Takes a call's result, decoded as its method's response.
    ///
    /// A slot from another batch, or one already taken, gives [`Error::InvalidInput`].
    pub fn take<R: DeserializeOwned>(&mut self, slot: BatchSlot<R>) -> Result<R> {
        let misuse = |message: &str| Error::InvalidInput {
            method: "BatchResults::take",
            message: message.to_string(),
        };
        if slot.batch != self.id {
            return Err(misuse("the slot belongs to another batch"));
        }
        let (method, empty_ok) = self.calls[slot.index];
        match self.results[slot.index].take() {
            None => Err(misuse("this call's result was taken already")),
            Some(Err(e)) => Err(e),
            Some(Ok(reply)) => request::decode(method, reply.status, &reply.body, empty_ok),
        }
    }

    /// How many calls the batch held.
    pub fn len(&self) -> usize {
        self.results.len()
    }

    /// Whether the batch held no call.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }
}

/// One batch's sending: rounds of HTTP requests until every call has a result.
struct Sender<'a> {
    client: &'a Classroom,
    parts: &'a [Prepared],
    results: &'a mut [Option<Result<Reply>>],
}

/// A call that failed in a round: which call, the HTTP request whose failure it shares (when a
/// whole request failed), whether and how it may be retried, and its error.
type Failed = (usize, Option<usize>, Option<Failure>, Error);

impl Sender<'_> {
    // The failure and its error travel together; the error is as large as a call's own.
    #[allow(clippy::result_large_err)]
    async fn run(mut self, mut pending: Vec<usize>) {
        let settings = self.client.settings();
        let policy = &settings.retry;
        let credentials = self.client.credentials();
        let started = Instant::now();
        // As for a single call, waiting for the first turn under the rate limit is not the
        // calls' time: the first round's waits are left out of the time spent.
        let mut queued = Duration::ZERO;
        let spent = |queued: Duration| started.elapsed().saturating_sub(queued);
        // A token within the client's timeout and the time left, as for a single call.
        let fetch_token = |queued: Duration| {
            let left = policy.budget().saturating_sub(spent(queued));
            tokio::time::timeout(settings.timeout.min(left), credentials.access_token())
        };
        let mut attempt = 0u32;
        let mut refreshed = false;
        while !pending.is_empty() {
            attempt += 1;
            let mut failed: Vec<Failed> = Vec::new();
            let token = match fetch_token(queued).await {
                Ok(token) => token,
                Err(_) => {
                    // Nothing was sent, so even a write may retry.
                    for &i in &pending {
                        let error = timed_out(self.parts[i].method);
                        failed.push((i, Some(0), Some(Failure::NotSent), error));
                    }
                    pending = self.retries(failed, attempt, spent(queued)).await;
                    continue;
                }
            };
            match token {
                Err(e) => {
                    let failure = e.is_transient().then_some(Failure::NotSent);
                    let error = Error::Auth(e);
                    for &i in &pending {
                        failed.push((i, Some(0), failure, self.replicate(&error, i)));
                    }
                }
                Ok(mut token) => {
                    pending.retain(|&i| {
                        match request::check_scopes(self.parts[i].method, &token) {
                            Ok(()) => true,
                            Err(e) => {
                                self.results[i] = Some(Err(e));
                                false
                            }
                        }
                    });
                    for (request, chunk) in pending.chunks(MAX_BATCH_CALLS).enumerate() {
                        if let Some(limit) = &settings.rate_limit {
                            let waited = Instant::now();
                            limit.acquire(chunk.len() as u32).await;
                            if attempt == 1 {
                                queued += waited.elapsed();
                            }
                        }
                        let left = policy.budget().saturating_sub(spent(queued));
                        if left.is_zero() {
                            // Out of time before sending: nothing reached the server.
                            for &i in chunk {
                                let error = timed_out(self.parts[i].method);
                                failed.push((i, Some(request), Some(Failure::NotSent), error));
                            }
                            continue;
                        }
                        let limit = settings.timeout.min(left);
                        let span = tracing::debug_span!(
                            "classroom.batch.request",
                            calls = chunk.len(),
                            attempt
                        );
                        let sent = Instant::now();
                        let outcome = self
                            .exchange(token.secret(), chunk, limit)
                            .instrument(span.clone())
                            .await;
                        let latency_ms = sent.elapsed().as_millis() as u64;
                        match outcome {
                            Ok(replies) => span.in_scope(|| {
                                self.settle(
                                    chunk,
                                    request,
                                    replies,
                                    &mut failed,
                                    (attempt, latency_ms),
                                )
                            }),
                            Err((failure, error)) => {
                                // Every call of the request shares its fate; each says so.
                                for &i in chunk {
                                    let method = self.parts[i].method.id;
                                    let call = tracing::debug_span!(
                                        parent: &span,
                                        "classroom.call",
                                        method,
                                        call = i,
                                        attempt
                                    );
                                    call.in_scope(|| {
                                        tracing::debug!(
                                            status = error.http_status(),
                                            latency_ms,
                                            %error,
                                            "failed with its batch request"
                                        )
                                    });
                                }
                                let whole_401 = error.http_status() == Some(401);
                                let failure = if whole_401 && !refreshed {
                                    // The token was refused before any call ran: get another,
                                    // for the requests left in this round and to resend these.
                                    refreshed = true;
                                    credentials.invalidate(&token).await;
                                    match fetch_token(queued).await {
                                        // Credentials that cannot refresh give the same token
                                        // back: resending would only earn the same 401.
                                        Ok(Ok(fresh)) if fresh.secret() == token.secret() => {
                                            failure
                                        }
                                        Ok(Ok(fresh)) => {
                                            token = fresh;
                                            Some(Failure::NotSent)
                                        }
                                        // The next round's fetch tells why, or times out.
                                        Ok(Err(_)) | Err(_) => Some(Failure::NotSent),
                                    }
                                } else {
                                    failure
                                };
                                for &i in chunk {
                                    let error = self.replicate(&error, i);
                                    failed.push((i, Some(request), failure, error));
                                }
                            }
                        }
                    }
                }
            }
            pending = self.retries(failed, attempt, spent(queued)).await;
        }
    }

    /// Records each call's reply; failed ones go to `failed`. A part answers a call only
    /// through the Content-ID written for it ([`PartReply::call`]): a call that no part
    /// answers, or that several parts claim, fails with [`Error::BatchUnmatched`], and parts
    /// that name no call are dropped. The calls failing so share their HTTP request's retry.
    ///
    /// Each call's outcome is logged at `debug` in a `classroom.call` span of its own (method,
    /// the call's number in the batch, the attempt) with its status and the part's latency
    /// (`timing`: the attempt and the batch request's latency, which all its parts share).
    fn settle(
        &mut self,
        chunk: &[usize],
        request: usize,
        replies: Vec<PartReply>,
        failed: &mut Vec<Failed>,
        timing: (u32, u64),
    ) {
        let (attempt, latency_ms) = timing;
        let mut answers: Vec<(usize, Option<PartReply>)> = std::iter::repeat_with(|| (0, None))
            .take(chunk.len())
            .collect();
        let mut strays = 0usize;
        for reply in replies {
            match reply.call.and_then(|slot| answers.get_mut(slot)) {
                Some((count, answer)) => {
                    *count += 1;
                    *answer = Some(reply);
                }
                None => strays += 1,
            }
        }
        if strays > 0 {
            tracing::warn!(
                parts = strays,
                "ignored batch reply parts whose Content-ID names no call of the request"
            );
        }
        for (&i, answer) in chunk.iter().zip(answers) {
            let method = self.parts[i].method;
            let span =
                tracing::debug_span!("classroom.call", method = method.id, call = i, attempt);
            let _entered = span.enter();
            let reply = match answer {
                (1, Some(reply)) => reply,
                (count, _) => {
                    let kind = if count == 0 {
                        Unmatched::Missing
                    } else {
                        Unmatched::Repeated
                    };
                    let error = Error::BatchUnmatched {
                        method: method.id,
                        kind,
                    };
                    tracing::debug!(latency_ms, %error, "unmatched");
                    failed.push((i, Some(request), Some(Failure::AfterSend), error));
                    continue;
                }
            };
            if (200..300).contains(&reply.status) {
                tracing::debug!(status = reply.status, latency_ms, "answered");
                self.client.settings().retry_budget.deposit();
                self.results[i] = Some(Ok(Reply {
                    status: reply.status,
                    body: reply.body,
                }));
                continue;
            }
            let error =
                ApiError::from_response(method.id, reply.status, reply.retry_after, &reply.body)
                    .with_ids(&ids(&self.parts[i]));
            tracing::debug!(status = reply.status, latency_ms, %error, "failed");
            let failure = Failure::Status {
                status: reply.status,
                retry_after: reply.retry_after,
                lasting: error.is_lasting(),
            };
            failed.push((i, None, Some(failure), error.into()));
        }
    }

    /// Decides, for each failed call, whether to retry it; returns those to send again after
    /// waiting the longest of their delays. A retry takes from the client's retry budget once
    /// per HTTP request resent: a failed part pays for itself, the calls of a batch request
    /// that failed as a whole pay once together, as a single call would.
    async fn retries(
        &mut self,
        failed: Vec<Failed>,
        attempt: u32,
        elapsed: Duration,
    ) -> Vec<usize> {
        let settings = self.client.settings();
        let mut again = Vec::new();
        let mut wait = Duration::ZERO;
        let mut paid: std::collections::HashMap<usize, bool> = std::collections::HashMap::new();
        // A rate limit the limiter did not foresee, on any part: every call under the limiter
        // pauses (through Redis, every worker on the key), as for a single call.
        let pause = failed
            .iter()
            .filter_map(|(_, _, failure, _)| match failure {
                Some(Failure::Status {
                    status: 429,
                    retry_after,
                    lasting: false,
                }) => Some(retry_after.unwrap_or(crate::limit::PAUSE_AFTER_429)),
                _ => None,
            })
            .max();
        if let (Some(pause), Some(limit)) = (pause, &settings.rate_limit) {
            limit.pause(pause).await;
        }
        for (i, request, failure, error) in failed {
            let part = &self.parts[i];
            let span =
                tracing::debug_span!("classroom.call", method = part.method.id, call = i, attempt);
            let _entered = span.enter();
            let idempotent = part
                .idempotent
                .or(settings.idempotency)
                .unwrap_or(part.method.http_method.is_idempotent());
            let delay = failure.and_then(|f| {
                retry::decide(
                    &settings.retry,
                    idempotent,
                    f,
                    attempt,
                    elapsed,
                    retry::jitter(),
                )
                .filter(|_| match request {
                    Some(request) => *paid
                        .entry(request)
                        .or_insert_with(|| settings.retry_budget.withdraw(f.cost())),
                    None => settings.retry_budget.withdraw(f.cost()),
                })
            });
            match delay {
                Some(delay) => {
                    tracing::info!(
                        method = part.method.id,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        why = %error,
                        "retrying a batched call"
                    );
                    wait = wait.max(delay);
                    again.push(i);
                }
                None => {
                    let error = request::gave_up(error, attempt, elapsed);
                    tracing::debug!(%error, "not retrying");
                    self.results[i] = Some(Err(error));
                }
            }
        }
        if !again.is_empty() {
            tokio::time::sleep(wait).await;
        }
        again.sort_unstable();
        again
    }

    /// An error that ended a whole batch request, for one of its calls.
    fn replicate(&self, error: &Error, i: usize) -> Error {
        let method = self.parts[i].method.id;
        match error {
            Error::Api(e) => {
                let mut e = (**e).clone();
                e.method = method;
                e.into()
            }
            Error::Auth(e) => Error::Auth(e.clone()),
            Error::Transport {
                kind,
                source,
                url,
                attempts,
                elapsed,
                ..
            } => Error::Transport {
                method,
                kind: *kind,
                source: source
                    .as_ref()
                    .map(|s| Box::<dyn std::error::Error + Send + Sync>::from(s.to_string())),
                url: url.clone(),
                attempts: *attempts,
                elapsed: *elapsed,
            },
            Error::ResponseTooLarge { status, limit, .. } => Error::ResponseTooLarge {
                method,
                status: *status,
                limit: *limit,
            },
            Error::Decode {
                status,
                message,
                excerpt,
                ..
            } => Error::Decode {
                method,
                status: *status,
                path: None,
                message: message.clone(),
                excerpt: excerpt.clone(),
                source: None,
            },
            other => Error::InvalidInput {
                method,
                message: other.to_string(),
            },
        }
    }

    /// Sends one batch request for the calls in `chunk` and reads its parts, all within
    /// `limit` (connecting, sending and the whole body, as for single calls).
    async fn exchange(
        &self,
        token: &str,
        chunk: &[usize],
        limit: Duration,
    ) -> std::result::Result<Vec<PartReply>, (Option<Failure>, Error)> {
        #[cfg(feature = "test-support")]
        if self.client.mock().is_some() {
            // Nothing reaches the network under a mock, batches included.
            return Err((
                None,
                Error::MockUnmatched {
                    method: "batch",
                    message: "batches are not answered by MockTransport rules; send the \
                              calls one by one in such tests, or use the emulator"
                        .to_string(),
                },
            ));
        }
        // A tag of this request's own, so that no part of another reply can name its calls.
        let tag = request_tag();
        let boundary = format!("batch_{tag}");
        let mut body = Vec::new();
        for (position, &i) in chunk.iter().enumerate() {
            let part = &self.parts[i];
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <{tag}+{position}>\r\n\r\n{} {} HTTP/1.1\r\n",
                    part.method.http_method, part.target
                )
                .as_bytes(),
            );
            match &part.body {
                Some(json) => {
                    body.extend_from_slice(
                        format!(
                            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                            json.len()
                        )
                        .as_bytes(),
                    );
                    body.extend_from_slice(json);
                    body.extend_from_slice(b"\r\n");
                }
                None => body.extend_from_slice(b"\r\n"),
            }
        }
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());

        let url = format!("{}{}", self.client.root_url(), crate::resources::BATCH_PATH);
        let url = reqwest::Url::parse(&url).map_err(|e| {
            let error = Error::InvalidInput {
                method: "batch",
                message: format!("the batch URL {url} is not valid: {e}"),
            };
            (None, error)
        })?;
        let mut request = self.client.http().post(url.clone()).bearer_auth(token);
        if let Some(key) = &self.client.settings().api_key {
            request = request.header(request::API_KEY_HEADER, key.secret());
        }
        if let Some(agent) = &self.client.settings().user_agent {
            request = request.header(reqwest::header::USER_AGENT, agent);
        }
        let reply = async {
            let response = request
                .header(
                    reqwest::header::CONTENT_TYPE,
                    format!("multipart/mixed; boundary={boundary}"),
                )
                .body(body)
                .send()
                .await
                .map_err(|e| request::sent_failure(&BATCH, &url, e))?;
            let status = response.status().as_u16();
            let retry_after = request::retry_after(response.headers(), Utc::now());
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let max = self.client.settings().max_response_bytes;
            let body = net::read_body(response, max).await.map_err(|e| match e {
                BodyError::TooLarge { limit } => (
                    None,
                    Error::ResponseTooLarge {
                        method: "batch",
                        status,
                        limit,
                    },
                ),
                BodyError::Transport(e) => request::sent_failure(&BATCH, &url, e),
            })?;
            Ok((status, retry_after, content_type, body))
        };
        // Connecting, sending and the whole reply within the attempt's time (see
        // `deadline`).
        let Some(reply) = crate::deadline::within(limit, reply).await else {
            return Err((Some(Failure::TimedOut), request::timed_out(&BATCH, &url)));
        };
        let (status, retry_after, content_type, body) = reply?;
        if !(200..300).contains(&status) {
            let error = ApiError::from_response("batch", status, retry_after, &body);
            let failure = Failure::Status {
                status,
                retry_after,
                lasting: error.is_lasting(),
            };
            return Err((Some(failure), error.into()));
        }
        parse_reply(&content_type, body, &tag, chunk.len())
            .await
            .map_err(|message| {
                let error = Error::Decode {
                    method: "batch",
                    status,
                    path: None,
                    message,
                    excerpt: String::new(),
                    source: None,
                };
                (None, error)
            })
    }
}

/// The batch endpoint itself, for errors that concern a whole batch request (and the stand-in
/// for calls that never got as far as being sent).
static BATCH: MethodInfo = MethodInfo {
    id: "batch",
    http_method: crate::HttpMethod::Post,
    path: "batch",
    scopes: &[],
};

/// An error for a call whose attempt ran out of time before anything was sent.
fn timed_out(method: &'static MethodInfo) -> Error {
    Error::Transport {
        method: method.id,
        kind: crate::TransportKind::Timeout,
        source: None,
        url: None,
        attempts: 0,
        elapsed: Duration::ZERO,
    }
}

/// A part's path ids, as [`ApiError::with_ids`] takes them.
fn ids(part: &Prepared) -> Vec<(&'static str, &str)> {
    part.ids.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// A random tag for one batch HTTP request: its boundary and its parts' Content-IDs.
fn request_tag() -> String {
    crate::auth::random_token(12).unwrap_or_else(|_| {
        // The system's generator failed; a tag need not be secret, only new.
        format!("{:016x}", (retry::jitter() * 2f64.powi(53)) as u64)
    })
}

/// One part of a batch reply: an HTTP response.
#[derive(Debug)]
struct PartReply {
    /// The call it answers (its number in the request), when its `Content-ID` is one the SDK
    /// wrote for the request: `<response-TAG+3>` (Google's form) or `<TAG+3>` (an echo).
    call: Option<usize>,
    status: u16,
    retry_after: Option<Duration>,
    body: Bytes,
}

/// Reads a `multipart/mixed` batch reply into its parts.
async fn parse_reply(
    content_type: &str,
    body: Bytes,
    tag: &str,
    calls: usize,
) -> std::result::Result<Vec<PartReply>, String> {
    let boundary = content_type
        .parse::<mime::Mime>()
        .ok()
        .filter(|m| m.type_() == mime::MULTIPART)
        .and_then(|m| m.get_param(mime::BOUNDARY).map(|b| b.as_str().to_string()))
        .ok_or_else(|| {
            format!("the batch reply is not multipart (Content-Type {content_type:?})")
        })?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("the batch reply is not valid multipart: {e}"))?
    {
        let call = field
            .headers()
            .get("content-id")
            .and_then(|v| v.to_str().ok())
            .and_then(|id| call_of(id, tag))
            .filter(|&call| call < calls);
        let bytes = field
            .bytes()
            .await
            .map_err(|e| format!("a part of the batch reply is cut off: {e}"))?;
        parts.push(parse_part(call, bytes)?);
    }
    Ok(parts)
}

/// The call a reply part's Content-ID names: `<response-TAG+7>` gives 7 for the request
/// tagged TAG, and so does the id as written, `<TAG+7>`. Anything else (another tag, a number
/// written otherwise than the SDK wrote it) names no call.
fn call_of(id: &str, tag: &str) -> Option<usize> {
    let id = id.trim();
    let id = id
        .strip_prefix('<')
        .and_then(|id| id.strip_suffix('>'))
        .unwrap_or(id);
    let id = id.strip_prefix("response-").unwrap_or(id);
    let number = id.strip_prefix(tag)?.strip_prefix('+')?;
    let call: usize = number.parse().ok()?;
    (call.to_string() == number).then_some(call)
}

/// One part's HTTP response: status line, headers, body.
fn parse_part(call: Option<usize>, bytes: Bytes) -> std::result::Result<PartReply, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let offset = match response.parse(&bytes) {
        Ok(httparse::Status::Complete(offset)) => offset,
        Ok(httparse::Status::Partial) => return Err("a part of the batch reply is cut off".into()),
        Err(e) => {
            return Err(format!(
                "a part of the batch reply is not an HTTP response: {e}"
            ));
        }
    };
    let status = response.code.unwrap_or_default();
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let retry_after = header("retry-after").and_then(|v| request::retry_after_value(v, Utc::now()));
    let mut body = bytes.slice(offset..);
    if let Some(length) = header("content-length").and_then(|v| v.trim().parse::<usize>().ok()) {
        body.truncate(length);
    } else {
        // Without a length the part's body runs to the boundary, less the line break before it.
        let trimmed = body.len()
            - body
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
        body.truncate(trimmed);
    }
    Ok(PartReply {
        call,
        status,
        retry_after,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_content_id_names_a_call_only_as_the_sdk_wrote_it() {
        assert_eq!(call_of("<response-T1+7>", "T1"), Some(7));
        assert_eq!(
            call_of(" <T1+12> ", "T1"),
            Some(12),
            "an echo of the id as written"
        );
        assert_eq!(call_of("response-T1+0", "T1"), Some(0));
        for stranger in [
            "<response-T2+7>",
            "<response-T1+07>",
            "<response-T1++7>",
            "<response-T1+7x>",
            "<response-T1+>",
            "<response-T1-7>",
            "<response-item7>",
            "<response-T17>",
            "<T1+7",
            "",
        ] {
            assert_eq!(call_of(stranger, "T1"), None, "{stranger:?}");
        }
    }

    #[test]
    fn a_part_is_an_http_response() {
        let part = Bytes::from_static(
            b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Type: application/json\r\n\r\n{\"error\":{}}\r\n",
        );
        let reply = parse_part(Some(1), part).unwrap();
        assert_eq!(reply.status, 429);
        assert_eq!(reply.retry_after, Some(Duration::from_secs(3)));
        assert_eq!(&reply.body[..], b"{\"error\":{}}");
        assert!(parse_part(None, Bytes::from_static(b"garbage")).is_err());
    }
}
