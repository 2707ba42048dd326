//! The installed-app loopback flow: a one-shot listener on 127.0.0.1 receives the code.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{AuthError, OAuthClient, TokenStore, UserCredentials, WebFlow};

type Announce = Box<dyn Fn(&str) + Send + Sync>;

/// The loopback flow for desktop and command-line apps: listens once on `127.0.0.1`, shows the
/// authorization URL (and opens it in a browser when there is one), receives the code and
/// exchanges it.
///
/// Any process on the machine can connect to the loopback port. A request whose `state` is
/// not this flow's gets an error page and changes nothing: the flow keeps waiting for the
/// real callback until its [`timeout`](Self::timeout).
///
/// ```no_run
/// # async fn run() -> Result<(), classroom::auth::AuthError> {
/// use classroom::Scope;
/// use classroom::auth::{InstalledFlow, OAuthClient};
///
/// let client = OAuthClient::from_client_secret_file("client_secret.json")?;
/// let credentials = InstalledFlow::new(client).run([Scope::CoursesReadonly]).await?;
/// # Ok(()) }
/// ```
pub struct InstalledFlow {
    client: OAuthClient,
    store: Option<Arc<dyn TokenStore>>,
    open_browser: bool,
    timeout: Duration,
    announce: Announce,
    login_hint: Option<String>,
    id_tokens: Option<super::IdTokenVerifier>,
}

impl fmt::Debug for InstalledFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstalledFlow")
            .field("client", &self.client)
            .field("open_browser", &self.open_browser)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl InstalledFlow {
    /// A loopback flow for `client` (an `installed` client from `client_secret.json`).
    pub fn new(client: OAuthClient) -> Self {
        InstalledFlow {
            client,
            store: None,
            open_browser: true,
            timeout: Duration::from_secs(300),
            announce: Box::new(|url| {
                eprintln!("Open this URL in your browser to authorize the app:\n\n  {url}\n")
            }),
            login_hint: None,
            id_tokens: None,
        }
    }

    /// Verifies the ID token with `verifier` when the scopes include `openid` (default:
    /// Google's, for this client); see [`WebFlow::verify_id_tokens`](super::WebFlow::verify_id_tokens).
    pub fn verify_id_tokens(mut self, verifier: super::IdTokenVerifier) -> Self {
        self.id_tokens = Some(verifier);
        self
    }

    /// Saves the tokens to `store`, and every later change.
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Whether to try opening the URL in a browser (default `true`).
    pub fn open_browser(mut self, open: bool) -> Self {
        self.open_browser = open;
        self
    }

    /// How long to wait for the user (default 5 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Shows the authorization URL some other way than printing it to stderr.
    pub fn on_url(mut self, announce: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.announce = Box::new(announce);
        self
    }

    /// Preselects the account (`login_hint`).
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// Runs the flow for `scopes`, asking for offline access (with `prompt=consent` unless
    /// the store already holds a refresh token).
    pub async fn run<I, S>(self, scopes: I) -> Result<UserCredentials, AuthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| AuthError::flow(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| AuthError::flow(format!("cannot listen on 127.0.0.1: {e}")))?
            .port();
        let mut flow = WebFlow::new(self.client, format!("http://127.0.0.1:{port}/"))?;
        let on_file = self.store.as_ref().is_some_and(|s| s.has_refresh_token());
        if let Some(store) = self.store {
            flow = flow.with_store(store);
        }
        if let Some(verifier) = self.id_tokens {
            flow = flow.verify_id_tokens(verifier);
        }
        let mut request = flow.authorize(scopes).offline(on_file);
        if let Some(hint) = self.login_hint {
            request = request.login_hint(hint);
        }
        let (url, pending) = request.build()?;
        (self.announce)(&url);
        if self.open_browser {
            open_in_browser(&url);
        }
        // Each connection is read on its own task: a browser's idle preconnection must not
        // hold up the one that carries the code.
        let (tx, mut requests) = tokio::sync::mpsc::channel(8);
        let acceptor = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Some(target) = read_request_target(&mut stream).await {
                        let _ = tx.send((target, stream)).await;
                    }
                });
            }
        });
        let wait = async {
            loop {
                let Some((target, mut stream)) = requests.recv().await else {
                    return Err(AuthError::flow("the loopback listener failed"));
                };
                // Browsers also ask for /favicon.ico and the like: answer and keep waiting.
                if !target.starts_with("/?") {
                    let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                    continue;
                }
                // Anyone on this machine can reach the port: a callback without this flow's
                // state is answered and ignored, and the real one is still awaited.
                if !pending.state_matches(&target) {
                    let page = "This is not the authorization this application is waiting for. \
                                Return to the application and try again.";
                    let _ = stream
                        .write_all(page_reply("400 Bad Request", page).as_bytes())
                        .await;
                    continue;
                }
                let outcome = pending.check_callback(&target);
                let page = match &outcome {
                    Ok(_) => "Authorization received. You can close this window.",
                    Err(_) => "Authorization failed. Return to the application for details.",
                };
                let _ = stream
                    .write_all(page_reply("200 OK", page).as_bytes())
                    .await;
                return outcome;
            }
        };
        let outcome = tokio::time::timeout(self.timeout, wait).await;
        acceptor.abort(); // one shot: the port closes
        let code = outcome.map_err(|_| {
            AuthError::flow(
                "no authorization arrived on the loopback listener in time: run the flow again",
            )
        })??;
        flow.exchange(pending, &code).await
    }
}

fn page_reply(status: &str, page: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    )
}

/// Reads an HTTP request head and returns its target (`/?code=...`).
async fn read_request_target(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_string();
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_string()),
        _ => None,
    }
}

fn open_in_browser(url: &str) {
    use std::process::{Command, Stdio};
    let mut command = if cfg!(target_os = "macos") {
        Command::new("open")
    } else if cfg!(windows) {
        let mut c = Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
            return;
        }
        Command::new("xdg-open")
    };
    let _ = command
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
