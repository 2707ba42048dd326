//! App access tokens with the client-credentials grant, from any OAuth 2.0 server.
//!
//! ```text
//! cargo run --example client_credentials                    # on the emulator
//! CLIENT_SECRET=... cargo run --example client_credentials -- \
//!     --token-url https://classy.example/oauth2/auth --client-id roster-app \
//!     --scope https://www.googleapis.com/auth/classroom.courses.readonly
//! ```

mod common;

use clap::Parser;
use classroom::Scope;
use classroom::auth::{ClientCredentials, ClientSecret, Credentials, OAuthClient, Provider};
use classroom_emulator::Emulator;
use common::BoxError;

/// Gets an app access token with the client-credentials grant (RFC 6749 section 4.4) from
/// any OAuth 2.0 server, such as Classy's, and prints its lifetime and granted scopes, never
/// the token itself.
///
/// With no arguments it asks a local emulator's token endpoint, with its demo client.
#[derive(Parser, Debug)]
#[command(name = "client_credentials", version, verbatim_doc_comment)]
struct Args {
    /// The server's token endpoint
    #[arg(long, value_name = "URL", requires = "client_id")]
    token_url: Option<String>,

    /// The OAuth client's id
    #[arg(long, value_name = "ID", requires = "token_url")]
    client_id: Option<String>,

    /// The client's secret (from the environment, so it stays out of shell history)
    #[arg(
        long,
        env = "CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    client_secret: Option<String>,

    /// A scope to ask for; repeat for several (none: the server's default)
    #[arg(long, value_name = "SCOPE")]
    scope: Vec<String>,
}

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let mut _emulator = None;
    let (client, scopes) = match (args.token_url, args.client_id) {
        (Some(token_url), Some(client_id)) => {
            let secret = args
                .client_secret
                .ok_or("set CLIENT_SECRET (or --client-secret) to the client's secret")?;
            let client = OAuthClient::new(client_id, Some(ClientSecret::new(secret)))
                .with_provider(Provider::token_endpoint(token_url));
            (client, args.scope)
        }
        _ => {
            let emulator = Emulator::start()?;
            eprintln!(
                "no --token-url given: asking a local emulator's token endpoint at {} \
                 (--help shows how to ask your server)",
                emulator.token_url()
            );
            let client = OAuthClient::new(
                emulator.client_id(),
                Some(ClientSecret::new(emulator.client_secret())),
            )
            .with_provider(Provider::token_endpoint(emulator.token_url()));
            _emulator = Some(emulator);
            let scopes = if args.scope.is_empty() {
                vec![Scope::CoursesReadonly.url().to_string()]
            } else {
                args.scope
            };
            (client, scopes)
        }
    };
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
