//! Tokens for many users, shared by many worker processes: a [`UserTokenStore`] keyed by
//! user (and tenant), and [`UserTokens`], which hands out each user's access token and
//! refreshes it once per user across every process that shares the store.
//!
//! What the store guarantees, whichever backend:
//! - **Compare-and-swap writes.** Every row carries a version; a write names the version it
//!   read ([`UserTokenStore::compare_and_swap`]) and fails with [`Swap::Conflict`] if another
//!   worker wrote meanwhile. Two workers that refreshed at once cannot overwrite the newer
//!   rotated refresh token with an older one.
//! - **One refresh per user across processes.** A refresh takes the user's lease
//!   ([`UserTokenStore::try_lease`]), a row with a holder and an expiry; the others wait for
//!   the new token instead of refreshing too. A worker that dies holding a lease blocks that
//!   user only until the lease expires ([`UserTokens::lease_ttl`]).
//! - **Consent.** A refresh answered `invalid_grant` marks the user as needing consent
//!   ([`UserRecord::consent_required`]) and drops the refresh token;
//!   [`UserTokenStore::consent_required`] lists such users, so the application can ask them
//!   to sign in again.
//! - **Encryption at rest** (optional): with a [`Keyring`], each row's tokens and email are
//!   sealed with AES-256-GCM under a key the application supplies, bound to the row's user; a
//!   row read with a wrong or missing key is [`AuthError::StoreKey`], never garbage. Keys
//!   rotate: new writes use the current key, rows under an old key still read, and
//!   [`UserTokenStore::rekey`] rewrites them.
//! - **Cross-Account Protection.** [`UserStoreSubjects`] connects the store to a
//!   [`RiscReceiver`](super::RiscReceiver): when Google reports an account at risk, its rows
//!   in every tenant ([`UserTokenStore::find_subject`]), or the row holding a revoked refresh
//!   token ([`UserTokenStore::find_refresh_token`], by a keyed fingerprint, with encryption
//!   on or off), are marked as needing consent, as `invalid_grant` marks them.
//! - **Crash safety.** Each write is one transaction: a worker killed in the middle leaves the
//!   row as it was before or after, never torn.
//!
//! Backends: `SqliteUserStore` (feature `sqlite`, on by default: one file, nothing to run,
//! rusqlite with SQLite compiled in) and `PostgresUserStore` (feature `postgres`,
//! tokio-postgres).
//!
//! The key of a user ([`UserKey`]) is the `sub` Google gives them (the ID token's subject, the
//! user a RISC event names), within a tenant of the application's choosing (e.g. a school).
//!
//! A database created by an earlier version gets the columns and indexes this one adds when a
//! store opens it. Processes of both versions may share it during a rolling upgrade: a row
//! the earlier version writes is marked as such by its version, so a `token-revoked` event
//! opens it to check (slower, but it finds it) until it is next written by this version or
//! [`UserTokenStore::rekey`] fingerprints it.

// Without a backend (`--no-default-features`) the sealing and row helpers the backends share
// have no caller; the trait and `UserTokens` remain, for stores of the application's own.
#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::http::{self, request_token};
use super::{
    AccessToken, AuthError, Credentials, OAuthClient, RevokedToken, StoredToken, UserCredentials,
};

mod crypt;
#[cfg(feature = "postgres")]
mod postgres;
mod risc;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use crypt::Keyring;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::PostgresUserStore;
pub use risc::UserStoreSubjects;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteUserStore;

/// Who a row belongs to: a tenant of the application's choosing (a school, a customer; `""`
/// if there is one) and the user's stable id from Google (`sub`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserKey {
    /// The application's tenant.
    pub tenant: String,
    /// Google's id of the user (the ID token's `sub`).
    pub subject: String,
}

impl UserKey {
    /// The key of `subject` in `tenant`.
    pub fn new(tenant: impl Into<String>, subject: impl Into<String>) -> Self {
        UserKey {
            tenant: tenant.into(),
            subject: subject.into(),
        }
    }
}

impl fmt::Display for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.tenant, self.subject)
    }
}

/// What is stored for a user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserRecord {
    /// The refresh token, the last access token, its expiry and scopes.
    pub token: StoredToken,
    /// The user's email, as the ID token gave it (sealed with the tokens when encrypting).
    pub email: Option<String>,
    /// The user must authorize again: a refresh was answered `invalid_grant` (or the
    /// application said so). The refresh token is gone.
    pub consent_required: bool,
    /// The row's version, which [`UserTokenStore::compare_and_swap`] checks; 0 for a record
    /// not yet stored.
    pub version: u64,
}

/// The sealed part of a row.
#[derive(Serialize, Deserialize)]
pub(crate) struct Payload {
    pub(crate) token: StoredToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) email: Option<String>,
}

/// The outcome of [`UserTokenStore::compare_and_swap`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Swap {
    /// Written; the row's new version.
    Written {
        /// The version now stored.
        version: u64,
    },
    /// Another write came first (or the row was deleted): the row as it is now.
    Conflict {
        /// The current row.
        current: Option<UserRecord>,
    },
}

/// A store of many users' tokens, shared by processes. Every method is one transaction.
#[async_trait]
pub trait UserTokenStore: Send + Sync + fmt::Debug {
    /// The user's row, if any.
    async fn load(&self, user: &UserKey) -> Result<Option<UserRecord>, AuthError>;

    /// Writes `record` (its `version` is ignored) if the stored version is still `expected`
    /// (`0`: no row yet).
    async fn compare_and_swap(
        &self,
        user: &UserKey,
        expected: u64,
        record: &UserRecord,
    ) -> Result<Swap, AuthError>;

    /// Removes the user's row and lease (after a revocation or a RISC event).
    async fn delete(&self, user: &UserKey) -> Result<(), AuthError>;

    /// Takes the user's lease for `ttl` if it is free, expired, or already `holder`'s;
    /// whether it was taken.
    async fn try_lease(
        &self,
        user: &UserKey,
        holder: &str,
        ttl: Duration,
    ) -> Result<bool, AuthError>;

    /// Gives the lease back, if `holder` still has it.
    async fn release_lease(&self, user: &UserKey, holder: &str) -> Result<(), AuthError>;

    /// The users of `tenant` who must authorize again.
    async fn consent_required(&self, tenant: &str) -> Result<Vec<UserKey>, AuthError>;

    /// Re-encrypts every row not under the keyring's current key, and fingerprints the
    /// refresh token of rows whose fingerprints are missing or out of date (see
    /// [`find_refresh_token`](Self::find_refresh_token)); how many rows were rewritten. With
    /// no keyring, only the latter, for rows stored in clear. Run it after adding a key, and
    /// once every process runs this version after an upgrade.
    async fn rekey(&self) -> Result<u64, AuthError>;

    /// Every user stored under the Google account `subject`, in any tenant, ordered by
    /// tenant: a RISC event names the account, not the tenant.
    async fn find_subject(&self, subject: &str) -> Result<Vec<UserKey>, AuthError>;

    /// The users whose stored refresh token `token` identifies (a RISC `token-revoked`
    /// event).
    ///
    /// The built-in stores keep, beside each row, keyed fingerprints of its refresh token
    /// (HMAC-SHA-256 of the forms an event identifies a token by, under a key derived from
    /// the row's encryption key), indexed; only the rows whose fingerprint matches are opened
    /// and checked with [`RevokedToken::matches`]. The token, its prefix and its unkeyed hash
    /// are never stored. Rows whose fingerprints are not known to be current (written before
    /// fingerprints existed, or since by a process of an earlier version, during a rolling
    /// upgrade) are opened and checked too, until their next write or [`rekey`](Self::rekey)
    /// fingerprints them. A candidate row this store cannot open fails the call
    /// ([`AuthError::StoreKey`]), so that the event is delivered again once the keyring is
    /// fixed.
    async fn find_refresh_token(&self, token: &RevokedToken) -> Result<Vec<UserKey>, AuthError>;
}

/// A row that may hold a revoked refresh token, as read from the database.
pub(crate) struct Candidate {
    pub(crate) user: UserKey,
    pub(crate) key_id: Option<String>,
    pub(crate) payload: Vec<u8>,
}

/// The users among `candidates` whose refresh token `token` identifies.
pub(crate) fn holders_of(
    keyring: Option<&Keyring>,
    token: &RevokedToken,
    candidates: Vec<Candidate>,
) -> Result<Vec<UserKey>, AuthError> {
    let mut found = Vec::new();
    for Candidate {
        user,
        key_id,
        payload,
    } in candidates
    {
        let Payload { token: stored, .. } =
            crypt::open(keyring, &user, key_id.as_deref(), &payload)?;
        if stored
            .refresh_token
            .is_some_and(|refresh| token.matches(refresh.secret()))
        {
            found.push(user);
        }
    }
    Ok(found)
}

/// Milliseconds since the Unix epoch: lease expiries, compared across processes.
pub(crate) fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// Hands out each user's access token from a [`UserTokenStore`], refreshing it when it is
/// about to expire: once per user, across every process sharing the store.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn f(client: classroom::auth::OAuthClient) -> Result<(), classroom::auth::AuthError> {
/// use std::sync::Arc;
/// use classroom::auth::users::{SqliteUserStore, UserKey, UserTokens};
///
/// let store = Arc::new(SqliteUserStore::open("tokens.sqlite3", None)?);
/// let tokens = UserTokens::new(client, store);
/// let token = tokens.access_token(&UserKey::new("school-1", "1078...")).await?;
/// # let _ = token; Ok(()) }
/// ```
#[derive(Clone)]
pub struct UserTokens {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    client: OAuthClient,
    store: Arc<dyn UserTokenStore>,
    lease_ttl: Duration,
    skew: Duration,
    poll: Duration,
    wait: Duration,
}

impl fmt::Debug for UserTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserTokens")
            .field("store", &self.inner.store)
            .field("lease_ttl", &self.inner.lease_ttl)
            .finish_non_exhaustive()
    }
}

impl UserTokens {
    /// Tokens of `client`'s users kept in `store`.
    pub fn new(client: OAuthClient, store: Arc<dyn UserTokenStore>) -> Self {
        UserTokens {
            inner: Arc::new(Inner {
                client,
                store,
                lease_ttl: Duration::from_secs(30),
                skew: Duration::from_secs(60),
                poll: Duration::from_millis(25),
                wait: Duration::from_secs(60),
            }),
        }
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Arc::make_mut(&mut self.inner)
    }

    /// How long a refresh may hold a user's lease (default 30 s): a worker that dies while
    /// refreshing delays that user's next refresh by at most this.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.inner_mut().lease_ttl = ttl;
        self
    }

    /// How long before its expiry a token is refreshed (default 60 s).
    pub fn expiry_skew(mut self, skew: Duration) -> Self {
        self.inner_mut().skew = skew;
        self
    }

    /// How long a call waits for another worker's refresh of the same user before failing
    /// (default 60 s).
    pub fn max_wait(mut self, wait: Duration) -> Self {
        self.inner_mut().wait = wait;
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn UserTokenStore> {
        &self.inner.store
    }

    /// Credentials for one user, for a [`Classroom`](crate::Classroom) client.
    pub fn credentials(&self, user: UserKey) -> UserTokenCredentials {
        UserTokenCredentials {
            tokens: self.clone(),
            user,
        }
    }

    /// Stores a user's tokens after an authorization (a code exchange), replacing whatever was
    /// stored and clearing a consent mark.
    pub async fn save(
        &self,
        user: &UserKey,
        token: StoredToken,
        email: Option<String>,
    ) -> Result<u64, AuthError> {
        let record = UserRecord {
            token,
            email,
            consent_required: false,
            version: 0,
        };
        let mut expected = 0;
        loop {
            match self
                .inner
                .store
                .compare_and_swap(user, expected, &record)
                .await?
            {
                Swap::Written { version } => return Ok(version),
                Swap::Conflict { current } => expected = current.map_or(0, |c| c.version),
            }
        }
    }

    /// Stores the tokens of a sign-in under who Google says signed in: the verified ID
    /// token's `sub` ([`UserCredentials::identity`], present when the authorization asked
    /// for `openid`), with its email. Returns the user's key. Fails with
    /// [`AuthError::IdTokenRejected`] when the credentials carry no verified identity, and
    /// with [`AuthError::ConsentRequired`] when they hold no refresh token (authorize with
    /// `access_type=offline`).
    pub async fn save_sign_in(
        &self,
        tenant: &str,
        credentials: &UserCredentials,
    ) -> Result<UserKey, AuthError> {
        let identity = credentials
            .identity()
            .ok_or_else(|| AuthError::IdTokenRejected {
                reason: "the credentials carry no verified identity: ask for the openid scope"
                    .into(),
            })?;
        let refresh_token =
            credentials
                .refresh_token()
                .ok_or_else(|| AuthError::ConsentRequired {
                    description: Some(
                        "the sign-in yielded no refresh token: authorize with access_type=offline \
                     and prompt=consent"
                            .into(),
                    ),
                })?;
        let access = credentials.cached_token();
        let token = StoredToken {
            refresh_token: Some(refresh_token),
            access_token: access.as_ref().map(|a| a.secret().to_string()),
            expires_at: access.as_ref().and_then(AccessToken::expires_at),
            scopes: access
                .as_ref()
                .and_then(|a| a.scopes().map(<[String]>::to_vec)),
        };
        let user = UserKey::new(tenant, identity.subject.clone());
        self.save(&user, token, identity.email.clone()).await?;
        Ok(user)
    }

    fn fresh(&self, record: &UserRecord) -> Option<AccessToken> {
        let token = record.token.access_token()?;
        let expires = token.expires_at()?;
        let skew = chrono::Duration::from_std(self.inner.skew).unwrap_or_default();
        (expires > Utc::now() + skew).then_some(token)
    }

    /// The user's access token, refreshed first if it expires within the skew. Fails with
    /// [`AuthError::ConsentRequired`] when the user must authorize again.
    pub async fn access_token(&self, user: &UserKey) -> Result<AccessToken, AuthError> {
        let inner = &self.inner;
        let deadline = tokio::time::Instant::now() + inner.wait;
        let holder = super::secret::random_token(12)?;
        loop {
            let record = self.usable(user, inner.store.load(user).await?)?;
            if let Some(token) = self.fresh(&record) {
                return Ok(token);
            }
            if inner
                .store
                .try_lease(user, &holder, inner.lease_ttl)
                .await?
            {
                let outcome = self.refresh_holding_lease(user).await;
                // A lease not given back expires on its own; the refresh's outcome matters more.
                let _ = inner.store.release_lease(user, &holder).await;
                return outcome;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(AuthError::Store {
                    message: format!(
                        "another worker has held the refresh lease of {user} for over {:?}",
                        inner.wait
                    ),
                });
            }
            tokio::time::sleep(inner.poll).await;
        }
    }

    fn usable(&self, user: &UserKey, record: Option<UserRecord>) -> Result<UserRecord, AuthError> {
        let record = record.ok_or_else(|| AuthError::ConsentRequired {
            description: Some(format!("no tokens are stored for {user}")),
        })?;
        if record.consent_required || record.token.refresh_token.is_none() {
            return Err(AuthError::ConsentRequired {
                description: Some(format!("{user} must authorize again")),
            });
        }
        Ok(record)
    }

    async fn refresh_holding_lease(&self, user: &UserKey) -> Result<AccessToken, AuthError> {
        let inner = &self.inner;
        // Read again under the lease: the previous holder may have just refreshed.
        let mut record = self.usable(user, inner.store.load(user).await?)?;
        if let Some(token) = self.fresh(&record) {
            return Ok(token);
        }
        let Some(refresh) = record.token.refresh_token.clone() else {
            unreachable!("usable() checked the refresh token");
        };
        let scopes = record.token.scopes.clone().unwrap_or_default();
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh.secret().to_string()),
        ];
        let endpoint = inner
            .client
            .token_endpoint("Provider::allow_insecure_http()");
        let reply = request_token(
            &endpoint,
            form,
            Some(&inner.client),
            &scopes,
            &http::Grant::RefreshToken,
        )
        .await;
        let response = match reply {
            Ok(response) => response,
            Err(error) => {
                if error.is_consent_required() {
                    self.mark_consent_required(user, record).await?;
                }
                return Err(error);
            }
        };
        let access = response.access_token;
        let expires_at = access.expires_at().or_else(|| {
            let lifetime = chrono::Duration::from_std(response.expires_in?).ok()?;
            Some(Utc::now() + lifetime)
        });
        let access = match expires_at {
            Some(at) => access.with_expiry(at),
            None => access,
        };
        let mut next = UserRecord {
            token: StoredToken {
                refresh_token: response.refresh_token.or(Some(refresh.clone())),
                access_token: Some(access.secret().to_string()),
                expires_at,
                scopes: access
                    .scopes()
                    .map(<[String]>::to_vec)
                    .or(record.token.scopes),
            },
            email: record.email.take(),
            consent_required: false,
            version: 0,
        };
        let mut expected = record.version;
        loop {
            match inner.store.compare_and_swap(user, expected, &next).await? {
                Swap::Written { .. } => return Ok(access),
                // Someone wrote while we held the lease (it expired, or a code exchange
                // landed). If they did not replace the refresh token we used, ours is the
                // newest and goes in; otherwise theirs is newer and stays.
                Swap::Conflict {
                    current: Some(current),
                } if current.token.refresh_token.as_ref() == Some(&refresh)
                    && !current.consent_required =>
                {
                    expected = current.version;
                    next.email = next.email.or(current.email);
                }
                Swap::Conflict { .. } => return Ok(access),
            }
        }
    }

    async fn mark_consent_required(
        &self,
        user: &UserKey,
        record: UserRecord,
    ) -> Result<(), AuthError> {
        let marked = UserRecord {
            token: StoredToken::default(),
            email: record.email,
            consent_required: true,
            version: 0,
        };
        // A conflict means someone stored newer tokens (a new consent): leave them.
        self.inner
            .store
            .compare_and_swap(user, record.version, &marked)
            .await
            .map(|_| ())
    }
}

/// One user's [`Credentials`] from [`UserTokens::credentials`].
#[derive(Clone, Debug)]
pub struct UserTokenCredentials {
    tokens: UserTokens,
    user: UserKey,
}

#[async_trait]
impl Credentials for UserTokenCredentials {
    async fn access_token(&self) -> Result<AccessToken, AuthError> {
        self.tokens.access_token(&self.user).await
    }
}

/// Shortens a message from a database driver, which never holds a token (rows are bound as
/// parameters, never formatted into SQL).
pub(crate) fn store_error(doing: &str, e: impl fmt::Display) -> AuthError {
    AuthError::Store {
        message: format!("{doing} failed: {e}"),
    }
}

/// The wall-clock expiry of a lease taken now for `ttl`.
pub(crate) fn lease_until(ttl: Duration) -> i64 {
    now_millis().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}
