//! The client-credentials, authorization-code + PKCE, refresh and loopback flows against a
//! third-party OAuth 2.0 server: node's `oidc-provider` 9 (tests/oidc/server.js).
//!
//! Needs node and npm; installs tests/oidc/node_modules with `npm ci` when missing. Without
//! node the tests are skipped with a warning, except under `CI=true`, where they fail.

#[path = "oauth_server/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use classroom::auth::{
    AuthError, ClientCredentials, ClientSecret, Credentials, InstalledFlow, MemoryStore,
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

/// Skips (returns `None`) when node is missing, unless under CI, where that is a failure.
fn unavailable(why: String) -> Option<Oidc> {
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0") {
        panic!("CI=true but the oidc-provider tests cannot run: {why}");
    }
    eprintln!("SKIPPED: the oidc-provider tests cannot run: {why}");
    None
}

fn install() -> Result<(), String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            if dir()
                .join("node_modules/oidc-provider/package.json")
                .exists()
            {
                return Ok(());
            }
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(dir())
                .stdout(Stdio::null())
                .status()
                .map_err(|e| format!("npm could not be started: {e}"))?;
            if status.success() {
                Ok(())
            } else {
                Err(format!("`npm ci` in tests/oidc failed ({status})"))
            }
        })
        .clone()
}

fn start() -> Option<Oidc> {
    match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => return unavailable("node is not installed".into()),
    }
    if let Err(why) = install() {
        return unavailable(why);
    }
    let mut child = Command::new("node")
        .arg(dir().join("server.js"))
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
    assert!(error.is_consent_required(), "{error:?}");
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
    let page = common::raw_get(&callback).await;
    assert!(page.contains("You can close this window"), "{page}");
    let credentials = run.await.unwrap().unwrap();
    assert_eq!(
        credentials.access_token().await.unwrap().scopes().unwrap(),
        [ROSTERS]
    );
    assert!(credentials.refresh_token().is_some());
}
