//! App access tokens with the client-credentials grant, from any OAuth 2.0 server.
//!
//! ```text
//! CLIENT_SECRET=... cargo run --example client_credentials -- \
//!     --token-url https://classy.example/oauth2/auth --client-id roster-app \
//!     --scope https://www.googleapis.com/auth/classroom.courses.readonly
//! ```
//!
//! Prints the token's lifetime and granted scopes, never the token.

use classroom::auth::{ClientCredentials, ClientSecret, Credentials, OAuthClient, Provider};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // RUST_LOG=classroom=debug shows every call, retry and token fetch.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut token_url = None;
    let mut client_id = None;
    let mut scopes = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--token-url" => token_url = Some(value()?),
            "--client-id" => client_id = Some(value()?),
            "--scope" => scopes.push(value()?),
            other => return Err(format!("unknown argument {other}; see the example's docs").into()),
        }
    }
    let usage = "usage: client_credentials --token-url URL --client-id ID [--scope SCOPE]...";
    let token_url = token_url.ok_or(usage)?;
    let client_id = client_id.ok_or(usage)?;
    let secret =
        std::env::var("CLIENT_SECRET").map_err(|_| "set CLIENT_SECRET to the client's secret")?;

    let client = OAuthClient::new(client_id, Some(ClientSecret::new(secret)))
        .with_provider(Provider::token_endpoint(token_url));
    let credentials = ClientCredentials::new(client, &scopes);
    let token = credentials.access_token().await?;

    match token.expires_at() {
        Some(at) => println!("lifetime: {} s", (at - chrono::Utc::now()).num_seconds()),
        None => println!("lifetime: not stated by the server"),
    }
    match token.scopes() {
        Some(granted) => println!("granted scopes: {}", granted.join(" ")),
        None => println!("granted scopes: unknown"),
    }
    Ok(())
}
