//! [`PostgresUserStore`]: users' tokens in a PostgreSQL database.

use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::{Client, NoTls, Row};

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
    version BIGINT NOT NULL,
    consent_required BOOLEAN NOT NULL DEFAULT FALSE,
    key_id TEXT,
    payload BYTEA NOT NULL,
    updated_ms BIGINT NOT NULL,
    refresh_prefix_fp BYTEA,
    refresh_hash_fp BYTEA,
    refresh_fp_version BIGINT,
    PRIMARY KEY (tenant, subject)
);
CREATE TABLE IF NOT EXISTS classroom_user_token_leases (
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    holder TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, subject)
);
";

/// Whether the table has what this version adds: the refresh-token fingerprint columns (see
/// [`UserTokenStore::find_refresh_token`]) and the indexes a RISC event finds rows by. Checked
/// before [`UPGRADE`], whose `ALTER TABLE` would lock the table on every connection.
const UPGRADED: &str = "
SELECT to_regclass('classroom_user_tokens_subject') IS NOT NULL
   AND to_regclass('classroom_user_tokens_refresh_prefix') IS NOT NULL
   AND to_regclass('classroom_user_tokens_refresh_hash') IS NOT NULL
   AND to_regclass('classroom_user_tokens_unfingerprinted') IS NOT NULL";

/// Adds the fingerprint columns and the version they were computed at to a table of an
/// earlier version (its rows keep `NULL` until rewritten), and the indexes: by `sub`, by
/// fingerprint, and by whether a row's fingerprints are not known to be current (written
/// before fingerprints existed, or since by a program that does not write them). That last
/// one is on the expression itself, which also gives the planner its statistics: with a
/// partial index alone it guesses that most rows qualify and reads the whole table. Under the
/// table's lock, so that processes connecting at once do it once.
const UPGRADE: &str = "
BEGIN;
LOCK TABLE classroom_user_tokens IN ACCESS EXCLUSIVE MODE;
ALTER TABLE classroom_user_tokens
    ADD COLUMN IF NOT EXISTS refresh_prefix_fp BYTEA,
    ADD COLUMN IF NOT EXISTS refresh_hash_fp BYTEA,
    ADD COLUMN IF NOT EXISTS refresh_fp_version BIGINT;
CREATE INDEX IF NOT EXISTS classroom_user_tokens_subject
    ON classroom_user_tokens (subject);
CREATE INDEX IF NOT EXISTS classroom_user_tokens_refresh_prefix
    ON classroom_user_tokens (refresh_prefix_fp);
CREATE INDEX IF NOT EXISTS classroom_user_tokens_refresh_hash
    ON classroom_user_tokens (refresh_hash_fp);
CREATE INDEX IF NOT EXISTS classroom_user_tokens_unfingerprinted
    ON classroom_user_tokens ((refresh_fp_version IS DISTINCT FROM version));
COMMIT;
";

/// Users' tokens in PostgreSQL, shared by every process connected to the database.
///
/// Each operation is one statement (a compare-and-swap is an `UPDATE ... WHERE version = $n`,
/// a lease an `INSERT ... ON CONFLICT DO UPDATE ... WHERE` the lease expired), so it is atomic
/// without an explicit transaction, and a client killed mid-write leaves the row as it was.
/// One connection serves every task of the process; tokio-postgres pipelines their queries.
/// The connection is plain TCP or a Unix socket (no TLS): keep the database on a private
/// network, or put the rows under a [`Keyring`].
pub struct PostgresUserStore {
    client: Client,
    keyring: Option<Keyring>,
}

impl std::fmt::Debug for PostgresUserStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresUserStore")
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

fn db(doing: &'static str) -> impl Fn(tokio_postgres::Error) -> AuthError {
    move |e| store_error(doing, e)
}

impl PostgresUserStore {
    /// Connects with a libpq-style configuration (`host=127.0.0.1 port=5432 user=app
    /// dbname=app`, or a `postgresql://` URL), creates the tables if missing, and seals rows
    /// with `keyring` if given. Must run inside a tokio runtime, which drives the connection.
    pub async fn connect(config: &str, keyring: Option<Keyring>) -> Result<Self, AuthError> {
        let (client, connection) = tokio_postgres::connect(config, NoTls)
            .await
            .map_err(db("connecting to PostgreSQL"))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "the token store's PostgreSQL connection ended");
            }
        });
        client
            .batch_execute(SCHEMA)
            .await
            .map_err(db("creating the token tables"))?;
        let upgraded: bool = client
            .query_one(UPGRADED, &[])
            .await
            .map_err(db("reading the token table's schema"))?
            .get(0);
        if !upgraded {
            client
                .batch_execute(UPGRADE)
                .await
                .map_err(db("upgrading the token table"))?;
        }
        Ok(PostgresUserStore { client, keyring })
    }

    fn decode(&self, user: &UserKey, row: &Row) -> Result<UserRecord, AuthError> {
        let version: i64 = row.get("version");
        let key_id: Option<String> = row.get("key_id");
        let payload: Vec<u8> = row.get("payload");
        let Payload { token, email } =
            crypt::open(self.keyring.as_ref(), user, key_id.as_deref(), &payload)?;
        Ok(UserRecord {
            token,
            email,
            consent_required: row.get("consent_required"),
            version: version as u64,
        })
    }
}

#[async_trait]
impl UserTokenStore for PostgresUserStore {
    async fn load(&self, user: &UserKey) -> Result<Option<UserRecord>, AuthError> {
        let row = self
            .client
            .query_opt(
                "SELECT version, consent_required, key_id, payload FROM classroom_user_tokens \
                 WHERE tenant = $1 AND subject = $2",
                &[&user.tenant, &user.subject],
            )
            .await
            .map_err(db("reading a user's token"))?;
        row.map(|row| self.decode(user, &row)).transpose()
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
            self.keyring.as_ref(),
            user,
            &Payload {
                token: record.token.clone(),
                email: record.email.clone(),
            },
        )?;
        let now = now_millis();
        let changed = if expected == 0 {
            self.client
                .execute(
                    "INSERT INTO classroom_user_tokens \
                     (tenant, subject, version, consent_required, key_id, payload, updated_ms, \
                     refresh_prefix_fp, refresh_hash_fp, refresh_fp_version) \
                     VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, 1) ON CONFLICT DO NOTHING",
                    &[
                        &user.tenant,
                        &user.subject,
                        &record.consent_required,
                        &key_id,
                        &payload,
                        &now,
                        &fp.prefix,
                        &fp.hash,
                    ],
                )
                .await
        } else {
            self.client
                .execute(
                    "UPDATE classroom_user_tokens SET version = version + 1, \
                     consent_required = $3, key_id = $4, payload = $5, updated_ms = $6, \
                     refresh_prefix_fp = $8, refresh_hash_fp = $9, \
                     refresh_fp_version = version + 1 \
                     WHERE tenant = $1 AND subject = $2 AND version = $7",
                    &[
                        &user.tenant,
                        &user.subject,
                        &record.consent_required,
                        &key_id,
                        &payload,
                        &now,
                        &(expected as i64),
                        &fp.prefix,
                        &fp.hash,
                    ],
                )
                .await
        }
        .map_err(db("writing a user's token"))?;
        if changed == 1 {
            return Ok(Swap::Written {
                version: expected + 1,
            });
        }
        Ok(Swap::Conflict {
            current: self.load(user).await?,
        })
    }

    async fn delete(&self, user: &UserKey) -> Result<(), AuthError> {
        self.client
            .execute(
                "WITH lease AS (DELETE FROM classroom_user_token_leases \
                 WHERE tenant = $1 AND subject = $2) \
                 DELETE FROM classroom_user_tokens WHERE tenant = $1 AND subject = $2",
                &[&user.tenant, &user.subject],
            )
            .await
            .map(|_| ())
            .map_err(db("deleting a user's token"))
    }

    async fn try_lease(
        &self,
        user: &UserKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, AuthError> {
        let changed = self
            .client
            .execute(
                "INSERT INTO classroom_user_token_leases (tenant, subject, holder, expires_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, subject) DO UPDATE \
                 SET holder = excluded.holder, expires_ms = excluded.expires_ms \
                 WHERE classroom_user_token_leases.expires_ms < $5 \
                 OR classroom_user_token_leases.holder = excluded.holder",
                &[
                    &user.tenant,
                    &user.subject,
                    &holder,
                    &lease_until(ttl),
                    &now_millis(),
                ],
            )
            .await
            .map_err(db("taking a refresh lease"))?;
        Ok(changed == 1)
    }

    async fn release_lease(&self, user: &UserKey, holder: &str) -> Result<(), AuthError> {
        self.client
            .execute(
                "DELETE FROM classroom_user_token_leases \
                 WHERE tenant = $1 AND subject = $2 AND holder = $3",
                &[&user.tenant, &user.subject, &holder],
            )
            .await
            .map(|_| ())
            .map_err(db("releasing a refresh lease"))
    }

    async fn consent_required(&self, tenant: &str) -> Result<Vec<UserKey>, AuthError> {
        let rows = self
            .client
            .query(
                "SELECT subject FROM classroom_user_tokens \
                 WHERE tenant = $1 AND consent_required ORDER BY subject",
                &[&tenant],
            )
            .await
            .map_err(db("listing users who must consent"))?;
        Ok(rows
            .iter()
            .map(|r| UserKey::new(tenant, r.get::<_, String>(0)))
            .collect())
    }

    async fn rekey(&self) -> Result<u64, AuthError> {
        let keyring = self.keyring.as_ref();
        // Rows not under the current key, and rows whose fingerprints are not current; with
        // no keyring, only rows in clear (a sealed row cannot be opened without one).
        let rows = match keyring {
            Some(keyring) => {
                self.client
                    .query(
                        "SELECT tenant, subject, version, key_id, payload \
                         FROM classroom_user_tokens \
                         WHERE key_id IS NULL OR key_id <> $1 \
                         OR refresh_fp_version IS DISTINCT FROM version",
                        &[&keyring.current_id()],
                    )
                    .await
            }
            None => {
                self.client
                    .query(
                        "SELECT tenant, subject, version, key_id, payload \
                         FROM classroom_user_tokens \
                         WHERE key_id IS NULL AND refresh_fp_version IS DISTINCT FROM version",
                        &[],
                    )
                    .await
            }
        }
        .map_err(db("re-encrypting tokens"))?;
        let mut rewritten = 0;
        for row in rows {
            let user = UserKey::new(row.get::<_, String>(0), row.get::<_, String>(1));
            let version: i64 = row.get(2);
            let key_id: Option<String> = row.get(3);
            let payload: Vec<u8> = row.get(4);
            let plain = crypt::open(keyring, &user, key_id.as_deref(), &payload)?;
            let Sealed {
                key_id,
                bytes,
                fingerprints: fp,
            } = crypt::seal(keyring, &user, &plain)?;
            // Row by row, each only if unchanged since read: a concurrent refresh's write
            // (already under the current key) wins.
            rewritten += self
                .client
                .execute(
                    "UPDATE classroom_user_tokens SET key_id = $3, payload = $4, \
                     refresh_prefix_fp = $6, refresh_hash_fp = $7, \
                     refresh_fp_version = version + 1, version = version + 1 \
                     WHERE tenant = $1 AND subject = $2 AND version = $5",
                    &[
                        &user.tenant,
                        &user.subject,
                        &key_id,
                        &bytes,
                        &version,
                        &fp.prefix,
                        &fp.hash,
                    ],
                )
                .await
                .map_err(db("re-encrypting tokens"))?;
        }
        Ok(rewritten)
    }

    async fn find_subject(&self, subject: &str) -> Result<Vec<UserKey>, AuthError> {
        let rows = self
            .client
            .query(
                "SELECT tenant FROM classroom_user_tokens WHERE subject = $1 ORDER BY tenant",
                &[&subject],
            )
            .await
            .map_err(db("finding a user's rows"))?;
        Ok(rows
            .iter()
            .map(|r| UserKey::new(r.get::<_, String>(0), subject))
            .collect())
    }

    async fn find_refresh_token(&self, token: &RevokedToken) -> Result<Vec<UserKey>, AuthError> {
        let select = "SELECT tenant, subject, key_id, payload FROM classroom_user_tokens";
        let rows = match crypt::lookup(self.keyring.as_ref(), token) {
            Lookup::Nothing => return Ok(Vec::new()),
            Lookup::Scan => self.client.query(select, &[]).await,
            Lookup::Fingerprints { column, candidates } => {
                let sql = format!(
                    "{select} WHERE {column} = ANY($1) \
                     OR refresh_fp_version IS DISTINCT FROM version"
                );
                self.client.query(&sql, &[&candidates]).await
            }
        }
        .map_err(db("finding a refresh token"))?;
        let candidates = rows
            .iter()
            .map(|r| Candidate {
                user: UserKey::new(r.get::<_, String>(0), r.get::<_, String>(1)),
                key_id: r.get(2),
                payload: r.get(3),
            })
            .collect();
        holders_of(self.keyring.as_ref(), token, candidates)
    }
}
