//! Token stores for many users (`classroom::auth::users`), against the emulator's token
//! endpoint with refresh-token rotation, with workers as separate processes: this test binary
//! re-run with `CLASSROOM_TOKEN_WORKER` set (see `worker_process`). SQLite needs nothing to
//! run; PostgreSQL is Debian's, started here on a free loopback port in a temporary directory.

mod peers;

use peers::postgres::Postgres;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use classroom::Scope;
use classroom::auth::users::{Keyring, SqliteUserStore, UserKey, UserTokenStore, UserTokens};
use classroom::auth::{AuthError, ClientSecret, OAuthClient, Provider, RefreshToken, StoredToken};
use classroom_emulator::{Emulator, Role};
use futures::StreamExt;

const TENANT: &str = "district-7";
const KEY: [u8; 32] = [0x5a; 32];
const WORKERS: usize = 8;

fn client(token_url: &str, id: &str, secret: &str) -> OAuthClient {
    OAuthClient::new(id, Some(ClientSecret::new(secret)))
        .with_provider(Provider::token_endpoint(token_url))
}

fn keyring() -> Keyring {
    Keyring::new("k1", &KEY)
}

/// Opens a store from a worker's spec: `sqlite:PATH` or `postgres:CONFIG`.
async fn open(spec: &str, keyring: Option<Keyring>) -> Result<Arc<dyn UserTokenStore>, AuthError> {
    if let Some(path) = spec.strip_prefix("sqlite:") {
        return Ok(Arc::new(SqliteUserStore::open(path, keyring)?));
    }
    let config = spec.strip_prefix("postgres:").expect("a store spec");
    Ok(Arc::new(
        classroom::auth::users::PostgresUserStore::connect(config, keyring).await?,
    ))
}

/// A worker: asks for every user's token (from its own starting point, 16 at a time), the
/// given number of rounds, then prints how many it got. Run as a separate process by the tests.
#[test]
fn worker_process() {
    let Ok(spec) = std::env::var("CLASSROOM_TOKEN_WORKER") else {
        return; // an ordinary test run: nothing to do
    };
    let var = |name: &str| std::env::var(name).unwrap();
    let users: Vec<String> = var("WORKER_USERS").split(',').map(String::from).collect();
    let index: usize = var("WORKER_INDEX").parse().unwrap();
    let rounds: usize = var("WORKER_ROUNDS").parse().unwrap();
    let skew: u64 = var("WORKER_SKEW").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = open(&spec, Some(keyring())).await.unwrap();
        let tokens = UserTokens::new(
            client(
                &var("WORKER_TOKEN_URL"),
                &var("WORKER_CLIENT_ID"),
                &var("WORKER_SECRET"),
            ),
            store,
        )
        .lease_ttl(Duration::from_secs(2))
        .expiry_skew(Duration::from_secs(skew));
        let n = users.len();
        let start = index * n / WORKERS;
        let mut got = 0;
        for _ in 0..rounds {
            let order = (0..n).map(|i| users[(start + i) % n].clone());
            let results: Vec<_> = futures::stream::iter(order)
                .map(|subject| {
                    let tokens = tokens.clone();
                    async move { tokens.access_token(&UserKey::new(TENANT, subject)).await }
                })
                .buffer_unordered(16)
                .collect()
                .await;
            for result in results {
                result.expect("every user's token");
                got += 1;
            }
        }
        println!("WORKER-DONE {got}");
    });
}

struct Fixture {
    emulator: Emulator,
    /// User ids (the store's subjects) and emails.
    users: Vec<(String, String)>,
}

/// The emulator with rotation on and `n` users, each stored with a refresh token and an access
/// token that has expired: every user's first call must refresh.
async fn fixture(spec: &str, n: usize, lifetime: Duration) -> Fixture {
    let emulator = Emulator::builder()
        .empty()
        .rotate_refresh_tokens(true)
        .token_lifetime(lifetime)
        .start()
        .unwrap();
    let store = open(spec, Some(keyring())).await.unwrap();
    let tokens = UserTokens::new(
        client(
            &emulator.token_url(),
            emulator.client_id(),
            emulator.client_secret(),
        ),
        store,
    );
    let mut users = Vec::new();
    for i in 0..n {
        let email = format!("student{i}@school.example.edu");
        let id = emulator.add_user(&email, "Student", &format!("{i}"), Role::Student);
        let refresh = emulator.refresh_token_for(&email, &[Scope::CoursesReadonly]);
        let token = StoredToken {
            refresh_token: Some(RefreshToken::new(refresh)),
            access_token: Some("ya29.expired".into()),
            expires_at: Some(Utc::now() - chrono::Duration::seconds(5)),
            scopes: Some(vec![Scope::CoursesReadonly.url().to_string()]),
        };
        tokens
            .save(&UserKey::new(TENANT, &id), token, Some(email.clone()))
            .await
            .unwrap();
        users.push((id, email));
    }
    Fixture { emulator, users }
}

fn spawn_worker(spec: &str, f: &Fixture, index: usize, rounds: usize, skew: u64) -> Child {
    let ids: Vec<&str> = f.users.iter().map(|(id, _)| id.as_str()).collect();
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "worker_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CLASSROOM_TOKEN_WORKER", spec)
        .env("WORKER_USERS", ids.join(","))
        .env("WORKER_INDEX", index.to_string())
        .env("WORKER_ROUNDS", rounds.to_string())
        .env("WORKER_SKEW", skew.to_string())
        .env("WORKER_TOKEN_URL", f.emulator.token_url())
        .env("WORKER_CLIENT_ID", f.emulator.client_id())
        .env("WORKER_SECRET", f.emulator.client_secret())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the worker process starts")
}

fn finish(child: Child) -> String {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.contains("WORKER-DONE"),
        "a worker failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Eight processes, 500 users whose tokens expired together: each user is refreshed exactly
/// once at the token endpoint, and each stored refresh token is the newest the server issued.
async fn eight_workers_refresh_each_user_once(spec: &str) {
    let f = fixture(spec, 500, Duration::from_secs(3600)).await;
    let started = Instant::now();
    let workers: Vec<Child> = (0..WORKERS)
        .map(|i| spawn_worker(spec, &f, i, 1, 60))
        .collect();
    for w in workers {
        finish(w);
    }
    let elapsed = started.elapsed();
    let refreshes = f.emulator.refreshes();
    let store = open(spec, Some(keyring())).await.unwrap();
    for (id, email) in &f.users {
        assert_eq!(
            refreshes.get(id).copied().unwrap_or(0),
            1,
            "user {email} must be refreshed exactly once across the 8 workers"
        );
        let row = store
            .load(&UserKey::new(TENANT, id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.token
                .refresh_token
                .as_ref()
                .map(|t| t.secret().to_string()),
            f.emulator.newest_refresh_token(email),
            "the stored refresh token of {email} is the newest rotated one"
        );
        assert_eq!(row.email.as_deref(), Some(email.as_str()));
    }
    eprintln!(
        "{spec}: {} users, {WORKERS} workers, {} refreshes in {elapsed:?}",
        f.users.len(),
        refreshes.values().sum::<u64>()
    );
}

/// Workers refreshing on every call (the tokens' lifetime is inside the skew) are killed with
/// SIGKILL while writing; afterwards every user's stored row opens and its refresh token still
/// works: nothing was lost or torn.
async fn killed_workers_lose_nothing(spec: &str) {
    let f = fixture(spec, 40, Duration::from_secs(30)).await;
    let mut workers: Vec<Child> = (0..WORKERS)
        .map(|i| spawn_worker(spec, &f, i, 1000, 60))
        .collect();
    // Let them get going, then kill half of them, one by one, mid-churn.
    std::thread::sleep(Duration::from_millis(1500));
    let before = f.emulator.refreshes().values().sum::<u64>();
    assert!(before > 40, "the workers are refreshing ({before} so far)");
    for w in workers.iter_mut().take(WORKERS / 2) {
        std::thread::sleep(Duration::from_millis(150));
        w.kill().unwrap(); // SIGKILL
        w.wait().unwrap();
    }
    for w in workers.iter_mut().skip(WORKERS / 2) {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    // Every row opens and every user's token refreshes with what is stored: a rotated token
    // a killed worker got but never stored was not the only valid one.
    let store = open(spec, Some(keyring())).await.unwrap();
    let tokens = UserTokens::new(
        client(
            &f.emulator.token_url(),
            f.emulator.client_id(),
            f.emulator.client_secret(),
        ),
        store.clone(),
    )
    .lease_ttl(Duration::from_secs(2))
    .expiry_skew(Duration::from_secs(60));
    for (id, email) in &f.users {
        let user = UserKey::new(TENANT, id);
        tokens
            .access_token(&user)
            .await
            .unwrap_or_else(|e| panic!("{email}'s stored token still works after the kills: {e}"));
        let row = store.load(&user).await.unwrap().unwrap();
        assert!(!row.consent_required, "{email} needs no new consent");
        assert_eq!(
            row.token
                .refresh_token
                .as_ref()
                .map(|t| t.secret().to_string()),
            f.emulator.newest_refresh_token(email),
            "after a clean refresh, {email}'s stored token is the newest"
        );
    }
    assert!(store.consent_required(TENANT).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_eight_workers_refresh_each_user_once() {
    let dir = peers::temp_dir("user-tokens-sqlite-once");
    let spec = format!("sqlite:{}", dir.join("tokens.sqlite3").display());
    eight_workers_refresh_each_user_once(&spec).await;
    // The file holds no token or email in the clear; without the key, or with a wrong one, a
    // row is a typed error.
    let path = dir.join("tokens.sqlite3");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(dir.join("tokens.sqlite3-wal")).unwrap_or_default());
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("district-7"), "the file was read");
    assert!(
        !text.contains("1//emu-") && !text.contains("ya29."),
        "no token in the clear"
    );
    assert!(
        !text.contains("@school.example.edu"),
        "no email in the clear"
    );
    let any = first_subject(&path);
    for keyring in [None, Some(Keyring::new("k1", &[1; 32]))] {
        let store = SqliteUserStore::open(&path, keyring).unwrap();
        let err = store.load(&UserKey::new(TENANT, &any)).await.unwrap_err();
        assert!(matches!(err, AuthError::StoreKey { .. }), "typed: {err}");
        assert!(!err.to_string().contains("1//"), "no secret in the error");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_workers_lose_nothing() {
    let dir = peers::temp_dir("user-tokens-sqlite-kill");
    let path = dir.join("tokens.sqlite3");
    let spec = format!("sqlite:{}", path.display());
    killed_workers_lose_nothing(&spec).await;
    let out = Command::new("sqlite3")
        .arg(&path)
        .arg("PRAGMA integrity_check;")
        .output();
    if let Ok(out) = out {
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "ok",
            "integrity"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Key rotation: rows under the old key read while the old key is on the ring; `rekey` moves
/// them to the new key, after which the old key alone no longer opens them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_key_rotation_rewrites_rows_under_the_new_key() {
    let dir = peers::temp_dir("user-tokens-sqlite-rekey");
    let path = dir.join("tokens.sqlite3");
    let user = UserKey::new(TENANT, "42");
    let old = SqliteUserStore::open(&path, Some(keyring())).unwrap();
    let tokens = UserTokens::new(client("http://127.0.0.1:1/token", "c", "s"), Arc::new(old));
    let token = StoredToken {
        refresh_token: Some(RefreshToken::new("1//r")),
        ..StoredToken::default()
    };
    tokens.save(&user, token.clone(), None).await.unwrap();
    let rotated = SqliteUserStore::open(
        &path,
        Some(Keyring::new("k2", &[2; 32]).with_old_key("k1", &KEY)),
    )
    .unwrap();
    assert_eq!(rotated.load(&user).await.unwrap().unwrap().token, token);
    assert_eq!(rotated.rekey().await.unwrap(), 1, "one row moved to k2");
    assert_eq!(rotated.rekey().await.unwrap(), 0, "nothing left under k1");
    let only_old = SqliteUserStore::open(&path, Some(keyring())).unwrap();
    assert!(matches!(
        only_old.load(&user).await,
        Err(AuthError::StoreKey { .. })
    ));
    let only_new = SqliteUserStore::open(&path, Some(Keyring::new("k2", &[2; 32]))).unwrap();
    assert_eq!(only_new.load(&user).await.unwrap().unwrap().token, token);
    let _ = std::fs::remove_dir_all(dir);
}

/// `invalid_grant` marks the user as needing consent and drops the refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_invalid_grant_marks_the_user_for_consent() {
    let dir = peers::temp_dir("user-tokens-sqlite-consent");
    let spec = format!("sqlite:{}", dir.join("tokens.sqlite3").display());
    let f = fixture(&spec, 2, Duration::from_secs(3600)).await;
    let store = open(&spec, Some(keyring())).await.unwrap();
    let tokens = UserTokens::new(
        client(
            &f.emulator.token_url(),
            f.emulator.client_id(),
            f.emulator.client_secret(),
        ),
        store.clone(),
    );
    let (revoked, _) = &f.users[0];
    let user = UserKey::new(TENANT, revoked);
    let mut row = store.load(&user).await.unwrap().unwrap();
    row.token.refresh_token = Some(RefreshToken::new("1//revoked-or-unknown"));
    store
        .compare_and_swap(&user, row.version, &row)
        .await
        .unwrap();
    let err = tokens.access_token(&user).await.unwrap_err();
    assert!(err.is_consent_required(), "{err}");
    let row = store.load(&user).await.unwrap().unwrap();
    assert!(row.consent_required && row.token.refresh_token.is_none());
    assert_eq!(
        store.consent_required(TENANT).await.unwrap(),
        vec![user.clone()]
    );
    assert!(
        tokens
            .access_token(&user)
            .await
            .unwrap_err()
            .is_consent_required()
    );
    // The other user is unaffected.
    let other = UserKey::new(TENANT, &f.users[1].0);
    tokens.access_token(&other).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// The emulator's rotation: a refresh returns a new refresh token; the old one works until the
/// new one is used, then is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emulator_rotates_refresh_tokens_keeping_the_old_until_the_new_is_used() {
    let emulator = Emulator::builder()
        .empty()
        .rotate_refresh_tokens(true)
        .start()
        .unwrap();
    let email = "rot@school.example.edu";
    let id = emulator.add_user(email, "R", "O", Role::Student);
    let first = emulator.refresh_token_for(email, &[Scope::CoursesReadonly]);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let refresh = |token: String| {
        let http = http.clone();
        let url = emulator.token_url();
        let form = [
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", token),
            ("client_id", emulator.client_id().to_string()),
            ("client_secret", emulator.client_secret().to_string()),
        ];
        async move {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            let reply = http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = reply.status().as_u16();
            let bytes = reply.bytes().await.unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    let (status, body) = refresh(first.clone()).await;
    assert_eq!(status, 200);
    let second = body["refresh_token"]
        .as_str()
        .expect("a rotated token")
        .to_string();
    assert_ne!(second, first);
    assert_eq!(
        emulator.newest_refresh_token(email).as_deref(),
        Some(second.as_str())
    );
    // The old token still works before the new one is used (a client that died before saving).
    let (status, body) = refresh(first.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = refresh(second.clone()).await;
    assert_eq!(status, 200);
    let (status, body) = refresh(first).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(emulator.refreshes().get(&id), Some(&3));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

fn first_subject(path: &Path) -> String {
    let out = Command::new("sqlite3")
        .arg(path)
        .arg("SELECT subject FROM classroom_user_tokens LIMIT 1;")
        .output()
        .expect("sqlite3 (Debian package sqlite3) to read the file as an outsider would");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn pg_spec(pg: &Postgres) -> String {
    format!("postgres:{}", pg.config())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_eight_workers_refresh_each_user_once() {
    let Some(pg) = Postgres::start() else { return };
    eight_workers_refresh_each_user_once(&pg_spec(&pg)).await;
    // Without the key, or with a wrong one, a row is a typed error; the bytes hold no token.
    let plain = open(&pg_spec(&pg), None).await.unwrap();
    let pg_config = pg_spec(&pg)["postgres:".len()..].to_string();
    let (client, conn) = tokio_postgres::connect(&pg_config, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let rows = client
        .query("SELECT subject, payload FROM classroom_user_tokens", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 500);
    for row in &rows {
        let payload: Vec<u8> = row.get(1);
        let text = String::from_utf8_lossy(&payload);
        assert!(
            !text.contains("1//emu-") && !text.contains("@school"),
            "sealed"
        );
    }
    let subject: String = rows[0].get(0);
    let err = plain
        .load(&UserKey::new(TENANT, &subject))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::StoreKey { .. }), "{err}");
    let wrong = open(&pg_spec(&pg), Some(Keyring::new("k1", &[3; 32])))
        .await
        .unwrap();
    let err = wrong
        .load(&UserKey::new(TENANT, &subject))
        .await
        .unwrap_err();
    assert!(matches!(err, AuthError::StoreKey { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_workers_lose_nothing() {
    let Some(pg) = Postgres::start() else { return };
    killed_workers_lose_nothing(&pg_spec(&pg)).await;
}

// ---------------------------------------------------------------------------------------------
// Who the user is: the ID token of a sign-in with `openid`

async fn sign_in(
    emulator: &Emulator,
    email: &str,
    verifier: classroom::auth::IdTokenVerifier,
) -> Result<classroom::auth::UserCredentials, AuthError> {
    use classroom::auth::WebFlow;
    use classroom_emulator::Consent;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let flow = WebFlow::new(
        client(
            &emulator.token_url(),
            emulator.client_id(),
            emulator.client_secret(),
        )
        .with_provider(Provider::new(emulator.auth_url(), emulator.token_url())),
        "http://127.0.0.1:8765/callback",
    )
    .unwrap()
    .verify_id_tokens(verifier);
    let (url, pending) = flow
        .authorize(["openid", "email", Scope::CoursesReadonly.url()])
        .offline(false)
        .build()
        .unwrap();
    emulator.script_consent(Consent::grant_all().as_user(email));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let redirect = http.get(&url).send().await.unwrap();
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    let query = location.split_once('?').unwrap().1.to_string();
    flow.finish(pending, &query).await
}

/// A sign-in asking for `openid` yields the ID token's verified `sub` and email; the user's
/// tokens are stored under that `sub`, the subject a RISC event about them names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_openid_keys_the_store_by_the_verified_subject() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let email = "grace@school.example.edu";
    let id = emulator.add_user(email, "Grace", "Hopper", Role::Teacher);
    let verifier = classroom::auth::IdTokenVerifier::google(emulator.client_id())
        .issuer(emulator.id_token_issuer(), emulator.jwks_url());
    let credentials = sign_in(&emulator, email, verifier).await.unwrap();
    let identity = credentials.identity().expect("openid yields an identity");
    assert_eq!(identity.subject, id, "sub is Google's id of the user");
    assert_eq!(identity.email.as_deref(), Some(email));
    assert!(identity.email_verified);

    let dir = peers::temp_dir("user-tokens-sign-in");
    let store = Arc::new(SqliteUserStore::open(dir.join("t.sqlite3"), Some(keyring())).unwrap());
    let tokens = UserTokens::new(
        client(
            &emulator.token_url(),
            emulator.client_id(),
            emulator.client_secret(),
        ),
        store.clone(),
    );
    let user = tokens.save_sign_in(TENANT, &credentials).await.unwrap();
    assert_eq!(user, UserKey::new(TENANT, &id));
    let row = store.load(&user).await.unwrap().unwrap();
    assert_eq!(row.email.as_deref(), Some(email));
    assert!(row.token.refresh_token.is_some());
    tokens.access_token(&user).await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// An ID token for another client (or from another issuer) is refused: no identity, no row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_token_for_another_audience_or_issuer_is_refused() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let email = "alan@school.example.edu";
    emulator.add_user(email, "Alan", "Turing", Role::Student);
    let other_client = classroom::auth::IdTokenVerifier::google("someone-else.apps")
        .issuer(emulator.id_token_issuer(), emulator.jwks_url());
    let err = sign_in(&emulator, email, other_client).await.unwrap_err();
    assert!(matches!(err, AuthError::IdTokenRejected { .. }), "{err}");
    let other_issuer = classroom::auth::IdTokenVerifier::google(emulator.client_id())
        .issuer("https://accounts.google.com", emulator.jwks_url());
    let err = sign_in(&emulator, email, other_issuer).await.unwrap_err();
    assert!(matches!(err, AuthError::IdTokenRejected { .. }), "{err}");
}

/// The store's primitives: of two writes from the same version only the first lands; a lease
/// is exclusive until it expires or is given back; Debug output shows no token or key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_compare_and_swap_and_leases_are_exclusive() {
    use classroom::auth::users::{Swap, UserRecord};
    let dir = peers::temp_dir("user-tokens-sqlite-cas");
    let store = SqliteUserStore::open(dir.join("t.sqlite3"), Some(keyring())).unwrap();
    let user = UserKey::new(TENANT, "7");
    let record = |refresh: &str| UserRecord {
        token: StoredToken {
            refresh_token: Some(RefreshToken::new(refresh)),
            ..StoredToken::default()
        },
        ..UserRecord::default()
    };
    assert!(matches!(
        store
            .compare_and_swap(&user, 0, &record("1//a"))
            .await
            .unwrap(),
        Swap::Written { version: 1 }
    ));
    assert!(
        matches!(
            store.compare_and_swap(&user, 0, &record("1//b")).await.unwrap(),
            Swap::Conflict { current: Some(ref c) } if c.version == 1
        ),
        "a second insert conflicts"
    );
    assert!(matches!(
        store
            .compare_and_swap(&user, 1, &record("1//c"))
            .await
            .unwrap(),
        Swap::Written { version: 2 }
    ));
    let Swap::Conflict { current } = store
        .compare_and_swap(&user, 1, &record("1//stale"))
        .await
        .unwrap()
    else {
        panic!("a write from a stale version must not land");
    };
    let current = current.unwrap();
    assert_eq!(
        current.token.refresh_token.unwrap().secret(),
        "1//c",
        "the newer write stays"
    );

    let ttl = Duration::from_millis(300);
    assert!(store.try_lease(&user, "w1", ttl).await.unwrap());
    assert!(
        !store.try_lease(&user, "w2", ttl).await.unwrap(),
        "held by w1"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        store.try_lease(&user, "w2", ttl).await.unwrap(),
        "w1's lease expired"
    );
    store.release_lease(&user, "w1").await.unwrap(); // not w1's any more: no effect
    assert!(
        !store.try_lease(&user, "w3", ttl).await.unwrap(),
        "still w2's"
    );
    store.release_lease(&user, "w2").await.unwrap();
    assert!(
        store.try_lease(&user, "w3", ttl).await.unwrap(),
        "given back"
    );

    let debug = format!("{store:?} {:?}", store.load(&user).await.unwrap());
    assert!(
        !debug.contains("1//c") && !debug.contains("90, 90"),
        "{debug}"
    );
    store.delete(&user).await.unwrap();
    assert!(store.load(&user).await.unwrap().is_none());
    let _ = std::fs::remove_dir_all(dir);
}
