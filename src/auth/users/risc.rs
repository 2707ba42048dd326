//! [`UserStoreSubjects`]: Cross-Account Protection for the users of a [`UserTokenStore`].

use std::sync::Arc;

use async_trait::async_trait;

use super::{Swap, UserKey, UserRecord, UserTokenStore};
use crate::auth::{AuthError, RevokedToken, StoredToken, SubjectTokens};

/// How many times a row that keeps changing under a drop is read again before the drop fails
/// (and the receiver answers 503, so that Google delivers the event again).
const MAX_TRIES: usize = 8;

/// Drops users' tokens from a [`UserTokenStore`] when Google reports their account at risk: the
/// [`SubjectTokens`] of a [`RiscReceiver`](crate::auth::RiscReceiver) for an application that
/// keeps many users' tokens in SQLite or PostgreSQL.
///
/// "Drop" means what a refresh answered `invalid_grant` does to a row: the refresh token and
/// the access token are removed, the email stays, and the user is marked as needing consent.
/// Afterwards [`UserTokens::access_token`](super::UserTokens::access_token) for the user fails
/// with [`AuthError::ConsentRequired`] without asking Google, and
/// [`UserTokenStore::consent_required`] lists the user in their tenant, so that the
/// application asks them to sign in again. A new sign-in
/// ([`UserTokens::save`](super::UserTokens::save)) clears the mark.
///
/// - `sessions-revoked`, `tokens-revoked`, `account-disabled`: every row of the Google account
///   the event names ([`UserTokenStore::find_subject`]), in every tenant, since an event names
///   the account (`sub`) and not the tenant. Store users under the `sub` of their verified ID
///   token ([`UserTokens::save_sign_in`](super::UserTokens::save_sign_in)) for this to find
///   them.
/// - `token-revoked`: the rows whose refresh token the event identifies
///   ([`UserTokenStore::find_refresh_token`]), found by a keyed fingerprint with encryption at
///   rest on as well as off; a row whose refresh token changed meanwhile is left alone.
///
/// Each drop is a compare-and-swap, read again and retried if a worker wrote meanwhile (a
/// refresh that was under way when the event arrived does not put the tokens back). A row
/// already marked, with no tokens, counts as nothing dropped, so a redelivered event is a
/// no-op. [`Effect::TokensDropped`](crate::auth::Effect::TokensDropped) counts the rows
/// dropped.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn run(body: &[u8], key: [u8; 32]) -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use classroom::auth::RiscReceiver;
/// use classroom::auth::users::{Keyring, SqliteUserStore, UserStoreSubjects, UserTokenStore};
///
/// let store: Arc<dyn UserTokenStore> =
///     Arc::new(SqliteUserStore::open("tokens.sqlite3", Some(Keyring::new("k1", &key)))?);
/// let receiver = RiscReceiver::new(
///     ["1234.apps.googleusercontent.com"],
///     Arc::new(UserStoreSubjects::new(store.clone())),
/// );
/// // In the handler of POST /risc (answer 202, or the error's status and body):
/// let receipt = receiver.receive(body).await?;
/// println!("{}", receipt.effect);
/// // Later, for each tenant: the users to ask to sign in again.
/// for user in store.consent_required("school-1").await? {
///     println!("{user} must sign in again");
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct UserStoreSubjects {
    store: Arc<dyn UserTokenStore>,
}

impl UserStoreSubjects {
    /// Drops tokens from `store`.
    pub fn new(store: Arc<dyn UserTokenStore>) -> Self {
        UserStoreSubjects { store }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn UserTokenStore> {
        &self.store
    }

    /// Marks `user` as needing consent, dropping their tokens, if they hold any (and, with
    /// `only`, if their refresh token is that one); whether the row changed.
    async fn require_consent(
        &self,
        user: &UserKey,
        only: Option<&RevokedToken>,
        reason: &str,
    ) -> Result<bool, AuthError> {
        let mut current = self.store.load(user).await?;
        for _ in 0..MAX_TRIES {
            let Some(record) = current else {
                return Ok(false); // deleted meanwhile: nothing left to drop
            };
            if let Some(token) = only {
                let named = record
                    .token
                    .refresh_token
                    .as_ref()
                    .is_some_and(|refresh| token.matches(refresh.secret()));
                if !named {
                    return Ok(false);
                }
            }
            if record.consent_required && record.token == StoredToken::default() {
                return Ok(false); // already dropped
            }
            let marked = UserRecord {
                token: StoredToken::default(),
                email: record.email,
                consent_required: true,
                version: 0,
            };
            match self
                .store
                .compare_and_swap(user, record.version, &marked)
                .await?
            {
                Swap::Written { .. } => {
                    tracing::info!(user = %user, reason, "tokens dropped on a security event");
                    return Ok(true);
                }
                Swap::Conflict { current: now } => current = now,
            }
        }
        Err(AuthError::Store {
            message: format!(
                "the row of {user} changed {MAX_TRIES} times while its tokens were being \
                 dropped; the event should be delivered again"
            ),
        })
    }
}

#[async_trait]
impl SubjectTokens for UserStoreSubjects {
    async fn drop_subject(&self, subject: &str, reason: &str) -> Result<usize, AuthError> {
        let mut dropped = 0;
        for user in self.store.find_subject(subject).await? {
            dropped += usize::from(self.require_consent(&user, None, reason).await?);
        }
        Ok(dropped)
    }

    async fn drop_token(&self, token: &RevokedToken, reason: &str) -> Result<usize, AuthError> {
        let mut dropped = 0;
        for user in self.store.find_refresh_token(token).await? {
            dropped += usize::from(self.require_consent(&user, Some(token), reason).await?);
        }
        Ok(dropped)
    }
}
