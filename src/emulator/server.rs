//! The HTTP side: hyper accept loop, fault injection, routing of every discovery method by its
//! path template, authentication and scope checks, and JSON replies.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::classroom::{self, Ctx};
use super::errors::Status;
use super::faults::Kind;
use super::spec::spec;
use super::{Shared, batch, oauth};

/// The largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

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
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors, say: wait rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(shared.clone(), request));
                    // A client that never finishes its headers is cut off, not waited for.
                    let _ = http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let status = Status::invalid("The request body is too large or could not be read.");
            return Ok(Reply::error(&status).into_response());
        }
    };
    let req = Req {
        verb: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body,
    };
    let endpoint = endpoint_name(&req);
    let outcome = shared.faults.check(&endpoint);
    if !outcome.delay.is_zero() {
        tokio::time::sleep(outcome.delay).await;
    }
    let reply = match outcome.fail {
        Some(Kind::Drop) => return Err(Dropped),
        Some(Kind::RateLimited(after)) => {
            let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            Reply::error(&Status::rate_limited()).with_header("retry-after", seconds.to_string())
        }
        Some(Kind::Unavailable) => Reply::error(&Status::unavailable()),
        Some(Kind::Latency(_)) | None => dispatch(&shared, &req),
    };
    Ok(reply.into_response())
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
                req.verb, req.path
            ))
        } else {
            Status::not_found(format!(
                "The requested URL {} was not found on this server.",
                req.path
            ))
        }
    })?;
    let query = parse_query(req.query);
    let fields = match query.iter().rev().find(|(k, _)| k == "fields") {
        Some((_, f)) if !f.is_empty() => {
            Some(super::fields::Selection::parse(f).map_err(Status::invalid)?)
        }
        _ => None,
    };
    for (name, _) in &query {
        if !route.query.contains_key(name) && !spec.global_params.contains(name) {
            return Err(Status::invalid(format!(
                "Invalid JSON payload received. Unknown name \"{name}\": Cannot bind query parameter. Field '{name}' could not be found in request message."
            )));
        }
    }
    let token = bearer(req.headers, &query).ok_or_else(|| Status::unauthenticated(true))?;
    let mut state = shared.state();
    let grant = state
        .tokens
        .get(token)
        .filter(|g| g.expires > SystemTime::now())
        .cloned()
        .ok_or_else(|| Status::unauthenticated(false))?;
    if !crate::auth::authorizes(route.info, &grant.scopes) {
        return Err(Status::scope_insufficient(route.info.id));
    }
    let body = match &route.request {
        Some(schema) => {
            let value: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Default::default())
            } else {
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
    let user = state
        .user_by_id(&grant.user)
        .cloned()
        .ok_or_else(Status::caller_denied)?;
    let ctx = Ctx {
        user,
        scopes: grant.scopes,
    };
    let value = classroom::call(&mut state, &ctx, route, &params, &query, body)?;
    Ok(match fields {
        Some(selection) => selection.apply(&value),
        None => value,
    })
}
