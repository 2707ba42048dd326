//! A small OAuth 2.0 server (and Classroom stand-in) on 127.0.0.1 that behaves like Google's
//! authorization, token and revocation endpoints and counts every request it receives.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "test-client.apps.example";
pub const CLIENT_SECRET: &str = "test-client-secret-do-not-log";
pub const COURSES_READONLY: &str = "https://www.googleapis.com/auth/classroom.courses.readonly";
pub const COURSES: &str = "https://www.googleapis.com/auth/classroom.courses";

/// How the server behaves; tests change it between requests.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Answer every token request with this status and body instead.
    pub token_reply: Option<(u16, &'static str, String)>,
    /// Leave `scope` out of token replies (RFC 6749 §5.1 allows it).
    pub omit_scope: bool,
    pub expires_in: i64,
    /// Issue a new refresh token on each refresh.
    pub rotate_refresh: bool,
    /// Wait this long before answering a token request.
    pub token_delay: Duration,
    /// What /authorize redirects with, instead of a code: an OAuth error code.
    pub authorize_error: Option<&'static str>,
    /// Answer API calls with 401 this many times.
    pub api_unauthorized: usize,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            token_reply: None,
            omit_scope: false,
            expires_in: 3600,
            rotate_refresh: false,
            token_delay: Duration::ZERO,
            authorize_error: None,
            api_unauthorized: 0,
        }
    }
}

#[derive(Debug, Default)]
pub struct State {
    pub behaviour: Behaviour,
    /// code -> (code_challenge, redirect_uri, scope)
    codes: HashMap<String, (String, String, String)>,
    /// refresh token -> scope
    pub refresh_tokens: HashMap<String, String>,
    pub revoked: Vec<String>,
    /// Claims of every service-account assertion that verified.
    pub assertions: Vec<serde_json::Value>,
    /// Every token request's form.
    pub token_forms: Vec<HashMap<String, String>>,
    pub authorize_queries: Vec<HashMap<String, String>>,
    /// The bearer token of every API call.
    pub api_tokens: Vec<String>,
    issued: usize,
}

pub struct Server {
    pub base: String,
    pub state: Arc<Mutex<State>>,
    pub token_requests: Arc<AtomicUsize>,
    pub api_requests: Arc<AtomicUsize>,
    pub public_key: Vec<u8>,
}

impl Server {
    pub async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = Server {
            base,
            state: Arc::default(),
            token_requests: Arc::default(),
            api_requests: Arc::default(),
            public_key: std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/test-only-service-account-public-key.der"
            ))
            .unwrap(),
        };
        let shared = Shared {
            state: server.state.clone(),
            token_requests: server.token_requests.clone(),
            api_requests: server.api_requests.clone(),
            public_key: server.public_key.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = shared.clone();
                tokio::spawn(async move { shared.serve(stream).await });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn provider(&self) -> classroom::auth::Provider {
        classroom::auth::Provider::new(self.url("/authorize"), self.url("/token"))
            .with_revoke_uri(self.url("/revoke"))
    }

    pub fn client(&self) -> classroom::auth::OAuthClient {
        classroom::auth::OAuthClient::new(
            CLIENT_ID,
            Some(classroom::auth::ClientSecret::new(CLIENT_SECRET)),
        )
        .with_provider(self.provider())
    }

    pub fn behave(&self, f: impl FnOnce(&mut Behaviour)) {
        f(&mut self.state.lock().unwrap().behaviour)
    }

    pub fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    pub fn tokens(&self) -> usize {
        self.token_requests.load(Ordering::SeqCst)
    }

    pub fn api_calls(&self) -> usize {
        self.api_requests.load(Ordering::SeqCst)
    }

    /// Issues a refresh token for `scope` as a past consent would have.
    pub fn grant_refresh_token(&self, scope: &str) -> String {
        let token = format!("1//refresh-{}", self.state().refresh_tokens.len());
        self.state()
            .refresh_tokens
            .insert(token.clone(), scope.to_string());
        token
    }

    /// Plays the browser: GETs the authorization URL and returns where it redirects.
    pub async fn consent(&self, auth_url: &str) -> String {
        let reply = raw_get(auth_url).await;
        reply
            .lines()
            .find_map(|l| l.strip_prefix("location: "))
            .unwrap_or_else(|| panic!("no redirect from /authorize: {reply}"))
            .to_string()
    }
}

/// A GET over a raw socket (not reqwest: the browser is not our code), returning the reply.
pub async fn raw_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<State>>,
    token_requests: Arc<AtomicUsize>,
    api_requests: Arc<AtomicUsize>,
    public_key: Vec<u8>,
}

fn form(s: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(s.as_bytes())
        .into_owned()
        .collect()
}

fn json(
    status: u16,
    body: serde_json::Value,
) -> (u16, &'static str, String, Vec<(&'static str, String)>) {
    (status, "application/json", body.to_string(), vec![])
}

fn oauth_error(code: &str) -> (u16, &'static str, String, Vec<(&'static str, String)>) {
    let status = if code == "invalid_client" { 401 } else { 400 };
    json(
        status,
        serde_json::json!({ "error": code, "error_description": format!("test server says {code}") }),
    )
}

impl Shared {
    async fn serve(&self, mut stream: tokio::net::TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let mut headers = HashMap::new();
        for line in head.lines().skip(1) {
            if let Some((k, v)) = line.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
        let mut parts = head.split(' ');
        let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let (status, kind, body, extra) = self.route(method, path, query, &headers, &body).await;
        let mut reply = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (k, v) in extra {
            reply.push_str(&format!("{k}: {v}\r\n"));
        }
        reply.push_str("\r\n");
        reply.push_str(&body);
        let _ = stream.write_all(reply.as_bytes()).await;
        let _ = stream.shutdown().await;
    }

    async fn route(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HashMap<String, String>,
        body: &str,
    ) -> (u16, &'static str, String, Vec<(&'static str, String)>) {
        match (method, path) {
            ("GET", "/authorize") => self.authorize(form(query)),
            ("POST", "/token") => {
                self.token_requests.fetch_add(1, Ordering::SeqCst);
                let delay = self.state.lock().unwrap().behaviour.token_delay;
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                self.token(form(body), headers)
            }
            (_, "/token-elsewhere") => json(
                200,
                serde_json::json!({"access_token": "ya29.followed-a-redirect", "token_type": "Bearer"}),
            ),
            ("POST", "/revoke") => {
                let form = form(body);
                let mut state = self.state.lock().unwrap();
                let token = form.get("token").cloned().unwrap_or_default();
                state.refresh_tokens.remove(&token);
                state.revoked.push(token);
                (200, "application/json", "{}".into(), vec![])
            }
            (_, p) if p.starts_with("/v1/") => {
                self.api_requests.fetch_add(1, Ordering::SeqCst);
                let token = headers
                    .get("authorization")
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .unwrap_or_default()
                    .to_string();
                let mut state = self.state.lock().unwrap();
                state.api_tokens.push(token);
                if state.behaviour.api_unauthorized > 0 {
                    state.behaviour.api_unauthorized -= 1;
                    return json(
                        401,
                        serde_json::json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
                    );
                }
                json(200, serde_json::json!({"id": "123", "name": "Algebra"}))
            }
            _ => (
                404,
                "text/plain",
                format!("no route for {method} {path}"),
                vec![],
            ),
        }
    }

    fn authorize(
        &self,
        q: HashMap<String, String>,
    ) -> (u16, &'static str, String, Vec<(&'static str, String)>) {
        let mut state = self.state.lock().unwrap();
        state.authorize_queries.push(q.clone());
        let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
        let st = q.get("state").cloned().unwrap_or_default();
        let location = if let Some(error) = state.behaviour.authorize_error {
            format!("{redirect}?error={error}&state={st}")
        } else {
            state.issued += 1;
            let code = format!("4/code-{}", state.issued);
            let challenge = q.get("code_challenge").cloned().unwrap_or_default();
            let scope = q.get("scope").cloned().unwrap_or_default();
            state
                .codes
                .insert(code.clone(), (challenge, redirect.clone(), scope));
            let code = url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>();
            format!("{redirect}?state={st}&code={code}&scope=ignored")
        };
        (
            302,
            "text/html",
            "<html>moved</html>".into(),
            vec![("location", location)],
        )
    }

    fn token(
        &self,
        f: HashMap<String, String>,
        headers: &HashMap<String, String>,
    ) -> (u16, &'static str, String, Vec<(&'static str, String)>) {
        let mut state = self.state.lock().unwrap();
        state.token_forms.push(f.clone());
        if let Some((status, kind, body)) = state.behaviour.token_reply.clone() {
            let location = vec![("location", "/token-elsewhere".to_string())];
            let extra = if (300..400).contains(&status) {
                location
            } else {
                vec![]
            };
            return (status, kind, body, extra);
        }
        let get = |k: &str| f.get(k).cloned().unwrap_or_default();
        let client_ok = (get("client_id") == CLIENT_ID && get("client_secret") == CLIENT_SECRET)
            || headers.get("authorization").is_some_and(|a| {
                let expected = base64::engine::general_purpose::STANDARD
                    .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
                *a == format!("Basic {expected}")
            });
        let (scope, refresh) = match get("grant_type").as_str() {
            "authorization_code" => {
                if !client_ok {
                    return oauth_error("invalid_client");
                }
                let Some((challenge, redirect, scope)) = state.codes.remove(&get("code")) else {
                    return oauth_error("invalid_grant");
                };
                if redirect != get("redirect_uri") {
                    return oauth_error("redirect_uri_mismatch");
                }
                let digest =
                    ring::digest::digest(&ring::digest::SHA256, get("code_verifier").as_bytes());
                if URL_SAFE_NO_PAD.encode(digest) != challenge {
                    return oauth_error("invalid_grant");
                }
                (scope, true)
            }
            "refresh_token" => {
                if !client_ok {
                    return oauth_error("invalid_client");
                }
                match state.refresh_tokens.get(&get("refresh_token")) {
                    Some(scope) => (scope.clone(), state.behaviour.rotate_refresh),
                    None => return oauth_error("invalid_grant"),
                }
            }
            "client_credentials" => {
                if !client_ok {
                    return oauth_error("invalid_client");
                }
                (get("scope"), false)
            }
            "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
                let assertion = get("assertion");
                let parts: Vec<&str> = assertion.split('.').collect();
                if parts.len() != 3 {
                    return oauth_error("invalid_grant");
                }
                let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap_or_default();
                let key = ring::signature::UnparsedPublicKey::new(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    &self.public_key,
                );
                let signed = format!("{}.{}", parts[0], parts[1]);
                if key.verify(signed.as_bytes(), &signature).is_err() {
                    return oauth_error("invalid_grant");
                }
                let claims: serde_json::Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
                let scope = claims["scope"].as_str().unwrap_or_default().to_string();
                state.assertions.push(claims);
                (scope, false)
            }
            "" => return oauth_error("invalid_request"),
            _ => return oauth_error("unsupported_grant_type"),
        };
        state.issued += 1;
        let mut reply = serde_json::json!({
            "access_token": format!("ya29.access-{}", state.issued),
            "token_type": "Bearer",
            "expires_in": state.behaviour.expires_in,
        });
        if !state.behaviour.omit_scope {
            reply["scope"] = scope.clone().into();
        }
        if refresh {
            let token = format!("1//refresh-issued-{}", state.issued);
            state.refresh_tokens.insert(token.clone(), scope);
            reply["refresh_token"] = token.into();
        }
        json(200, reply)
    }
}
