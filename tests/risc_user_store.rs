//! Cross-Account Protection for the token store of many users, end to end on loopback: the
//! emulator signs security event tokens, a `RiscReceiver` verifies them and drops tokens
//! through `UserStoreSubjects` from a real store (a SQLite file in a temporary directory, or
//! Debian's PostgreSQL started on a loopback port), with encryption at rest on; the users'
//! tokens come from the emulator's token endpoint, which keeps honouring them, so a refusal
//! afterwards is the store's doing.

mod peers;

use peers::postgres::Postgres;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use classroom::Scope;
use classroom::auth::users::{
    Keyring, SqliteUserStore, Swap, UserKey, UserRecord, UserTokenStore, UserTokens,
};
use classroom::auth::{
    AuthError, ClientSecret, Effect, OAuthClient, Provider, Receipt, RefreshToken, RevokedToken,
    RiscError, RiscReceiver, SecurityEvent, StoredToken, UserStoreSubjects,
};
use classroom_emulator::{Emulator, Role};

const T1: &str = "district-7";
const T2: &str = "district-9";
const KEY: [u8; 32] = [0x3c; 32];
const HASH: &str = "hash_base64_sha512_sha512";

fn keyring() -> Keyring {
    Keyring::new("k1", &KEY)
}

/// Where the rows live: `sqlite:PATH` or `postgres:CONFIG`.
#[derive(Clone)]
enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Db {
    async fn open(&self, keyring: Option<Keyring>) -> Arc<dyn UserTokenStore> {
        match self {
            Db::Sqlite(path) => Arc::new(SqliteUserStore::open(path, keyring).unwrap()),
            Db::Postgres(config) => Arc::new(
                classroom::auth::users::PostgresUserStore::connect(config, keyring)
                    .await
                    .unwrap(),
            ),
        }
    }

    /// Runs SQL as an outsider would (an operator's shell, an older program), returning the
    /// first column of each row as text.
    async fn sql(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(path) => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.busy_timeout(Duration::from_secs(10)).unwrap();
                let mut out = Vec::new();
                for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
                    let mut s = conn.prepare(statement).unwrap();
                    let columns = s.column_count();
                    let mut rows = s.query([]).unwrap();
                    while let Some(row) = rows.next().unwrap() {
                        if columns > 0 {
                            out.push(row.get::<_, rusqlite::types::Value>(0).map_or_else(
                                |e| panic!("{e}"),
                                |v| match v {
                                    rusqlite::types::Value::Text(t) => t,
                                    rusqlite::types::Value::Integer(i) => i.to_string(),
                                    other => format!("{other:?}"),
                                },
                            ));
                        }
                    }
                }
                out
            }
            Db::Postgres(config) => {
                let (client, conn) = tokio_postgres::connect(config, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                client
                    .simple_query(sql)
                    .await
                    .unwrap()
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(row) => {
                            Some(row.get(0).unwrap_or("NULL").to_string())
                        }
                        _ => None,
                    })
                    .collect()
            }
        }
    }

    /// Puts the table back as the previous release created it: no fingerprint columns, none
    /// of the indexes this release adds; the rows stay.
    async fn downgrade(&self) {
        let sql = match self {
            Db::Sqlite(_) => {
                "DROP INDEX classroom_user_tokens_subject; \
                 DROP INDEX classroom_user_tokens_refresh_prefix; \
                 DROP INDEX classroom_user_tokens_refresh_hash; \
                 DROP INDEX classroom_user_tokens_unfingerprinted; \
                 ALTER TABLE classroom_user_tokens DROP COLUMN refresh_prefix_fp; \
                 ALTER TABLE classroom_user_tokens DROP COLUMN refresh_hash_fp; \
                 ALTER TABLE classroom_user_tokens DROP COLUMN refresh_fp_version"
            }
            Db::Postgres(_) => {
                "DROP INDEX classroom_user_tokens_subject; \
                 ALTER TABLE classroom_user_tokens DROP COLUMN refresh_prefix_fp, \
                 DROP COLUMN refresh_hash_fp, DROP COLUMN refresh_fp_version"
            }
        };
        self.sql(sql).await;
        assert_eq!(self.indexes().await, 0, "downgraded");
    }

    /// How many of this release's indexes exist.
    async fn indexes(&self) -> usize {
        let sql = match self {
            Db::Sqlite(_) => {
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name IN \
                 ('classroom_user_tokens_subject', 'classroom_user_tokens_refresh_prefix', \
                 'classroom_user_tokens_refresh_hash', 'classroom_user_tokens_unfingerprinted')"
            }
            Db::Postgres(_) => {
                "SELECT indexname FROM pg_indexes WHERE indexname IN \
                 ('classroom_user_tokens_subject', 'classroom_user_tokens_refresh_prefix', \
                 'classroom_user_tokens_refresh_hash', 'classroom_user_tokens_unfingerprinted')"
            }
        };
        self.sql(sql).await.len()
    }

    /// The subjects of the rows whose fingerprints are not current, sorted.
    async fn unfingerprinted(&self) -> Vec<String> {
        self.sql(match self {
            Db::Sqlite(_) => {
                "SELECT subject FROM classroom_user_tokens \
                 WHERE refresh_fp_version IS NOT version ORDER BY subject"
            }
            Db::Postgres(_) => {
                "SELECT subject FROM classroom_user_tokens \
                 WHERE refresh_fp_version IS DISTINCT FROM version ORDER BY subject"
            }
        })
        .await
    }

    /// Writes the row as a process of the previous release would have: it replaced the
    /// refresh token and bumped the version, leaving the fingerprints of the token before.
    async fn rewrite_as_previous_release(&self, before: &[String], subject: &str) {
        let [prefix, hash] = before else {
            panic!("two fingerprints")
        };
        let sql = match self {
            Db::Sqlite(_) => format!(
                "UPDATE classroom_user_tokens SET refresh_prefix_fp = X'{prefix}', \
                 refresh_hash_fp = X'{hash}', refresh_fp_version = version - 1 \
                 WHERE subject = '{subject}'"
            ),
            Db::Postgres(_) => format!(
                "UPDATE classroom_user_tokens SET refresh_prefix_fp = decode('{prefix}', 'hex'), \
                 refresh_hash_fp = decode('{hash}', 'hex'), refresh_fp_version = version - 1 \
                 WHERE subject = '{subject}'"
            ),
        };
        self.sql(&sql).await;
    }

    /// The row's two fingerprints, in hex.
    async fn fingerprints(&self, subject: &str) -> Vec<String> {
        let mut out = Vec::new();
        for column in ["refresh_prefix_fp", "refresh_hash_fp"] {
            let sql = match self {
                Db::Sqlite(_) => format!(
                    "SELECT hex({column}) FROM classroom_user_tokens WHERE subject = '{subject}'"
                ),
                Db::Postgres(_) => format!(
                    "SELECT encode({column}, 'hex') FROM classroom_user_tokens \
                     WHERE subject = '{subject}'"
                ),
            };
            out.extend(self.sql(&sql).await);
        }
        out
    }
}

/// A SQLite file in a temporary directory, removed when dropped.
struct TempSqlite(PathBuf);

impl TempSqlite {
    fn new(name: &str) -> (TempSqlite, Db) {
        let dir = peers::temp_dir(&format!("risc-store-{name}"));
        let db = Db::Sqlite(dir.join("tokens.sqlite3"));
        (TempSqlite(dir), db)
    }
}

impl Drop for TempSqlite {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn postgres() -> Option<(Postgres, Db)> {
    let pg = Postgres::start()?;
    let db = Db::Postgres(pg.config());
    Some((pg, db))
}

/// The emulator (its token endpoint and its security events), one store, the `UserTokens`
/// the application hands tokens out with, and the receiver dropping tokens from the store.
struct World {
    emulator: Emulator,
    store: Arc<dyn UserTokenStore>,
    tokens: UserTokens,
    receiver: RiscReceiver,
}

async fn world(store: Arc<dyn UserTokenStore>) -> World {
    world_dropping_through(new_emulator(), store.clone(), store).await
}

fn new_emulator() -> Emulator {
    Emulator::builder().empty().start().unwrap()
}

/// A world whose receiver drops through `dropping` (the store, or a wrapper of it).
async fn world_dropping_through(
    emulator: Emulator,
    store: Arc<dyn UserTokenStore>,
    dropping: Arc<dyn UserTokenStore>,
) -> World {
    let client = OAuthClient::new(
        emulator.client_id(),
        Some(ClientSecret::new(emulator.client_secret())),
    )
    .with_provider(Provider::token_endpoint(emulator.token_url()));
    let tokens = UserTokens::new(client, store.clone());
    let receiver = RiscReceiver::new(
        [emulator.client_id()],
        Arc::new(UserStoreSubjects::new(dropping)),
    )
    .discover(&emulator.risc_configuration_url())
    .await
    .unwrap();
    World {
        emulator,
        store,
        tokens,
        receiver,
    }
}

impl World {
    /// A new person at the emulator: their Google id (`sub`) and email.
    fn person(&self, name: &str) -> (String, String) {
        let email = format!("{name}@school.example.edu");
        let sub = self
            .emulator
            .add_user(&email, name, "Example", Role::Teacher);
        (sub, email)
    }

    /// Stores a new grant of the emulator's for the person in `tenant`, as a sign-in would,
    /// with an access token that has expired; returns the refresh token.
    async fn sign_in(&self, tenant: &str, person: &(String, String)) -> String {
        let (sub, email) = person;
        let refresh = self
            .emulator
            .refresh_token_for(email, &[Scope::CoursesReadonly]);
        let token = StoredToken {
            refresh_token: Some(RefreshToken::new(refresh.clone())),
            access_token: Some("ya29.expired".into()),
            expires_at: Some(Utc::now() - chrono::Duration::seconds(5)),
            scopes: Some(vec![Scope::CoursesReadonly.url().to_string()]),
        };
        self.tokens
            .save(&UserKey::new(tenant, sub), token, Some(email.clone()))
            .await
            .unwrap();
        refresh
    }

    /// Delivers `event` as Google would: signed, for our client id.
    async fn deliver(&self, event: &SecurityEvent) -> Result<Receipt, RiscError> {
        let events = event.to_claim(&self.emulator.risc_issuer());
        let token = self
            .emulator
            .security_event_token(&events, self.emulator.client_id());
        self.receiver.receive(token.as_bytes()).await
    }

    async fn row(&self, tenant: &str, sub: &str) -> UserRecord {
        self.store
            .load(&UserKey::new(tenant, sub))
            .await
            .unwrap()
            .expect("the row is still there")
    }

    /// Whether the application can still act for the user; a failure must be the typed
    /// consent-required error.
    async fn can_act_for(&self, tenant: &str, sub: &str) -> bool {
        match self.tokens.access_token(&UserKey::new(tenant, sub)).await {
            Ok(_) => true,
            Err(AuthError::ConsentRequired { .. }) => false,
            Err(other) => panic!("{tenant}/{sub}: not the consent-required error: {other:?}"),
        }
    }

    /// Asserts that the user's row is marked as a refused refresh marks it: no tokens, the
    /// email kept, consent required; and that no access token is handed out for them.
    async fn assert_dropped(&self, tenant: &str, person: &(String, String)) {
        let (sub, email) = person;
        let row = self.row(tenant, sub).await;
        assert!(row.consent_required, "{tenant}/{email} needs consent");
        assert_eq!(
            row.token,
            StoredToken::default(),
            "{tenant}/{email}: no refresh or access token is left"
        );
        assert_eq!(
            row.email.as_deref(),
            Some(email.as_str()),
            "the email stays"
        );
        assert!(
            !self.can_act_for(tenant, sub).await,
            "{tenant}/{email}: the access token obtained before the event is not served"
        );
    }
}

fn dropped(subject: Option<&str>, holders: usize) -> Effect {
    Effect::TokensDropped {
        subject: subject.map(str::to_string),
        holders,
    }
}

fn sorted(mut subjects: Vec<String>) -> Vec<String> {
    subjects.sort();
    subjects
}

async fn consent_required(store: &Arc<dyn UserTokenStore>, tenant: &str) -> Vec<String> {
    store
        .consent_required(tenant)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.subject)
        .collect()
}

/// Sessions revoked, tokens revoked and account disabled mark every row of the account the
/// event names, in every tenant, and no other; the events that ask for nothing change
/// nothing; a redelivered event drops nothing more; a new sign-in clears the mark.
async fn account_events_mark_the_account_in_every_tenant(db: &Db) {
    let w = world(db.open(Some(keyring())).await).await;
    let ada = w.person("ada"); // in both tenants
    let bob = w.person("bob");
    let cy = w.person("cy");
    let dee = w.person("dee");
    let eve = w.person("eve");
    let fay = w.person("fay"); // stored without tokens: never granted offline access
    for (tenant, person) in [
        (T1, &ada),
        (T2, &ada),
        (T1, &bob),
        (T1, &cy),
        (T2, &dee),
        (T2, &eve),
    ] {
        w.sign_in(tenant, person).await;
        assert!(
            w.can_act_for(tenant, &person.0).await,
            "{tenant}/{}: a fresh access token before any event",
            person.1
        );
    }
    w.tokens
        .save(&UserKey::new(T1, &fay.0), StoredToken::default(), None)
        .await
        .unwrap();
    let bob_before = w.row(T1, &bob.0).await;
    let eve_before = w.row(T2, &eve.0).await;
    assert!(bob_before.token.access_token.is_some() && bob_before.version > 0);

    for (event, person, tenants) in [
        (
            SecurityEvent::TokensRevoked {
                subject: ada.0.clone(),
            },
            &ada,
            vec![T1, T2],
        ),
        (
            SecurityEvent::SessionsRevoked {
                subject: cy.0.clone(),
            },
            &cy,
            vec![T1],
        ),
        (
            SecurityEvent::AccountDisabled {
                subject: dee.0.clone(),
                reason: Some("hijacking".into()),
            },
            &dee,
            vec![T2],
        ),
        (
            SecurityEvent::TokensRevoked {
                subject: fay.0.clone(),
            },
            &fay,
            vec![T1],
        ),
    ] {
        let receipt = w.deliver(&event).await.unwrap();
        assert_eq!(
            receipt.effect,
            dropped(Some(&person.0), tenants.len()),
            "{}: one holder per tenant the account is stored in",
            event.event_type()
        );
        for tenant in tenants {
            let row = w.row(tenant, &person.0).await;
            assert!(row.consent_required && row.token == StoredToken::default());
            if person != &fay {
                w.assert_dropped(tenant, person).await;
            }
        }
    }
    assert_eq!(
        consent_required(&w.store, T1).await,
        sorted(vec![ada.0.clone(), cy.0.clone(), fay.0.clone()]),
        "the application learns whom to ask to sign in again, per tenant"
    );
    assert_eq!(
        consent_required(&w.store, T2).await,
        sorted(vec![ada.0.clone(), dee.0.clone()])
    );

    // Events that ask for nothing, about eve: nothing changes.
    for event in [
        SecurityEvent::AccountEnabled {
            subject: eve.0.clone(),
        },
        SecurityEvent::CredentialChangeRequired {
            subject: eve.0.clone(),
        },
    ] {
        let receipt = w.deliver(&event).await.unwrap();
        assert_eq!(receipt.effect, Effect::Nothing, "{}", event.event_type());
    }
    // The others are untouched: same version, same tokens, still served.
    assert_eq!(w.row(T1, &bob.0).await, bob_before, "bob is untouched");
    assert_eq!(w.row(T2, &eve.0).await, eve_before, "eve is untouched");
    assert!(w.can_act_for(T1, &bob.0).await && w.can_act_for(T2, &eve.0).await);

    // Redelivered (a new jti): nothing more to drop, no row rewritten.
    let ada_marked = w.row(T1, &ada.0).await;
    let again = w
        .deliver(&SecurityEvent::SessionsRevoked {
            subject: ada.0.clone(),
        })
        .await
        .unwrap();
    assert_eq!(again.effect, dropped(Some(&ada.0), 0));
    assert_eq!(
        w.row(T1, &ada.0).await.version,
        ada_marked.version,
        "a row already dropped is not written again"
    );
    let nobody = w
        .deliver(&SecurityEvent::TokensRevoked {
            subject: "no-such-account".into(),
        })
        .await
        .unwrap();
    assert_eq!(nobody.effect, dropped(Some("no-such-account"), 0));

    // Ada signs in again in one tenant: served there, still marked in the other.
    w.sign_in(T1, &ada).await;
    assert!(w.can_act_for(T1, &ada.0).await);
    assert!(!w.can_act_for(T2, &ada.0).await);
    assert_eq!(
        consent_required(&w.store, T1).await,
        sorted(vec![cy.0.clone(), fay.0.clone()])
    );
}

/// A token-revoked event, by hash or by prefix, drops the one row holding that refresh token
/// (not the same account's other tenant), found by fingerprint with encryption on: a row that
/// this store cannot open but whose fingerprint does not match is never opened. No token,
/// prefix or unkeyed hash is stored.
async fn token_revoked_finds_the_row_by_its_fingerprint(db: &Db) {
    let w = world(db.open(Some(keyring())).await).await;
    let ada = w.person("ada");
    let bob = w.person("bob");
    let ada_t1 = w.sign_in(T1, &ada).await;
    let ada_t2 = w.sign_in(T2, &ada).await;
    let bob_t1 = w.sign_in(T1, &bob).await;
    assert_ne!(ada_t1, ada_t2, "two grants, two refresh tokens");
    for (tenant, sub) in [(T1, &ada.0), (T2, &ada.0), (T1, &bob.0)] {
        assert!(w.can_act_for(tenant, sub).await);
    }
    // Another application's row in the same table, sealed under a key we lack.
    let foreign = db.open(Some(Keyring::new("k9", &[9; 32]))).await;
    let zed = UserKey::new(T1, "zed");
    let zed_record = UserRecord {
        token: StoredToken {
            refresh_token: Some(RefreshToken::new("1//emu-zeds-own-refresh-token")),
            ..StoredToken::default()
        },
        ..UserRecord::default()
    };
    assert!(matches!(
        foreign
            .compare_and_swap(&zed, 0, &zed_record)
            .await
            .unwrap(),
        Swap::Written { .. }
    ));
    assert!(
        matches!(w.store.load(&zed).await, Err(AuthError::StoreKey { .. })),
        "our store cannot open zed's row"
    );

    let revoked = RevokedToken::identify("refresh_token", HASH, &ada_t2);
    assert_eq!(
        w.store.find_refresh_token(&revoked).await.unwrap(),
        vec![UserKey::new(T2, &ada.0)],
        "the hash finds ada's row in {T2} only, without opening zed's"
    );
    let receipt = w
        .deliver(&SecurityEvent::TokenRevoked { token: revoked })
        .await
        .unwrap();
    assert_eq!(receipt.effect, dropped(None, 1));
    w.assert_dropped(T2, &ada).await;
    assert!(
        w.can_act_for(T1, &ada.0).await,
        "ada's other grant, in {T1}, was not revoked"
    );
    assert!(w.can_act_for(T1, &bob.0).await);

    let revoked = RevokedToken::identify("refresh_token", "prefix", &ada_t1);
    assert_eq!(
        w.store.find_refresh_token(&revoked).await.unwrap(),
        vec![UserKey::new(T1, &ada.0)]
    );
    let receipt = w
        .deliver(&SecurityEvent::TokenRevoked { token: revoked })
        .await
        .unwrap();
    assert_eq!(receipt.effect, dropped(None, 1));
    w.assert_dropped(T1, &ada).await;
    assert!(w.can_act_for(T1, &bob.0).await, "bob is untouched");

    // Redelivered, or a token no row holds: nothing.
    let receipt = w
        .deliver(&SecurityEvent::TokenRevoked {
            token: RevokedToken::identify("refresh_token", HASH, &ada_t2),
        })
        .await
        .unwrap();
    assert_eq!(receipt.effect, dropped(None, 0));
    let receipt = w
        .deliver(&SecurityEvent::TokenRevoked {
            token: RevokedToken::identify("refresh_token", HASH, "1//emu-never-issued"),
        })
        .await
        .unwrap();
    assert_eq!(receipt.effect, dropped(None, 0));
    assert_eq!(consent_required(&w.store, T1).await, vec![ada.0.clone()]);

    // What a token-revoked event identifies a token by is nowhere in the database: not the
    // token, not its prefix, not its hash (base64 or raw).
    let dump = db
        .sql(match db {
            Db::Sqlite(_) => {
                "SELECT hex(refresh_prefix_fp) || hex(refresh_hash_fp) || hex(payload) \
                 FROM classroom_user_tokens"
            }
            Db::Postgres(_) => {
                "SELECT encode(refresh_prefix_fp, 'hex') || encode(refresh_hash_fp, 'hex') \
                 || encode(payload, 'hex') FROM classroom_user_tokens"
            }
        })
        .await
        .join(" ")
        .to_lowercase();
    for token in [&bob_t1, &ada_t1] {
        let hash = {
            let once = ring::digest::digest(&ring::digest::SHA512, token.as_bytes());
            ring::digest::digest(&ring::digest::SHA512, once.as_ref())
        };
        let prefix: String = token.chars().take(16).collect();
        for leak in [
            hex(token.as_bytes()),
            hex(prefix.as_bytes()),
            hex(hash.as_ref()),
            hex(
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, hash.as_ref())
                    .as_bytes(),
            ),
        ] {
            assert!(!dump.contains(&leak), "stored in the clear: {leak}");
        }
    }
    assert!(dump.len() > 1000, "the dump holds the rows: {}", dump.len());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A database of the previous release (no fingerprint columns) gets them when the new store
/// opens it; its rows are still found by a token-revoked event, then `rekey` fingerprints
/// them, with a keyring (sealed rows and rows in clear) and without one (rows in clear).
async fn rows_from_before_fingerprints_are_found_then_fingerprinted(db: &Db) {
    let w = world(db.open(Some(keyring())).await).await;
    let ada = w.person("ada");
    let bob = w.person("bob");
    let cal = w.person("cal");
    let ada_t1 = w.sign_in(T1, &ada).await;
    let bob_t1 = w.sign_in(T1, &bob).await;
    // Cal's row is in clear, written by a store without a keyring.
    let clear_tokens = UserTokens::new(
        OAuthClient::new(w.emulator.client_id(), None),
        db.open(None).await,
    );
    let cal_t1 = w
        .emulator
        .refresh_token_for(&cal.1, &[Scope::CoursesReadonly]);
    clear_tokens
        .save(
            &UserKey::new(T1, &cal.0),
            StoredToken {
                refresh_token: Some(RefreshToken::new(cal_t1.clone())),
                ..StoredToken::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(db.indexes().await, 4, "a new database has the indexes");
    assert!(db.unfingerprinted().await.is_empty(), "new rows have them");
    let World { emulator, .. } = w;
    drop(clear_tokens);

    db.downgrade().await;
    // The upgraded program opens the database: the columns and indexes come back, empty.
    let store = db.open(Some(keyring())).await;
    let w = world_dropping_through(emulator, store.clone(), store).await;
    assert_eq!(db.indexes().await, 4, "the upgrade adds the indexes");
    assert_eq!(
        db.unfingerprinted().await,
        sorted(vec![ada.0.clone(), bob.0.clone(), cal.0.clone()])
    );
    let clear = db.open(None).await;

    // Rows not fingerprinted yet are opened and checked: found, and only the right one.
    for (token, owner) in [(&ada_t1, &ada), (&cal_t1, &cal)] {
        for alg in [HASH, "prefix"] {
            let revoked = RevokedToken::identify("refresh_token", alg, token);
            assert_eq!(
                w.store.find_refresh_token(&revoked).await.unwrap(),
                vec![UserKey::new(T1, &owner.0)],
                "{alg} of {}'s token",
                owner.1
            );
        }
    }
    // A prefix of other than 16 characters, which no fingerprint covers, is looked for in
    // every row.
    let short = RevokedToken::identify("refresh_token", "prefix", &bob_t1[..12]);
    assert_eq!(
        w.store.find_refresh_token(&short).await.unwrap(),
        vec![UserKey::new(T1, &bob.0)]
    );
    let receipt = w
        .deliver(&SecurityEvent::TokenRevoked {
            token: RevokedToken::identify("refresh_token", HASH, &ada_t1),
        })
        .await
        .unwrap();
    assert_eq!(receipt.effect, dropped(None, 1));
    w.assert_dropped(T1, &ada).await;
    assert_eq!(
        db.unfingerprinted().await,
        sorted(vec![bob.0.clone(), cal.0.clone()]),
        "a row's next write fingerprints it"
    );

    // Without a keyring, rekey fingerprints the rows in clear only; with one, the rest (and
    // seals the row in clear).
    assert_eq!(clear.rekey().await.unwrap(), 1, "cal's row");
    assert_eq!(db.unfingerprinted().await, vec![bob.0.clone()]);
    assert_eq!(clear.rekey().await.unwrap(), 0);
    assert_eq!(
        w.store.rekey().await.unwrap(),
        2,
        "bob's (no fingerprint), cal's (clear)"
    );
    assert!(db.unfingerprinted().await.is_empty());
    assert_eq!(w.store.rekey().await.unwrap(), 0);
    assert!(
        matches!(
            clear.load(&UserKey::new(T1, &cal.0)).await,
            Err(AuthError::StoreKey { .. })
        ),
        "cal's row is sealed now"
    );
    for (token, owner) in [(&bob_t1, &bob), (&cal_t1, &cal)] {
        let revoked = RevokedToken::identify("refresh_token", "prefix", token);
        assert_eq!(
            w.store.find_refresh_token(&revoked).await.unwrap(),
            vec![UserKey::new(T1, &owner.0)],
            "{} found by fingerprint",
            owner.1
        );
    }
    assert!(w.can_act_for(T1, &bob.0).await && w.can_act_for(T1, &cal.0).await);

    // During a rolling upgrade, a process of the previous release signs dee in again: a new
    // refresh token under the fingerprints of the old one. The new token is still found.
    let dee = w.person("dee");
    w.sign_in(T2, &dee).await;
    let before = db.fingerprints(&dee.0).await;
    let dee_new = w.sign_in(T2, &dee).await;
    db.rewrite_as_previous_release(&before, &dee.0).await;
    assert_eq!(db.unfingerprinted().await, vec![dee.0.clone()]);
    for alg in [HASH, "prefix"] {
        let revoked = RevokedToken::identify("refresh_token", alg, &dee_new);
        assert_eq!(
            w.store.find_refresh_token(&revoked).await.unwrap(),
            vec![UserKey::new(T2, &dee.0)],
            "{alg} of the token the previous release stored"
        );
    }
    assert_eq!(
        w.store.rekey().await.unwrap(),
        1,
        "dee's fingerprints brought up to date"
    );
    assert!(db.unfingerprinted().await.is_empty());
    let receipt = w
        .deliver(&SecurityEvent::TokenRevoked {
            token: RevokedToken::identify("refresh_token", "prefix", &dee_new),
        })
        .await
        .unwrap();
    assert_eq!(receipt.effect, dropped(None, 1));
    w.assert_dropped(T2, &dee).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_account_events_mark_the_account_in_every_tenant() {
    let (_dir, db) = TempSqlite::new("account");
    account_events_mark_the_account_in_every_tenant(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_token_revoked_finds_the_row_by_its_fingerprint() {
    let (_dir, db) = TempSqlite::new("token");
    token_revoked_finds_the_row_by_its_fingerprint(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rows_from_before_fingerprints_are_found_then_fingerprinted() {
    let (_dir, db) = TempSqlite::new("upgrade");
    rows_from_before_fingerprints_are_found_then_fingerprinted(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_account_events_mark_the_account_in_every_tenant() {
    let Some((_pg, db)) = postgres() else { return };
    account_events_mark_the_account_in_every_tenant(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_token_revoked_finds_the_row_by_its_fingerprint() {
    let Some((_pg, db)) = postgres() else { return };
    token_revoked_finds_the_row_by_its_fingerprint(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rows_from_before_fingerprints_are_found_then_fingerprinted() {
    let Some((_pg, db)) = postgres() else { return };
    rows_from_before_fingerprints_are_found_then_fingerprinted(&db).await;
}

// ---------------------------------------------------------------------------------------------
// Drops racing with other writers

/// A real store whose next `interfere` compare-and-swaps are each preceded by another
/// worker's write to the same row: a refresh that keeps the refresh token, or (with
/// `rotate`) a sign-in that replaces it.
#[derive(Debug)]
struct Interfering {
    inner: Arc<dyn UserTokenStore>,
    interfere: AtomicUsize,
    rotate: bool,
}

#[async_trait]
impl UserTokenStore for Interfering {
    async fn load(&self, user: &UserKey) -> Result<Option<UserRecord>, AuthError> {
        self.inner.load(user).await
    }

    async fn compare_and_swap(
        &self,
        user: &UserKey,
        expected: u64,
        record: &UserRecord,
    ) -> Result<Swap, AuthError> {
        let due = self
            .interfere
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if due && let Some(mut current) = self.inner.load(user).await? {
            current.token.access_token = Some(format!("ya29.meanwhile-{}", current.version));
            if self.rotate {
                current.token.refresh_token = Some(RefreshToken::new("1//emu-a-new-sign-in"));
            }
            current.consent_required = false;
            let written = self
                .inner
                .compare_and_swap(user, current.version, &current)
                .await?;
            assert!(
                matches!(written, Swap::Written { .. }),
                "the other write lands"
            );
        }
        self.inner.compare_and_swap(user, expected, record).await
    }

    async fn delete(&self, user: &UserKey) -> Result<(), AuthError> {
        self.inner.delete(user).await
    }

    async fn try_lease(
        &self,
        user: &UserKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, AuthError> {
        self.inner.try_lease(user, holder, ttl).await
    }

    async fn release_lease(&self, user: &UserKey, holder: &str) -> Result<(), AuthError> {
        self.inner.release_lease(user, holder).await
    }

    async fn consent_required(&self, tenant: &str) -> Result<Vec<UserKey>, AuthError> {
        self.inner.consent_required(tenant).await
    }

    async fn rekey(&self) -> Result<u64, AuthError> {
        self.inner.rekey().await
    }

    async fn find_subject(&self, subject: &str) -> Result<Vec<UserKey>, AuthError> {
        self.inner.find_subject(subject).await
    }

    async fn find_refresh_token(&self, token: &RevokedToken) -> Result<Vec<UserKey>, AuthError> {
        self.inner.find_refresh_token(token).await
    }
}

/// A drop whose write loses to another worker's reads the row again and drops what is there
/// now (a refresh under way does not put the tokens back); one that keeps losing fails as
/// retryable (503: Google delivers again) and is applied when redelivered; a token-revoked
/// drop that finds the refresh token replaced meanwhile (a new sign-in) leaves the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_drops_racing_with_other_writes() {
    let (_dir, db) = TempSqlite::new("race");
    let store = db.open(Some(keyring())).await;
    let racing = Arc::new(Interfering {
        inner: store.clone(),
        interfere: AtomicUsize::new(0),
        rotate: false,
    });
    let w = world_dropping_through(new_emulator(), store.clone(), racing.clone()).await;
    let ada = w.person("ada");
    let bob = w.person("bob");
    w.sign_in(T1, &ada).await;
    w.sign_in(T2, &ada).await;
    w.sign_in(T1, &bob).await;

    racing.interfere.store(3, Ordering::SeqCst);
    let receipt = w
        .deliver(&SecurityEvent::TokensRevoked {
            subject: ada.0.clone(),
        })
        .await
        .unwrap();
    assert_eq!(receipt.effect, dropped(Some(&ada.0), 2));
    assert_eq!(
        racing.interfere.load(Ordering::SeqCst),
        0,
        "all three writes came between"
    );
    w.assert_dropped(T1, &ada).await;
    w.assert_dropped(T2, &ada).await;

    // Losing every time: refused as retryable, nothing remembered, applied on redelivery.
    racing.interfere.store(1000, Ordering::SeqCst);
    let event = SecurityEvent::SessionsRevoked {
        subject: bob.0.clone(),
    };
    let error = w.deliver(&event).await.unwrap_err();
    assert!(
        matches!(error, RiscError::Store(AuthError::Store { .. })) && error.http_status() == 503,
        "{error:?}"
    );
    assert!(w.can_act_for(T1, &bob.0).await, "not dropped yet");
    racing.interfere.store(0, Ordering::SeqCst);
    let receipt = w.deliver(&event).await.unwrap();
    assert_eq!(receipt.effect, dropped(Some(&bob.0), 1));
    w.assert_dropped(T1, &bob).await;

    // A token-revoked drop that loses to a sign-in replacing the refresh token: the new
    // grant stays.
    let cy = w.person("cy");
    let cy_t1 = w.sign_in(T1, &cy).await;
    let racing = Arc::new(Interfering {
        inner: store.clone(),
        interfere: AtomicUsize::new(1),
        rotate: true,
    });
    let World { emulator, .. } = w;
    let w = world_dropping_through(emulator, store.clone(), racing.clone()).await;
    let receipt = w
        .deliver(&SecurityEvent::TokenRevoked {
            token: RevokedToken::identify("refresh_token", HASH, &cy_t1),
        })
        .await
        .unwrap();
    assert_eq!(
        receipt.effect,
        dropped(None, 0),
        "the revoked token is gone already"
    );
    let row = w.row(T1, &cy.0).await;
    assert!(!row.consent_required);
    assert_eq!(
        row.token.refresh_token.map(|t| t.secret().to_string()),
        Some("1//emu-a-new-sign-in".to_string())
    );
}
