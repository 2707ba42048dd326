//! [`UserCredentials`]: a user's refresh token, from a code exchange, an `authorized_user`
//! file or a [`TokenStore`], turned into access tokens on demand.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Deserialize;

use super::cache::{Fetch, TokenCache, cached_credentials};
use super::http::{TokenResponse, request_token};
use super::provider::{parse_json, read_file};
use super::{
    AccessToken, AuthError, ClientSecret, OAuthClient, RefreshToken, StoredToken, TokenStore,
};

/// A user's credentials: an access token, renewed with the refresh token when it expires.
///
/// A rotated refresh token replaces the old one; every change is saved to the store (if any)
/// and passed to the [`on_token_change`](UserCredentials::on_token_change) hook. When the
/// server answers `invalid_grant`, the store is cleared and the call fails with
/// [`AuthError::ConsentRequired`].
pub struct UserCredentials {
    cache: TokenCache<RefreshSource>,
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
        }
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

    fn parse_authorized_user(what: &str, json: &str) -> Result<Self, AuthError> {
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

    /// Revokes the refresh token (ending every access token it produced) and clears the store.
    pub async fn revoke(&self) -> Result<(), AuthError> {
        let source = &self.cache.source;
        let token = match self.refresh_token() {
            Some(refresh) => refresh.secret().to_string(),
            None => self.cache.token().await?.secret().to_string(),
        };
        source.client.revoke(&token).await?;
        source.grant().refresh_token = None;
        if let Some(store) = &source.store {
            store.clear()?;
        }
        Ok(())
    }

    /// Saves the current state to the store, if any (e.g. right after a code exchange).
    pub(crate) fn persist(&self, access: &AccessToken) -> Result<(), AuthError> {
        self.cache.source.persist(access)
    }
}

impl RefreshSource {
    fn grant(&self) -> std::sync::MutexGuard<'_, Grant> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn persist(&self, access: &AccessToken) -> Result<(), AuthError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let grant = self.grant();
        store.save(&StoredToken {
            refresh_token: grant.refresh_token.clone(),
            access_token: Some(access.secret().to_string()),
            expires_at: access.expires_at(),
            scopes: access.scopes().map(<[String]>::to_vec),
        })
    }
}

#[async_trait]
impl Fetch for RefreshSource {
    async fn fetch(&self) -> Result<TokenResponse, AuthError> {
        let (refresh, scopes) = {
            let grant = self.grant();
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
        let uri = &self.client.provider.token_uri;
        match request_token(uri, form, Some(&self.client), &scopes).await {
            Ok(response) => {
                {
                    let mut grant = self.grant();
                    if let Some(rotated) = &response.refresh_token {
                        grant.refresh_token = Some(rotated.clone());
                    }
                    if let Some(granted) = response.access_token.scopes() {
                        grant.scopes = granted.to_vec();
                    }
                }
                self.persist(&response.access_token)?;
                Ok(response)
            }
            Err(error) => {
                if error.is_consent_required() {
                    self.grant().refresh_token = None;
                    if let Some(store) = &self.store {
                        store.clear()?;
                    }
                }
                Err(error)
            }
        }
    }
}
