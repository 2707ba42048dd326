//! What every example shares: the credential options, "no credentials → a local emulator with
//! the demo school", logging under `RUST_LOG`, and errors printed with their causes.
//!
//! Each example includes this file with `mod common;` and uses what it needs.

// Each example uses a different part of this module.
#![allow(dead_code)]

use std::error::Error;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Termination};
use std::sync::Arc;

use classroom::auth::{
    ClientCredentials, ClientSecret, FileStore, OAuthClient, Provider, ServiceAccountCredentials,
    ServiceAccountKey, UserCredentials,
};
use classroom::{ClassroomBuilder, Scope};
use classroom_emulator::{Emulator, EmulatorBuilder, demo};

/// What an example's `main` returns on failure: any error, printed with its causes.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// Runs an example's body: logs to stderr as `RUST_LOG` says (`RUST_LOG=classroom=debug` shows
/// every call, retry and token fetch), and prints a failure with its chain of causes, each on a
/// line of its own, then exits 1.
///
/// Output cut short by its reader (`| head`) ends the program quietly, as it does `cat`.
pub fn run<T: Termination>(body: impl Future<Output = Result<T, BoxError>>) -> ExitCode {
    // Rust ignores SIGPIPE, so a write to a closed pipe fails instead, and println! panics.
    // The default action ends the program silently; sockets are unaffected (the standard
    // library sends with MSG_NOSIGNAL or SO_NOSIGPIPE).
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(body) {
        Ok(done) => done.report(),
        // The reader went away (where SIGPIPE is not a signal): nothing more to say.
        Err(e) if is_broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            report(e.as_ref());
            ExitCode::FAILURE
        }
    }
}

/// Whether the error, or one of its causes, is a write to a pipe whose reader is gone.
fn is_broken_pipe(error: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        let io = e.downcast_ref::<std::io::Error>().or_else(|| {
            e.downcast_ref::<csv::Error>().and_then(|e| match e.kind() {
                csv::ErrorKind::Io(io) => Some(io),
                _ => None,
            })
        });
        if io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) {
            return true;
        }
        cause = e.source();
    }
    false
}

/// An SDK error about something the user gave on the command line, such as `--course 999`:
/// says which input it concerns and who was signed in, then (as its cause) the SDK's error.
#[derive(Debug)]
pub struct InputError {
    input: String,
    who: String,
    source: classroom::Error,
}

impl InputError {
    /// `input` as the user wrote it (`--course 999`); `auth`, the credentials used.
    pub fn boxed(input: impl Into<String>, auth: &Auth, source: classroom::Error) -> BoxError {
        Box::new(InputError {
            input: input.into(),
            who: auth.who(),
            source,
        })
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (input, who) = (&self.input, &self.who);
        if self.source.is_not_found() {
            write!(f, "{input}: not found, or not visible to {who}")
        } else if self.source.is_permission_denied() {
            write!(f, "{input}: {who} may not do this there")
        } else {
            write!(f, "{input}: the call failed")
        }
    }
}

impl Error for InputError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

/// Prints an error and its causes (Display, never Debug: the SDK's messages say what to do).
pub fn report(error: &(dyn Error + 'static)) {
    eprintln!("error: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
}

/// The credential options every example takes. With none of them, the example starts a
/// local emulator with a demo school and signs in to it.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Credentials (none given: a local emulator with a demo school)")]
pub struct Auth {
    /// A service-account key file (JSON, "type": "service_account"); acts as --subject
    /// through domain-wide delegation
    #[arg(long, value_name = "KEY_JSON", requires = "subject")]
    pub service_account: Option<PathBuf>,

    /// The user of your domain the service account acts as (an admin or a teacher)
    #[arg(long, value_name = "EMAIL", requires = "service_account")]
    pub subject: Option<String>,

    /// Your OAuth client file (client_secret.json), with the user token that the
    /// installed_login example stored in --token
    #[arg(
        long,
        value_name = "CLIENT_SECRET_JSON",
        requires = "token",
        conflicts_with = "service_account"
    )]
    pub client_secret: Option<PathBuf>,

    /// The token file installed_login wrote
    #[arg(long, value_name = "TOKEN_JSON", requires = "client_secret")]
    pub token: Option<PathBuf>,

    /// An authorized-user file ("type": "authorized_user"), as `gcloud auth
    /// application-default login --scopes=...` writes
    #[arg(
        long,
        value_name = "AUTHORIZED_USER_JSON",
        conflicts_with_all = ["service_account", "client_secret"]
    )]
    pub authorized_user: Option<PathBuf>,

    /// The API's root URL (default: Google's). Without credentials: the root= of an emulator
    /// you started with `cargo run --example emulator`, signed in to with its demo client
    #[arg(long, value_name = "URL")]
    pub root_url: Option<String>,
}

/// A client builder with credentials and root URL set, and the emulator behind it, if any.
pub struct Target {
    /// Credentials and root URL set; add what the example needs (a rate limit, say), then
    /// `build()`.
    pub builder: ClassroomBuilder,
    /// The emulator the example started (no credentials given); dropping it stops it.
    pub emulator: Option<Emulator>,
}

impl Target {
    /// Whether the calls go to an emulator (started here, or named by --root-url).
    pub fn is_emulator(&self, auth: &Auth) -> bool {
        self.emulator.is_some() || !auth.has_credentials()
    }
}

impl Auth {
    /// Who the calls are made as, in words, for errors.
    pub fn who(&self) -> String {
        if let Some(subject) = &self.subject {
            format!("{subject} (--subject)")
        } else if let Some(token) = &self.token {
            format!("the user whose token is in {} (--token)", token.display())
        } else if let Some(file) = &self.authorized_user {
            format!("the user of {} (--authorized-user)", file.display())
        } else {
            "the emulator's admin (no credentials given)".to_string()
        }
    }

    /// Whether any credentials were given.
    pub fn has_credentials(&self) -> bool {
        self.service_account.is_some()
            || self.client_secret.is_some()
            || self.authorized_user.is_some()
    }

    /// Credentials for `scopes` from the options, or, with none, a new emulator with the demo
    /// school (`emulator` configures it: quotas, say) signed in to as its admin through the
    /// client-credentials flow.
    pub fn target(
        &self,
        scopes: &[Scope],
        emulator: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder,
    ) -> Result<Target, BoxError> {
        let mut builder = classroom::Classroom::builder();
        if let Some(root) = &self.root_url {
            builder = builder.root_url(root);
        }
        if let Some(key) = &self.service_account {
            expect_kind(key, FileKind::ServiceAccount)?;
            let subject = self.subject.as_deref().unwrap_or_default();
            let key = ServiceAccountKey::from_file(key)?;
            let credentials = ServiceAccountCredentials::new(key, scopes).subject(subject);
            return Ok(Target {
                builder: builder.credentials(credentials),
                emulator: None,
            });
        }
        if let (Some(secret), Some(token)) = (&self.client_secret, &self.token) {
            expect_kind(secret, FileKind::ClientSecret)?;
            let client = OAuthClient::from_client_secret_file(secret)?;
            let credentials = UserCredentials::from_store(client, Arc::new(FileStore::new(token)))?
                .ok_or_else(|| {
                    format!(
                        "{} holds no token yet: sign in first with `cargo run --example \
                         installed_login -- --client-secret {} --token {}`",
                        token.display(),
                        secret.display(),
                        token.display()
                    )
                })?;
            return Ok(Target {
                builder: builder.credentials(credentials),
                emulator: None,
            });
        }
        if let Some(file) = &self.authorized_user {
            expect_kind(file, FileKind::AuthorizedUser)?;
            // The file does not say which scopes its refresh token holds: declare the ones
            // asked for (gcloud's --scopes), so the scope check has something to check.
            let credentials = UserCredentials::from_authorized_user_file(file)?
                .with_scopes(scopes.iter().map(|s| s.url().to_string()));
            return Ok(Target {
                builder: builder.credentials(credentials),
                emulator: None,
            });
        }
        let scopes: Vec<&str> = scopes.iter().map(|s| s.url()).collect();
        if let Some(root) = &self.root_url {
            // A standalone emulator (`cargo run --example emulator`): its demo client.
            let token_url = format!("{}/token", root.trim_end_matches('/'));
            eprintln!("no credentials given: signing in to the emulator at {root} as its admin");
            let client = OAuthClient::new(
                demo::CLIENT_ID,
                Some(ClientSecret::new(demo::CLIENT_SECRET)),
            )
            .with_provider(Provider::token_endpoint(token_url));
            return Ok(Target {
                builder: builder.credentials(ClientCredentials::new(client, scopes)),
                emulator: None,
            });
        }
        let emulator = emulator(Emulator::builder()).start()?;
        eprintln!(
            "no credentials given: using a local emulator at {} \
             (--help shows how to use a real domain)",
            emulator.root_url()
        );
        let client = OAuthClient::new(
            emulator.client_id(),
            Some(ClientSecret::new(emulator.client_secret())),
        )
        .with_provider(Provider::token_endpoint(emulator.token_url()));
        let builder = builder
            .root_url(emulator.root_url())
            .credentials(ClientCredentials::new(client, scopes));
        Ok(Target {
            builder,
            emulator: Some(emulator),
        })
    }
}

/// The kinds of JSON credential files Google hands out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    ServiceAccount,
    AuthorizedUser,
    ClientSecret,
    ImpersonatedServiceAccount,
    ExternalAccount,
}

impl FileKind {
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::ServiceAccount => "a service-account key",
            FileKind::AuthorizedUser => {
                "an authorized-user file (a user's refresh token, as gcloud writes it)"
            }
            FileKind::ClientSecret => "an OAuth client file (client_secret.json)",
            FileKind::ImpersonatedServiceAccount => "an impersonated-service-account file",
            FileKind::ExternalAccount => "a workload identity federation file (external_account)",
        }
    }

    pub fn how_to_use(self, path: &Path) -> String {
        let path = path.display();
        match self {
            FileKind::ServiceAccount => {
                format!("use --service-account {path} --subject EMAIL (the user to act as)")
            }
            FileKind::AuthorizedUser => format!("use --authorized-user {path}"),
            FileKind::ClientSecret => format!(
                "sign in once with `cargo run --example installed_login -- --client-secret {path}`, \
                 then use --client-secret {path} --token token.json"
            ),
            FileKind::ImpersonatedServiceAccount | FileKind::ExternalAccount => {
                "these examples do not read it; point GOOGLE_APPLICATION_CREDENTIALS at a \
                 service-account key or an authorized-user file instead"
                    .to_string()
            }
        }
    }
}

/// What kind of credential file `path` holds, when it is JSON that says so; `None` when it
/// cannot be read or told (the SDK's loader then says what is wrong with it).
pub fn file_kind(path: &Path) -> Option<FileKind> {
    let text = std::fs::read_to_string(path).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    match value.get("type").and_then(|t| t.as_str()) {
        Some("service_account") => return Some(FileKind::ServiceAccount),
        Some("authorized_user") => return Some(FileKind::AuthorizedUser),
        Some("impersonated_service_account") => {
            return Some(FileKind::ImpersonatedServiceAccount);
        }
        Some("external_account") => return Some(FileKind::ExternalAccount),
        _ => {}
    }
    (value.get("installed").is_some() || value.get("web").is_some())
        .then_some(FileKind::ClientSecret)
}

/// Fails with a message saying which option takes the file when it is of another kind than
/// `expected` (the SDK's loaders would say only that a field is missing).
pub fn expect_kind(path: &Path, expected: FileKind) -> Result<(), BoxError> {
    match file_kind(path) {
        Some(kind) if kind != expected => Err(format!(
            "{} is {}, not {}: {}",
            path.display(),
            kind.describe(),
            expected.describe(),
            kind.how_to_use(path)
        )
        .into()),
        _ => Ok(()),
    }
}

/// Where a CSV goes: a file (`--out`) or stdout.
pub fn output(out: Option<&Path>) -> Result<Box<dyn std::io::Write>, BoxError> {
    Ok(match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    })
}

/// `Some(text)` as text, `None` as an empty cell.
pub fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}
