//! Every flow end to end against a local OAuth server over real HTTP on 127.0.0.1.

#[path = "oauth_server/mod.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use classroom::auth::{
    AuthError, ClientAuth, ClientCredentials, Credentials, InstalledFlow, MemoryStore, OAuthClient,
    PendingAuthorization, Provider, RefreshToken, ServiceAccountCredentials, ServiceAccountKey,
    StoredToken, TOKEN_REPLY_LIMIT, TokenStore, UserCredentials, WebFlow,
};
use classroom::{Classroom, Scope};
use common::{CLIENT_SECRET, COURSES, COURSES_READONLY, Server};

const KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/test-only-service-account-key.json"
);

/// What an error must be.
type Check = fn(&AuthError) -> bool;

fn query(url: &str) -> std::collections::HashMap<String, String> {
    let q = url.split_once('?').unwrap().1;
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

#[tokio::test]
async fn web_flow_authorizes_with_pkce_and_calls_the_api() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::new());
    let flow = WebFlow::new(server.client(), "http://127.0.0.1:1/callback")
        .unwrap()
        .with_store(store.clone());
    let (url, pending) = flow
        .authorize([Scope::CoursesReadonly])
        .offline(store.has_refresh_token())
        .login_hint("teacher@school.example.edu")
        .build()
        .unwrap();
    let q = query(&url);
    assert_eq!(q["access_type"], "offline");
    assert_eq!(
        q["prompt"], "consent",
        "no refresh token on file: consent is needed for one"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["login_hint"], "teacher@school.example.edu");
    assert_eq!(q["scope"], COURSES_READONLY);
    assert!(q["state"].len() >= 43, "state carries 256 random bits");

    // The pending state survives a round trip through a session store.
    let session = serde_json::to_string(&pending).unwrap();
    let pending: PendingAuthorization = serde_json::from_str(&session).unwrap();

    let callback = server.consent(&url).await;
    let credentials = flow.finish(pending, &callback).await.unwrap();
    assert_eq!(server.tokens(), 1);
    let token = credentials.access_token().await.unwrap();
    assert_eq!(token.scopes().unwrap(), [COURSES_READONLY]);
    assert!(
        store.has_refresh_token(),
        "the exchange saved the refresh token"
    );
    assert_eq!(
        server.state().token_forms[0]["grant_type"],
        "authorization_code"
    );

    let classroom = Classroom::builder()
        .root_url(server.url("/"))
        .credentials(credentials)
        .build()
        .unwrap();
    classroom.courses().get("123").send().await.unwrap();
    assert_eq!(server.api_calls(), 1);
    assert_eq!(server.tokens(), 1, "the cached token served the call");

    // With a refresh token on file, no forced consent.
    let (url, _) = flow
        .authorize([Scope::CoursesReadonly])
        .offline(true)
        .build()
        .unwrap();
    assert!(!query(&url).contains_key("prompt"));
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_by_the_server() {
    let server = Server::start().await;
    let flow = WebFlow::new(server.client(), "http://localhost:1/cb").unwrap();
    let (url, pending) = flow.authorize([COURSES]).build().unwrap();
    let (_, other) = flow.authorize([COURSES]).build().unwrap();
    let callback = server.consent(&url).await;
    // Same state, other verifier: the session was swapped, the code must not be redeemable.
    let mut forged: serde_json::Value = serde_json::to_value(&other).unwrap();
    forged["state"] = serde_json::to_value(&pending).unwrap()["state"].clone();
    let forged: PendingAuthorization = serde_json::from_value(forged).unwrap();
    let error = flow.finish(forged, &callback).await.unwrap_err();
    assert!(
        matches!(error, AuthError::AuthorizationCodeRejected { .. }),
        "{error:?}"
    );
    // A refused code is not a dead refresh token: no talk of clearing one.
    let text = error.to_string();
    assert!(
        !text.contains("cleared") && !text.contains("refresh token"),
        "{text}"
    );
    assert_eq!(server.tokens(), 1);
}

#[tokio::test]
async fn a_callback_with_another_state_is_refused_before_any_exchange() {
    let server = Server::start().await;
    let flow = WebFlow::new(server.client(), "http://localhost:1/cb").unwrap();
    let (url, _) = flow.authorize([COURSES]).build().unwrap();
    let (_, pending) = flow.authorize([COURSES]).build().unwrap();
    let callback = server.consent(&url).await;
    let error = flow.finish(pending, &callback).await.unwrap_err();
    assert!(matches!(error, AuthError::StateMismatch), "{error}");
    let (_, pending) = flow.authorize([COURSES]).build().unwrap();
    let stateless = callback.replace("state=", "x=");
    assert!(matches!(
        flow.finish(pending, &stateless).await,
        Err(AuthError::StateMismatch)
    ));
    assert_eq!(server.tokens(), 0, "nothing was exchanged");
}

#[tokio::test]
async fn callback_errors_are_typed() {
    let server = Server::start().await;
    let flow = WebFlow::new(server.client(), "http://localhost:1/cb").unwrap();
    for (code, check) in [
        (
            "access_denied",
            (|e: &AuthError| matches!(e, AuthError::AccessDenied { .. })) as Check,
        ),
        ("admin_policy_enforced", |e| {
            matches!(e, AuthError::AdminPolicyEnforced { .. })
        }),
        ("org_internal", |e| {
            matches!(e, AuthError::OrgInternal { .. })
        }),
        ("invalid_request", |e| {
            matches!(e, AuthError::InvalidRequest { .. })
        }),
    ] {
        server.behave(|b| b.authorize_error = Some(code));
        let (url, pending) = flow.authorize([COURSES]).build().unwrap();
        let callback = server.consent(&url).await;
        let error = flow.finish(pending, &callback).await.unwrap_err();
        assert!(check(&error), "{code} became {error:?}");
    }
    assert_eq!(server.tokens(), 0);
}

#[tokio::test]
async fn every_documented_token_error_is_typed_and_says_what_to_do() {
    let server = Server::start().await;
    // invalid_grant depends on the grant: see token_errors_get_advice_for_their_grant.
    let cases: [(&str, Check, &str); 6] = [
        (
            "invalid_client",
            |e| matches!(e, AuthError::InvalidClient { .. }),
            "check the client id and secret",
        ),
        (
            "redirect_uri_mismatch",
            |e| matches!(e, AuthError::RedirectUriMismatch { .. }),
            "authorized redirect URIs",
        ),
        (
            "access_denied",
            |e| matches!(e, AuthError::AccessDenied { .. }),
            "ask again",
        ),
        (
            "admin_policy_enforced",
            |e| matches!(e, AuthError::AdminPolicyEnforced { .. }),
            "ask the administrator",
        ),
        (
            "org_internal",
            |e| matches!(e, AuthError::OrgInternal { .. }),
            "sign in with an account of that organization",
        ),
        (
            "invalid_request",
            |e| matches!(e, AuthError::InvalidRequest { .. }),
            "check the provider URLs",
        ),
    ];
    for (code, check, advice) in cases {
        let body = format!(r#"{{"error":"{code}","error_description":"Bad Request"}}"#);
        server.behave(|b| b.token_reply = Some((400, "application/json", body)));
        let credentials = ClientCredentials::new(server.client(), [COURSES]);
        let error = credentials.access_token().await.unwrap_err();
        assert!(check(&error), "{code} became {error:?}");
        let text = error.to_string();
        assert!(text.contains(code) && text.contains(advice), "{text}");
        assert!(!text.contains(CLIENT_SECRET) && !format!("{error:?}").contains(CLIENT_SECRET));
    }
}

#[tokio::test]
async fn odd_token_replies_become_typed_errors_not_panics() {
    let server = Server::start().await;
    let replies: [(u16, &str, &str, Check); 8] = [
        // Token calls never follow redirects (the target would answer with a token).
        (307, "text/html", "moved", |e| {
            matches!(e, AuthError::MalformedResponse { status: 307, .. })
        }),
        (200, "text/html", "<html>captive portal</html>", |e| {
            matches!(e, AuthError::MalformedResponse { status: 200, .. })
        }),
        (200, "application/json", r#"{"token_type":"Bearer"}"#, |e| {
            matches!(e, AuthError::MalformedResponse { .. })
        }),
        (
            200,
            "application/json",
            r#"{"access_token":"x","expires_in":"soon"}"#,
            |e| matches!(e, AuthError::MalformedResponse { .. }),
        ),
        (
            200,
            "application/json",
            r#"{"access_token":"x","token_type":"MAC"}"#,
            |e| matches!(e, AuthError::MalformedResponse { .. }),
        ),
        (200, "application/json", r#"{"access_token":"#, |e| {
            matches!(e, AuthError::MalformedResponse { .. })
        }),
        (400, "text/html", "<html>Bad Request</html>", |e| {
            matches!(e, AuthError::MalformedResponse { status: 400, .. })
        }),
        (503, "text/html", "<html>down</html>", |e| e.is_transient()),
    ];
    for (status, kind, body, check) in replies {
        server.behave(|b| b.token_reply = Some((status, kind, body.to_string())));
        let error = ClientCredentials::new(server.client(), [COURSES])
            .access_token()
            .await
            .unwrap_err();
        assert!(check(&error), "{status} {body} became {error:?}");
    }
    // A reply with an access token but a bad field never quotes the token.
    server.behave(|b| {
        b.token_reply = Some((
            200,
            "application/json",
            r#"{"access_token":"ya29.SECRET","expires_in":[1]}"#.into(),
        ))
    });
    let error = ClientCredentials::new(server.client(), [COURSES])
        .access_token()
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("ya29.SECRET"), "{error}");
}

#[tokio::test]
async fn installed_flow_receives_the_code_on_loopback() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::new());
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let flow = InstalledFlow::new(server.client())
        .open_browser(false)
        .with_store(store.clone())
        .on_url(move |url| {
            let _ = tx.lock().unwrap().take().unwrap().send(url.to_string());
        });
    let run = tokio::spawn(flow.run([Scope::Courses]));
    let url = rx.await.unwrap();
    let redirect = query(&url)["redirect_uri"].clone();
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    // A browser's stray favicon request does not end the flow.
    let port_base = redirect.trim_end_matches('/');
    assert!(
        common::raw_get(&format!("{port_base}/favicon.ico"))
            .await
            .starts_with("HTTP/1.1 404")
    );
    // A browser's idle preconnection does not hold up the callback.
    let loopback = port_base.trim_start_matches("http://").to_string();
    let _idle = tokio::net::TcpStream::connect(&loopback).await.unwrap();
    let callback = server.consent(&url).await;
    let page = tokio::time::timeout(Duration::from_secs(5), common::raw_get(&callback))
        .await
        .expect("the callback is answered while another connection idles");
    assert!(page.contains("You can close this window"), "{page}");
    let credentials = run.await.unwrap().unwrap();
    // One shot: the listener is gone.
    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&loopback).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(closed, "the loopback port still accepts connections");
    assert_eq!(
        credentials.access_token().await.unwrap().scopes().unwrap(),
        [COURSES]
    );
    assert!(store.has_refresh_token(), "the flow stored the token");
    assert!(server.state().token_forms[0]["code_verifier"].len() >= 43);
}

#[tokio::test]
async fn refresh_rotates_persists_and_calls_the_hook() {
    let server = Server::start().await;
    server.behave(|b| b.rotate_refresh = true);
    let refresh = server.grant_refresh_token(COURSES_READONLY);
    let store = Arc::new(MemoryStore::new());
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let credentials = UserCredentials::new(
        server.client(),
        classroom::auth::RefreshToken::new(&refresh),
    )
    .with_store(store.clone())
    .on_token_change(move |e| {
        seen.lock()
            .unwrap()
            .push((e.access_token.secret().to_string(), e.refresh_token.clone()))
    });
    let token = credentials.access_token().await.unwrap();
    assert_eq!(token.scopes().unwrap(), [COURSES_READONLY]);
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].0, token.secret());
    let rotated = events[0]
        .1
        .clone()
        .expect("the rotated refresh token reached the hook");
    assert_ne!(rotated.secret(), refresh);
    assert_eq!(credentials.refresh_token(), Some(rotated.clone()));
    let stored = store.load().unwrap().unwrap();
    assert_eq!(stored.refresh_token, Some(rotated));
    assert_eq!(stored.access_token.as_deref(), Some(token.secret()));

    // A later run picks the credentials up from the store without a token request.
    let again = UserCredentials::from_store(server.client(), store.clone())
        .unwrap()
        .unwrap();
    assert_eq!(again.access_token().await.unwrap().secret(), token.secret());
    assert_eq!(server.tokens(), 1);
}

#[tokio::test]
async fn refresh_keeps_the_granted_scopes_when_the_reply_omits_them() {
    let server = Server::start().await;
    server.behave(|b| b.omit_scope = true);
    let refresh = server.grant_refresh_token(COURSES);
    let credentials =
        UserCredentials::new(server.client(), classroom::auth::RefreshToken::new(refresh))
            .with_scopes([COURSES]);
    assert_eq!(
        credentials.access_token().await.unwrap().scopes().unwrap(),
        [COURSES]
    );
    // Client credentials: the requested scopes stand in (RFC 6749 §5.1).
    let app = ClientCredentials::new(server.client(), [COURSES_READONLY]);
    assert_eq!(
        app.access_token().await.unwrap().scopes().unwrap(),
        [COURSES_READONLY]
    );
}

#[tokio::test]
async fn invalid_grant_on_refresh_requires_consent_and_clears_the_store() {
    let server = Server::start().await;
    let store = Arc::new(MemoryStore::new());
    store
        .save(&classroom::auth::StoredToken {
            refresh_token: Some(classroom::auth::RefreshToken::new("1//revoked-elsewhere")),
            ..Default::default()
        })
        .unwrap();
    let credentials = UserCredentials::from_store(server.client(), store.clone())
        .unwrap()
        .unwrap();
    let error = credentials.access_token().await.unwrap_err();
    assert!(error.is_consent_required(), "{error}");
    assert!(
        store.load().unwrap().is_none(),
        "the dead token was cleared"
    );
    assert!(credentials.refresh_token().is_none());
    // The next call does not hammer the endpoint with the dead token.
    // It keeps saying why.
    let error = credentials.access_token().await.unwrap_err();
    assert!(error.is_consent_required(), "{error}");
    assert_eq!(server.tokens(), 1);
}

#[tokio::test]
async fn authorized_user_file_refreshes_against_its_token_uri() {
    let server = Server::start().await;
    let refresh = server.grant_refresh_token(COURSES);
    let json = serde_json::json!({
        "type": "authorized_user",
        "client_id": common::CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "refresh_token": refresh,
        "token_uri": server.url("/token"),
    });
    let credentials = UserCredentials::from_authorized_user_json(&json.to_string()).unwrap();
    assert_eq!(
        credentials.access_token().await.unwrap().scopes().unwrap(),
        [COURSES]
    );
    let debug = format!("{credentials:?}");
    assert!(
        !debug.contains(&refresh) && !debug.contains(CLIENT_SECRET),
        "{debug}"
    );

    let wrong = json
        .to_string()
        .replace("authorized_user", "service_account");
    let error = UserCredentials::from_authorized_user_json(&wrong).unwrap_err();
    assert!(
        error.to_string().contains("expected \"authorized_user\""),
        "{error}"
    );
    let missing = r#"{"type":"authorized_user","client_id":"x"}"#;
    let error = UserCredentials::from_authorized_user_json(missing).unwrap_err();
    assert!(
        error.to_string().contains("missing `refresh_token`"),
        "{error}"
    );
}

#[tokio::test]
async fn service_account_assertion_verifies_and_carries_the_subject() {
    let server = Server::start().await;
    let key = ServiceAccountKey::from_file(KEY).unwrap();
    let credentials = ServiceAccountCredentials::new(
        key.clone(),
        [Scope::RostersReadonly, Scope::CoursesReadonly],
    )
    .subject("admin@school.example.edu")
    .token_uri(server.url("/token"));
    let token = credentials.access_token().await.unwrap();
    assert_eq!(token.scopes().unwrap().len(), 2);
    let state = server.state();
    assert_eq!(
        state.assertions.len(),
        1,
        "the server verified the RS256 signature with the public key"
    );
    let claims = &state.assertions[0];
    assert_eq!(claims["sub"], "admin@school.example.edu");
    assert_eq!(claims["iss"], key.client_email());
    assert_eq!(claims["aud"], server.url("/token"));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(
        claims["scope"]
            .as_str()
            .unwrap()
            .contains("classroom.rosters.readonly")
    );
    assert!(!format!("{key:?}").contains("PRIVATE KEY"));
}

#[test]
fn service_account_keys_parse_with_clear_errors() {
    let json = std::fs::read_to_string(KEY).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
    let error = ServiceAccountKey::from_json(&value.to_string()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("private_key is not a usable RSA key"),
        "{error}"
    );
    assert!(!error.to_string().contains("AAAA"));
    value["private_key"] = "not pem".into();
    let error = ServiceAccountKey::from_json(&value.to_string()).unwrap_err();
    assert!(
        error.to_string().contains("not a PEM private key"),
        "{error}"
    );
    value["type"] = "authorized_user".into();
    let error = ServiceAccountKey::from_json(&value.to_string()).unwrap_err();
    assert!(
        error.to_string().contains("not a service-account key"),
        "{error}"
    );
}

#[tokio::test]
async fn client_credentials_renew_on_expiry_with_either_client_auth() {
    let server = Server::start().await;
    server.behave(|b| b.expires_in = 0); // expired on arrival
    let app = ClientCredentials::new(server.client(), [COURSES]);
    let first = app.access_token().await.unwrap();
    let second = app.access_token().await.unwrap();
    assert_ne!(
        first.secret(),
        second.secret(),
        "an expired token is renewed"
    );
    assert_eq!(server.tokens(), 2);
    server.behave(|b| b.expires_in = 3600);
    let third = app.access_token().await.unwrap();
    assert_eq!(
        app.access_token().await.unwrap().secret(),
        third.secret(),
        "a fresh one is reused"
    );
    assert_eq!(server.tokens(), 3);

    let basic = server.provider().with_client_auth(ClientAuth::HttpBasic);
    let client = server.client().with_provider(basic);
    ClientCredentials::new(client, [COURSES])
        .access_token()
        .await
        .unwrap();
    assert!(
        !server
            .state()
            .token_forms
            .last()
            .unwrap()
            .contains_key("client_secret")
    );
    let wrong = OAuthClient::new(
        common::CLIENT_ID,
        Some(classroom::auth::ClientSecret::new("nope")),
    )
    .with_provider(server.provider());
    let error = ClientCredentials::new(wrong, [COURSES])
        .access_token()
        .await
        .unwrap_err();
    assert!(matches!(error, AuthError::InvalidClient { .. }), "{error}");
}

#[tokio::test]
async fn revocation_reaches_the_server_and_clears_the_store() {
    let server = Server::start().await;
    let refresh = server.grant_refresh_token(COURSES);
    let store = Arc::new(MemoryStore::new());
    let credentials = UserCredentials::new(
        server.client(),
        classroom::auth::RefreshToken::new(&refresh),
    )
    .with_store(store.clone());
    credentials.access_token().await.unwrap();
    assert!(store.has_refresh_token());
    credentials.revoke().await.unwrap();
    assert_eq!(server.state().revoked, [refresh]);
    assert!(store.load().unwrap().is_none());
    // The revoked grant's access token is not sent again: the next call says to authorize.
    assert!(credentials.cached_token().is_none());
    let error = credentials.access_token().await.unwrap_err();
    assert!(error.to_string().contains("authorize again"), "{error}");
    // An access token can be revoked too.
    server
        .client()
        .revoke("ya29.some-access-token")
        .await
        .unwrap();
    assert_eq!(server.state().revoked.len(), 2);
}

#[test]
fn client_secret_files_parse_with_clear_errors() {
    let web = r#"{"web":{"client_id":"w.apps.googleusercontent.com","client_secret":"GOCSPX-web","redirect_uris":["https://app.example.com/cb"],"auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token"}}"#;
    let client = OAuthClient::from_client_secret_json(web).unwrap();
    assert_eq!(client.kind(), classroom::auth::ClientKind::Web);
    assert_eq!(client.redirect_uris(), ["https://app.example.com/cb"]);
    assert!(!format!("{client:?}").contains("GOCSPX-web"));
    let installed = r#"{"installed":{"client_id":"i.apps.googleusercontent.com","client_secret":"GOCSPX-i","redirect_uris":["http://localhost"]}}"#;
    let client = OAuthClient::from_client_secret_json(installed).unwrap();
    assert_eq!(client.kind(), classroom::auth::ClientKind::Installed);
    assert_eq!(
        client.provider().token_uri,
        classroom::auth::GOOGLE_TOKEN_URI
    );

    let neither = OAuthClient::from_client_secret_json(r#"{"other":{}}"#).unwrap_err();
    assert!(
        neither.to_string().contains("\"web\" or \"installed\""),
        "{neither}"
    );
    let broken = OAuthClient::from_client_secret_json(r#"{"web":{"client_secret":"GOCSPX-leak"}}"#)
        .unwrap_err();
    assert!(
        broken.to_string().contains("missing `client_id`"),
        "{broken}"
    );
    assert!(!broken.to_string().contains("GOCSPX-leak"));
    let html = OAuthClient::from_client_secret_json("<html>").unwrap_err();
    assert!(html.to_string().contains("not valid JSON"), "{html}");
    let missing =
        OAuthClient::from_client_secret_file("/nonexistent/client_secret.json").unwrap_err();
    assert!(missing.to_string().contains("cannot be read"), "{missing}");
}

#[test]
fn flows_refuse_invalid_redirect_uris_before_starting() {
    let client = OAuthClient::new("id", None);
    let error = WebFlow::new(client, "http://app.example.com/cb").unwrap_err();
    assert!(
        matches!(error, AuthError::InvalidRedirectUri { rule: "https", .. }),
        "{error}"
    );
}

// ---------------------------------------------------------------------------------------
// Hardening (issue 9): each test fails on the code before it.

/// The test server's port reached through `0.0.0.0`, which is not a loopback address (Linux
/// routes it to the local host): an endpoint that counts as remote yet is served by the test.
fn remote_alias(url: &str) -> String {
    url.replace("127.0.0.1", "0.0.0.0")
}

#[tokio::test]
async fn secrets_go_over_http_only_to_loopback_unless_opted_in() {
    let server = Server::start().await;
    let remote = Provider::new("", remote_alias(&server.url("/token")))
        .with_revoke_uri(remote_alias(&server.url("/revoke")));
    let client = server.client().with_provider(remote.clone());
    let error = ClientCredentials::new(client.clone(), [COURSES])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::InsecureEndpoint { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("Provider::allow_insecure_http()"),
        "the error says how to opt in: {error}"
    );
    let error = client.revoke("ya29.x").await.unwrap_err();
    assert!(
        matches!(error, AuthError::InsecureEndpoint { .. }),
        "{error:?}"
    );
    // A service account key naming a plain-HTTP token_uri.
    let mut key: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(KEY).unwrap()).unwrap();
    key["token_uri"] = remote_alias(&server.url("/token")).into();
    let key = ServiceAccountKey::from_json(&key.to_string()).unwrap();
    let error = ServiceAccountCredentials::new(key.clone(), [COURSES])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("ServiceAccountCredentials::allow_insecure_http()"),
        "{error}"
    );
    // An authorized_user file naming one.
    let refresh = server.grant_refresh_token(COURSES);
    let file = serde_json::json!({
        "type": "authorized_user", "client_id": common::CLIENT_ID,
        "client_secret": CLIENT_SECRET, "refresh_token": refresh,
        "token_uri": remote_alias(&server.url("/token")),
    })
    .to_string();
    let error = UserCredentials::from_authorized_user_json(&file)
        .unwrap()
        .access_token()
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("UserCredentials::allow_insecure_http()"),
        "{error}"
    );
    assert_eq!(server.tokens(), 0, "nothing was sent in clear");

    // Opting in lets each through.
    let allowed = server.client().with_provider(remote.allow_insecure_http());
    ClientCredentials::new(allowed.clone(), [COURSES])
        .access_token()
        .await
        .unwrap();
    allowed.revoke("ya29.x").await.unwrap();
    ServiceAccountCredentials::new(key, [COURSES])
        .allow_insecure_http()
        .access_token()
        .await
        .unwrap();
    UserCredentials::from_authorized_user_json(&file)
        .unwrap()
        .allow_insecure_http()
        .access_token()
        .await
        .unwrap();
    assert_eq!(server.tokens(), 3);
}

/// Token requests for `callers` concurrent callers of one credential, then for 100 more
/// calls one after another, with tokens living `lifetime` seconds.
async fn token_requests(server: &Server, lifetime: i64, callers: usize) -> (usize, usize) {
    server.behave(|b| {
        b.expires_in = lifetime;
        b.token_delay = Duration::from_millis(50);
    });
    let before = server.tokens();
    let app = Arc::new(ClientCredentials::new(server.client(), [COURSES]));
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.access_token().await.unwrap() })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let concurrent = server.tokens() - before;
    for _ in 0..100 {
        app.access_token().await.unwrap();
    }
    (concurrent, server.tokens() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_token_request_for_200_callers_at_every_lifetime() {
    let server = Server::start().await;
    for lifetime in [10, 30, 60, 3600] {
        let (concurrent, total) = token_requests(&server, lifetime, 200).await;
        eprintln!(
            "lifetime {lifetime:>4} s: 200 concurrent callers -> {concurrent} token request(s); \
             +100 sequential calls -> {total} in all"
        );
        assert_eq!(concurrent, 1, "{lifetime} s tokens, 200 concurrent callers");
        assert_eq!(total, 1, "{lifetime} s tokens, 100 more calls in a row");
    }
}

/// A token store that fails every write, and notes which threads it ran on.
#[derive(Debug, Default)]
struct BrokenStore {
    threads: Mutex<Vec<std::thread::ThreadId>>,
    inner: MemoryStore,
}

impl TokenStore for BrokenStore {
    fn load(&self) -> Result<Option<StoredToken>, AuthError> {
        self.inner.load()
    }
    fn save(&self, _: &StoredToken) -> Result<(), AuthError> {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        Err(AuthError::Store {
            message: "disk full".into(),
        })
    }
    fn clear(&self) -> Result<(), AuthError> {
        self.threads
            .lock()
            .unwrap()
            .push(std::thread::current().id());
        Err(AuthError::Store {
            message: "read-only file system".into(),
        })
    }
}

#[tokio::test]
async fn a_store_failure_keeps_the_tokens_and_is_reported() {
    let server = Server::start().await;
    let refresh = server.grant_refresh_token(COURSES);
    let store = Arc::new(BrokenStore::default());
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let credentials = UserCredentials::new(server.client(), RefreshToken::new(&refresh))
        .with_store(store.clone())
        .on_token_change(move |e| seen.lock().unwrap().push(e.store_error.clone()));
    let token = credentials
        .access_token()
        .await
        .expect("the refreshed token is used even though it cannot be saved");
    assert_eq!(
        credentials.access_token().await.unwrap().secret(),
        token.secret()
    );
    assert_eq!(server.tokens(), 1, "the token was kept, not fetched again");
    {
        let events = events.lock().unwrap();
        assert!(
            matches!(events[..], [Some(AuthError::Store { .. })]),
            "the hook heard of it: {events:?}"
        );
    }
    assert!(
        credentials
            .store_error()
            .unwrap()
            .to_string()
            .contains("disk full")
    );
    // The store ran on the blocking pool, not on this (current-thread) executor.
    let here = std::thread::current().id();
    assert!(!store.threads.lock().unwrap().is_empty());
    assert!(store.threads.lock().unwrap().iter().all(|t| *t != here));

    // A code exchange: the code is spent, so its tokens must not be lost.
    let flow = WebFlow::new(server.client(), "http://localhost:1/cb")
        .unwrap()
        .with_store(store.clone());
    let (url, pending) = flow.authorize([COURSES]).offline(false).build().unwrap();
    let callback = server.consent(&url).await;
    let credentials = flow.finish(pending, &callback).await.unwrap();
    assert!(
        credentials.refresh_token().is_some(),
        "the refresh token is kept"
    );
    assert!(credentials.store_error().is_some());
    credentials.access_token().await.unwrap();
    assert_eq!(server.tokens(), 2, "the exchanged access token serves");

    // invalid_grant with a store that cannot be cleared still says consent is required.
    let dead = UserCredentials::new(server.client(), RefreshToken::new("1//revoked"))
        .with_store(store.clone());
    let error = dead.access_token().await.unwrap_err();
    assert!(error.is_consent_required(), "{error:?}");
    assert!(
        dead.store_error()
            .unwrap()
            .to_string()
            .contains("read-only")
    );
}

#[tokio::test]
async fn token_errors_get_advice_for_their_grant() {
    let server = Server::start().await;
    let reply = |code: &str| {
        let body = format!(r#"{{"error":"{code}","error_description":"Bad Request"}}"#);
        server.behave(|b| b.token_reply = Some((400, "application/json", body)));
    };
    let key = ServiceAccountKey::from_file(KEY).unwrap();
    let delegated = || {
        ServiceAccountCredentials::new(key.clone(), [Scope::RostersReadonly, Scope::Courses])
            .subject("teacher@other-school.example.org")
            .token_uri(server.url("/token"))
    };

    // A service account: a subject outside the domain, a clock off by minutes.
    reply("invalid_grant");
    let error = delegated().access_token().await.unwrap_err();
    assert!(
        matches!(
            error,
            AuthError::ServiceAccountRejected {
                delegated: true,
                ..
            }
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("clock") && text.contains("subject"), "{text}");
    assert!(
        !text.contains("cleared") && !text.contains("prompt=consent"),
        "{text}"
    );
    assert!(!error.is_consent_required());

    // Domain-wide delegation not granted (for these scopes).
    reply("unauthorized_client");
    let error = delegated().access_token().await.unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, AuthError::DelegationNotAuthorized { .. }),
        "{error:?}"
    );
    assert!(
        text.contains("Admin console") && text.contains("Domain Wide Delegation"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{},{}",
            Scope::RostersReadonly.url(),
            Scope::Courses.url()
        )),
        "the scopes to list there: {text}"
    );
    if let Some(id) = key.client_id() {
        assert!(text.contains(id), "{text}");
    }

    // Client credentials: the grant is not allowed for the client.
    let error = ClientCredentials::new(server.client(), [COURSES])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            AuthError::UnauthorizedClient {
                grant: "client_credentials",
                ..
            }
        ),
        "{error:?}"
    );

    // A refresh token: that one is dead, consent again.
    reply("invalid_grant");
    let error = UserCredentials::new(server.client(), RefreshToken::new("1//x"))
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::ConsentRequired { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("prompt=consent"), "{error}");
}

#[tokio::test]
async fn error_texts_never_repeat_what_we_sent() {
    let server = Server::start().await;
    let refresh = "1//refresh-token-SENT-BY-US";
    // An error page that echoes the form back, in HTML and in an OAuth error description.
    for (kind, body) in [
        (
            "text/html",
            format!(
                "<html>bad request: client_secret={} refresh_token={}</html>",
                url::form_urlencoded::byte_serialize(CLIENT_SECRET.as_bytes()).collect::<String>(),
                refresh
            ),
        ),
        (
            "application/json",
            serde_json::json!({
                "error": "invalid_request",
                "error_description": format!("refresh_token {refresh} with secret {CLIENT_SECRET}"),
            })
            .to_string(),
        ),
    ] {
        server.behave(|b| b.token_reply = Some((400, kind, body)));
        let error = UserCredentials::new(server.client(), RefreshToken::new(refresh))
            .access_token()
            .await
            .unwrap_err();
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(
                !text.contains(CLIENT_SECRET) && !text.contains("SENT-BY-US"),
                "{text}"
            );
        }
    }
    // Transport errors show the endpoint without userinfo or query values.
    let unreachable = OAuthClient::new(common::CLIENT_ID, None).with_provider(Provider::new(
        "",
        "http://user:hunter2@127.0.0.1:9/token?key=QUERYSECRET",
    ));
    let error = ClientCredentials::new(unreachable, [COURSES])
        .access_token()
        .await
        .unwrap_err();
    let text = error.to_string();
    // Refused on loopback: reported at once, not as something to retry.
    assert!(
        matches!(error, classroom::auth::AuthError::Refused { .. }),
        "{error:?}"
    );
    assert!(
        !format!("{error:?}").contains("hunter2") && !format!("{error:?}").contains("QUERYSECRET"),
        "{error:?}"
    );
    assert!(
        !text.contains("hunter2") && !text.contains("QUERYSECRET") && text.contains("127.0.0.1:9"),
        "{text}"
    );
    // Redirect URIs with a password in them.
    let error =
        WebFlow::new(server.client(), "http://admin:hunter2@app.example.com/cb").unwrap_err();
    assert!(
        !format!("{error} {error:?}").contains("hunter2"),
        "{error:?}"
    );
}

#[tokio::test]
async fn token_replies_are_capped_and_must_be_bearer() {
    let server = Server::start().await;
    let huge = format!(
        r#"{{"access_token":"ya29.x","token_type":"Bearer","padding":"{}"}}"#,
        "x".repeat(TOKEN_REPLY_LIMIT)
    );
    server.behave(|b| b.token_reply = Some((200, "application/json", huge)));
    let error = ClientCredentials::new(server.client(), [COURSES])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::MalformedResponse { .. })
            && error.to_string().contains("larger"),
        "{error:?}"
    );
    server.behave(|b| {
        b.token_reply = Some((
            200,
            "application/json",
            r#"{"access_token":"ya29.x","expires_in":3600}"#.into(),
        ))
    });
    let error = ClientCredentials::new(server.client(), [COURSES])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("token_type is missing"),
        "{error}"
    );
}

#[tokio::test]
async fn token_call_timeouts_are_configurable() {
    let server = Server::start().await;
    server.behave(|b| b.token_delay = Duration::from_secs(3));
    let client = server
        .client()
        .timeout(Duration::from_millis(300))
        .connect_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let error = ClientCredentials::new(client, [COURSES])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        error.is_transient() && error.to_string().contains("timed out"),
        "{error:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let key = ServiceAccountKey::from_file(KEY).unwrap();
    let started = std::time::Instant::now();
    let error = ServiceAccountCredentials::new(key, [COURSES])
        .token_uri(server.url("/token"))
        .timeout(Duration::from_millis(300))
        .access_token()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("timed out"), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_request_with_a_wrong_state_does_not_end_the_loopback_flow() {
    let server = Server::start().await;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = Mutex::new(Some(tx));
    let flow = InstalledFlow::new(server.client())
        .open_browser(false)
        .timeout(Duration::from_secs(10))
        .on_url(move |url| {
            let _ = tx.lock().unwrap().take().unwrap().send(url.to_string());
        });
    let run = tokio::spawn(flow.run([Scope::Courses]));
    let url = rx.await.unwrap();
    let redirect = query(&url)["redirect_uri"].clone();
    // Another process on the machine tries to end (or hijack) the login.
    for forged in [
        format!("{redirect}?state=guess&code=4/forged"),
        format!("{redirect}?code=4/forged"),
        format!("{redirect}?error=access_denied"),
    ] {
        let page = common::raw_get(&forged).await;
        assert!(page.starts_with("HTTP/1.1 400"), "{page}");
    }
    assert!(!run.is_finished(), "the flow still waits");
    let page = common::raw_get(&server.consent(&url).await).await;
    assert!(page.contains("You can close this window"), "{page}");
    let credentials = run.await.unwrap().unwrap();
    assert!(credentials.refresh_token().is_some());
    assert_eq!(server.tokens(), 1, "only the real code was exchanged");
}

#[tokio::test]
async fn a_failed_refresh_serves_the_token_while_it_is_valid() {
    let server = Server::start().await;
    let refresh = server.grant_refresh_token(COURSES);
    let store = Arc::new(MemoryStore::new());
    // A stored token inside the 60 s skew: due for a refresh, valid for 2 more seconds.
    store
        .save(&StoredToken {
            refresh_token: Some(RefreshToken::new(&refresh)),
            access_token: Some("ya29.still-valid".into()),
            expires_at: Some(chrono::Utc::now() + chrono::Duration::seconds(2)),
            scopes: Some(vec![COURSES.into()]),
        })
        .unwrap();
    server.behave(|b| b.token_reply = Some((503, "text/html", "<html>down</html>".into())));
    let credentials = UserCredentials::from_store(server.client(), store)
        .unwrap()
        .unwrap();
    assert_eq!(
        credentials.access_token().await.unwrap().secret(),
        "ya29.still-valid",
        "the blip does not fail a call that did not need a new token"
    );
    assert_eq!(server.tokens(), 1);
    credentials.access_token().await.unwrap();
    assert_eq!(server.tokens(), 1, "the retry waits a moment");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let error = credentials.access_token().await.unwrap_err();
    assert!(
        error.is_transient(),
        "expired now, so the failure shows: {error:?}"
    );
    server.behave(|b| b.token_reply = None);
    assert_ne!(
        credentials.access_token().await.unwrap().secret(),
        "ya29.still-valid"
    );
}

#[tokio::test]
async fn small_api_additions() {
    let server = Server::start().await;
    // PendingAuthorization::state: the key of a login in progress.
    let flow = WebFlow::new(server.client(), "http://localhost:1/cb").unwrap();
    let (url, pending) = flow.authorize([COURSES]).build().unwrap();
    assert_eq!(pending.state(), query(&url)["state"]);
    // HTTP Basic without rebuilding the provider.
    let basic = server.client().with_client_auth(ClientAuth::HttpBasic);
    let app = ClientCredentials::new(basic, [COURSES]);
    assert!(app.cached_token().is_none(), "nothing fetched yet");
    app.access_token().await.unwrap();
    let form = server.state().token_forms.last().unwrap().clone();
    assert!(!form.contains_key("client_secret") && !form.contains_key("client_id"));
    // The current token's expiry and scopes, without a token request.
    let cached = app.cached_token().unwrap();
    assert_eq!(cached.scopes().unwrap(), [COURSES]);
    let left = cached.expires_at().unwrap() - chrono::Utc::now();
    assert!((3590..=3600).contains(&left.num_seconds()), "{left}");
    assert_eq!(server.tokens(), 1);
    // Redirect URIs on a URL shortener or with an open redirect are refused up front.
    for (uri, rule) in [
        ("https://bit.ly/cb", "shortener"),
        (
            "https://app.example.com/cb?next=https://evil.example.net",
            "open-redirect",
        ),
        ("https://app.intranet/cb", "public-suffix"),
    ] {
        let error = WebFlow::new(server.client(), uri).unwrap_err();
        assert!(
            matches!(error, AuthError::InvalidRedirectUri { rule: r, .. } if r == rule),
            "{uri}: {error:?}"
        );
    }
}

#[test]
fn a_key_file_of_another_kind_says_what_it_is_and_what_reads_it() {
    let authorized_user = r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": "r"}"#;
    let err = classroom::auth::ServiceAccountKey::from_json(authorized_user).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("authorized-user") && text.contains("from_authorized_user_file"),
        "{text}"
    );
    assert!(
        !text.contains("client_email") && !text.contains("\"s\""),
        "{text}"
    );
    let client_secret = r#"{"installed": {"client_id": "c", "client_secret": "s"}}"#;
    let text = classroom::auth::ServiceAccountKey::from_json(client_secret)
        .unwrap_err()
        .to_string();
    assert!(text.contains("from_client_secret_file"), "{text}");
}
