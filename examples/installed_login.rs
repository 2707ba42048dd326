//! Signs a user in with the installed-app loopback flow and keeps the token for next time.
//!
//! ```text
//! cargo run --example installed_login                       # on the emulator
//! cargo run --example installed_login -- --client-secret client_secret.json --token token.json
//! ```
//!
//! The first run prints (and opens) the consent URL and waits on 127.0.0.1; later runs reuse
//! the refresh token stored in the token file (mode 0600) without a browser.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use classroom::auth::{
    ClientSecret, Credentials, FileStore, InstalledFlow, OAuthClient, Provider, TokenStore,
    UserCredentials,
};
use classroom::{Classroom, Scope};
use classroom_emulator::{Emulator, demo};
use common::{BoxError, FileKind};
use futures::TryStreamExt;

/// Signs a user in with the installed-app (loopback) flow, stores the token, and lists the
/// courses the user can see.
///
/// The first run shows the consent URL on stderr (and opens it in a browser when there is
/// one), then waits on 127.0.0.1 for Google's redirect. The refresh token goes into --token
/// (mode 0600); later runs, and the other examples' --client-secret/--token options, reuse it
/// without a browser. Delete the file to sign in again.
///
/// The client file is an OAuth client of type "Desktop app" downloaded from the Google Cloud
/// console (APIs & Services > Credentials). Scope requested: classroom.courses.readonly.
///
/// With no arguments it signs in to a local emulator as a demo teacher, its consent screen
/// answered by this program, and shows the stored token being reused.
#[derive(Parser, Debug)]
#[command(name = "installed_login", version, verbatim_doc_comment)]
struct Args {
    /// The OAuth client file (client_secret.json, "installed")
    #[arg(long, value_name = "CLIENT_SECRET_JSON")]
    client_secret: Option<PathBuf>,

    /// Where to keep the user's token
    #[arg(long, value_name = "TOKEN_JSON", default_value = "token.json")]
    token: PathBuf,

    /// Only print the consent URL; do not try to open a browser
    #[arg(long)]
    no_browser: bool,

    /// The account to preselect on the consent screen
    #[arg(long, value_name = "EMAIL")]
    login_hint: Option<String>,

    /// The API's root URL (default: Google's). Without --client-secret: the root= of an
    /// emulator you started with `cargo run --example emulator`, signed in to with its demo
    /// client
    #[arg(long, value_name = "URL")]
    root_url: Option<String>,
}

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let Some(secret) = &args.client_secret else {
        return demo(args.root_url).await;
    };
    common::expect_kind(secret, FileKind::ClientSecret)?;
    let client = OAuthClient::from_client_secret_file(secret)?;
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(&args.token));
    let credentials = match UserCredentials::from_store(client.clone(), store.clone())? {
        Some(credentials) => {
            println!("reusing the token stored in {}", args.token.display());
            credentials
        }
        None => {
            let mut flow = InstalledFlow::new(client)
                .with_store(store)
                .open_browser(!args.no_browser);
            if let Some(hint) = &args.login_hint {
                flow = flow.login_hint(hint);
            }
            flow.run([Scope::CoursesReadonly]).await?
        }
    };
    list(credentials, args.root_url).await
}

/// Prints what the token was granted and the courses it can see.
async fn list(credentials: UserCredentials, root_url: Option<String>) -> Result<(), BoxError> {
    let token = credentials.access_token().await?;
    println!(
        "signed in; granted: {}",
        token
            .scopes()
            .map(|s| s.join(" "))
            .unwrap_or_else(|| "unknown".into())
    );
    let mut builder = Classroom::builder().credentials(credentials);
    if let Some(root) = root_url {
        builder = builder.root_url(root);
    }
    let courses: Vec<_> = builder
        .build()?
        .courses()
        .list()
        .items()
        .try_collect()
        .await?;
    println!("{} course(s)", courses.len());
    Ok(())
}

/// The same flow against an emulator, a local one or the one at `root_url`: this program
/// plays the browser, and the token is kept in a temporary directory.
async fn demo(root_url: Option<String>) -> Result<(), BoxError> {
    // Kept until the end: dropping it stops the emulator.
    let mut _emulator = None;
    let (root, client) = match root_url {
        Some(root) => {
            let root = format!("{}/", root.trim_end_matches('/'));
            let client = OAuthClient::new(
                demo::CLIENT_ID,
                Some(ClientSecret::new(demo::CLIENT_SECRET)),
            )
            .with_provider(Provider::new(
                format!("{root}o/oauth2/v2/auth"),
                format!("{root}token"),
            ));
            (root, client)
        }
        None => {
            let emulator = Emulator::start()?;
            let client = OAuthClient::new(
                emulator.client_id(),
                Some(ClientSecret::new(emulator.client_secret())),
            )
            .with_provider(Provider::new(emulator.auth_url(), emulator.token_url()));
            let root = emulator.root_url();
            _emulator = Some(emulator);
            (root, client)
        }
    };
    eprintln!(
        "no --client-secret given: signing in to {}an emulator at {root} as {} \
         (--help shows how to sign in to Google)",
        if _emulator.is_some() { "a local " } else { "" },
        demo::TEACHER
    );
    let dir = std::env::temp_dir().join(format!("installed_login-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let token_file = dir.join("token.json");
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(&token_file));

    let _ = rustls::crypto::ring::default_provider().install_default();
    let browser = reqwest::Client::new();
    let credentials = InstalledFlow::new(client.clone())
        .with_store(store.clone())
        .open_browser(false)
        .login_hint(demo::TEACHER)
        .on_url(move |url| {
            println!(
                "consent URL shown to the user: {}",
                url.split('?').next().unwrap_or(url)
            );
            // The user clicks "Allow": the emulator redirects to the loopback listener.
            let (browser, url) = (browser.clone(), url.to_string());
            tokio::spawn(async move { browser.get(url).send().await });
        })
        .run([Scope::CoursesReadonly])
        .await?;
    println!("token stored in {}", token_file.display());
    list(credentials, Some(root.clone())).await?;

    // The next run: the stored refresh token, no browser.
    let again = UserCredentials::from_store(client, store)?.ok_or("the token was not stored")?;
    println!("second run: reusing the stored token, no browser");
    list(again, Some(root)).await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
