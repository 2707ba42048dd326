//! The token cache every refreshing credential shares: refresh ahead of expiry, one refresh at
//! a time while concurrent callers wait for its result (single flight), a hook on each change.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use super::http::TokenResponse;
use super::{AccessToken, AuthError, RefreshToken};

/// A token change worth persisting: a new access token, and the refresh token when the server
/// issued or rotated one.
#[derive(Debug)]
#[non_exhaustive]
pub struct TokenEvent {
    /// The new access token.
    pub access_token: AccessToken,
    /// The refresh token the server sent along, if any (a first grant, or a rotation).
    pub refresh_token: Option<RefreshToken>,
}

/// Called on every token change; see [`TokenEvent`].
pub type TokenHook = Arc<dyn Fn(&TokenEvent) + Send + Sync>;

/// How a credential gets a fresh token.
#[async_trait]
pub(crate) trait Fetch: Send + Sync + fmt::Debug {
    async fn fetch(&self) -> Result<TokenResponse, AuthError>;
}

/// The default margin before expiry within which a token counts as stale.
pub const DEFAULT_EXPIRY_SKEW: Duration = Duration::from_secs(60);

pub(crate) struct TokenCache<F> {
    pub(crate) source: F,
    state: Mutex<State>,
    refresh: tokio::sync::Mutex<()>,
    pub(crate) skew: Duration,
    pub(crate) hook: Option<TokenHook>,
}

#[derive(Default)]
struct State {
    token: Option<AccessToken>,
    /// Counts finished refreshes, so callers that waited on one can take its result.
    generation: u64,
    last_error: Option<AuthError>,
}

impl<F: Fetch> TokenCache<F> {
    pub(crate) fn new(source: F, token: Option<AccessToken>) -> Self {
        TokenCache {
            source,
            state: Mutex::new(State {
                token,
                ..State::default()
            }),
            refresh: tokio::sync::Mutex::new(()),
            skew: DEFAULT_EXPIRY_SKEW,
            hook: None,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fresh(&self, state: &State) -> Option<AccessToken> {
        let token = state.token.as_ref()?;
        match token.expires_at() {
            Some(at) if at - Utc::now() <= chrono::Duration::from_std(self.skew).ok()? => None,
            _ => Some(token.clone()),
        }
    }

    pub(crate) async fn token(&self) -> Result<AccessToken, AuthError> {
        let seen = {
            let state = self.state();
            if let Some(token) = self.fresh(&state) {
                return Ok(token);
            }
            state.generation
        };
        let _refreshing = self.refresh.lock().await;
        {
            let state = self.state();
            if state.generation != seen {
                // A refresh finished while this caller waited: share its outcome.
                if let Some(token) = self.fresh(&state) {
                    return Ok(token);
                }
                if let Some(error) = &state.last_error {
                    return Err(error.clone());
                }
            }
        }
        let outcome = self.source.fetch().await;
        let mut state = self.state();
        state.generation += 1;
        match outcome {
            Ok(response) => {
                state.token = Some(response.access_token.clone());
                state.last_error = None;
                drop(state);
                if let Some(hook) = &self.hook {
                    hook(&TokenEvent {
                        access_token: response.access_token.clone(),
                        refresh_token: response.refresh_token,
                    });
                }
                Ok(response.access_token)
            }
            Err(error) => {
                state.last_error = Some(error.clone());
                Err(error)
            }
        }
    }

    pub(crate) fn invalidate(&self, token: &AccessToken) {
        let mut state = self.state();
        if state
            .token
            .as_ref()
            .is_some_and(|t| t.secret() == token.secret())
        {
            state.token = None;
        }
    }
}

/// Implements `Credentials` and the shared builder methods for a type holding
/// `cache: TokenCache<_>`.
macro_rules! cached_credentials {
    ($ty:ty) => {
        impl $ty {
            /// Calls `hook` on every token change (a new access token, a new or rotated refresh
            /// token), e.g. to persist it. Tokens a flow obtained before this call were
            /// already saved to the flow's store, if it had one.
            pub fn on_token_change(
                mut self,
                hook: impl Fn(&$crate::auth::TokenEvent) + Send + Sync + 'static,
            ) -> Self {
                self.cache.hook = Some(::std::sync::Arc::new(hook));
                self
            }

            /// Treats a token as stale this long before it expires (default
            /// [`DEFAULT_EXPIRY_SKEW`](crate::auth::DEFAULT_EXPIRY_SKEW)), so calls never carry a
            /// token that expires in flight.
            pub fn expiry_skew(mut self, skew: ::std::time::Duration) -> Self {
                self.cache.skew = skew;
                self
            }
        }

        #[::async_trait::async_trait]
        impl $crate::auth::Credentials for $ty {
            async fn access_token(
                &self,
            ) -> Result<$crate::auth::AccessToken, $crate::auth::AuthError> {
                self.cache.token().await
            }

            async fn invalidate(&self, token: &$crate::auth::AccessToken) {
                self.cache.invalidate(token)
            }
        }

        impl ::std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("source", &self.cache.source)
                    .field("skew", &self.cache.skew)
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use cached_credentials;
