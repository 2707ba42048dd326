//! The application's own HTTP client carries API calls and token calls (its proxy, its roots
//! of trust, its pool), while the SDK keeps what it decides per call: the bearer token, the
//! user agent, the timeout, the TLS-only rule.

mod common;

use std::time::Duration;

use classroom::auth::{ClientCredentials, ClientSecret, Credentials, OAuthClient, Provider};
use classroom::{BearerToken, Classroom, Scope};
use common::{Reply, TestServer};
use serde_json::json;

/// A client of the application's, marked by a header no SDK client sends.
fn own_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-company-proxy", "gateway-7".parse().unwrap());
    reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn api_calls_go_out_on_the_applications_client_with_the_sdks_token_and_agent() {
    let server = TestServer::start(|_| Reply::json(200, &json!({"courses": []}))).await;
    let classroom = Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::new("t0k3n", [Scope::CoursesReadonly]))
        .http_client(own_client())
        .user_agent("district-sync/2.0")
        .build()
        .unwrap();
    classroom.courses().list().send().await.unwrap();
    let sent = &server.requests()[0];
    assert_eq!(
        sent.header("x-company-proxy"),
        Some("gateway-7"),
        "the client's own"
    );
    assert_eq!(sent.header("authorization"), Some("Bearer t0k3n"));
    let agent = sent.header("user-agent").unwrap();
    assert!(
        agent.starts_with("district-sync/2.0 classroom-rust/"),
        "the SDK's agent on the application's client: {agent}"
    );

    // The TLS-only rule holds whatever the client: no token to a plain-http remote host.
    let refused = Classroom::builder()
        .root_url("http://classroom.example.com/")
        .credentials(BearerToken::new("t0k3n", [Scope::CoursesReadonly]))
        .http_client(own_client())
        .build();
    assert!(refused.is_err(), "an http root URL off loopback is refused");
}

#[tokio::test]
async fn token_calls_go_out_on_the_applications_client() {
    let server = TestServer::start(|_| {
        Reply::json(
            200,
            &json!({"access_token": "from-own-client", "expires_in": 3600, "token_type": "Bearer"}),
        )
    })
    .await;
    let client = OAuthClient::new("app", Some(ClientSecret::new("s3cret")))
        .with_provider(Provider::token_endpoint(format!("{}token", server.url)))
        .http_client(own_client())
        .timeout(Duration::from_secs(5));
    let credentials = ClientCredentials::new(client, [Scope::Courses.url()]);
    let token = credentials.access_token().await.unwrap();
    assert_eq!(token.secret(), "from-own-client");
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/token");
    assert_eq!(sent.header("x-company-proxy"), Some("gateway-7"));
}
