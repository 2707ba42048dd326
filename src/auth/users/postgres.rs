//! [`PostgresUserStore`]: users' tokens in a PostgreSQL database.

use std::time::Duration;

use async_trait::async_trait;
use tokio_postgres::{Client, NoTls, Row};

use super::crypt::{self, Keyring};
use super::{
    Payload, Swap, UserKey, UserRecord, UserTokenStore, lease_until, now_millis, store_error,
};
use crate::auth::AuthError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS classroom_user_tokens (
    tenant TEXT NOT NULL,
    subject TEXT NOT NULL,
    version BIGINT NOT NULL,
    consent_required BOOLEAN NOT NULL DEFAULT FALSE,
    key_id TEXT,
    payload BYTEA NOT NULL,
    updated_ms BIGINT NOT NULL,
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
        let (key_id, payload) = crypt::seal(
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
                     (tenant, subject, version, consent_required, key_id, payload, updated_ms) \
                     VALUES ($1, $2, 1, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    &[
                        &user.tenant,
                        &user.subject,
                        &record.consent_required,
                        &key_id,
                        &payload,
                        &now,
                    ],
                )
                .await
        } else {
            self.client
                .execute(
                    "UPDATE classroom_user_tokens SET version = version + 1, \
                     consent_required = $3, key_id = $4, payload = $5, updated_ms = $6 \
                     WHERE tenant = $1 AND subject = $2 AND version = $7",
                    &[
                        &user.tenant,
                        &user.subject,
                        &record.consent_required,
                        &key_id,
                        &payload,
                        &now,
                        &(expected as i64),
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
        let Some(keyring) = self.keyring.as_ref() else {
            return Ok(0);
        };
        let rows = self
            .client
            .query(
                "SELECT tenant, subject, version, key_id, payload FROM classroom_user_tokens \
                 WHERE key_id IS NULL OR key_id <> $1",
                &[&keyring.current_id()],
            )
            .await
            .map_err(db("re-encrypting tokens"))?;
        let mut rewritten = 0;
        for row in rows {
            let user = UserKey::new(row.get::<_, String>(0), row.get::<_, String>(1));
            let version: i64 = row.get(2);
            let key_id: Option<String> = row.get(3);
            let payload: Vec<u8> = row.get(4);
            let plain = crypt::open(Some(keyring), &user, key_id.as_deref(), &payload)?;
            let (key_id, payload) = crypt::seal(Some(keyring), &user, &plain)?;
            // Row by row, each only if unchanged since read: a concurrent refresh's write
            // (already under the current key) wins.
            rewritten += self
                .client
                .execute(
                    "UPDATE classroom_user_tokens SET key_id = $3, payload = $4, \
                     version = version + 1 WHERE tenant = $1 AND subject = $2 AND version = $5",
                    &[&user.tenant, &user.subject, &key_id, &payload, &version],
                )
                .await
                .map_err(db("re-encrypting tokens"))?;
        }
        Ok(rewritten)
    }
}
