//! Tokens read per second from each store for many users (`classroom::auth::users`): SQLite
//! (a file in a temporary directory) and PostgreSQL (Debian's, started on a free loopback
//! port; skipped with a line saying so where it is not installed), each with rows in the clear
//! and sealed with AES-256-GCM.
//!
//! Each store holds 10,000 users with a valid access token. A read is
//! `UserTokens::access_token` for a random user: one row read, opened, checked for expiry, as a
//! worker does before each API call. Measured from one task, then from 16 at once. Then the
//! lookup of a RISC `token-revoked` event: the row holding a user's refresh token, found by
//! the double SHA-512 the event sends (by keyed fingerprint; no row but that one is opened).
//!
//! `cargo bench --bench token_store` (about half a minute).

#[path = "../tests/peers/mod.rs"]
mod peers;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use classroom::auth::users::{
    Keyring, PostgresUserStore, SqliteUserStore, UserKey, UserTokenStore, UserTokens,
};
use classroom::auth::{
    ClientSecret, OAuthClient, Provider, RefreshToken, RevokedToken, StoredToken,
};
use futures::StreamExt;

const USERS: usize = 10_000;
const RUN: Duration = Duration::from_secs(2);
const LOOKUPS: u32 = 500;

fn tokens(store: Arc<dyn UserTokenStore>) -> UserTokens {
    // No refresh happens: every stored token is valid for hours.
    let client = OAuthClient::new("bench", Some(ClientSecret::new("s")))
        .with_provider(Provider::token_endpoint("http://127.0.0.1:9/token"));
    UserTokens::new(client, store)
}

fn user(i: usize) -> UserKey {
    UserKey::new("bench", format!("1{i:020}"))
}

async fn fill(tokens: &UserTokens) {
    futures::stream::iter(0..USERS)
        .for_each_concurrent(32, |i| async move {
            let token = StoredToken {
                refresh_token: Some(RefreshToken::new(format!("1//refresh-{i}"))),
                access_token: Some(format!("ya29.access-{i}")),
                expires_at: Some(Utc::now() + chrono::Duration::hours(6)),
                scopes: Some(vec![
                    "https://www.googleapis.com/auth/classroom.courses.readonly".into(),
                ]),
            };
            tokens
                .save(&user(i), token, Some(format!("u{i}@school.example")))
                .await
                .unwrap();
        })
        .await;
}

/// Reads per second from `tasks` tasks reading random users for [`RUN`].
async fn reads_per_second(tokens: &UserTokens, tasks: usize) -> f64 {
    let started = Instant::now();
    let counts = futures::stream::iter(0..tasks)
        .map(|t| {
            let tokens = tokens.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t as u64;
                while started.elapsed() < RUN {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let token = tokens
                        .access_token(&user(x as usize % USERS))
                        .await
                        .unwrap();
                    assert!(token.secret().starts_with("ya29.access-"));
                    n += 1;
                }
                n
            })
        })
        .buffer_unordered(tasks)
        .map(|r| r.unwrap())
        .collect::<Vec<u64>>()
        .await;
    counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64()
}

/// The mean time to find the row of a random user's refresh token from its identifier.
async fn token_revoked_lookup(store: &Arc<dyn UserTokenStore>) -> Duration {
    let started = Instant::now();
    for i in 0..LOOKUPS as usize {
        let n = i * 7919 % USERS;
        let revoked = RevokedToken::identify(
            "refresh_token",
            "hash_base64_sha512_sha512",
            &format!("1//refresh-{n}"),
        );
        assert_eq!(
            store.find_refresh_token(&revoked).await.unwrap(),
            vec![user(n)]
        );
    }
    started.elapsed() / LOOKUPS
}

async fn measure(name: &str, store: Arc<dyn UserTokenStore>) {
    let tokens = tokens(store.clone());
    let filled = Instant::now();
    fill(&tokens).await;
    let fill_time = filled.elapsed();
    let one = reads_per_second(&tokens, 1).await;
    let many = reads_per_second(&tokens, 16).await;
    let lookup = token_revoked_lookup(&store).await;
    println!(
        "{name:<28} {one:>9.0} reads/s (1 task) {many:>9.0} reads/s (16 tasks)   \
         {USERS} rows written in {fill_time:.1?}   token-revoked lookup {lookup:.0?}"
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("classroom-token-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = || Some(Keyring::new("k1", &[0x42; 32]));
    println!("store                        reads from {USERS} users, {RUN:?} each");
    let path = dir.join("plain.sqlite3");
    measure(
        "SQLite",
        Arc::new(SqliteUserStore::open(&path, None).unwrap()),
    )
    .await;
    let path = dir.join("sealed.sqlite3");
    measure(
        "SQLite, AES-256-GCM",
        Arc::new(SqliteUserStore::open(&path, key()).unwrap()),
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);

    if let Some(pg) = peers::postgres::Postgres::start() {
        let plain = PostgresUserStore::connect(&pg.config(), None)
            .await
            .unwrap();
        measure("PostgreSQL", Arc::new(plain)).await;
        // The same rows, rewritten sealed by the fill.
        let sealed = PostgresUserStore::connect(&pg.config(), key())
            .await
            .unwrap();
        measure("PostgreSQL, AES-256-GCM", Arc::new(sealed)).await;
    }
}
