//! The HTTP side: hyper accept loop, fault injection, routing of every discovery method by its
//! path template, authentication and scope checks, and JSON replies.
//!
//! What one request may cost is bounded, so that any client, hostile or broken, can neither
//! crash the emulator nor grow it without bound:
//!
//! - the request line and headers: hyper's own limits (at most 100 headers, about 400 KiB of
//!   head, else 431 or 400), read within [`HEADER_TIMEOUT`];
//! - the body: at most [`Limits::max_body`] bytes (a `Content-Length` over it is refused before
//!   reading), read within [`Limits::body_timeout`] (a slow sender gets 408 and the connection
//!   closes);
//! - connections: at most [`MAX_CONNECTIONS`] at once. When all are taken, a new connection
//!   waits for the next answer to hand a slot on (`Connection: close`) or, after
//!   [`HANDOVER`](crate::slots::HANDOVER) without one, for the connection idle longest to be
//!   closed ([`crate::slots`]); a connection with a request under way is never closed for
//!   another. Connections not yet accepted wait in the listen backlog ([`BACKLOG`]);
//! - parsing: the token is checked before the `fields` selector or the body is parsed, and
//!   every parser that recurses on input is bounded (`fields` to 32 levels, JSON to serde_json's
//!   128); a handler that panics answers 500 instead of dropping the connection.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::errors::Status;
use crate::faults::Kind;
use crate::handlers::{self, Ctx};
use crate::slots::{Connection, Slots};
use crate::spec::spec;
use crate::{Shared, batch, oauth};

/// The default cap on a request body. Classroom's requests are small (a course work with a
/// 30,000-character description is about 35 KB; a batch of 50 of them under 2 MB); 8 MiB
/// leaves room and keeps [`MAX_CONNECTIONS`] bodies in flight within a few GiB at worst.
pub(crate) const MAX_BODY: usize = 8 * 1024 * 1024;

/// The default time a client has to send its body once the headers are in.
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// The time a client has to send a request's head.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections served at once; more wait to be accepted.
pub(crate) const MAX_CONNECTIONS: usize = 512;

/// Connections the kernel completes and queues until they are accepted. std's 128 is fewer
/// than a client opening a thousand at once, more than [`MAX_CONNECTIONS`], leaves waiting:
/// past it the kernel drops the client's SYNs, and each drop costs it a retransmit a second or
/// more later. Linux caps it at `net.core.somaxconn` (4,096 by default since 5.4).
pub(crate) const BACKLOG: i32 = 1024;

/// Listens on 127.0.0.1 `port` (0: a free port), with a backlog of [`BACKLOG`].
pub(crate) fn listen(port: u16) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    // As std's `TcpListener::bind` on Unix: a port whose last connections linger in TIME_WAIT
    // can be listened on again.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port));
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Per-request limits, set on the [`EmulatorBuilder`](crate::EmulatorBuilder).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_body: usize,
    pub(crate) body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: MAX_BODY,
            body_timeout: BODY_TIMEOUT,
        }
    }
}

/// An answer, before it becomes an HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", "application/json; charset=UTF-8".into())],
            body: Bytes::from(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    pub(crate) fn error(status: &Status) -> Reply {
        let mut reply = Reply::json(status.code, &status.body());
        if status.code == 401 {
            reply.headers.push((
                "www-authenticate",
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"".into(),
            ));
        }
        reply
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() =
            hyper::StatusCode::from_u16(self.status).unwrap_or(hyper::StatusCode::OK);
        for (name, value) in self.headers {
            if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

/// A request, read in full.
pub(crate) struct Req<'a> {
    pub(crate) verb: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
}

/// The error that makes hyper close a connection without answering (an injected drop).
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

pub(crate) async fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let slots = Slots::new(MAX_CONNECTIONS);
    loop {
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of file descriptors, say: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        // Accepted before it has a slot, so that connections give up theirs only when one is
        // known to be waiting.
        let permit = tokio::select! {
            _ = &mut stop => break,
            permit = slots.slot() => permit,
        };
        let _ = stream.set_nodelay(true);
        let connection = slots.connection();
        let shared = shared.clone();
        tokio::spawn(async move {
            serve_connection(stream, shared, &connection).await;
            connection.ended();
            drop(permit);
        });
    }
}

/// Serves one connection until it ends, or until it is idle and its slot is wanted.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>, connection: &Connection) {
    let answering = connection.clone();
    let service = service_fn(move |request| {
        let shared = shared.clone();
        let connection = answering.clone();
        async move {
            let mut response = handle(shared, request).await?;
            if !connection.answered() {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Dropped>(response.map(|body| connection.body(body)))
        }
    });
    // A client that never finishes its headers is cut off, not waited for.
    // hyper's defaults bound the head: 100 headers, ~400 KiB.
    let served = http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(connection.stream(stream)), service);
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        () = connection.closing() => {
            // Closes the connection at once if idle, else once the response being written is.
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = match read_body(&shared, &parts.headers, body).await {
        Ok(body) => body,
        // The rest of the body is not read: the connection closes after the answer.
        Err(status) => {
            let reply = Reply::error(&status).with_header("connection", "close");
            return Ok(reply.into_response());
        }
    };
    let req = Req {
        verb: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
    };
    // The emulator's own control endpoint is no Classroom call: faults pass it by.
    if crate::admin::is_admin(req.path) {
        let reply =
            std::panic::catch_unwind(AssertUnwindSafe(|| crate::admin::handle(&shared, &req)))
                .unwrap_or_else(|_| Reply::error(&Status::internal()));
        return Ok(reply.into_response());
    }
    let endpoint = endpoint_name(&req);
    let outcome = shared.faults.check(&endpoint);
    if !outcome.delay.is_zero() {
        tokio::time::sleep(outcome.delay).await;
    }
    let reply = match outcome.fail {
        Some(Kind::Drop) => return Err(Dropped),
        Some(Kind::RateLimited(after)) => {
            let seconds = after
                .as_secs()
                .saturating_add(u64::from(after.subsec_nanos() > 0));
            Reply::error(&Status::rate_limited()).with_header("retry-after", seconds.to_string())
        }
        Some(Kind::Unavailable) => Reply::error(&Status::unavailable()),
        // The call acts (and commits); its answer is lost on the way back.
        Some(Kind::DropAfterCommit) => {
            let _ = guarded_dispatch(&shared, &req);
            return Err(Dropped);
        }
        Some(Kind::UnavailableAfterCommit) => {
            let _ = guarded_dispatch(&shared, &req);
            Reply::error(&Status::unavailable())
        }
        Some(Kind::Latency(_)) | None => guarded_dispatch(&shared, &req),
    };
    Ok(reply.into_response())
}

/// Reads a request body within the size and time limits.
async fn read_body(shared: &Shared, headers: &HeaderMap, body: Incoming) -> Result<Bytes, Status> {
    let Limits {
        max_body,
        body_timeout,
    } = shared.limits;
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_body as u64) {
        return Err(Status::too_large(max_body));
    }
    match tokio::time::timeout(body_timeout, Limited::new(body, max_body).collect()).await {
        Err(_) => Err(Status::body_timeout(body_timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(Status::too_large(max_body)),
        Ok(Err(_)) => Err(Status::invalid("The request body could not be read.")),
    }
}

/// [`dispatch`], with a panic turned into a 500 answer: a bug met by one request must not
/// take down the connection's task silently, nor anything else.
fn guarded_dispatch(shared: &Shared, req: &Req<'_>) -> Reply {
    std::panic::catch_unwind(AssertUnwindSafe(|| dispatch(shared, req)))
        .unwrap_or_else(|_| Reply::error(&Status::internal()))
}

/// The name faults match against: a method id, `oauth.*`, `batch` or `unknown`.
fn endpoint_name(req: &Req<'_>) -> String {
    if let Some(name) = oauth::endpoint(req.path) {
        return name.to_string();
    }
    if batch::is_batch(req.path) {
        return "batch".to_string();
    }
    match spec().route(req.verb, req.path) {
        Ok((route, _)) => route.info.id.to_string(),
        Err(_) => "unknown".to_string(),
    }
}

fn dispatch(shared: &Shared, req: &Req<'_>) -> Reply {
    if oauth::endpoint(req.path).is_some() {
        return oauth::handle(shared, req);
    }
    if batch::is_batch(req.path) {
        return batch::handle(shared, req);
    }
    api(shared, req)
}

/// Query pairs, decoded (`+` is a space).
pub(crate) fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub(crate) fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    percent_encoding::percent_decode_str(&s)
        .decode_utf8_lossy()
        .into_owned()
}

/// The bearer token of a request: `Authorization: Bearer`, or `access_token` in the query.
fn bearer<'a>(headers: &'a HeaderMap, query: &'a [(String, String)]) -> Option<&'a str> {
    if let Some(value) = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty());
    }
    query
        .iter()
        .find(|(k, _)| k == "access_token" || k == "oauth_token")
        .map(|(_, v)| v.as_str())
}

/// A Classroom API call.
pub(crate) fn api(shared: &Shared, req: &Req<'_>) -> Reply {
    shared.quotas.count_call();
    match api_call(shared, req) {
        Ok(value) => Reply::json(200, &value),
        Err(status) => Reply::error(&status),
    }
}

fn api_call(shared: &Shared, req: &Req<'_>) -> Result<Value, Status> {
    let spec = spec();
    let (route, params) = spec.route(req.verb, req.path).map_err(|other_verb| {
        if other_verb {
            Status::not_found(format!(
                "Method {} is not defined for {}.",
                req.verb,
                excerpt(req.path)
            ))
        } else {
            Status::not_found(format!(
                "The requested URL {} was not found on this server.",
                excerpt(req.path)
            ))
        }
    })?;
    let query = parse_query(req.query);
    // Who is calling comes first: nothing costly (the `fields` selector, the body) is parsed
    // for a caller without a valid token.
    let token = bearer(req.headers, &query).ok_or_else(|| Status::unauthenticated(true))?;
    let grant = shared
        .state()
        .tokens
        .get(token)
        .filter(|g| g.expires > SystemTime::now())
        .cloned()
        .ok_or_else(|| Status::unauthenticated(false))?;
    // Quota is counted per authenticated call, before anything else is looked at.
    shared.quotas.admit(&grant.user, &grant.client_id)?;
    for (name, _) in &query {
        if !route.query.contains_key(name) && !spec.global_params.contains(name) {
            let name = excerpt(name);
            return Err(Status::invalid(format!(
                "Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query parameter. Field '{name}' could not be found in request message."
            )));
        }
    }
    if !route.info.is_authorized_by(&grant.scopes) {
        return Err(Status::scope_insufficient(route.info.id));
    }
    let fields = match query.iter().rev().find(|(k, _)| k == "fields") {
        Some((_, f)) if !f.is_empty() => {
            Some(crate::fields::Selection::parse(f).map_err(Status::invalid)?)
        }
        _ => None,
    };
    // Parsed outside the state's lock: a large body does not hold up other calls.
    let body = match &route.request {
        Some(schema) => {
            let value: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Default::default())
            } else {
                // serde_json's recursion limit (128) bounds the nesting; the validation and
                // everything after recurse on this value only as deep as it is.
                serde_json::from_slice(req.body)
                    .map_err(|e| Status::invalid(format!("Invalid JSON payload received. {e}")))?
            };
            if !value.is_object() {
                return Err(Status::invalid(format!(
                    "Invalid JSON payload received. Expected an object for {schema}."
                )));
            }
            spec.validate(schema, &value).map_err(Status::invalid)?;
            value
        }
        None => Value::Null,
    };
    let mut state = shared.state();
    let user = state
        .user_by_id(&grant.user)
        .cloned()
        .ok_or_else(Status::caller_denied)?;
    let ctx = Ctx {
        user,
        scopes: grant.scopes,
        client_id: grant.client_id,
    };
    shared
        .quotas
        .member_limits(&state, route.info.id, &params)?;
    let pending = crate::push::before(&state, ctx.me_id(), route.name(), &params);
    let value = shared.quotas.invitation(route.info.id, &ctx.user.id, || {
        handlers::call(&mut state, &ctx, route, &params, &query, body)
    })?;
    if let Some(change) = crate::push::after(route.name(), pending, &value) {
        crate::push::publish(shared, &state, change);
    }
    drop(state);
    Ok(match fields {
        Some(selection) => selection.apply(&value),
        None => value,
    })
}

/// At most this many characters of client input are quoted back in an error.
fn excerpt(text: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 200;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}
