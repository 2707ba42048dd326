//! Runtime scope enforcement, the 401 retry and single-flight refresh, over real HTTP.

#[path = "oauth_server/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use classroom::auth::{
    AccessToken, ClientCredentials, Credentials, RefreshToken, UserCredentials, WebFlow,
};
use classroom::resources::METHODS;
use classroom::{BearerToken, Classroom, Error, Scope};
use common::{COURSES, COURSES_READONLY, Server};

fn classroom(server: &Server, credentials: impl Credentials + 'static) -> Classroom {
    Classroom::builder()
        .root_url(server.url("/"))
        .credentials(credentials)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_call_without_an_authorizing_scope_sends_nothing() {
    let server = Server::start().await;
    let readonly = BearerToken::new("ya29.readonly", [COURSES_READONLY]);
    let classroom = classroom(&server, readonly);
    let error = classroom
        .courses()
        .create(Default::default())
        .send()
        .await
        .unwrap_err();
    match &error {
        Error::MissingScope {
            method,
            accepted,
            granted,
            ..
        } => {
            assert_eq!(*method, "classroom.courses.create");
            assert_eq!(accepted, &[Scope::Courses]);
            assert_eq!(granted, &[COURSES_READONLY]);
        }
        other => panic!("expected MissingScope, got {other:?}"),
    }
    assert!(error.to_string().contains(COURSES), "{error}");
    assert_eq!(server.api_calls(), 0, "the server saw no request");

    // The same client may read.
    classroom.courses().get("123").send().await.unwrap();
    assert_eq!(server.api_calls(), 1);
}

#[tokio::test]
async fn additional_scopes_never_authorize_a_call_on_their_own() {
    let server = Server::start().await;
    let profile = [Scope::ProfileEmails.url(), Scope::ProfilePhotos.url()];
    let classroom = classroom(&server, BearerToken::new("ya29.profile", profile));
    // userProfiles.get lists the profile scopes in the discovery document.
    let listed = METHODS
        .iter()
        .find(|m| m.id == "classroom.userProfiles.get")
        .unwrap();
    assert!(listed.scopes.contains(&Scope::ProfileEmails));
    let error = classroom
        .user_profiles()
        .get("me")
        .send()
        .await
        .unwrap_err();
    assert!(error.is_missing_scope(), "{error}");
    assert_eq!(server.api_calls(), 0);
    // No method anywhere is authorized by an additional scope alone.
    for method in METHODS {
        assert!(
            method.authorizing_scopes().all(|s| !s.is_additional()),
            "{}",
            method.id
        );
    }
    assert!(Scope::ALL.iter().filter(|s| s.is_additional()).count() == 2);
}

#[tokio::test]
async fn a_token_with_unknown_scopes_skips_the_check() {
    let server = Server::start().await;
    let classroom = classroom(&server, BearerToken::unchecked("ya29.from-gcloud"));
    classroom
        .courses()
        .create(Default::default())
        .send()
        .await
        .unwrap();
    assert_eq!(server.api_calls(), 1, "the server, not the client, decided");
    assert_eq!(server.state().api_tokens, ["ya29.from-gcloud"]);
}

#[tokio::test]
async fn a_401_triggers_one_refresh_and_one_retry() {
    let server = Server::start().await;
    let refresh = server.grant_refresh_token(COURSES);
    let credentials = UserCredentials::new(server.client(), RefreshToken::new(refresh));
    let classroom = classroom(&server, credentials);
    classroom.courses().get("123").send().await.unwrap();
    assert_eq!((server.tokens(), server.api_calls()), (1, 1));

    server.behave(|b| b.api_unauthorized = 1);
    classroom.courses().get("123").send().await.unwrap();
    assert_eq!(server.tokens(), 2, "the rejected token was replaced");
    assert_eq!(server.api_calls(), 3);
    let tokens = server.state().api_tokens.clone();
    assert_eq!(tokens[0], tokens[1]);
    assert_ne!(tokens[1], tokens[2], "the retry carried the new token");

    server.behave(|b| b.api_unauthorized = 5);
    let error = classroom.courses().get("123").send().await.unwrap_err();
    assert_eq!(error.http_status(), Some(401));
    assert_eq!(server.api_calls(), 5, "one retry, not more");
    assert_eq!(server.tokens(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_with_an_expired_token_cause_one_token_request() {
    let server = Server::start().await;
    server.behave(|b| b.token_delay = Duration::from_millis(200));
    let refresh = server.grant_refresh_token(COURSES_READONLY);
    // A previous run left an access token that expired a minute ago.
    let store = Arc::new(classroom::auth::MemoryStore::new());
    classroom::auth::TokenStore::save(
        &*store,
        &classroom::auth::StoredToken {
            refresh_token: Some(RefreshToken::new(refresh)),
            access_token: Some("ya29.expired".into()),
            expires_at: Some(chrono::Utc::now() - chrono::Duration::minutes(1)),
            scopes: Some(vec![COURSES_READONLY.into()]),
        },
    )
    .unwrap();
    let credentials = UserCredentials::from_store(server.client(), store)
        .unwrap()
        .unwrap();
    let credentials = Arc::new(credentials);
    let classroom = Classroom::builder()
        .root_url(server.url("/"))
        .shared_credentials(credentials.clone())
        .build()
        .unwrap();
    let started = Instant::now();
    let calls = (0..1000).map(|_| {
        let classroom = classroom.clone();
        tokio::spawn(async move { classroom.courses().get("123").send().await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    eprintln!(
        "1000 calls through one refresh took {:?}",
        started.elapsed()
    );
    assert_eq!(server.tokens(), 1, "exactly one token request");
    assert_eq!(server.api_calls(), 1000);
    let tokens = server.state().api_tokens.clone();
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "all calls shared the one token"
    );
    assert_ne!(
        tokens[0], "ya29.expired",
        "the expired token was never sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_share_a_failed_refresh_instead_of_repeating_it() {
    let server = Server::start().await;
    server.behave(|b| {
        b.token_delay = Duration::from_millis(100);
        b.token_reply = Some((503, "text/html", "<html>down</html>".into()));
    });
    let app = Arc::new(ClientCredentials::new(server.client(), [COURSES]));
    let calls = (0..200).map(|_| {
        let app = app.clone();
        tokio::spawn(async move { app.access_token().await })
    });
    for call in futures::future::join_all(calls).await {
        assert!(call.unwrap().unwrap_err().is_transient());
    }
    assert_eq!(server.tokens(), 1);
    // A later call tries again.
    server.behave(|b| b.token_reply = None);
    app.access_token().await.unwrap();
    assert_eq!(server.tokens(), 2);
}

#[tokio::test]
async fn a_missing_scope_error_builds_the_incremental_authorization_url() {
    let server = Server::start().await;
    let classroom = classroom(&server, BearerToken::new("t", [COURSES_READONLY]));
    let error = classroom
        .courses()
        .create(Default::default())
        .send()
        .await
        .unwrap_err();
    let flow = WebFlow::new(server.client(), "https://app.example.com/cb").unwrap();
    let (url, pending) = flow
        .authorize_missing_scope(&error)
        .unwrap()
        .build()
        .unwrap();
    let q: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(url.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(q["scope"], COURSES);
    assert_eq!(q["include_granted_scopes"], "true");
    assert_eq!(pending.scopes(), [COURSES]);
    // An error that is not a missing scope: a client built without credentials.
    let other = classroom::Classroom::builder().build().unwrap_err();
    assert!(flow.authorize_missing_scope(&other).is_none());
}

#[test]
fn access_tokens_and_secrets_stay_out_of_debug_output() {
    let token = AccessToken::new("ya29.SECRET").with_scopes([COURSES]);
    let debug = format!(
        "{token:?} {:?} {:?}",
        BearerToken::unchecked("ya29.SECRET"),
        RefreshToken::new("1//SECRET")
    );
    assert!(!debug.contains("SECRET"), "{debug}");
    let secret = classroom::auth::ClientSecret::new("GOCSPX-SECRET");
    assert!(!format!("{secret:?}").contains("SECRET"));
    let stored = classroom::auth::StoredToken {
        refresh_token: Some(RefreshToken::new("1//SECRET")),
        access_token: Some("ya29.SECRET".into()),
        ..Default::default()
    };
    assert!(!format!("{stored:?}").contains("SECRET"));
}
