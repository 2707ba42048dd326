//! Production credentials against the emulator on loopback: Application Default Credentials
//! (each source, their order, nothing found), the metadata server, keyless domain-wide
//! delegation through IAM `signJwt`, and impersonation through `generateAccessToken`.
//!
//! The environment is never the process's: each test hands `ApplicationDefault` its own
//! variables, so tests run in parallel and nothing reaches a real metadata server.

#[path = "emulator_common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use classroom::auth::{
    ApplicationDefault, AuthError, CLOUD_PLATFORM_SCOPE, CredentialSource, Credentials,
    CredentialsFileKind, ImpersonatedCredentials, Impersonation, MetadataServerCredentials,
    ServiceAccountCredentials,
};
use classroom::{Classroom, Error, RetryPolicy, Scope};
use classroom_emulator::{Emulator, demo};

/// A directory of its own under the target dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "classroom-prodcreds-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An environment of exactly these variables.
fn env(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |name| vars.get(name).cloned()
}

/// A loopback port nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr.to_string()
}

fn classroom(emulator: &Emulator, credentials: impl Credentials + 'static) -> Classroom {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(credentials)
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn authorized_user(emulator: &Emulator, refresh_token: &str) -> String {
    serde_json::json!({
        "type": "authorized_user",
        "client_id": emulator.client_id(),
        "client_secret": emulator.client_secret(),
        "refresh_token": refresh_token,
        "token_uri": emulator.token_url(),
    })
    .to_string()
}

/// A refresh token of the demo teacher for the demo client, via the emulator's web flow.
async fn teacher_refresh_token(emulator: &Emulator, scopes: &[&str]) -> String {
    let client = classroom::auth::OAuthClient::new(
        emulator.client_id(),
        Some(classroom::auth::ClientSecret::new(emulator.client_secret())),
    )
    .with_provider(
        classroom::auth::Provider::new(emulator.auth_url(), emulator.token_url())
            .with_revoke_uri(emulator.revoke_url()),
    );
    let flow = classroom::auth::WebFlow::new(client, "http://127.0.0.1:8765/cb").unwrap();
    let (url, pending) = flow.authorize(scopes).offline(false).build().unwrap();
    emulator.script_consent(classroom_emulator::Consent::grant_all().as_user(demo::TEACHER));
    let redirect = common::http().get(&url).send().await.unwrap();
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    let query = location.split_once('?').unwrap().1.to_string();
    let credentials = flow.finish(pending, &query).await.unwrap();
    credentials.refresh_token().unwrap().secret().to_string()
}

fn detect(emulator_or_closed: String) -> (&'static str, String) {
    ("GCE_METADATA_HOST", emulator_or_closed)
}

#[tokio::test]
async fn adc_reads_a_service_account_file_named_by_the_environment() {
    let emulator = Emulator::start().unwrap();
    let dir = TempDir::new("env-sa");
    let key = dir.write("key.json", &emulator.service_account_key());
    let found = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[
            ("GOOGLE_APPLICATION_CREDENTIALS", key.display().to_string()),
            detect(closed_port()),
        ]))
        .find()
        .await
        .unwrap();
    assert_eq!(
        found.source(),
        &CredentialSource::EnvironmentFile {
            path: key,
            kind: CredentialsFileKind::ServiceAccount
        }
    );
    let courses = classroom(&emulator, found)
        .courses()
        .list()
        .send()
        .await
        .unwrap();
    assert!(
        !courses.courses.is_empty(),
        "the service account's token works"
    );
}

#[tokio::test]
async fn adc_reads_gclouds_well_known_authorized_user_file() {
    let emulator = Emulator::start().unwrap();
    let refresh = teacher_refresh_token(&emulator, &[Scope::CoursesReadonly.url()]).await;
    let home = TempDir::new("home");
    let file = home.write(
        ".config/gcloud/application_default_credentials.json",
        &authorized_user(&emulator, &refresh),
    );
    let found = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[
            ("HOME", home.0.display().to_string()),
            detect(closed_port()),
        ]))
        .find()
        .await
        .unwrap();
    assert_eq!(
        found.source(),
        &CredentialSource::WellKnownFile {
            path: file,
            kind: CredentialsFileKind::AuthorizedUser
        }
    );
    let me = classroom(&emulator, found)
        .user_profiles()
        .get("me")
        .send()
        .await;
    // The teacher's grant holds courses.readonly only: the SDK refuses the profile call
    // before sending, which shows the token came with the teacher's granted scopes.
    assert!(matches!(me, Err(Error::MissingScope { .. })), "{me:?}");

    // CLOUDSDK_CONFIG moves gcloud's directory.
    let config = TempDir::new("cloudsdk");
    let file = config.write(
        "application_default_credentials.json",
        &authorized_user(&emulator, &refresh),
    );
    let found = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[
            ("CLOUDSDK_CONFIG", config.0.display().to_string()),
            ("HOME", home.0.display().to_string()),
        ]))
        .find()
        .await
        .unwrap();
    assert!(
        matches!(found.source(), CredentialSource::WellKnownFile { path, .. } if *path == file),
        "{:?}",
        found.source()
    );
    let courses = classroom(&emulator, found)
        .courses()
        .list()
        .teacher_id("me")
        .send()
        .await
        .unwrap();
    assert!(!courses.courses.is_empty());
}

#[tokio::test]
async fn adc_finds_the_metadata_server_and_asks_it_for_the_scopes_needed() {
    let emulator = Emulator::start().unwrap();
    let found = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[detect(emulator.metadata_host())]))
        .find()
        .await
        .unwrap();
    assert_eq!(
        found.source(),
        &CredentialSource::MetadataServer {
            host: emulator.metadata_host(),
            service_account: demo::METADATA_SERVICE_ACCOUNT.to_string(),
        }
    );
    let token = found.access_token().await.unwrap();
    assert_eq!(
        token.scopes(),
        Some(&[Scope::CoursesReadonly.url().to_string()][..]),
        "the token holds the scopes asked for with ?scopes="
    );
    let classroom = classroom(&emulator, found);
    assert!(classroom.courses().list().send().await.is_ok());
    let refused = classroom.courses().create(Default::default()).send().await;
    assert!(
        matches!(refused, Err(Error::MissingScope { .. })),
        "{refused:?}"
    );
}

#[tokio::test]
async fn the_metadata_server_answers_only_requests_flavored_google() {
    let emulator = Emulator::start().unwrap();
    let url = format!(
        "http://{}/computeMetadata/v1/instance/service-accounts/default/token",
        emulator.metadata_host()
    );
    let bare = common::http().get(&url).send().await.unwrap();
    assert_eq!(bare.status(), 403, "no Metadata-Flavor, no token");
    let flavored = common::http()
        .get(&url)
        .header("Metadata-Flavor", "Google")
        .send()
        .await
        .unwrap();
    assert_eq!(flavored.status(), 200);
    assert_eq!(flavored.headers()["metadata-flavor"], "Google");
    // And the credentials type on its own, pointed at it explicitly.
    let credentials =
        MetadataServerCredentials::new([CLOUD_PLATFORM_SCOPE]).host(emulator.metadata_host());
    assert_eq!(
        credentials.email().await.unwrap(),
        demo::METADATA_SERVICE_ACCOUNT
    );
    assert!(credentials.access_token().await.is_ok());
}

#[tokio::test]
async fn adc_order_is_environment_then_well_known_file_then_metadata() {
    let emulator = Emulator::start().unwrap();
    let dir = TempDir::new("order");
    let key = dir.write("key.json", &emulator.service_account_key());
    let refresh = teacher_refresh_token(&emulator, &[Scope::CoursesReadonly.url()]).await;
    dir.write(
        "home/.config/gcloud/application_default_credentials.json",
        &authorized_user(&emulator, &refresh),
    );
    let home = dir.0.join("home").display().to_string();
    let all = [
        ("GOOGLE_APPLICATION_CREDENTIALS", key.display().to_string()),
        ("HOME", home.clone()),
        detect(emulator.metadata_host()),
    ];
    let kind = |source: &CredentialSource| match source {
        CredentialSource::EnvironmentFile { .. } => "env",
        CredentialSource::WellKnownFile { .. } => "well-known",
        CredentialSource::MetadataServer { .. } => "metadata",
        _ => "other",
    };
    for (vars, expected) in [
        (&all[..], "env"),
        (&all[1..], "well-known"),
        (&all[2..], "metadata"),
    ] {
        let found = ApplicationDefault::new([Scope::CoursesReadonly])
            .env(env(vars))
            .find()
            .await
            .unwrap();
        assert_eq!(kind(found.source()), expected, "with {vars:?}");
    }
}

#[tokio::test]
async fn adc_with_nothing_to_find_lists_every_place_it_looked() {
    let home = TempDir::new("empty-home");
    let closed = closed_port();
    let started = std::time::Instant::now();
    let error = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[
            ("HOME", home.0.display().to_string()),
            detect(closed.clone()),
        ]))
        .metadata_detect_timeout(Duration::from_millis(500))
        .find()
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the detection is bounded"
    );
    let AuthError::NoDefaultCredentials { tried } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(tried.len(), 3, "{tried:?}");
    let text = error.to_string();
    for expected in [
        "GOOGLE_APPLICATION_CREDENTIALS: not set",
        &format!(
            "{}",
            home.0
                .join(".config/gcloud/application_default_credentials.json")
                .display()
        ),
        &closed,
        "gcloud auth application-default login",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from: {text}");
    }

    // An environment variable naming a missing file is an error of its own, not a fall-through.
    let error = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[(
            "GOOGLE_APPLICATION_CREDENTIALS",
            "/nonexistent/key.json".into(),
        )]))
        .find()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, AuthError::InvalidFile { what, .. } if what.contains("/nonexistent/key.json")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_that_is_not_a_metadata_server_is_not_taken_for_one() {
    // A server that answers 200 with an email, but is no metadata server.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = proxy.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut stream, _)) = proxy.accept().await {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 17\r\n\r\nsa@example.com\r\n\r\n")
                .await;
        }
    });
    let error = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[detect(addr.to_string())]))
        .find()
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("Metadata-Flavor"),
        "a reply without Metadata-Flavor: Google is not trusted: {error}"
    );
}

fn impersonated_file(emulator: &Emulator, source: &str, target: &str) -> String {
    serde_json::json!({
        "type": "impersonated_service_account",
        "service_account_impersonation_url": format!(
            "{}v1/projects/-/serviceAccounts/{target}:generateAccessToken",
            emulator.iam_url()
        ),
        "source_credentials": serde_json::from_str::<serde_json::Value>(source).unwrap(),
        "delegates": [],
    })
    .to_string()
}

#[tokio::test]
async fn adc_reads_an_impersonated_service_account_file() {
    let emulator = Emulator::start().unwrap();
    // The teacher (a user, as after `gcloud auth application-default login
    // --impersonate-service-account`) is allowed to act as the demo service account.
    emulator.allow_token_creator(demo::TEACHER, demo::SERVICE_ACCOUNT);
    let refresh = teacher_refresh_token(&emulator, &[CLOUD_PLATFORM_SCOPE]).await;
    let dir = TempDir::new("impersonated");
    let file = dir.write(
        "impersonated.json",
        &impersonated_file(
            &emulator,
            &authorized_user(&emulator, &refresh),
            demo::SERVICE_ACCOUNT,
        ),
    );
    let found = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[(
            "GOOGLE_APPLICATION_CREDENTIALS",
            file.display().to_string(),
        )]))
        .find()
        .await
        .unwrap();
    assert!(matches!(
        found.source(),
        CredentialSource::EnvironmentFile {
            kind: CredentialsFileKind::ImpersonatedServiceAccount,
            ..
        }
    ));
    let token = found.access_token().await.unwrap();
    assert_eq!(
        token.scopes(),
        Some(&[Scope::CoursesReadonly.url().to_string()][..])
    );
    let courses = classroom(&emulator, found)
        .courses()
        .list()
        .send()
        .await
        .unwrap();
    assert!(!courses.courses.is_empty());

    // Without the role, the same file fails with a typed error naming the account.
    emulator.deny_token_creator(demo::TEACHER, demo::SERVICE_ACCOUNT);
    let found = ApplicationDefault::new([Scope::CoursesReadonly])
        .env(env(&[(
            "GOOGLE_APPLICATION_CREDENTIALS",
            file.display().to_string(),
        )]))
        .find()
        .await
        .unwrap();
    let error = found.access_token().await.unwrap_err();
    assert!(
        matches!(&error, AuthError::ImpersonationDenied { service_account, status: 403, .. }
            if service_account == demo::SERVICE_ACCOUNT),
        "{error:?}"
    );
    assert!(!error.to_string().contains(&refresh), "{error}");
}

/// The machine's own credentials, from the emulator's metadata server.
fn ambient(emulator: &Emulator) -> MetadataServerCredentials {
    MetadataServerCredentials::new([CLOUD_PLATFORM_SCOPE]).host(emulator.metadata_host())
}

#[tokio::test]
async fn keyless_delegation_signs_through_iam_and_acts_as_the_subject() {
    let emulator = Emulator::start().unwrap();
    let iam =
        Impersonation::new(demo::SERVICE_ACCOUNT, ambient(&emulator)).endpoint(emulator.iam_url());
    let credentials = ServiceAccountCredentials::keyless(
        iam,
        [
            Scope::CoursesReadonly,
            Scope::Courses,
            Scope::RostersReadonly,
        ],
    )
    .token_uri(emulator.token_url())
    .subject(demo::STUDENT);
    let credentials = Arc::new(credentials);
    // The assertion goes through signJwt: with that endpoint down, no token can be had.
    emulator.inject(
        classroom_emulator::Fault::unavailable()
            .on("iam.signJwt")
            .times(1),
    );
    let error = credentials.access_token().await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .shared_credentials(credentials.clone())
        .retry(RetryPolicy::none())
        .build()
        .unwrap();

    // The token acts as the student: `me` is the student.
    let me = classroom.user_profiles().get("me").send().await.unwrap();
    assert_eq!(me.id, emulator.user_id(demo::STUDENT));
    // The scope allows creating courses, but a student may not: the emulator refuses.
    let refused = classroom
        .courses()
        .create(classroom::models::Course {
            name: Some("Not allowed".into()),
            owner_id: Some("me".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.http_status(), Some(403), "{refused:?}");

    // Neither the ambient token nor the delegated one shows in Debug.
    let token = credentials.access_token().await.unwrap();
    let shown = format!("{credentials:?}");
    assert!(!shown.contains(token.secret()), "{shown}");
    assert!(shown.contains("IAM signJwt"), "{shown}");
}

#[tokio::test]
async fn a_principal_not_allowed_to_sign_is_refused_with_a_typed_error() {
    let emulator = Emulator::start().unwrap();
    emulator.deny_token_creator(demo::METADATA_SERVICE_ACCOUNT, demo::SERVICE_ACCOUNT);
    let iam =
        Impersonation::new(demo::SERVICE_ACCOUNT, ambient(&emulator)).endpoint(emulator.iam_url());
    let credentials = ServiceAccountCredentials::keyless(iam, [Scope::CoursesReadonly])
        .token_uri(emulator.token_url())
        .subject(demo::TEACHER);
    let error = credentials.access_token().await.unwrap_err();
    assert!(
        matches!(&error, AuthError::ImpersonationDenied { permission, status: 403, .. }
            if *permission == "iam.serviceAccounts.signJwt"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("roles/iam.serviceAccountTokenCreator"),
        "{error}"
    );

    // A token without the cloud-platform scope is refused too, even for an allowed caller.
    emulator.allow_token_creator(demo::METADATA_SERVICE_ACCOUNT, demo::SERVICE_ACCOUNT);
    let narrow =
        MetadataServerCredentials::new([Scope::CoursesReadonly]).host(emulator.metadata_host());
    let iam = Impersonation::new(demo::SERVICE_ACCOUNT, narrow).endpoint(emulator.iam_url());
    let error = ServiceAccountCredentials::keyless(iam, [Scope::CoursesReadonly])
        .token_uri(emulator.token_url())
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::ImpersonationDenied { status: 403, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn impersonation_without_delegation_acts_as_the_service_account() {
    let emulator = Emulator::start().unwrap();
    let iam =
        Impersonation::new(demo::SERVICE_ACCOUNT, ambient(&emulator)).endpoint(emulator.iam_url());
    let credentials = Arc::new(ImpersonatedCredentials::new(iam, [Scope::CoursesReadonly]));
    let token = credentials.access_token().await.unwrap();
    assert!(token.expires_at().is_some());
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .shared_credentials(credentials.clone())
        .build()
        .unwrap();
    assert!(classroom.courses().list().send().await.is_ok());
    // The token holds exactly the scopes asked for; the SDK refuses more before sending.
    let refused = classroom.courses().create(Default::default()).send().await;
    assert!(matches!(refused, Err(Error::MissingScope { .. })));
    // Nothing secret in Debug.
    let shown = format!("{credentials:?}");
    assert!(!shown.contains(token.secret()), "{shown}");
}

#[tokio::test]
async fn iam_and_metadata_calls_need_tls_off_loopback() {
    let iam = Impersonation::new(
        demo::SERVICE_ACCOUNT,
        classroom::BearerToken::unchecked("t"),
    )
    .endpoint("http://iam.example.com/");
    let error = ImpersonatedCredentials::new(iam, [Scope::CoursesReadonly])
        .access_token()
        .await
        .unwrap_err();
    assert!(
        matches!(error, AuthError::InsecureEndpoint { .. }),
        "the bearer token is not sent in clear: {error:?}"
    );
}
