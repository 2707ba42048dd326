//! Helpers shared by the emulator tests.

#![allow(dead_code)]

use classroom::{BearerToken, Classroom, RetryPolicy, Scope};
use classroom_emulator::Emulator;

/// A client acting as `user` with `scopes`, declared to the SDK so it checks them too.
pub fn client(emulator: &Emulator, user: &str, scopes: &[Scope]) -> Classroom {
    let token = emulator.token_for(user, scopes);
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(token, scopes.iter().map(|s| s.url())))
        .retry(RetryPolicy::none())
        .build()
        .expect("client builds")
}

/// A client whose token's scopes the SDK does not know, so every call reaches the server.
pub fn unchecked_client(emulator: &Emulator, token: String) -> Classroom {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(token))
        .retry(RetryPolicy::none())
        .build()
        .expect("client builds")
}

/// Every Classroom scope.
pub fn all_scopes() -> Vec<Scope> {
    Scope::ALL.to_vec()
}

/// A plain HTTP client for what the SDK does not send (raw bodies, batches, OAuth forms).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("reqwest builds")
}

/// `application/x-www-form-urlencoded` pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}
