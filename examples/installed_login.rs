//! Signs a user in with the installed-app loopback flow and keeps the token for next time.
//!
//! ```text
//! cargo run --example installed_login -- client_secret.json [token.json]
//! ```
//!
//! The first run prints (and opens) the consent URL and waits on 127.0.0.1; later runs reuse
//! the refresh token stored in `token.json` (mode 0600) without a browser.

use std::sync::Arc;

use classroom::auth::{
    Credentials, FileStore, InstalledFlow, OAuthClient, TokenStore, UserCredentials,
};
use classroom::{Classroom, Scope};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // RUST_LOG=classroom=debug shows every call, retry and token fetch.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let secret_file = args
        .next()
        .ok_or("usage: installed_login CLIENT_SECRET_JSON [TOKEN_FILE]")?;
    let token_file = args.next().unwrap_or_else(|| "token.json".into());
    let client = OAuthClient::from_client_secret_file(secret_file)?;
    let store: Arc<dyn TokenStore> = Arc::new(FileStore::new(&token_file));

    let credentials = match UserCredentials::from_store(client.clone(), store.clone())? {
        Some(credentials) => credentials,
        None => {
            InstalledFlow::new(client)
                .with_store(store)
                .run([Scope::CoursesReadonly])
                .await?
        }
    };
    let token = credentials.access_token().await?;
    println!(
        "signed in; token stored in {token_file}; granted: {}",
        token
            .scopes()
            .map(|s| s.join(" "))
            .unwrap_or_else(|| "unknown".into())
    );

    let classroom = Classroom::new(credentials)?;
    let courses: Vec<_> = classroom.courses().list().items().try_collect().await?;
    println!("{} courses", courses.len());
    Ok(())
}
