//! [`UserCredentials`]: a user's refresh token, from a code exchange, an `authorized_user`
//! file or a [`TokenStore`], turned into access tokens on demand.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::cache::{Fetch, TokenCache, cached_credentials};
use super::http::{self, TokenResponse, request_token};
use super::provider::{parse_json, read_file};
use super::{
    AccessToken, AuthError, ClientSecret, OAuthClient, RefreshToken, StoredToken, TokenStore,
};

/// A user's credentials: an access token, renewed with the refresh token when it expires.
///
/// A rotated refresh token replaces the old one; every change is saved to the store (if any)
/// and passed to the [`on_token_change`](UserCredentials::on_token_change) hook. When the
/// server answers `invalid_grant`, the store is cleared and the call fails with
/// [`AuthError::ConsentRequired`] (also when clearing the store fails).
///
/// A token store that cannot be written never costs a token: the token obtained is used and
/// returned, the failure is passed to the hook ([`TokenEvent::store_error`]) and kept for
/// [`store_error`](UserCredentials::store_error). Store reads and writes run on tokio's
/// blocking pool, never on the async executor.
///
/// [`TokenEvent::store_error`]: crate::auth::TokenEvent::store_error
pub struct UserCredentials {
    cache: TokenCache<RefreshSource>,
    identity: Option<super::Identity>,
}

#[derive(Debug)]
pub(crate) struct RefreshSource {
    client: OAuthClient,
    state: Mutex<Grant>,
    store: Option<Arc<dyn TokenStore>>,
}

#[derive(Debug, Default)]
struct Grant {
    refresh_token: Option<RefreshToken>,
    /// The scopes last granted, which a refresh keeps when the reply omits `scope`.
    scopes: Vec<String>,
    /// Why the refresh token was dropped (`invalid_grant`), repeated instead of asking again.
    dead: Option<AuthError>,
    /// The last failure to save to or clear the store, until a save succeeds.
    store_error: Option<AuthError>,
}

cached_credentials!(UserCredentials);

impl UserCredentials {
    /// Credentials from a refresh token obtained earlier.
    pub fn new(client: OAuthClient, refresh_token: RefreshToken) -> Self {
        Self::build(client, Some(refresh_token), None, Vec::new(), None)
    }

    pub(crate) fn build(
        client: OAuthClient,
        refresh_token: Option<RefreshToken>,
        access_token: Option<AccessToken>,
        scopes: Vec<String>,
        store: Option<Arc<dyn TokenStore>>,
    ) -> Self {
        let state = Mutex::new(Grant {
            refresh_token,
            scopes,
            ..Grant::default()
        });
        UserCredentials {
            cache: TokenCache::new(
                RefreshSource {
                    client,
                    state,
                    store,
                },
                access_token,
            ),
            identity: None,
        }
    }

    /// Who signed in, from the verified ID token, when the authorization asked for `openid`
    /// ([`WebFlow`](super::WebFlow), [`InstalledFlow`](super::InstalledFlow)); `None`
    /// otherwise. Its [`subject`](super::Identity::subject) is the key to store the user's
    /// tokens under, and the subject RISC events name.
    pub fn identity(&self) -> Option<&super::Identity> {
        self.identity.as_ref()
    }

    pub(crate) fn with_identity(mut self, identity: Option<super::Identity>) -> Self {
        self.identity = identity;
        self
    }

    /// Credentials from what `store` holds (saved by an earlier run); `None` if it holds no
    /// refresh token, in which case run an authorization flow.
    pub fn from_store(
        client: OAuthClient,
        store: Arc<dyn TokenStore>,
    ) -> Result<Option<Self>, AuthError> {
        let Some(stored) = store.load()? else {
            return Ok(None);
        };
        let Some(refresh) = stored.refresh_token.clone() else {
            return Ok(None);
        };
        Ok(Some(Self::build(
            client,
            Some(refresh),
            stored.access_token(),
            stored.scopes.unwrap_or_default(),
            Some(store),
        )))
    }

    /// Reads an `authorized_user` JSON file (as written by `gcloud auth application-default
    /// login`), for Google's token endpoint.
    pub fn from_authorized_user_file(path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        Self::parse_authorized_user(&path.display().to_string(), &read_file(path)?)
    }

    /// Parses the text of an `authorized_user` JSON file.
    pub fn from_authorized_user_json(json: &str) -> Result<Self, AuthError> {
        Self::parse_authorized_user("authorized_user JSON", json)
    }

    pub(crate) fn parse_authorized_user(what: &str, json: &str) -> Result<Self, AuthError> {
        #[derive(Deserialize)]
        struct File {
            #[serde(rename = "type")]
            kind: String,
            client_id: String,
            client_secret: Option<ClientSecret>,
            refresh_token: RefreshToken,
            token_uri: Option<String>,
        }
        let file: File = parse_json(what, json)?;
        if file.kind != "authorized_user" {
            return Err(AuthError::file(
                what,
                format!("its type is {:?}, expected \"authorized_user\"", file.kind),
            ));
        }
        let mut client = OAuthClient::new(file.client_id, file.client_secret);
        if let Some(uri) = file.token_uri {
            client.provider.token_uri = uri;
        }
        Ok(Self::new(client, file.refresh_token))
    }

    /// Saves every token change to `store` (and clears it on `invalid_grant`).
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.cache.source.store = Some(store);
        self
    }

    /// Declares the scopes the refresh token was granted, for replies that omit `scope`.
    pub fn with_scopes<I, S>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.cache.source.grant().scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The current refresh token, if any.
    pub fn refresh_token(&self) -> Option<RefreshToken> {
        self.cache.source.grant().refresh_token.clone()
    }

    /// The last failure to save to (or clear) the token store, if the store has not been
    /// written successfully since. The credentials work regardless; what failed is that a
    /// later run may not find these tokens. Also passed to the
    /// [`on_token_change`](Self::on_token_change) hook as it happens.
    pub fn store_error(&self) -> Option<AuthError> {
        self.cache.source.grant().store_error.clone()
    }

    /// Lets the token and revocation endpoints use `http://` on a host other than loopback
    /// (e.g. the `token_uri` of an `authorized_user` file), as
    /// [`Provider::allow_insecure_http`](crate::auth::Provider::allow_insecure_http) does.
    pub fn allow_insecure_http(mut self) -> Self {
        self.cache.source.client.provider.allow_insecure_http = true;
        self
    }

    /// How long a token call may take in all (default
    /// [`DEFAULT_TOKEN_TIMEOUT`](crate::auth::DEFAULT_TOKEN_TIMEOUT), 30 s); as
    /// [`OAuthClient::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.cache.source.client.transport.request = timeout;
        self
    }

    /// How long connecting to the token endpoint may take (default
    /// [`DEFAULT_TOKEN_CONNECT_TIMEOUT`](crate::auth::DEFAULT_TOKEN_CONNECT_TIMEOUT), 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.cache.source.client.transport.connect = timeout;
        self
    }

    /// Revokes the refresh token (ending every access token it produced), forgets the cached
    /// access token, and clears the store; later calls fail with an error that says to
    /// authorize again.
    ///
    /// Once the server has revoked the token, a failure to clear the store is returned as
    /// [`AuthError::Store`]; the credentials hold no refresh token either way.
    pub async fn revoke(&self) -> Result<(), AuthError> {
        let source = &self.cache.source;
        let token = match self.refresh_token() {
            Some(refresh) => refresh.secret().to_string(),
            None => self.cache.token().await?.secret().to_string(),
        };
        source.client.revoke(&token).await?;
        {
            let mut grant = source.grant();
            grant.refresh_token = None;
            grant.dead = Some(AuthError::flow(
                "these credentials were revoked (UserCredentials::revoke): authorize again with \
                 access_type=offline and prompt=consent",
            ));
        }
        // The revocation ended the access tokens too: sending the cached one would only earn
        // a 401 from the API, where the caller should hear that authorization is needed.
        self.cache.clear();
        match source.clear_store().await {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Drops every token these credentials hold, in memory and in the store, without asking
    /// the server (it has already revoked them: a Cross-Account Protection event). Later
    /// calls fail with [`AuthError::ConsentRequired`] carrying `reason`. A refresh in flight
    /// finishes first, so it cannot bring a token back. Returns the store's failure, if any.
    pub(crate) async fn forget(&self, reason: &str) -> Option<AuthError> {
        let _no_refresh = self.cache.refresh_lock().await;
        {
            let mut grant = self.cache.source.grant();
            grant.refresh_token = None;
            grant.dead = Some(AuthError::ConsentRequired {
                description: Some(reason.to_string()),
            });
        }
        self.cache.clear();
        self.cache.source.clear_store().await
    }

    /// Saves the current state to the store, if any (right after a code exchange); a failure
    /// is kept for [`store_error`](Self::store_error).
    pub(crate) async fn persist(&self, access: &AccessToken) {
        self.cache.source.persist(access).await;
    }
}

/// Runs a store operation on tokio's blocking pool: a file store's reads, writes and fsyncs
/// must not stall the executor (the refresh lock is held meanwhile).
pub(crate) async fn on_blocking_pool(
    work: impl FnOnce() -> Result<(), AuthError> + Send + 'static,
) -> Result<(), AuthError> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| {
        Err(AuthError::Store {
            message: if e.is_panic() {
                "the token store panicked".into()
            } else {
                "the token store task was cancelled".into()
            },
        })
    })
}

impl RefreshSource {
    fn grant(&self) -> std::sync::MutexGuard<'_, Grant> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Saves the grant and `access` to the store; returns (and keeps) the failure, if any.
    async fn persist(&self, access: &AccessToken) -> Option<AuthError> {
        let store = self.store.clone()?;
        let token = StoredToken {
            refresh_token: self.grant().refresh_token.clone(),
            access_token: Some(access.secret().to_string()),
            expires_at: access.expires_at(),
            scopes: access.scopes().map(<[String]>::to_vec),
        };
        let outcome = on_blocking_pool(move || store.save(&token)).await;
        self.grant().store_error = outcome.as_ref().err().cloned();
        outcome.err()
    }

    /// Clears the store; returns (and keeps) the failure, if any.
    async fn clear_store(&self) -> Option<AuthError> {
        let store = self.store.clone()?;
        let outcome = on_blocking_pool(move || store.clear()).await;
        if let Err(error) = &outcome {
            self.grant().store_error = Some(error.clone());
        }
        outcome.err()
    }
}

#[async_trait]
impl Fetch for RefreshSource {
    async fn fetch(&self) -> Result<TokenResponse, AuthError> {
        let (refresh, scopes) = {
            let grant = self.grant();
            if let (None, Some(dead)) = (&grant.refresh_token, &grant.dead) {
                return Err(dead.clone());
            }
            (grant.refresh_token.clone(), grant.scopes.clone())
        };
        let refresh = refresh.ok_or_else(|| {
            AuthError::flow(
                "the access token expired and no refresh token is on file: authorize again with \
                 access_type=offline and prompt=consent",
            )
        })?;
        let form = vec![
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh.secret().to_string()),
        ];
        let endpoint = self
            .client
            .token_endpoint("UserCredentials::allow_insecure_http()");
        let grant = http::Grant::RefreshToken;
        match request_token(&endpoint, form, Some(&self.client), &scopes, &grant).await {
            Ok(mut response) => {
                {
                    let mut grant = self.grant();
                    if let Some(rotated) = &response.refresh_token {
                        grant.refresh_token = Some(rotated.clone());
                    }
                    if let Some(granted) = response.access_token.scopes() {
                        grant.scopes = granted.to_vec();
                    }
                }
                // The token is good whether or not it can be saved.
                response.store_error = self.persist(&response.access_token).await;
                Ok(response)
            }
            Err(error) => {
                if error.is_consent_required() {
                    {
                        let mut grant = self.grant();
                        grant.refresh_token = None;
                        grant.dead = Some(error.clone());
                    }
                    // A store that cannot be cleared must not hide that consent is needed:
                    // the failure is kept for `store_error`, the caller gets ConsentRequired.
                    let _ = self.clear_store().await;
                }
                Err(error)
            }
        }
    }
}
