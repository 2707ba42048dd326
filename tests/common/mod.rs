//! A small HTTP/1.1 server on 127.0.0.1 for tests: it records every request and answers with
//! whatever the test's handler returns.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A request as the server received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// The raw query string.
    pub raw_query: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(value).unwrap(),
        }
    }

    pub fn raw(status: u16, content_type: &str, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Recorded) -> Reply + Send + Sync;

pub struct TestServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    /// Starts a server whose answers come from `handler`.
    pub async fn start(handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let handler = handler.clone();
                let recorded = recorded.clone();
                tokio::spawn(async move {
                    // HTTP/1.1 keep-alive: answer requests on this connection until the client closes it.
                    let mut stream = BufReader::new(stream);
                    while let Some(request) = read_request(&mut stream).await {
                        recorded.lock().unwrap().push(request.clone());
                        let reply = handler(&request);
                        let mut head = format!(
                            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
                            reply.status,
                            reply.body.len()
                        );
                        for (k, v) in &reply.headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        // One write per reply: a head and a body written apart meet delayed ACKs.
                        let mut bytes = head.into_bytes();
                        bytes.extend_from_slice(&reply.body);
                        if stream.get_mut().write_all(&bytes).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        TestServer { url, requests }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn take_requests(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

async fn read_request(stream: &mut BufReader<tokio::net::TcpStream>) -> Option<Recorded> {
    let mut line = String::new();
    stream.read_line(&mut line).await.ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        stream.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.ok()?;
    let (path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let query = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect();
    Some(Recorded {
        method,
        path: path.to_string(),
        raw_query: raw_query.to_string(),
        query,
        headers,
        body,
    })
}

pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .expect("query is UTF-8")
        .into_owned()
}

/// RFC 3986: everything but unreserved characters percent-encoded, byte by byte.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A client for `server` holding a token with the given scopes (all scopes when `None`).
pub fn client(server: &TestServer) -> classroom::Classroom {
    client_with(server, classroom::BearerToken::unchecked("test-token"))
}

pub fn client_with(server: &TestServer, token: classroom::BearerToken) -> classroom::Classroom {
    classroom::Classroom::builder()
        .root_url(&server.url)
        .credentials(token)
        .retry(
            classroom::RetryPolicy::default().initial_backoff(std::time::Duration::from_millis(1)),
        )
        .build()
        .unwrap()
}

/// The discovery document the SDK was generated from.
pub fn discovery() -> serde_json::Value {
    serde_json::from_str(classroom::resources::DISCOVERY_DOCUMENT).unwrap()
}

/// A fully populated JSON value for a schema (nested schemas to a depth of four).
pub fn sample(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    name: &str,
    depth: usize,
) -> Option<serde_json::Value> {
    use serde_json::{Value, json};
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        if depth > 4 {
            return None;
        }
        let target_schema = &doc["schemas"][target];
        let mut object = serde_json::Map::new();
        for (prop, spec) in target_schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if let Some(v) = sample(doc, spec, prop, depth + 1) {
                object.insert(prop.clone(), v);
            }
        }
        return Some(Value::Object(object));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return values.last().cloned();
    }
    let format = schema.get("format").and_then(Value::as_str);
    Some(match schema.get("type").and_then(Value::as_str) {
        Some("string") => match format {
            Some("google-datetime") => json!("2026-11-24T17:53:03.123Z"),
            Some("google-fieldmask") => json!("name,section"),
            Some("int64") | Some("uint64") => json!("1234567890123"),
            Some("date") => json!("2026-11-24"),
            _ => json!(format!("s-{name} é/?")),
        },
        Some("integer") => json!(42),
        Some("number") => json!(12.5),
        Some("boolean") => json!(true),
        Some("array") => {
            let item = sample(doc, &schema["items"], name, depth)?;
            json!([item.clone(), item])
        }
        Some("object") => match schema.get("additionalProperties") {
            Some(value) => json!({ "key-one": sample(doc, value, name, depth)? }),
            None => json!({ "anything": [1, "two"] }),
        },
        _ => json!({ "anything": [1, "two"] }),
    })
}

// Batches: the parts of a recorded batch request, and replies to them.

/// The parts of a recorded batch request: (Content-ID, request line, body).
pub fn parts(request: &Recorded) -> Vec<(String, String, String)> {
    let content_type = request.header("content-type").unwrap();
    let boundary = content_type.split("boundary=").nth(1).unwrap();
    let body = String::from_utf8(request.body.clone()).unwrap();
    body.split(&format!("--{boundary}"))
        .filter(|p| p.contains("application/http"))
        .map(|p| {
            let id = p
                .lines()
                .find_map(|l| l.strip_prefix("Content-ID: "))
                .unwrap()
                .trim()
                .to_string();
            let (_, http) = p.split_once("\r\n\r\n").unwrap();
            let line = http.lines().next().unwrap().to_string();
            let json = http
                .split_once("\r\n\r\n")
                .map_or("", |(_, b)| b.trim())
                .to_string();
            (id, line, json)
        })
        .collect()
}

/// One part of a scripted batch reply.
#[derive(Clone, Debug)]
pub struct Answer {
    /// The whole `Content-ID` header value, or no header at all.
    pub content_id: Option<String>,
    pub status: u16,
    /// Extra headers of the part's HTTP response, e.g. `Retry-After: 1`.
    pub headers: String,
    pub body: String,
}

impl Answer {
    /// The answer Google gives: the request part's id as `<response-ID>`.
    pub fn to(request_id: &str, (status, body): (u16, String)) -> Answer {
        let id = request_id.trim_start_matches('<').trim_end_matches('>');
        Answer::labelled(Some(format!("<response-{id}>")), status, body)
    }

    pub fn labelled(content_id: Option<String>, status: u16, body: String) -> Answer {
        Answer {
            content_id,
            status,
            headers: String::new(),
            body,
        }
    }
}

/// A multipart/mixed reply holding `answers` in the order given.
pub fn multipart(answers: &[Answer]) -> Reply {
    let mut out = String::new();
    for a in answers {
        out.push_str("--reply\r\nContent-Type: application/http\r\n");
        if let Some(id) = &a.content_id {
            out.push_str(&format!("Content-ID: {id}\r\n"));
        }
        out.push_str(&format!(
            "\r\nHTTP/1.1 {} X\r\nContent-Type: application/json\r\n{}\r\n{}\r\n",
            a.status, a.headers, a.body
        ));
    }
    out.push_str("--reply--\r\n");
    Reply::raw(200, "multipart/mixed; boundary=reply", &out)
}

/// A log sink: every event the SDK traces while the returned guard lives, as text.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Captures events at `level` and above on this thread until the guard is dropped.
    pub fn start(level: tracing::Level) -> (Captured, tracing::subscriber::DefaultGuard) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        (captured, tracing::subscriber::set_default(subscriber))
    }

    /// What was logged since the last take.
    pub fn take(&self) -> String {
        String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
    }
}
