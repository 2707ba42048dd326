//! The batch endpoint: `multipart/mixed` with one `application/http` request per part, at most
//! 50, answered in order with one `application/http` response per part.
//!
//! Faults aimed at parts ([`Fault::in_batch`](crate::Fault::in_batch)) are checked part by
//! part, before the part's call: a part they hit is answered with the fault (and, for a fault
//! after commit, carried out first), the others as usual.

use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use crate::Shared;
use crate::errors::Status;
use crate::faults::{Kind, retry_after_seconds};
use crate::server::{Reply, Req, api};
use crate::spec::spec;

/// Google's limit on calls per batch.
pub(crate) const MAX_PARTS: usize = 50;

pub(crate) fn is_batch(path: &str) -> bool {
    matches!(path, "/batch" | "/batch/classroom/v1")
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// The boundary of a `multipart/mixed` content type.
fn boundary(content_type: &str) -> Option<String> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Splits a block into its header lines and what follows the first blank line.
fn split_head(block: &str) -> (Vec<&str>, &str) {
    let (head, rest) = match (block.find("\r\n\r\n"), block.find("\n\n")) {
        (Some(a), Some(b)) if b < a => (&block[..b], &block[b + 2..]),
        (Some(a), _) => (&block[..a], &block[a + 4..]),
        (None, Some(b)) => (&block[..b], &block[b + 2..]),
        (None, None) => (block, ""),
    };
    (
        head.lines().map(|l| l.trim_end_matches('\r')).collect(),
        rest,
    )
}

struct Part {
    content_id: Option<String>,
    verb: String,
    target: String,
    headers: HeaderMap,
    body: String,
}

fn parse_part(raw: &str) -> Result<Part, String> {
    let (outer, inner) = split_head(raw.trim_start_matches(['\r', '\n']));
    let content_id = outer.iter().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-id")
            .then(|| v.trim().to_string())
    });
    let (lines, body) = split_head(inner);
    let request_line = lines.first().ok_or("a part holds no HTTP request")?;
    let mut words = request_line.split_whitespace();
    let verb = words
        .next()
        .ok_or("a part's request line is empty")?
        .to_string();
    let target = words
        .next()
        .ok_or("a part's request line has no path")?
        .to_string();
    let mut headers = HeaderMap::new();
    for line in &lines[1..] {
        if let Some((k, v)) = line.split_once(':')
            && let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.trim().as_bytes()),
                HeaderValue::from_str(v.trim()),
            )
        {
            headers.append(k, v);
        }
    }
    Ok(Part {
        content_id,
        verb,
        target,
        headers,
        body: body.trim_end_matches(['\r', '\n']).to_string(),
    })
}

pub(crate) fn handle(shared: &Shared, req: &Req<'_>) -> Reply {
    match run(shared, req) {
        Ok(reply) => reply,
        Err(status) => Reply::error(&status),
    }
}

fn run(shared: &Shared, req: &Req<'_>) -> Result<Reply, Status> {
    if req.verb != "POST" {
        return Err(Status::invalid("The batch endpoint only accepts POST."));
    }
    let content_type = req
        .headers
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = boundary(content_type).ok_or_else(|| {
        Status::invalid("A batch request must be multipart/mixed with a boundary.")
    })?;
    let body = std::str::from_utf8(req.body)
        .map_err(|_| Status::invalid("The batch request is not UTF-8."))?;
    let delimiter = format!("--{boundary}");
    // Before the first delimiter: preamble; from the closing `--`: epilogue. Sections are
    // taken one by one and counted as they come: a body of millions of delimiters costs no
    // more than 51 of them.
    let mut raw_parts = Vec::new();
    for section in body.split(delimiter.as_str()).skip(1) {
        if section.starts_with("--") {
            break;
        }
        if raw_parts.len() == MAX_PARTS {
            return Err(Status::invalid(format!(
                "A batch request may hold at most {MAX_PARTS} calls; this one holds more."
            )));
        }
        raw_parts.push(section);
    }
    if raw_parts.is_empty() {
        return Err(Status::invalid("The batch request holds no parts."));
    }
    let parts = raw_parts
        .into_iter()
        .map(parse_part)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Status::invalid)?;
    let out_boundary = format!("batch_{}", &crate::oauth::random_token("")[..16]);
    let mut out = String::new();
    for (index, part) in parts.into_iter().enumerate() {
        let mut headers = part.headers;
        if !headers.contains_key(hyper::header::AUTHORIZATION)
            && let Some(auth) = req.headers.get(hyper::header::AUTHORIZATION)
        {
            headers.insert(hyper::header::AUTHORIZATION, auth.clone());
        }
        // The target is a path or a full URL; only the path and query matter here.
        let target = match part.target.find("://") {
            Some(i) => {
                let rest = &part.target[i + 3..];
                rest.find('/').map_or("/", |j| &rest[j..])
            }
            None => part.target.as_str(),
        };
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let call = Req {
            verb: &part.verb,
            path,
            query,
            headers: &headers,
            body: part.body.as_bytes(),
        };
        let reply = if is_batch(path) {
            Reply::error(&Status::invalid("Batches cannot be nested."))
        } else {
            let method = spec()
                .route(&part.verb, path)
                .map_or("unknown", |(route, _)| route.info.id);
            match shared.faults.check_part(method, index).fail {
                Some(Kind::RateLimited(after)) => Reply::error(&Status::rate_limited())
                    .with_header("retry-after", retry_after_seconds(after).to_string()),
                Some(Kind::Unavailable) => Reply::error(&Status::unavailable()),
                // The part's call acts (and commits); its answer is lost on the way back.
                Some(Kind::UnavailableAfterCommit) => {
                    let _ = api(shared, &call);
                    Reply::error(&Status::unavailable())
                }
                // Latency and drops are refused for parts when injected.
                _ => api(shared, &call),
            }
        };
        out.push_str(&format!(
            "--{out_boundary}\r\nContent-Type: application/http\r\n"
        ));
        if let Some(id) = &part.content_id {
            let inner = id.trim_start_matches('<').trim_end_matches('>');
            out.push_str(&format!("Content-ID: <response-{inner}>\r\n"));
        }
        out.push_str(&format!(
            "\r\nHTTP/1.1 {} {}\r\n",
            reply.status,
            reason(reply.status)
        ));
        for (name, value) in &reply.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&String::from_utf8_lossy(&reply.body));
        out.push_str("\r\n");
    }
    out.push_str(&format!("--{out_boundary}--\r\n"));
    Ok(Reply {
        status: 200,
        headers: vec![(
            "content-type",
            format!("multipart/mixed; boundary={out_boundary}"),
        )],
        body: bytes::Bytes::from(out),
    })
}
