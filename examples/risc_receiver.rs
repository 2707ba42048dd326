//! A Cross-Account Protection (RISC) receiver in a minimal HTTP server: Google POSTs security
//! event tokens to it, and the affected users' tokens are dropped.
//!
//! ```text
//! cargo run --example risc_receiver                      # demo against the emulator
//! cargo run --example risc_receiver -- --serve 8080 CLIENT_ID [CLIENT_ID...]
//! ```
//!
//! The demo starts the emulator, registers a user's token store, serves the receiver on
//! 127.0.0.1, posts it a token the emulator signed (as Google would), and shows the store
//! emptied. `--serve` receives Google's own events (behind your HTTPS front end; see
//! `classroom::auth::RiscReceiver` for registering the URL with Google's RISC API).
//!
//! Any web framework works the same way: hand the request body to `RiscReceiver::receive`,
//! answer 202 on success, and `error.http_status()` with `error.response_body()` otherwise.

mod common;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use classroom::auth::{
    MemoryStore, RiscReceiver, SecurityEvent, StoredToken, TokenRegistry, TokenStore,
};
use common::BoxError;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// Answers one request: `POST /risc` with a security event token.
async fn handle(
    receiver: Arc<RiscReceiver>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/json"),
        );
        Ok(response)
    };
    if request.method() != hyper::Method::POST || request.uri().path() != "/risc" {
        return reply(StatusCode::NOT_FOUND, "{}".into());
    }
    // Security event tokens are about 1 KB; read no more than the receiver would look at.
    let limit = classroom::auth::MAX_EVENT_TOKEN + 1;
    let body = match Limited::new(request.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return reply(StatusCode::PAYLOAD_TOO_LARGE, "{}".into()),
    };
    match receiver.receive(&body).await {
        Ok(receipt) => {
            eprintln!(
                "event {} ({}): {}",
                receipt.event.event_type(),
                receipt.jti,
                receipt.effect
            );
            reply(StatusCode::ACCEPTED, String::new())
        }
        Err(error) => {
            eprintln!("refused: {error}");
            let status =
                StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
            reply(status, error.response_body())
        }
    }
}

/// Serves the receiver on `listener` until the process ends.
async fn serve(listener: tokio::net::TcpListener, receiver: Arc<RiscReceiver>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let receiver = receiver.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |r| handle(receiver.clone(), r));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A Cross-Account Protection (RISC) receiver: Google POSTs security event tokens to it, and
/// the affected users' tokens are dropped.
///
/// With --serve it receives Google's own events at http://127.0.0.1:PORT/risc, for the client
/// ids given (put it behind your HTTPS front end; register the URL with Google's RISC API as
/// the docs of classroom::auth::RiscReceiver say). Fill the token registry as users sign in.
///
/// With no arguments (or --demo) it starts a local emulator, registers a user's token store,
/// posts the receiver a token the emulator signed (as Google would), and shows the store
/// emptied, a repeated delivery accepted, and a forged token refused.
#[derive(clap::Parser, Debug)]
#[command(name = "risc_receiver", version, verbatim_doc_comment)]
struct Args {
    /// Run the demo against a local emulator (the default)
    #[arg(long, conflicts_with = "serve")]
    demo: bool,

    /// Receive Google's events on this port of 127.0.0.1
    #[arg(long, value_name = "PORT", requires = "client_ids")]
    serve: Option<u16>,

    /// Your OAuth client ids: the audiences the events must be for
    #[arg(value_name = "CLIENT_ID", requires = "serve")]
    client_ids: Vec<String>,
}

fn main() -> std::process::ExitCode {
    common::run(run(<Args as clap::Parser>::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let Some(port) = args.serve else {
        return demo().await;
    };
    // Fill the registry as users sign in: registry.register_store(sub, store).
    let registry = Arc::new(TokenRegistry::new());
    let receiver = RiscReceiver::new(args.client_ids, registry)
        .discover(classroom::auth::GOOGLE_RISC_CONFIGURATION)
        .await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    eprintln!(
        "receiving security events at http://{}/risc",
        listener.local_addr()?
    );
    serve(listener, Arc::new(receiver)).await;
    Ok(())
}

async fn demo() -> Result<(), BoxError> {
    use classroom_emulator::{Emulator, demo};

    let emulator = Emulator::start()?;
    // A signed-in user: their token store, registered under their Google account id.
    let subject = emulator.user_id(demo::STUDENT).ok_or("no demo student")?;
    let store = Arc::new(MemoryStore::new());
    store.save(&StoredToken {
        refresh_token: Some(classroom::auth::RefreshToken::new("1//demo-refresh-token")),
        ..StoredToken::default()
    })?;
    let registry = Arc::new(TokenRegistry::new());
    registry.register_store(subject.clone(), store.clone());

    let receiver = RiscReceiver::new([emulator.client_id()], registry)
        .discover(&emulator.risc_configuration_url())
        .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/risc", listener.local_addr()?);
    tokio::spawn(serve(listener, Arc::new(receiver)));

    // Google's side: the user's sessions were revoked.
    let token = emulator.security_event_token(
        &SecurityEvent::SessionsRevoked {
            subject: subject.clone(),
        }
        .to_claim(&emulator.risc_issuer()),
        emulator.client_id(),
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    for attempt in ["first delivery", "repeated delivery"] {
        let response = http
            .post(&url)
            .header("content-type", "application/secevent+jwt")
            .body(token.clone())
            .send()
            .await?;
        println!("{attempt}: HTTP {}", response.status().as_u16());
    }
    println!(
        "tokens stored for {} ({subject}) afterwards: {}",
        demo::STUDENT,
        if store.load()?.is_some() {
            "some"
        } else {
            "none"
        }
    );
    // A token whose signature belongs to another token: refused, nothing changes.
    let other = emulator.security_event_token(
        &SecurityEvent::Verification { state: None }.to_claim(&emulator.risc_issuer()),
        emulator.client_id(),
    );
    let (signed, _) = token.rsplit_once('.').ok_or("a JWT")?;
    let (_, signature) = other.rsplit_once('.').ok_or("a JWT")?;
    let response = http
        .post(&url)
        .body(format!("{signed}.{signature}"))
        .send()
        .await?;
    println!(
        "a forged token: HTTP {} {}",
        response.status().as_u16(),
        response.text().await?
    );
    Ok(())
}
