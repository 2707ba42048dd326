//! [`SqliteUserStore`]: the embedded backend, one SQLite file shared by processes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::crypt::{self, Keyring, Lookup, Sealed};
use super::{
    Candidate, Payload, Swap, UserKey, UserRecord, UserTokenStore, holders_of, lease_until,
    now_millis, store_error,
};
use crate::auth::{AuthError, RevokedToken};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS classroom_user_tokens (
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    consent_required INTEGER NOT NULL DEFAULT 0,
    key_id TEXT,
    payload BLOB NOT NULL,
    updated_ms INTEGER NOT NULL,
    refresh_prefix_fp BLOB,
    refresh_hash_fp BLOB,
    refresh_fp_version INTEGER,
    PRIMARY KEY (tenant, subject)
);
CREATE TABLE IF NOT EXISTS classroom_user_token_leases (
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, subject)
);
";

/// The refresh-token fingerprints (see [`UserTokenStore::find_refresh_token`]) and the row
/// version they were computed at, added to tables created before them: their rows keep
/// `NULL` until rewritten.
const FINGERPRINT_COLUMNS: [(&str, &str); 3] = [
    ("refresh_prefix_fp", "BLOB"),
    ("refresh_hash_fp", "BLOB"),
    ("refresh_fp_version", "INTEGER"),
];

/// A RISC event finds rows by `sub` in every tenant, by refresh-token fingerprint, and the
/// rows whose fingerprints are not known to be current (written before fingerprints existed,
/// or since by a program that does not write them): few, hence a partial index.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS classroom_user_tokens_subject
    ON classroom_user_tokens (subject);
CREATE INDEX IF NOT EXISTS classroom_user_tokens_refresh_prefix
    ON classroom_user_tokens (refresh_prefix_fp);
CREATE INDEX IF NOT EXISTS classroom_user_tokens_refresh_hash
    ON classroom_user_tokens (refresh_hash_fp);
CREATE INDEX IF NOT EXISTS classroom_user_tokens_unfingerprinted
    ON classroom_user_tokens (subject) WHERE refresh_fp_version IS NOT version;
";

/// Creates the tables, adds the columns a table of an earlier version lacks (in one write
/// transaction, so that processes opening the file at once do not add them twice), and the
/// indexes.
fn create_or_upgrade(conn: &mut Connection) -> rusqlite::Result<()> {
    conn.execute_batch(SCHEMA)?;
    let missing = |conn: &Connection| -> rusqlite::Result<Vec<(&str, &str)>> {
        let mut s = conn
            .prepare("SELECT 1 FROM pragma_table_info('classroom_user_tokens') WHERE name = ?1")?;
        let mut missing = Vec::new();
        for (column, kind) in FINGERPRINT_COLUMNS {
            if !s.exists(params![column])? {
                missing.push((column, kind));
            }
        }
        Ok(missing)
    };
    if !missing(conn)?.is_empty() {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (column, kind) in missing(&tx)? {
            tx.execute(
                &format!("ALTER TABLE classroom_user_tokens ADD COLUMN {column} {kind}"),
                [],
            )?;
        }
        tx.commit()?;
    }
    conn.execute_batch(INDEXES)
}

/// Users' tokens in one SQLite file, shared by every process that opens it.
///
/// The file is in WAL mode (readers never wait for a writer) with `synchronous=FULL`, so a
/// committed write survives a crash of the process or the machine, and a process killed in
/// the middle of a write leaves the previous row. Writers wait for each other up to the busy
/// timeout (10 s). Calls run on tokio's blocking pool.
#[derive(Clone)]
pub struct SqliteUserStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    conn: Mutex<Connection>,
    keyring: Option<Keyring>,
}

impl std::fmt::Debug for SqliteUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteUserStore")
            .field("path", &self.inner.path)
            .field("keyring", &self.inner.keyring)
            .finish()
    }
}

impl SqliteUserStore {
    /// Opens (creating if needed) the store at `path`; rows are sealed with `keyring` if given.
    /// On Unix a new file is readable by its owner only.
    pub fn open(path: impl AsRef<Path>, keyring: Option<Keyring>) -> Result<Self, AuthError> {
        let path = path.as_ref().to_path_buf();
        let failed = |e: rusqlite::Error| store_error(&format!("opening {}", path.display()), e);
        #[cfg(unix)]
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            let _ = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
        }
        let mut conn = Connection::open(&path).map_err(failed)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(failed)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(failed)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(failed)?;
        create_or_upgrade(&mut conn).map_err(failed)?;
        Ok(SqliteUserStore {
            inner: Arc::new(Inner {
                path,
                conn: Mutex::new(conn),
                keyring,
            }),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn run<T: Send + 'static>(
        &self,
        doing: &'static str,
        work: impl FnOnce(&Inner, &mut Connection) -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = inner.conn.lock().unwrap_or_else(|e| e.into_inner());
            work(&inner, &mut conn)
        })
        .await
        .unwrap_or_else(|e| Err(store_error(doing, e)))
    }
}

fn db(doing: &str) -> impl Fn(rusqlite::Error) -> AuthError + '_ {
    move |e| store_error(doing, e)
}

type Row = (i64, bool, Option<String>, Vec<u8>);

fn read(conn: &Connection, user: &UserKey) -> Result<Option<Row>, AuthError> {
    conn.prepare_cached(
        "SELECT version, consent_required, key_id, payload FROM classroom_user_tokens \
         WHERE tenant = ?1 AND subject = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![user.tenant, user.subject], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()
    })
    .map_err(db("reading a user's token"))
}

fn decode(inner: &Inner, user: &UserKey, row: Row) -> Result<UserRecord, AuthError> {
    let (version, consent_required, key_id, payload) = row;
    let Payload { token, email } =
        crypt::open(inner.keyring.as_ref(), user, key_id.as_deref(), &payload)?;
    Ok(UserRecord {
        token,
        email,
        consent_required,
        version: version as u64,
    })
}

#[async_trait]
impl UserTokenStore for SqliteUserStore {
    async fn load(&self, user: &UserKey) -> Result<Option<UserRecord>, AuthError> {
        let user = user.clone();
        self.run("reading a user's token", move |inner, conn| {
            read(conn, &user)?
                .map(|row| decode(inner, &user, row))
                .transpose()
        })
        .await
    }

    async fn compare_and_swap(
        &self,
        user: &UserKey,
        expected: u64,
        record: &UserRecord,
    ) -> Result<Swap, AuthError> {
        let Sealed {
            key_id,
            bytes: payload,
            fingerprints: fp,
        } = crypt::seal(
            self.inner.keyring.as_ref(),
            user,
            &Payload {
                token: record.token.clone(),
                email: record.email.clone(),
            },
        )?;
        let user = user.clone();
        let consent = record.consent_required;
        self.run("writing a user's token", move |inner, conn| {
            let doing = db("writing a user's token");
            let now = now_millis();
            let changed = if expected == 0 {
                conn.prepare_cached(
                    "INSERT INTO classroom_user_tokens \
                     (tenant, subject, version, consent_required, key_id, payload, updated_ms, \
                     refresh_prefix_fp, refresh_hash_fp, refresh_fp_version) \
                     VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, 1) ON CONFLICT DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        user.tenant,
                        user.subject,
                        consent,
                        key_id,
                        payload,
                        now,
                        fp.prefix,
                        fp.hash
                    ])
                })
                .map_err(doing)?
            } else {
                conn.prepare_cached(
                    "UPDATE classroom_user_tokens SET version = version + 1, \
                     consent_required = ?3, key_id = ?4, payload = ?5, updated_ms = ?6, \
                     refresh_prefix_fp = ?8, refresh_hash_fp = ?9, \
                     refresh_fp_version = version + 1 \
                     WHERE tenant = ?1 AND subject = ?2 AND version = ?7",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        user.tenant,
                        user.subject,
                        consent,
                        key_id,
                        payload,
                        now,
                        expected as i64,
                        fp.prefix,
                        fp.hash
                    ])
                })
                .map_err(doing)?
            };
            if changed == 1 {
                return Ok(Swap::Written {
                    version: expected + 1,
                });
            }
            let current = read(conn, &user)?
                .map(|row| decode(inner, &user, row))
                .transpose()?;
            Ok(Swap::Conflict { current })
        })
        .await
    }

    async fn delete(&self, user: &UserKey) -> Result<(), AuthError> {
        let user = user.clone();
        self.run("deleting a user's token", move |_, conn| {
            let tx = conn.transaction().map_err(db("deleting a user's token"))?;
            for table in ["classroom_user_tokens", "classroom_user_token_leases"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE tenant = ?1 AND subject = ?2"),
                    params![user.tenant, user.subject],
                )
                .map_err(db("deleting a user's token"))?;
            }
            tx.commit().map_err(db("deleting a user's token"))
        })
        .await
    }

    async fn try_lease(
        &self,
        user: &UserKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, AuthError> {
        let user = user.clone();
        let holder = holder.to_string();
        self.run("taking a refresh lease", move |_, conn| {
            let changed = conn
                .prepare_cached(
                    "INSERT INTO classroom_user_token_leases (tenant, subject, holder, expires_ms) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant, subject) DO UPDATE \
                     SET holder = excluded.holder, expires_ms = excluded.expires_ms \
                     WHERE classroom_user_token_leases.expires_ms < ?5 \
                     OR classroom_user_token_leases.holder = excluded.holder",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        user.tenant,
                        user.subject,
                        holder,
                        lease_until(ttl),
                        now_millis()
                    ])
                })
                .map_err(db("taking a refresh lease"))?;
            Ok(changed == 1)
        })
        .await
    }

    async fn release_lease(&self, user: &UserKey, holder: &str) -> Result<(), AuthError> {
        let user = user.clone();
        let holder = holder.to_string();
        self.run("releasing a refresh lease", move |_, conn| {
            conn.prepare_cached(
                "DELETE FROM classroom_user_token_leases \
                 WHERE tenant = ?1 AND subject = ?2 AND holder = ?3",
            )
            .and_then(|mut s| s.execute(params![user.tenant, user.subject, holder]))
            .map(|_| ())
            .map_err(db("releasing a refresh lease"))
        })
        .await
    }

    async fn consent_required(&self, tenant: &str) -> Result<Vec<UserKey>, AuthError> {
        let tenant = tenant.to_string();
        self.run("listing users who must consent", move |_, conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT subject FROM classroom_user_tokens \
                     WHERE tenant = ?1 AND consent_required ORDER BY subject",
                )
                .map_err(db("listing users who must consent"))?;
            let rows = s
                .query_map(params![tenant], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(db("listing users who must consent"))?;
            Ok(rows
                .into_iter()
                .map(|subject| UserKey::new(tenant.clone(), subject))
                .collect())
        })
        .await
    }

    async fn rekey(&self) -> Result<u64, AuthError> {
        self.run("re-encrypting tokens", move |inner, conn| {
            let keyring = inner.keyring.as_ref();
            let doing = db("re-encrypting tokens");
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(&doing)?;
            let stale: Vec<(String, String, Option<String>, Vec<u8>)> = {
                // Rows not under the current key, and rows whose fingerprints are not
                // current; with no keyring, only rows in clear (a sealed row cannot be opened
                // without one).
                let sql = if keyring.is_some() {
                    "SELECT tenant, subject, key_id, payload FROM classroom_user_tokens \
                     WHERE key_id IS NULL OR key_id <> ?1 OR refresh_fp_version IS NOT version"
                } else {
                    "SELECT tenant, subject, key_id, payload FROM classroom_user_tokens \
                     WHERE key_id IS NULL AND refresh_fp_version IS NOT version"
                };
                let current = keyring.map(Keyring::current_id);
                let mut s = tx.prepare(sql).map_err(&doing)?;
                s.query_map(rusqlite::params_from_iter(current), |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(&doing)?
            };
            for (tenant, subject, key_id, payload) in &stale {
                let user = UserKey::new(tenant.clone(), subject.clone());
                let plain = crypt::open(keyring, &user, key_id.as_deref(), payload)?;
                let Sealed {
                    key_id,
                    bytes,
                    fingerprints: fp,
                } = crypt::seal(keyring, &user, &plain)?;
                tx.execute(
                    "UPDATE classroom_user_tokens SET key_id = ?3, payload = ?4, \
                     refresh_prefix_fp = ?5, refresh_hash_fp = ?6, \
                     refresh_fp_version = version + 1, version = version + 1 \
                     WHERE tenant = ?1 AND subject = ?2",
                    params![tenant, subject, key_id, bytes, fp.prefix, fp.hash],
                )
                .map_err(&doing)?;
            }
            tx.commit().map_err(&doing)?;
            Ok(stale.len() as u64)
        })
        .await
    }

    async fn find_subject(&self, subject: &str) -> Result<Vec<UserKey>, AuthError> {
        let subject = subject.to_string();
        self.run("finding a user's rows", move |_, conn| {
            let mut s = conn
                .prepare_cached(
                    "SELECT tenant FROM classroom_user_tokens WHERE subject = ?1 ORDER BY tenant",
                )
                .map_err(db("finding a user's rows"))?;
            let tenants = s
                .query_map(params![subject], |r| r.get::<_, String>(0))
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(db("finding a user's rows"))?;
            Ok(tenants
                .into_iter()
                .map(|tenant| UserKey::new(tenant, subject.clone()))
                .collect())
        })
        .await
    }

    async fn find_refresh_token(&self, token: &RevokedToken) -> Result<Vec<UserKey>, AuthError> {
        let token = token.clone();
        self.run("finding a refresh token", move |inner, conn| {
            let keyring = inner.keyring.as_ref();
            let doing = db("finding a refresh token");
            let select = "SELECT tenant, subject, key_id, payload FROM classroom_user_tokens";
            let (sql, fingerprints) = match crypt::lookup(keyring, &token) {
                Lookup::Nothing => return Ok(Vec::new()),
                Lookup::Scan => (select.to_string(), Vec::new()),
                Lookup::Fingerprints { column, candidates } => {
                    let slots = vec!["?"; candidates.len()].join(", ");
                    // A union, not an OR: SQLite then reads each half by its index.
                    let sql = format!(
                        "{select} WHERE {column} IN ({slots}) \
                         UNION {select} WHERE refresh_fp_version IS NOT version"
                    );
                    (sql, candidates)
                }
            };
            let mut s = conn.prepare(&sql).map_err(&doing)?;
            let rows = s
                .query_map(rusqlite::params_from_iter(fingerprints), |r| {
                    Ok(Candidate {
                        user: UserKey::new(r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                        key_id: r.get(2)?,
                        payload: r.get(3)?,
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(&doing)?;
            holders_of(keyring, &token, rows)
        })
        .await
    }
}
