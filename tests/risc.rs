//! Cross-Account Protection end to end on loopback: the emulator signs security event tokens
//! with its key and publishes the JWKS; the receiver verifies them and drops the affected
//! user's tokens, refuses forged, misaddressed and stale ones without changing anything, and
//! applies a repeated token once.

#[path = "emulator_common/mod.rs"]
mod common;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use classroom::auth::{
    AuthError, ClientSecret, Credentials, Effect, MemoryStore, OAuthClient, Provider, RevokedToken,
    RiscError, RiscReceiver, SecurityEvent, TokenRegistry, TokenStore, UserCredentials, WebFlow,
};
use classroom::{Classroom, Error, RetryPolicy, Scope};
use classroom_emulator::{Consent, Emulator, demo};
use serde_json::json;

struct SignedIn {
    sub: String,
    store: Arc<MemoryStore>,
    credentials: Arc<UserCredentials>,
}

/// Signs `user` in through the web flow with a token store, and registers both under the
/// user's Google account id.
async fn sign_in(emulator: &Emulator, registry: &TokenRegistry, user: &str) -> SignedIn {
    let client = OAuthClient::new(
        emulator.client_id(),
        Some(ClientSecret::new(emulator.client_secret())),
    )
    .with_provider(Provider::new(emulator.auth_url(), emulator.token_url()));
    let store = Arc::new(MemoryStore::new());
    let verifier = classroom::auth::IdTokenVerifier::google(emulator.client_id())
        .issuer(emulator.id_token_issuer(), emulator.jwks_url());
    let flow = WebFlow::new(client, "http://127.0.0.1:8765/cb")
        .unwrap()
        .with_store(store.clone())
        .verify_id_tokens(verifier);
    let (url, pending) = flow
        .authorize([Scope::CoursesReadonly.url(), "openid"])
        .offline(false)
        .build()
        .unwrap();
    emulator.script_consent(Consent::grant_all().as_user(user));
    let redirect = common::http().get(&url).send().await.unwrap();
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    let query = location.split_once('?').unwrap().1.to_string();
    let credentials = Arc::new(flow.finish(pending, &query).await.unwrap());
    // The `sub` of the user's verified ID token: the user a RISC event names.
    let sub = credentials
        .identity()
        .expect("openid was asked for")
        .subject
        .clone();
    assert_eq!(
        Some(&sub),
        emulator.user_id(user).as_ref(),
        "the emulator's sub is the user id"
    );
    registry.register_credentials(sub.clone(), &credentials);
    registry.register_store(sub.clone(), store.clone());
    SignedIn {
        sub,
        store,
        credentials,
    }
}

impl SignedIn {
    fn has_stored_tokens(&self) -> bool {
        self.store.load().unwrap().is_some()
    }

    async fn can_call(&self, emulator: &Emulator) -> Result<(), Error> {
        Classroom::builder()
            .root_url(emulator.root_url())
            .shared_credentials(self.credentials.clone())
            .retry(RetryPolicy::none())
            .build()
            .unwrap()
            .courses()
            .list()
            .send()
            .await
            .map(drop)
    }
}

async fn receiver(emulator: &Emulator, registry: Arc<TokenRegistry>) -> RiscReceiver {
    RiscReceiver::new([emulator.client_id()], registry)
        .discover(&emulator.risc_configuration_url())
        .await
        .unwrap()
}

/// The emulator's token for `event`: the SDK writes the `events` claim (as Google's side would),
/// the emulator signs it as the issuer its JWKS and discovery document name.
fn event_token(emulator: &Emulator, event: &SecurityEvent, audience: &str) -> String {
    emulator.security_event_token(&event.to_claim(&emulator.risc_issuer()), audience)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn a_tokens_revoked_event_drops_that_users_tokens_and_only_theirs() {
    let emulator = Emulator::start().unwrap();
    let registry = Arc::new(TokenRegistry::new());
    let student = sign_in(&emulator, &registry, demo::STUDENT).await;
    let teacher = sign_in(&emulator, &registry, demo::TEACHER).await;
    let receiver = receiver(&emulator, registry.clone()).await;
    student.can_call(&emulator).await.unwrap();
    assert!(student.has_stored_tokens());

    let event = SecurityEvent::TokensRevoked {
        subject: student.sub.clone(),
    };
    let token = event_token(&emulator, &event, emulator.client_id());
    let receipt = receiver.receive(token.as_bytes()).await.unwrap();
    assert_eq!(receipt.event, event);
    // The live credentials clear their own store, which is also registered: one or two
    // holders held something, depending on which was cleared first. What matters follows.
    assert!(
        matches!(&receipt.effect, Effect::TokensDropped { subject: Some(s), holders: 1..=2 } if *s == student.sub),
        "{:?}",
        receipt.effect
    );

    // Nothing is left to act for the student: not in the store, not in memory.
    assert!(!student.has_stored_tokens());
    assert!(student.credentials.refresh_token().is_none());
    let error = student.credentials.access_token().await.unwrap_err();
    assert!(error.is_consent_required(), "{error:?}");
    assert!(error.to_string().contains("tokens-revoked"), "{error}");
    let call = student.can_call(&emulator).await.unwrap_err();
    assert!(matches!(call, Error::Auth(_)), "no call is made: {call:?}");

    // The teacher is untouched.
    assert!(teacher.has_stored_tokens());
    teacher.can_call(&emulator).await.unwrap();

    // The same token again: recognized, nothing done.
    let again = receiver.receive(token.as_bytes()).await.unwrap();
    assert_eq!(again.effect, Effect::Duplicate);
    assert_eq!(again.jti, receipt.jti);
    // The same event in a new token (a new jti) finds nothing more to drop.
    let resent = event_token(&emulator, &event, emulator.client_id());
    let receipt = receiver.receive(resent.as_bytes()).await.unwrap();
    assert_eq!(
        receipt.effect,
        Effect::TokensDropped {
            subject: Some(student.sub.clone()),
            holders: 0
        }
    );
    teacher.can_call(&emulator).await.unwrap();
}

/// Whether an error is the one a case expects.
type Expect = fn(&RiscError) -> bool;

#[tokio::test]
async fn refused_tokens_change_nothing_and_say_why() {
    let emulator = Emulator::start().unwrap();
    let registry = Arc::new(TokenRegistry::new());
    let student = sign_in(&emulator, &registry, demo::STUDENT).await;
    let receiver = receiver(&emulator, registry.clone()).await;
    let event = SecurityEvent::SessionsRevoked {
        subject: student.sub.clone(),
    };
    let claims = |iss: &str, aud: &str, iat: i64| {
        json!({
            "iss": iss,
            "aud": aud,
            "iat": iat,
            "jti": format!("jti-{iat}-{aud}-{iss}"),
            "events": event.to_claim(iss),
        })
    };
    let issuer = emulator.risc_issuer();
    let client = emulator.client_id();

    // A bad signature: a payload of our own making under the genuine token's signature.
    let genuine = event_token(&emulator, &event, client);
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged_payload = URL_SAFE_NO_PAD.encode(claims(&issuer, client, now()).to_string());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    // The signature of another token entirely.
    let other = event_token(
        &emulator,
        &SecurityEvent::AccountEnabled {
            subject: student.sub.clone(),
        },
        client,
    );
    let spliced = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        other.split('.').nth(2).unwrap()
    );

    let cases: Vec<(&str, String, Expect)> = vec![
        ("forged payload", forged, |e| {
            matches!(e, RiscError::BadSignature)
        }),
        ("spliced signature", spliced, |e| {
            matches!(e, RiscError::BadSignature)
        }),
        (
            "wrong audience",
            event_token(&emulator, &event, "someone-else.apps.googleusercontent.com"),
            |e| matches!(e, RiscError::WrongAudience { .. }),
        ),
        (
            "wrong issuer",
            emulator.sign_security_event(&claims("https://accounts.evil.example/", client, now())),
            |e| matches!(e, RiscError::WrongIssuer { .. }),
        ),
        (
            "stale",
            emulator.sign_security_event(&claims(&issuer, client, now() - 3 * 24 * 3600)),
            |e| matches!(e, RiscError::Stale { .. }),
        ),
        (
            "from the future",
            emulator.sign_security_event(&claims(&issuer, client, now() + 3600)),
            |e| matches!(e, RiscError::IssuedInFuture { .. }),
        ),
        ("not a JWT", "hello".to_string(), |e| {
            matches!(e, RiscError::Malformed { .. })
        }),
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"emulator-risc-1"}"#),
                parts[1]
            ),
            |e| matches!(e, RiscError::UnsupportedAlgorithm { .. }),
        ),
    ];
    for (name, token, expected) in cases {
        let error = receiver.receive(token.as_bytes()).await.unwrap_err();
        assert!(expected(&error), "{name}: {error:?}");
        assert_eq!(error.http_status(), 400, "{name}");
        assert!(student.has_stored_tokens(), "{name} changed the store");
        student
            .can_call(&emulator)
            .await
            .unwrap_or_else(|e| panic!("{name} dropped the live credentials: {e}"));
    }

    // The genuine token still applies afterwards: the refusals remembered nothing.
    let receipt = receiver.receive(genuine.as_bytes()).await.unwrap();
    assert!(matches!(
        receipt.effect,
        Effect::TokensDropped { holders: 1.., .. }
    ));
    assert!(!student.has_stored_tokens());
}

#[tokio::test]
async fn a_token_revoked_event_drops_the_refresh_token_it_names() {
    let emulator = Emulator::start().unwrap();
    let registry = Arc::new(TokenRegistry::new());
    let student = sign_in(&emulator, &registry, demo::STUDENT).await;
    let teacher = sign_in(&emulator, &registry, demo::TEACHER).await;
    let receiver = receiver(&emulator, registry.clone()).await;
    let refresh = student.credentials.refresh_token().unwrap();
    for (algorithm, user) in [
        ("hash_base64_sha512_sha512", &student),
        ("prefix", &teacher),
    ] {
        let refresh = user.credentials.refresh_token().unwrap();
        let token = RevokedToken::identify("refresh_token", algorithm, refresh.secret());
        let event = SecurityEvent::TokenRevoked { token };
        let receipt = receiver
            .receive(event_token(&emulator, &event, emulator.client_id()).as_bytes())
            .await
            .unwrap();
        assert!(
            matches!(receipt.effect, Effect::TokensDropped { holders: 1.., .. }),
            "{algorithm}: {:?}",
            receipt.effect
        );
        assert!(!user.has_stored_tokens(), "{algorithm}");
        assert!(
            !format!("{receipt:?}").contains(&refresh.secret()[..8]),
            "the identifier stays out of Debug"
        );
    }
    assert!(
        student.credentials.access_token().await.is_err(),
        "{refresh:?}"
    );
}

#[tokio::test]
async fn events_that_drop_nothing_are_decoded_and_reported() {
    let emulator = Emulator::start().unwrap();
    let registry = Arc::new(TokenRegistry::new());
    let student = sign_in(&emulator, &registry, demo::STUDENT).await;
    let receiver = receiver(&emulator, registry.clone()).await;
    for event in [
        SecurityEvent::AccountEnabled {
            subject: student.sub.clone(),
        },
        SecurityEvent::CredentialChangeRequired {
            subject: student.sub.clone(),
        },
        SecurityEvent::Verification {
            state: Some("from stream:verify".into()),
        },
    ] {
        let token = event_token(&emulator, &event, emulator.client_id());
        let receipt = receiver.receive(token.as_bytes()).await.unwrap();
        assert_eq!(receipt.event, event);
        assert_eq!(receipt.effect, Effect::Nothing);
        assert!(student.has_stored_tokens());
    }
    // Account disabled for hijacking drops everything.
    let event = SecurityEvent::AccountDisabled {
        subject: student.sub.clone(),
        reason: Some("hijacking".into()),
    };
    let token = event_token(&emulator, &event, emulator.client_id());
    let receipt = receiver.receive(token.as_bytes()).await.unwrap();
    assert_eq!(receipt.event, event);
    assert!(!student.has_stored_tokens());
    assert!(matches!(
        student.credentials.access_token().await,
        Err(AuthError::ConsentRequired { .. })
    ));
}

#[tokio::test]
async fn keys_come_from_the_configured_url_and_must_be_reachable() {
    let registry = Arc::new(TokenRegistry::new());
    let emulator = Emulator::start().unwrap();
    let token = event_token(
        &emulator,
        &SecurityEvent::Verification { state: None },
        emulator.client_id(),
    );
    // Keys from a closed port: the failure is ours, so Google should retry (503).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/certs", listener.local_addr().unwrap());
    drop(listener);
    let receiver = RiscReceiver::new([emulator.client_id()], registry.clone())
        .issuer(emulator.risc_issuer())
        .jwks_uri(closed);
    let error = receiver.receive(token.as_bytes()).await.unwrap_err();
    assert!(matches!(error, RiscError::Keys(_)), "{error:?}");
    assert_eq!(error.http_status(), 503);
    // Keys over plain HTTP off loopback are refused before any request.
    let receiver = RiscReceiver::new([emulator.client_id()], registry.clone())
        .jwks_uri("http://keys.example.com/certs");
    let error = receiver.receive(token.as_bytes()).await.unwrap_err();
    assert!(
        matches!(&error, RiscError::Keys(AuthError::InsecureEndpoint { .. })),
        "{error:?}"
    );
    // Configured explicitly (no discovery), the emulator's keys verify its tokens.
    let receiver = RiscReceiver::new([emulator.client_id()], registry)
        .issuer(emulator.risc_issuer())
        .jwks_uri(emulator.jwks_url());
    assert!(receiver.receive(token.as_bytes()).await.is_ok());
}
