//! The emulator's OAuth 2.0 endpoints, driven as a client would: client credentials,
//! authorization code with PKCE and scripted consent, refresh, revoke, JWT bearer.

#[path = "emulator_common/mod.rs"]
mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use classroom::{BearerToken, Classroom, Scope};
use classroom_emulator::{Consent, Emulator, demo};
use serde_json::Value;

const REDIRECT: &str = "http://127.0.0.1:9/callback";

async fn post_form(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = common::http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::form(form))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn sdk(emulator: &Emulator, token: &str) -> Classroom {
    common::unchecked_client(emulator, token.to_string())
}

#[tokio::test]
async fn client_credentials_with_basic_or_form_auth() {
    let emulator = Emulator::start().unwrap();
    let courses = Scope::CoursesReadonly.url();
    let response = common::http()
        .post(emulator.token_url())
        .basic_auth(emulator.client_id(), Some(emulator.client_secret()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::form(&[
            ("grant_type", "client_credentials"),
            ("scope", courses),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], courses, "the granted scopes are echoed");
    assert!(body["expires_in"].as_u64().unwrap() > 0);
    assert!(
        body.get("refresh_token").is_none(),
        "RFC 6749 §4.4.3: no refresh token"
    );
    let token = body["access_token"].as_str().unwrap();
    let listed = sdk(&emulator, token).courses().list().send().await.unwrap();
    assert_eq!(
        listed.courses.len(),
        3,
        "client credentials act as the admin"
    );

    let (status, body) = post_form(
        &emulator.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", emulator.client_id()),
            ("client_secret", emulator.client_secret()),
        ],
    )
    .await;
    assert_eq!(status, 200, "form client auth: {body}");

    let (status, body) = post_form(
        &emulator.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", emulator.client_id()),
            ("client_secret", "wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

/// Follows the authorize endpoint's redirect; returns its query pairs.
async fn authorize(emulator: &Emulator, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params = vec![
        ("client_id", emulator.client_id()),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("state", "xyz"),
    ];
    params.extend_from_slice(extra);
    let response = common::http()
        .get(format!("{}?{}", emulator.auth_url(), common::form(&params)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        302,
        "the consent answers with a redirect"
    );
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    let url = reqwest::Url::parse(&location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into(), v.into()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn authorization_code_with_pkce_refresh_and_revoke() {
    let emulator = Emulator::start().unwrap();
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123456789";
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let scopes = format!(
        "{} {} {}",
        Scope::Courses.url(),
        Scope::RostersReadonly.url(),
        Scope::ProfileEmails.url()
    );
    emulator.script_consent(Consent::grant_all().as_user(demo::TEACHER));
    let redirect = authorize(
        &emulator,
        &[
            ("scope", &scopes),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    assert_eq!(param(&redirect, "state"), Some("xyz"), "state comes back");
    let code = param(&redirect, "code").unwrap().to_string();
    let exchange = |verifier: &'static str, code: String| {
        let url = emulator.token_url();
        async move {
            post_form(
                &url,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                    ("client_id", demo::CLIENT_ID),
                    ("client_secret", demo::CLIENT_SECRET),
                    ("code_verifier", verifier),
                ],
            )
            .await
        }
    };
    let (status, body) = exchange("wrong-verifier", code.clone()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "PKCE is checked"
    );

    // The failed attempt spent the code; consent again.
    emulator.script_consent(Consent::grant_all().as_user(demo::TEACHER));
    let redirect = authorize(
        &emulator,
        &[
            ("scope", &scopes),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let code = param(&redirect, "code").unwrap().to_string();
    let (status, body) = exchange(
        "a-verifier-of-at-least-forty-three-characters-0123456789",
        code.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], scopes.as_str());
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    let me = sdk(&emulator, &access)
        .user_profiles()
        .get("me")
        .send()
        .await
        .unwrap();
    assert_eq!(
        me.email_address.as_deref(),
        Some(demo::TEACHER),
        "the token acts as the consenting user"
    );
    let (status, _) = exchange(
        "a-verifier-of-at-least-forty-three-characters-0123456789",
        code,
    )
    .await;
    assert_eq!(status, 400, "a code is single-use");

    let (status, body) = post_form(
        &emulator.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let refreshed = body["access_token"].as_str().unwrap().to_string();
    assert_ne!(refreshed, access);

    let (status, _) = post_form(&emulator.revoke_url(), &[("token", &refresh)]).await;
    assert_eq!(status, 200);
    let err = sdk(&emulator, &refreshed)
        .courses()
        .list()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        err.http_status(),
        Some(401),
        "revoking the refresh token revokes its access tokens"
    );
    let (status, body) = post_form(
        &emulator.token_url(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

#[tokio::test]
async fn scripted_consent_grants_some_or_denies() {
    let emulator = Emulator::start().unwrap();
    let asked = format!("{} {}", Scope::Courses.url(), Scope::Rosters.url());
    emulator.script_consent(Consent::grant(&[Scope::Rosters]).as_user(demo::STUDENT));
    let redirect = authorize(&emulator, &[("scope", &asked)]).await;
    assert_eq!(
        param(&redirect, "scope"),
        Some(Scope::Rosters.url()),
        "granular consent"
    );
    let code = param(&redirect, "code").unwrap();
    let (status, body) = post_form(
        &emulator.token_url(),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        Scope::Rosters.url(),
        "the token carries only what was granted"
    );
    let token = body["access_token"].as_str().unwrap();
    let err = sdk(&emulator, token)
        .courses()
        .list()
        .send()
        .await
        .unwrap_err();
    assert!(err.api().unwrap().is_scope_insufficient());

    emulator.script_consent(Consent::deny());
    let redirect = authorize(&emulator, &[("scope", &asked)]).await;
    assert_eq!(param(&redirect, "error"), Some("access_denied"));
    assert_eq!(param(&redirect, "state"), Some("xyz"));
    assert_eq!(param(&redirect, "code"), None);
}

fn sign_jwt(key_file: &str, claims: &Value) -> String {
    let key: Value = serde_json::from_str(key_file).unwrap();
    let pem = key["private_key"].as_str().unwrap();
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(&der).unwrap();
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let message = format!("{header}.{payload}");
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        message.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test]
async fn jwt_bearer_verifies_the_signature_and_impersonates_sub() {
    let emulator = Emulator::start().unwrap();
    let key = emulator.service_account_key();
    let key_json: Value = serde_json::from_str(&key).unwrap();
    assert_eq!(key_json["token_uri"], emulator.token_url());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": demo::SERVICE_ACCOUNT,
        "sub": demo::SECOND_TEACHER,
        "scope": format!("{} {}", Scope::RostersReadonly.url(), Scope::ProfileEmails.url()),
        "aud": emulator.token_url(),
        "iat": now,
        "exp": now + 3600,
    });
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let assertion = sign_jwt(&key, &claims);
    let (status, body) = post_form(
        &emulator.token_url(),
        &[("grant_type", grant), ("assertion", &assertion)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap();
    let client = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(token))
        .build()
        .unwrap();
    let me = client.user_profiles().get("me").send().await.unwrap();
    assert_eq!(
        me.email_address.as_deref(),
        Some(demo::SECOND_TEACHER),
        "sub is impersonated"
    );

    let mut tampered = assertion.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let (status, body) = post_form(
        &emulator.token_url(),
        &[("grant_type", grant), ("assertion", &tampered)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );

    let mut long = claims.clone();
    long["exp"] = serde_json::json!(now + 7200);
    let (status, body) = post_form(
        &emulator.token_url(),
        &[("grant_type", grant), ("assertion", &sign_jwt(&key, &long))],
    )
    .await;
    assert_eq!(status, 400, "assertions live an hour at most: {body}");
}

#[tokio::test]
async fn incremental_authorization_includes_granted_scopes() {
    let emulator = Emulator::start().unwrap();
    emulator.script_consent(Consent::grant_all().as_user(demo::TEACHER));
    authorize(&emulator, &[("scope", Scope::CoursesReadonly.url())]).await;
    emulator.script_consent(Consent::grant_all().as_user(demo::TEACHER));
    let redirect = authorize(
        &emulator,
        &[
            ("scope", Scope::RostersReadonly.url()),
            ("include_granted_scopes", "true"),
        ],
    )
    .await;
    let granted = param(&redirect, "scope").unwrap();
    assert!(
        granted.contains(Scope::CoursesReadonly.url())
            && granted.contains(Scope::RostersReadonly.url()),
        "the earlier grant comes along: {granted}"
    );
}

#[tokio::test]
async fn issued_tokens_expire_and_tokeninfo_describes_them() {
    let emulator = Emulator::builder()
        .token_lifetime(std::time::Duration::from_secs(1))
        .start()
        .unwrap();
    let (status, body) = post_form(
        &emulator.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", demo::CLIENT_ID),
            ("client_secret", demo::CLIENT_SECRET),
            ("scope", Scope::CoursesReadonly.url()),
        ],
    )
    .await;
    assert_eq!(
        (status, body["expires_in"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    let token = body["access_token"].as_str().unwrap().to_string();
    let info = common::http()
        .get(format!(
            "{}tokeninfo?access_token={token}",
            emulator.root_url()
        ))
        .send()
        .await
        .unwrap();
    let info: Value = serde_json::from_slice(&info.bytes().await.unwrap()).unwrap();
    assert_eq!(info["scope"], Scope::CoursesReadonly.url());
    assert_eq!(info["email"], demo::ADMIN);
    let classroom = sdk(&emulator, &token);
    classroom.courses().list().send().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = classroom.courses().list().send().await.unwrap_err();
    assert!(
        err.api().unwrap().is_unauthenticated(),
        "the token expired: {err}"
    );
}

#[tokio::test]
async fn authorize_refuses_unknown_clients_and_foreign_redirects() {
    let emulator = Emulator::start().unwrap();
    let url = |client: &str, redirect: &str| {
        format!(
            "{}?{}",
            emulator.auth_url(),
            common::form(&[
                ("client_id", client),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", Scope::Courses.url()),
            ])
        )
    };
    let unknown = common::http()
        .get(url("nobody.apps.googleusercontent.com", REDIRECT))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401, "no redirect for an unknown client");
    let foreign = common::http()
        .get(url(demo::CLIENT_ID, "https://evil.example/cb"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        foreign.status(),
        400,
        "no redirect to a URI the client does not own"
    );
}
