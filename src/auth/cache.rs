//! The token cache every refreshing credential shares: refresh ahead of expiry, one refresh at
//! a time while concurrent callers wait for its result (single flight), a still-valid token
//! served through a failed refresh, a hook on each change.
//!
//! Expiry is kept on tokio's clock ([`tokio::time::Instant`]), so the cache runs under paused
//! time in tests; the wall-clock expiry an [`AccessToken`] shows is for callers only.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Instrument;

use async_trait::async_trait;
use chrono::Utc;
use tokio::time::Instant;

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
    /// Why the token store could not save this change, if it could not
    /// ([`AuthError::Store`]). The token is in use all the same; only its persistence failed.
    pub store_error: Option<AuthError>,
}

/// Called on every token change; see [`TokenEvent`].
pub type TokenHook = Arc<dyn Fn(&TokenEvent) + Send + Sync>;

/// How a credential gets a fresh token.
#[async_trait]
pub(crate) trait Fetch: Send + Sync + fmt::Debug {
    async fn fetch(&self) -> Result<TokenResponse, AuthError>;
}

/// The default margin before expiry within which a token counts as stale. For a token that
/// lives less than twice as long, the margin is half its lifetime.
pub const DEFAULT_EXPIRY_SKEW: Duration = Duration::from_secs(60);

/// After a failed refresh, how long the still-valid token is served before the next attempt.
pub const REFRESH_RETRY_DELAY: Duration = Duration::from_secs(5);

pub(crate) struct TokenCache<F> {
    pub(crate) source: F,
    state: Mutex<State>,
    refresh: tokio::sync::Mutex<()>,
    pub(crate) skew: Duration,
    pub(crate) hook: Option<TokenHook>,
}

/// A cached token with its expiry on tokio's clock.
struct Entry {
    token: AccessToken,
    expires: Option<Instant>,
    /// How long the token was issued for (`expires_in`), when known; caps the skew.
    lifetime: Option<Duration>,
}

impl Entry {
    fn fetched(token: AccessToken, expires_in: Option<Duration>) -> Self {
        Entry {
            expires: expires_in.and_then(|d| Instant::now().checked_add(d)),
            lifetime: expires_in,
            token,
        }
    }

    /// A token from elsewhere (a store, a code exchange): its wall-clock expiry, moved onto
    /// tokio's clock. Its lifetime is unknown, so the full skew applies.
    fn given(token: AccessToken) -> Self {
        let expires = token.expires_at().map(|at| {
            let left = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            let now = Instant::now();
            now.checked_add(left).unwrap_or(now)
        });
        Entry {
            token,
            expires,
            lifetime: None,
        }
    }

    /// Not expired: still usable, if not for long.
    fn valid(&self, now: Instant) -> bool {
        self.expires.is_none_or(|at| now < at)
    }

    /// Outside the skew: no refresh needed.
    fn fresh(&self, now: Instant, skew: Duration) -> bool {
        let Some(at) = self.expires else {
            return true;
        };
        let skew = self
            .lifetime
            .map_or(skew, |lifetime| skew.min(lifetime / 2));
        at.saturating_duration_since(now) > skew
    }
}

#[derive(Default)]
struct State {
    entry: Option<Entry>,
    /// Counts finished refreshes, so callers that waited on one can take its result.
    generation: u64,
    last_error: Option<AuthError>,
    /// After a failed refresh, the still-valid token is served until then without retrying.
    retry_at: Option<Instant>,
}

impl<F: Fetch> TokenCache<F> {
    pub(crate) fn new(source: F, token: Option<AccessToken>) -> Self {
        TokenCache {
            source,
            state: Mutex::new(State {
                entry: token.map(Entry::given),
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

    /// The cached token, fresh or not, without refreshing it.
    pub(crate) fn cached(&self) -> Option<AccessToken> {
        self.state().entry.as_ref().map(|e| e.token.clone())
    }

    pub(crate) async fn token(&self) -> Result<AccessToken, AuthError> {
        let seen = {
            let state = self.state();
            let now = Instant::now();
            if let Some(entry) = &state.entry {
                if entry.fresh(now, self.skew) {
                    return Ok(entry.token.clone());
                }
                // A refresh failed a moment ago: keep serving the valid token until the retry.
                if entry.valid(now) && state.retry_at.is_some_and(|at| now < at) {
                    return Ok(entry.token.clone());
                }
            }
            state.generation
        };
        let _refreshing = self.refresh.lock().await;
        {
            let state = self.state();
            if state.generation != seen {
                // A refresh finished while this caller waited: share its outcome. The token it
                // fetched serves every waiter even if it is short-lived enough to count as
                // stale already; a failed refresh leaves the old token, if still valid.
                match &state.entry {
                    Some(entry) if entry.valid(Instant::now()) => return Ok(entry.token.clone()),
                    _ => {
                        if let Some(error) = &state.last_error {
                            return Err(error.clone());
                        }
                    }
                }
            }
        }
        let started = Instant::now();
        let outcome = self
            .source
            .fetch()
            .instrument(tracing::debug_span!("classroom.token_fetch"))
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(response) => tracing::debug!(
                elapsed_ms,
                expires_in_s = response.expires_in.map(|d| d.as_secs()),
                "fetched an access token"
            ),
            // The error's text never holds a secret (see AuthError).
            Err(error) => tracing::warn!(elapsed_ms, %error, "fetching an access token failed"),
        }
        let mut state = self.state();
        state.generation += 1;
        match outcome {
            Ok(response) => {
                let token = response.access_token.clone();
                state.entry = Some(Entry::fetched(token.clone(), response.expires_in));
                state.last_error = None;
                state.retry_at = None;
                drop(state);
                if let Some(hook) = &self.hook {
                    hook(&TokenEvent {
                        access_token: token.clone(),
                        refresh_token: response.refresh_token,
                        store_error: response.store_error,
                    });
                }
                Ok(token)
            }
            Err(error) => {
                state.last_error = Some(error.clone());
                let now = Instant::now();
                let valid = state
                    .entry
                    .as_ref()
                    .filter(|e| e.valid(now))
                    .map(|e| e.token.clone());
                match valid {
                    Some(token) => {
                        state.retry_at = now.checked_add(REFRESH_RETRY_DELAY);
                        Ok(token)
                    }
                    None => Err(error),
                }
            }
        }
    }

    /// Forgets the cached token, whichever it is (after a revocation ended it).
    pub(crate) fn clear(&self) {
        let mut state = self.state();
        state.entry = None;
        state.retry_at = None;
    }

    /// Waits for a refresh in flight to finish and keeps others out while the guard lives:
    /// what is changed under it cannot be undone by a refresh that started before.
    pub(crate) async fn refresh_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.refresh.lock().await
    }

    pub(crate) fn invalidate(&self, token: &AccessToken) {
        let mut state = self.state();
        if state
            .entry
            .as_ref()
            .is_some_and(|e| e.token.secret() == token.secret())
        {
            state.entry = None;
            state.retry_at = None;
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
            /// token that expires in flight. For a token whose lifetime the server stated
            /// (`expires_in`), the margin is at most half that lifetime, so a short-lived
            /// token is still reused.
            pub fn expiry_skew(mut self, skew: ::std::time::Duration) -> Self {
                self.cache.skew = skew;
                self
            }

            /// The token held now, if any, without refreshing it: read its
            /// [`expires_at`](crate::auth::AccessToken::expires_at) and
            /// [`scopes`](crate::auth::AccessToken::scopes). It may be stale or expired;
            /// [`access_token`](crate::auth::Credentials::access_token) gives one to use.
            pub fn cached_token(&self) -> Option<$crate::auth::AccessToken> {
                self.cache.cached()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A token source on tokio's clock: tokens live `lifetime`, each fetch takes `latency`,
    /// and fails while `failing` is set.
    #[derive(Debug)]
    struct Source {
        fetches: AtomicUsize,
        lifetime: Duration,
        latency: Duration,
        failing: Mutex<Option<AuthError>>,
    }

    impl Source {
        fn new(lifetime: Duration) -> Self {
            Source {
                fetches: AtomicUsize::new(0),
                lifetime,
                latency: Duration::from_millis(200),
                failing: Mutex::new(None),
            }
        }

        fn fail_with(&self, error: Option<AuthError>) {
            *self.failing.lock().unwrap() = error;
        }
    }

    #[async_trait]
    impl Fetch for Source {
        async fn fetch(&self) -> Result<TokenResponse, AuthError> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(self.latency).await;
            if let Some(error) = self.failing.lock().unwrap().clone() {
                return Err(error);
            }
            Ok(TokenResponse {
                access_token: AccessToken::new(format!("token-{n}")),
                refresh_token: None,
                expires_in: Some(self.lifetime),
                store_error: None,
                id_token: None,
            })
        }
    }

    /// `n` tasks asking the cache for a token at once.
    fn callers(
        cache: &Arc<TokenCache<Source>>,
        n: usize,
    ) -> Vec<tokio::task::JoinHandle<Result<AccessToken, AuthError>>> {
        (0..n)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.token().await })
            })
            .collect()
    }

    fn fetches(cache: &TokenCache<Source>) -> usize {
        cache.source.fetches.load(Ordering::SeqCst)
    }

    fn unavailable() -> AuthError {
        AuthError::Unavailable {
            message: "test blip".into(),
        }
    }

    /// Token requests for `callers` concurrent callers, then 100 sequential calls.
    async fn requests_for(lifetime: Duration, callers: usize) -> (usize, usize) {
        let cache = Arc::new(TokenCache::new(Source::new(lifetime), None));
        let tasks: Vec<_> = (0..callers)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.token().await.unwrap().secret().to_string() })
            })
            .collect();
        for task in tasks {
            assert_eq!(
                task.await.unwrap(),
                "token-1",
                "every waiter got the fetched token"
            );
        }
        let concurrent = fetches(&cache);
        for _ in 0..100 {
            cache.token().await.unwrap();
        }
        (concurrent, fetches(&cache))
    }

    #[tokio::test(start_paused = true)]
    async fn one_request_for_any_number_of_callers_at_any_lifetime() {
        for seconds in [10, 30, 60, 3600] {
            let (concurrent, sequential) = requests_for(Duration::from_secs(seconds), 200).await;
            assert_eq!(concurrent, 1, "{seconds} s tokens, 200 concurrent callers");
            assert_eq!(
                sequential, 1,
                "{seconds} s tokens, then 100 sequential calls"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_skew_is_at_most_half_the_lifetime() {
        let cache = TokenCache::new(Source::new(Duration::from_secs(30)), None);
        cache.token().await.unwrap();
        tokio::time::advance(Duration::from_secs(14)).await;
        cache.token().await.unwrap();
        assert_eq!(fetches(&cache), 1, "fresh for the first half");
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(cache.token().await.unwrap().secret(), "token-2");
        // A long-lived token keeps the configured 60 s.
        let cache = TokenCache::new(Source::new(Duration::from_secs(3600)), None);
        cache.token().await.unwrap();
        tokio::time::advance(Duration::from_secs(3600 - 61)).await;
        cache.token().await.unwrap();
        assert_eq!(fetches(&cache), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        cache.token().await.unwrap();
        assert_eq!(fetches(&cache), 2, "refreshed inside the 60 s skew");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_refresh_serves_the_valid_token_and_retries_shortly_after() {
        let cache = TokenCache::new(Source::new(Duration::from_secs(300)), None);
        let first = cache.token().await.unwrap();
        // Inside the 60 s skew, not yet expired: a refresh is due, and it fails.
        tokio::time::advance(Duration::from_secs(250)).await;
        cache.source.fail_with(Some(unavailable()));
        assert_eq!(cache.token().await.unwrap().secret(), first.secret());
        assert_eq!(fetches(&cache), 2, "the refresh was tried");
        // Until the retry delay passes, the valid token is served without asking again.
        for _ in 0..50 {
            assert_eq!(cache.token().await.unwrap().secret(), first.secret());
        }
        assert_eq!(fetches(&cache), 2);
        tokio::time::advance(REFRESH_RETRY_DELAY).await;
        assert_eq!(cache.token().await.unwrap().secret(), first.secret());
        assert_eq!(fetches(&cache), 3, "retried after the delay");
        // Once the token has really expired, the failure reaches the caller.
        tokio::time::advance(Duration::from_secs(60)).await;
        let error = cache.token().await.unwrap_err();
        assert!(error.is_transient(), "{error}");
        // And the endpoint's recovery is picked up at once.
        cache.source.fail_with(None);
        assert_ne!(cache.token().await.unwrap().secret(), first.secret());
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_failure_surfaces_once_the_token_expires() {
        let cache = TokenCache::new(Source::new(Duration::from_secs(120)), None);
        cache.token().await.unwrap();
        tokio::time::advance(Duration::from_secs(100)).await;
        cache
            .source
            .fail_with(Some(AuthError::ConsentRequired { description: None }));
        assert!(cache.token().await.is_ok(), "still valid for 20 s");
        tokio::time::advance(Duration::from_secs(21)).await;
        let error = cache.token().await.unwrap_err();
        assert!(error.is_consent_required(), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_share_a_failed_refresh_instead_of_repeating_it() {
        let cache = Arc::new(TokenCache::new(Source::new(Duration::from_secs(60)), None));
        cache.source.fail_with(Some(unavailable()));
        let tasks = callers(&cache, 50);
        for task in tasks {
            assert!(task.await.unwrap().is_err());
        }
        assert_eq!(fetches(&cache), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_on_a_failed_refresh_get_its_error_not_the_expired_token() {
        let cache = Arc::new(TokenCache::new(Source::new(Duration::from_secs(60)), None));
        let expired = cache.token().await.unwrap();
        tokio::time::advance(Duration::from_secs(61)).await;
        cache.source.fail_with(Some(unavailable()));
        // The first caller refreshes; the other 49 wait for it and share its outcome.
        let tasks = callers(&cache, 50);
        for task in tasks {
            match task.await.unwrap() {
                Ok(token) => panic!(
                    "a caller was handed {}, which expired a second ago",
                    token.secret()
                ),
                Err(error) => assert!(error.is_transient(), "the refresh's error: {error}"),
            }
        }
        assert_eq!(fetches(&cache), 2, "one refresh for the 50 callers");
        assert_eq!(cache.cached().unwrap().secret(), expired.secret());
    }

    #[tokio::test(start_paused = true)]
    async fn invalidating_drops_only_the_token_it_names() {
        let cache = TokenCache::new(Source::new(Duration::from_secs(3600)), None);
        let first = cache.token().await.unwrap();
        cache.invalidate(&first);
        assert_eq!(
            cache.token().await.unwrap().secret(),
            "token-2",
            "a token the server refused is fetched anew"
        );
        // A late 401 for the old token must not throw the new one away.
        cache.invalidate(&first);
        assert_eq!(cache.token().await.unwrap().secret(), "token-2");
        assert_eq!(fetches(&cache), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cleared_cache_holds_no_token() {
        let cache = TokenCache::new(Source::new(Duration::from_secs(3600)), None);
        cache.token().await.unwrap();
        cache.clear();
        assert!(
            cache.cached().is_none(),
            "a revoked token is still held after clear"
        );
        assert_eq!(cache.token().await.unwrap().secret(), "token-2");
    }

    /// When the cached token expires, on tokio's clock.
    fn expiry(cache: &TokenCache<Source>) -> Instant {
        cache.state().entry.as_ref().unwrap().expires.unwrap()
    }

    /// Moves tokio's paused clock to exactly `at`.
    async fn advance_to(at: Instant) {
        tokio::time::advance(at - Instant::now()).await;
        assert_eq!(Instant::now(), at);
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_is_expired_from_the_instant_of_its_expiry() {
        let cache = TokenCache::new(Source::new(Duration::from_secs(300)), None);
        let token = cache.token().await.unwrap();
        let expires = expiry(&cache);
        // A refresh 2 s before expiry fails: the token is served on until the retry, which
        // is due after the expiry.
        cache.source.fail_with(Some(unavailable()));
        advance_to(expires - Duration::from_secs(2)).await;
        assert_eq!(cache.token().await.unwrap().secret(), token.secret());
        assert_eq!(fetches(&cache), 2);
        advance_to(expires - Duration::from_nanos(1)).await;
        assert_eq!(
            cache.token().await.unwrap().secret(),
            token.secret(),
            "a nanosecond before its expiry the token is still valid"
        );
        assert_eq!(fetches(&cache), 2, "and served without a refresh");
        advance_to(expires).await;
        let error = cache
            .token()
            .await
            .expect_err("at its expiry instant the token is expired and not served");
        assert!(error.is_transient(), "{error}");
        assert_eq!(fetches(&cache), 3, "the refresh was tried again");
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_is_stale_from_the_instant_the_skew_begins() {
        let cache = TokenCache::new(Source::new(Duration::from_secs(300)), None);
        cache.token().await.unwrap();
        let stale_from = expiry(&cache) - DEFAULT_EXPIRY_SKEW;
        advance_to(stale_from - Duration::from_nanos(1)).await;
        cache.token().await.unwrap();
        assert_eq!(
            fetches(&cache),
            1,
            "more than the skew before expiry: fresh"
        );
        advance_to(stale_from).await;
        cache.token().await.unwrap();
        assert_eq!(
            fetches(&cache),
            2,
            "exactly the skew before expiry: refreshed"
        );
    }
}
