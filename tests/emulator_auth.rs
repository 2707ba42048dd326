//! The SDK's own OAuth flows against the emulator's Google-shaped OAuth endpoints, end to end:
//! the token a flow obtains is the one the API calls then run on.

#[path = "emulator_common/mod.rs"]
mod common;

use std::time::Duration;

use classroom::auth::{
    ClientCredentials, ClientSecret, OAuthClient, Provider, ServiceAccountCredentials,
    ServiceAccountKey, WebFlow,
};
use classroom::{Classroom, Error, Scope};
use classroom_emulator::{Consent, Emulator, demo};
use futures::TryStreamExt;

fn demo_client(emulator: &Emulator) -> OAuthClient {
    let provider = Provider::new(emulator.auth_url(), emulator.token_url())
        .with_revoke_uri(emulator.revoke_url());
    OAuthClient::new(
        emulator.client_id(),
        Some(ClientSecret::new(emulator.client_secret())),
    )
    .with_provider(provider)
}

fn classroom(emulator: &Emulator, credentials: impl classroom::Credentials + 'static) -> Classroom {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(credentials)
        .build()
        .unwrap()
}

#[tokio::test]
async fn client_credentials_sign_in_and_list_the_demo_school() {
    let emulator = Emulator::start().unwrap();
    let credentials =
        ClientCredentials::new(demo_client(&emulator), [Scope::CoursesReadonly.url()]);
    let classroom = classroom(&emulator, credentials);
    let courses: Vec<_> = classroom
        .courses()
        .list()
        .items()
        .try_collect()
        .await
        .unwrap();
    assert!(
        courses
            .iter()
            .any(|c| c.name.as_deref() == Some("Mathematics 101")),
        "{courses:?}"
    );
    // The granted scope came back in the token response, so the SDK refuses what it cannot do.
    let refused = classroom
        .courses()
        .create(Default::default())
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_missing_scope(), "{refused}");
}

#[tokio::test]
async fn a_service_account_acts_as_its_subject() {
    let emulator = Emulator::start().unwrap();
    let key = ServiceAccountKey::from_json(&emulator.service_account_key()).unwrap();
    let credentials =
        ServiceAccountCredentials::new(key, [Scope::RostersReadonly, Scope::ProfileEmails])
            .subject(demo::TEACHER);
    let classroom = classroom(&emulator, credentials);
    let me = classroom.user_profiles().get("me").send().await.unwrap();
    assert_eq!(
        me.email_address.as_deref(),
        Some(demo::TEACHER),
        "the JWT's sub is who the calls act as"
    );
}

/// Signs the demo student in through the web flow (scripted consent, offline access).
async fn web_sign_in(emulator: &Emulator) -> std::sync::Arc<classroom::auth::UserCredentials> {
    let flow = WebFlow::new(demo_client(emulator), "http://127.0.0.1:8765/callback").unwrap();
    let (url, pending) = flow
        .authorize([Scope::RostersReadonly, Scope::ProfileEmails])
        .offline(false)
        .build()
        .unwrap();
    // The pending state is what a web app keeps in its session between redirect and callback.
    let pending = serde_json::from_str(&serde_json::to_string(&pending).unwrap()).unwrap();

    // The user consents (scripted), and the browser is redirected to the callback.
    emulator.script_consent(Consent::grant_all().as_user(demo::STUDENT));
    let redirect = common::http().get(&url).send().await.unwrap();
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("http://127.0.0.1:8765/callback?"),
        "{location}"
    );
    let query = location.split_once('?').unwrap().1;

    let credentials = std::sync::Arc::new(flow.finish(pending, query).await.unwrap());
    assert!(
        credentials.refresh_token().is_some(),
        "offline access with consent yields a refresh token"
    );
    credentials
}

#[tokio::test]
async fn a_grant_revoked_elsewhere_says_to_sign_in_again_not_just_401() {
    let emulator = Emulator::start().unwrap();
    let credentials = web_sign_in(&emulator).await;
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .shared_credentials(credentials.clone())
        .build()
        .unwrap();
    classroom.user_profiles().get("me").send().await.unwrap();
    // The user removes the app's access from their account: the grant is revoked, and the
    // SDK's cached access token dies with it.
    let refresh = credentials.refresh_token().unwrap().secret().to_string();
    let revoked = common::http()
        .post(emulator.revoke_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(common::form(&[("token", &refresh)]))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let err = classroom
        .user_profiles()
        .get("me")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Auth(e) if e.is_consent_required()),
        "the 401 led to a refresh, whose failure is the answer: {err:?}"
    );
}

#[tokio::test]
async fn the_web_flow_signs_a_user_in_refreshes_and_revokes() {
    let emulator = Emulator::builder()
        .token_lifetime(Duration::from_secs(2))
        .start()
        .unwrap();
    let credentials = web_sign_in(&emulator).await;
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .shared_credentials(credentials.clone())
        .build()
        .unwrap();
    let me = classroom.user_profiles().get("me").send().await.unwrap();
    assert_eq!(me.email_address.as_deref(), Some(demo::STUDENT));

    // The access token lives 2 s; the next call refreshes it first.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    classroom
        .user_profiles()
        .get("me")
        .send()
        .await
        .expect("refreshed with the refresh token");

    // Revoked: the refresh token and its access tokens are dead (the emulator answers 401),
    // the credentials hold no refresh token any more, and the error says to sign in again.
    credentials.revoke().await.unwrap();
    assert!(credentials.refresh_token().is_none());
    let err = classroom
        .user_profiles()
        .get("me")
        .send()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Auth(_)) && err.to_string().contains("authorize again"),
        "{err:?}"
    );
}
