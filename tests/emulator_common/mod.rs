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

/// A `multipart/mixed` batch body: each part (an HTTP request's text) as `application/http`,
/// numbered `<item0>`, `<item1>`, ...
pub fn batch_body<S: AsRef<str>>(boundary: &str, parts: &[S]) -> String {
    let mut body = String::new();
    for (i, part) in parts.iter().enumerate() {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{i}>\r\n\r\n{}\r\n",
            part.as_ref()
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    body
}

/// The status and body of each part of a batch reply, in order.
pub fn batch_parts(text: &str) -> Vec<(u16, String)> {
    text.split("\r\nHTTP/1.1 ")
        .skip(1)
        .map(|part| {
            let status = part[..3].parse().expect("a status code");
            let body = part
                .split_once("\r\n\r\n")
                .map(|(_, b)| b.split("\r\n--").next().unwrap_or_default())
                .unwrap_or_default();
            (status, body.to_string())
        })
        .collect()
}
