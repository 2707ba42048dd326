//! The client-credentials, authorization-code + PKCE, refresh and loopback flows against a
//! third-party OAuth 2.0 server: node's `oidc-provider` 9 (tests/oidc/server.js).
//!
//! Needs node and `oidc-provider` installed in tests/oidc/node_modules (`npm ci` there, which
//! `.ci/run` does; the tests themselves never download anything). Without them each test is
//! skipped with a `SKIPPED` line in `cargo test`'s output, and fails under CI (see
//! `peers/mod.rs`).

#[path = "peers/mod.rs"]
mod peers;

#[path = "oauth_server/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use classroom::auth::{
    AuthError, ClientCredentials, ClientSecret, Credentials, FileStore, InstalledFlow, MemoryStore,
    OAuthClient, Provider, TokenStore, WebFlow,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENT_ID: &str = "classroom-sdk-test";
const SECRET: &str = "classroom-sdk-test-secret-0123456789";
const READONLY: &str = "https://www.googleapis.com/auth/classroom.courses.readonly";
const ROSTERS: &str = "https://www.googleapis.com/auth/classroom.rosters.readonly";

/// The running node process; killed (by its PID, through the handle) when dropped.
struct Oidc {
    child: Child,
    issuer: String,
    ttl: u64,
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// Skips (returns `None`) when a peer is missing, unless under CI, where that is a failure.
fn unavailable(why: &str) -> Option<Oidc> {
    peers::skip_or_fail(
        why,
        "`(cd tests/oidc && npm ci)` (or .ci/run) installs node's oidc-provider",
    );
    None
}

fn start() -> Option<Oidc> {
    start_with_ttl(3600)
}

/// Starts the server issuing access tokens that live `ttl` seconds.
fn start_with_ttl(ttl: u64) -> Option<Oidc> {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => return unavailable("node is not installed"),
    }
    if !dir()
        .join("node_modules/oidc-provider/package.json")
        .exists()
    {
        return unavailable("oidc-provider is not installed in tests/oidc/node_modules");
    }
    let mut child = Command::new("node")
        .arg(dir().join("server.js"))
        .env("ACCESS_TOKEN_TTL", ttl.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node server.js starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let _ = tx.send(lines.next().and_then(Result::ok).unwrap_or_default());
        // Keep draining: oidc-provider prints notices to stdout and dies on a closed pipe.
        lines.for_each(drop);
    });
    let mut oidc = Oidc {
        child,
        issuer: String::new(),
        ttl,
    };
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("oidc-provider reports its address within 30 s");
    oidc.issuer = line
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("unexpected first line from server.js: {line:?}"))
        .trim()
        .to_string();
    Some(oidc)
}

impl Oidc {
    fn client(&self) -> OAuthClient {
        let provider = Provider::new(
            format!("{}/auth", self.issuer),
            format!("{}/token", self.issuer),
        )
        .with_revoke_uri(format!("{}/token/revocation", self.issuer));
        OAuthClient::new(CLIENT_ID, Some(ClientSecret::new(SECRET))).with_provider(provider)
    }

    /// Plays the browser: follows redirects with a cookie jar until one leads to
    /// `redirect_prefix`, and returns that URL.
    async fn consent(&self, mut url: String, redirect_prefix: &str) -> String {
        let mut jar: HashMap<String, String> = HashMap::new();
        for _ in 0..8 {
            if url.starts_with(redirect_prefix) {
                return url;
            }
            let rest = url.strip_prefix("http://").unwrap();
            let (host, path) = rest.split_at(rest.find('/').unwrap());
            let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
            let mut request =
                format!("GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n");
            if !jar.is_empty() {
                let cookies: Vec<String> = jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
                request.push_str(&format!("cookie: {}\r\n", cookies.join("; ")));
            }
            request.push_str("\r\n");
            stream.write_all(request.as_bytes()).await.unwrap();
            // Read up to the end of the head; node may reset the socket after replying.
            let mut bytes = Vec::new();
            let mut chunk = [0u8; 4096];
            while !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                }
            }
            let reply = String::from_utf8_lossy(&bytes).to_string();
            let head = reply.split("\r\n\r\n").next().unwrap().to_string();
            let mut location = None;
            for line in head.lines() {
                let Some((name, value)) = line.split_once(':') else {
                    continue;
                };
                match name.to_ascii_lowercase().as_str() {
                    "set-cookie" => {
                        let pair = value.trim().split(';').next().unwrap();
                        let (k, v) = pair.split_once('=').unwrap();
                        jar.insert(k.to_string(), v.to_string());
                    }
                    "location" => location = Some(value.trim().to_string()),
                    _ => {}
                }
            }
            let location = location.unwrap_or_else(|| panic!("no redirect: {reply}"));
            url = if location.starts_with('/') {
                format!("{}{location}", self.issuer)
            } else {
                location
            };
        }
        panic!("too many redirects, last {url}");
    }
}

#[tokio::test]
async fn oidc_provider_client_credentials() {
    let Some(oidc) = start() else { return };
    let app = ClientCredentials::new(oidc.client(), [READONLY, ROSTERS]);
    let token = app.access_token().await.unwrap();
    let mut scopes = token.scopes().unwrap().to_vec();
    scopes.sort();
    assert_eq!(scopes, [READONLY, ROSTERS]);
    let lifetime = token.expires_at().unwrap() - chrono::Utc::now();
    assert!(
        (3500..=3600).contains(&lifetime.num_seconds()),
        "{lifetime}"
    );
    assert_eq!(
        app.access_token().await.unwrap().secret(),
        token.secret(),
        "cached"
    );
    app.invalidate(&token).await;
    assert_ne!(
        app.access_token().await.unwrap().secret(),
        token.secret(),
        "renewed"
    );

    let wrong = OAuthClient::new(CLIENT_ID, Some(ClientSecret::new("wrong")))
        .with_provider(oidc.client().provider().clone());
    let error = ClientCredentials::new(wrong, [READONLY])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::InvalidClient { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn oidc_provider_authorization_code_with_pkce_then_refresh() {
    let Some(oidc) = start() else { return };
    let redirect = "http://127.0.0.1:5555/callback";
    let store = Arc::new(MemoryStore::new());
    let flow = WebFlow::new(oidc.client(), redirect)
        .unwrap()
        .with_store(store.clone());
    let (url, pending) = flow
        .authorize([READONLY])
        .offline(store.has_refresh_token())
        .build()
        .unwrap();
    let callback = oidc.consent(url, redirect).await;
    let credentials = flow.finish(pending, &callback).await.unwrap();
    let first = credentials.access_token().await.unwrap();
    assert_eq!(first.scopes().unwrap(), [READONLY]);
    let refresh = credentials
        .refresh_token()
        .expect("oidc-provider issued a refresh token");
    assert!(store.has_refresh_token());

    // The token is rejected (as a 401 would): the refresh grant gets a new one.
    credentials.invalidate(&first).await;
    let second = credentials.access_token().await.unwrap();
    assert_ne!(second.secret(), first.secret());
    assert_eq!(second.scopes().unwrap(), [READONLY]);

    // A code redeemed with another verifier than its challenge's is refused (PKCE).
    let (url, pending) = flow.authorize([READONLY]).build().unwrap();
    let (_, other) = flow.authorize([READONLY]).build().unwrap();
    let callback = oidc.consent(url, redirect).await;
    let mut swapped = serde_json::to_value(&other).unwrap();
    swapped["state"] = serde_json::to_value(&pending).unwrap()["state"].clone();
    let swapped = serde_json::from_value(swapped).unwrap();
    let error = flow.finish(swapped, &callback).await.unwrap_err();
    assert!(
        matches!(error, AuthError::AuthorizationCodeRejected { .. }),
        "a refused code is not a dead refresh token: {error:?}"
    );
    // And a callback for another request is refused on its state.
    let (url, _) = flow.authorize([READONLY]).build().unwrap();
    let callback = oidc.consent(url, redirect).await;
    let (_, stranger) = flow.authorize([READONLY]).build().unwrap();
    assert!(matches!(
        flow.finish(stranger, &callback).await,
        Err(AuthError::StateMismatch)
    ));

    // Revoking the refresh token ends the grant: the next refresh asks for consent again.
    let current = credentials.refresh_token().unwrap_or(refresh);
    oidc.client().revoke(current.secret()).await.unwrap();
    credentials.invalidate(&second).await;
    let error = credentials.access_token().await.unwrap_err();
    assert!(error.is_consent_required(), "{error:?}");
    assert!(store.load().unwrap().is_none(), "the store was cleared");
}

#[tokio::test]
async fn oidc_provider_loopback_flow() {
    let Some(oidc) = start() else { return };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let flow = InstalledFlow::new(oidc.client())
        .open_browser(false)
        .on_url(move |url| {
            let _ = tx.lock().unwrap().take().unwrap().send(url.to_string());
        });
    let run = tokio::spawn(flow.run([ROSTERS]));
    let url = rx.await.unwrap();
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let redirect = query["redirect_uri"].clone();
    let callback = oidc.consent(url, &redirect).await;
    // A request with another state (anyone on the machine can send one) is answered and
    // ignored; the real callback still completes the flow.
    let forged = common::raw_get(&format!("{redirect}?state=forged&code=x")).await;
    assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
    let page = common::raw_get(&callback).await;
    assert!(page.contains("You can close this window"), "{page}");
    let credentials = run.await.unwrap().unwrap();
    assert_eq!(
        credentials.access_token().await.unwrap().scopes().unwrap(),
        [ROSTERS]
    );
    assert!(credentials.refresh_token().is_some());
}

// ---------------------------------------------------------------------------------------
// Hardening (issue 9) against the third-party server.

/// Token requests for 200 concurrent callers, then 100 calls in a row, counted as distinct
/// tokens received (each request to oidc-provider yields a new token).
async fn distinct_tokens(oidc: &Oidc) -> (usize, usize) {
    let app = Arc::new(ClientCredentials::new(oidc.client(), [READONLY]));
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.access_token().await.unwrap().secret().to_string() })
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for task in tasks {
        seen.insert(task.await.unwrap());
    }
    let concurrent = seen.len();
    let lifetime = app.cached_token().unwrap().expires_at().unwrap() - chrono::Utc::now();
    assert!(
        lifetime.num_seconds() <= oidc.ttl as i64,
        "the server issued {lifetime} tokens, not {} s ones",
        oidc.ttl
    );
    for _ in 0..100 {
        seen.insert(app.access_token().await.unwrap().secret().to_string());
    }
    (concurrent, seen.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oidc_provider_one_token_request_for_200_callers_at_every_lifetime() {
    for ttl in [10, 30, 60, 3600] {
        let Some(oidc) = start_with_ttl(ttl) else {
            return;
        };
        let (concurrent, total) = distinct_tokens(&oidc).await;
        eprintln!(
            "oidc-provider, lifetime {ttl:>4} s: 200 concurrent callers -> {concurrent} token \
             request(s); +100 sequential calls -> {total} in all"
        );
        assert_eq!(concurrent, 1, "{ttl} s tokens, 200 concurrent callers");
        assert_eq!(total, 1, "{ttl} s tokens, 100 more calls in a row");
    }
}

#[tokio::test]
async fn oidc_provider_http_off_loopback_needs_the_opt_in() {
    let Some(oidc) = start() else { return };
    // 0.0.0.0 reaches the local server but is not a loopback address.
    let remote = Provider::token_endpoint(format!(
        "{}/token",
        oidc.issuer.replace("127.0.0.1", "0.0.0.0")
    ));
    let client = oidc.client().with_provider(remote.clone());
    let error = ClientCredentials::new(client, [READONLY])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::InsecureEndpoint { .. })
            && error.to_string().contains("allow_insecure_http()"),
        "{error:?}"
    );
    let client = oidc.client().with_provider(remote.allow_insecure_http());
    ClientCredentials::new(client, [READONLY])
        .access_token()
        .await
        .expect("with the opt-in the same endpoint is used");
}

#[tokio::test]
async fn oidc_provider_code_exchange_survives_a_broken_store() {
    let Some(oidc) = start() else { return };
    let redirect = "http://127.0.0.1:5555/callback";
    let store = Arc::new(FileStore::new("/nonexistent-dir/classroom/token.json"));
    let flow = WebFlow::new(oidc.client(), redirect)
        .unwrap()
        .with_store(store);
    let (url, pending) = flow.authorize([READONLY]).offline(false).build().unwrap();
    let callback = oidc.consent(url, redirect).await;
    let credentials = flow
        .finish(pending, &callback)
        .await
        .expect("the spent code's tokens are returned though the store fails");
    assert!(credentials.refresh_token().is_some());
    assert!(
        matches!(credentials.store_error(), Some(AuthError::Store { .. })),
        "{:?}",
        credentials.store_error()
    );
    credentials.access_token().await.unwrap();
}

#[tokio::test]
async fn oidc_provider_outage_is_bridged_by_the_still_valid_token() {
    // 4 s tokens: stale after 2 s (half the lifetime), expired after 4 s.
    let Some(mut oidc) = start_with_ttl(4) else {
        return;
    };
    let app = ClientCredentials::new(oidc.client(), [READONLY]);
    let token = app.access_token().await.unwrap();
    let _ = oidc.child.kill();
    let _ = oidc.child.wait();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        app.access_token().await.unwrap().secret(),
        token.secret(),
        "the server is down, the token still valid: it serves"
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    // Expired, and nothing listens where the provider was: on loopback that reads as a wrong
    // address (said at once, naming the endpoint), not as an outage to wait out.
    let error = app.access_token().await.unwrap_err();
    assert!(
        matches!(error, AuthError::Refused { .. }) && error.to_string().contains("/token"),
        "expired now: {error:?}"
    );
}
