//! `Classroom`: the client every call goes through.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::{ApiKey, Credentials};
use crate::scope_check::{Dynamic, ScopeSet};
use crate::{Error, RateLimit, Result, RetryBudget, RetryPolicy};

/// The longest reply a client reads by default: 32 MiB.
///
/// Classroom's largest replies are list pages. A page of 1,000 fully populated courses is
/// about 0.8 MB, and a course-work item with the longest description and title Classroom
/// accepts and its 20 materials is under 100 KB, so even a page of 100 such items is about
/// 10 MB. The default leaves room for three times that, and bounds what a broken or hostile
/// server can make a client hold. See [`ClassroomBuilder::max_response_bytes`].
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 32 << 20;

/// How many empty pages in a row, each naming a next page, a list reads before it stops with
/// [`Error::PageLoop`] by default. See [`ClassroomBuilder::max_empty_pages`].
pub const DEFAULT_MAX_EMPTY_PAGES: u32 = 50;

/// The root URL of the Classroom API.
pub const DEFAULT_ROOT_URL: &str = crate::resources::DEFAULT_ROOT_URL;

/// A Classroom API client. Cheap to clone: clones share the connection pool and credentials.
///
/// Calls are reached by the API's resource path:
///
/// ```no_run
/// # async fn run(classroom: classroom::Classroom) -> classroom::Result<()> {
/// let course = classroom.courses().get("d:math-101").send().await?;
/// let turned_in = classroom
///     .courses()
///     .course_work()
///     .student_submissions()
///     .turn_in("course", "work", "submission")
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
///
/// `S` is the client's scope set; the default, [`Dynamic`], checks scopes at run time only.
/// See [`scope_check`](crate::scope_check) for clients whose calls are checked at compile time.
pub struct Classroom<S = Dynamic> {
    inner: Arc<Inner>,
    scopes: PhantomData<fn() -> S>,
}

impl<S> Clone for Classroom<S> {
    fn clone(&self) -> Self {
        Classroom {
            inner: self.inner.clone(),
            scopes: PhantomData,
        }
    }
}

struct Inner {
    http: reqwest::Client,
    /// The root URL, parsed once: each call's URL is this with its path and query set, so
    /// the scheme, host and port are not parsed again for every call.
    root: reqwest::Url,
    credentials: Arc<dyn Credentials>,
    settings: Settings,
    #[cfg(feature = "test-support")]
    mock: Option<Arc<crate::testing::MockTransport>>,
}

/// What the request path needs of a client besides its connection and credentials.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) retry: RetryPolicy,
    pub(crate) retry_budget: RetryBudget,
    pub(crate) timeout: Duration,
    pub(crate) idempotency: Option<bool>,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_empty_pages: u32,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) api_key: Option<ApiKey>,
    /// The user agent to send on each call, when the application's own HTTP client (which
    /// has its own) carries the calls.
    pub(crate) user_agent: Option<String>,
}

impl<S> fmt::Debug for Classroom<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Classroom")
            .field("root_url", &crate::net::redacted(&self.inner.root))
            .field("credentials", &self.inner.credentials)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Classroom {
    /// A client for Google's Classroom API with these credentials and default settings.
    pub fn new(credentials: impl Credentials + 'static) -> Result<Self> {
        Classroom::builder().credentials(credentials).build()
    }

    /// A builder for a client with a different root URL, user agent, timeouts or retries.
    pub fn builder() -> ClassroomBuilder {
        ClassroomBuilder::default()
    }

    /// This client, typed with the static scope set `T`: calls `T` cannot authorize no longer
    /// compile. The token's scopes are still checked at run time.
    #[cfg(feature = "scope-check")]
    #[cfg_attr(docsrs, doc(cfg(feature = "scope-check")))]
    pub fn typed<T: ScopeSet>(&self) -> Classroom<T> {
        Classroom {
            inner: self.inner.clone(),
            scopes: PhantomData,
        }
    }
}

impl<S: ScopeSet> Classroom<S> {
    /// The same client with its scopes checked at run time only.
    pub fn untyped(&self) -> Classroom {
        Classroom {
            inner: self.inner.clone(),
            scopes: PhantomData,
        }
    }

    /// The root URL calls are sent to, ending in `/`.
    pub fn root_url(&self) -> &str {
        self.inner.root.as_str()
    }

    pub(crate) fn root(&self) -> &reqwest::Url {
        &self.inner.root
    }

    /// The client's credentials.
    pub fn credentials(&self) -> &Arc<dyn Credentials> {
        &self.inner.credentials
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    #[cfg(feature = "test-support")]
    pub(crate) fn mock(&self) -> Option<&crate::testing::MockTransport> {
        self.inner.mock.as_deref()
    }
}

/// Configures a [`Classroom`] client.
#[derive(Default)]
pub struct ClassroomBuilder {
    root_url: Option<String>,
    user_agent: Option<String>,
    credentials: Option<Arc<dyn Credentials>>,
    retry: Option<RetryPolicy>,
    retry_budget: Option<RetryBudget>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    idempotency: Option<bool>,
    max_response_bytes: Option<usize>,
    max_empty_pages: Option<u32>,
    rate_limit: Option<RateLimit>,
    api_key: Option<ApiKey>,
    allow_insecure_http: bool,
    http_client: Option<reqwest::Client>,
    #[cfg(feature = "test-support")]
    mock: Option<Arc<crate::testing::MockTransport>>,
}

impl fmt::Debug for ClassroomBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A root URL may carry a proxy's password: shown without userinfo or query values.
        let root_url = self.root_url.as_deref().map(|url| {
            reqwest::Url::parse(url)
                .map_or_else(|_| "(not a URL)".to_string(), |u| crate::net::redacted(&u))
        });
        f.debug_struct("ClassroomBuilder")
            .field("root_url", &root_url)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl ClassroomBuilder {
    /// Sends calls to another root URL: the emulator, a proxy, a test server.
    /// Defaults to [`DEFAULT_ROOT_URL`].
    pub fn root_url(mut self, url: impl Into<String>) -> Self {
        self.root_url = Some(url.into());
        self
    }

    /// Sets the credentials calls are authorized with (required).
    pub fn credentials(mut self, credentials: impl Credentials + 'static) -> Self {
        self.credentials = Some(Arc::new(credentials));
        self
    }

    /// Sets credentials already shared elsewhere.
    pub fn shared_credentials(mut self, credentials: Arc<dyn Credentials>) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Prepends a product token to the user agent, e.g. `"roster-sync/2.1"`.
    pub fn user_agent(mut self, product: impl Into<String>) -> Self {
        self.user_agent = Some(product.into());
        self
    }

    /// Sets the retry policy; [`RetryPolicy::none`] turns retries off. A call can set its own
    /// with `with_retry`.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Sets the retry budget every call of this client and its clones shares, so that an
    /// outage cannot multiply the load the client sends (default
    /// [`RetryBudget::default`]: 500 tokens).
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.retry_budget = Some(budget);
        self
    }

    /// Bounds each attempt, from asking for a token to the end of the reply (default 60 s).
    /// The retry policy's [`max_elapsed`](RetryPolicy::max_elapsed) bounds the whole call, and
    /// a call can set its own with `with_timeout`.
    ///
    /// Attempts are ended at their deadline by one thread the SDK starts for the process (named
    /// `classroom-deadlines`), not by a timer of the async runtime: a timer per call made the
    /// runtime arm a kernel timer at every wait, 2-3% of a small call. The thread's clock
    /// is the system's monotonic clock, so tokio's paused test time does not move it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Declares every call of this client idempotent (`true`) or not (`false`), whatever its
    /// verb, which decides what may be retried (see [`RetryPolicy`]). By default `GET`, `PUT`
    /// and `DELETE` are idempotent and `POST` and `PATCH` are not. Declare it for all calls
    /// only when every create goes through an alias; a call's own `with_idempotency` wins.
    pub fn idempotency(mut self, idempotent: bool) -> Self {
        self.idempotency = Some(idempotent);
        self
    }

    /// Sets the longest reply body the client reads (default
    /// [`DEFAULT_MAX_RESPONSE_BYTES`]). A longer reply ends the call with
    /// [`Error::ResponseTooLarge`] as soon as it is known to be longer, without holding more.
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = Some(limit);
        self
    }

    /// Sets how many empty pages in a row, each naming a next page, `pages()` and `items()`
    /// read before they end with [`Error::PageLoop`] (default [`DEFAULT_MAX_EMPTY_PAGES`]).
    ///
    /// Classroom may answer a filtered list with an empty page that still names a next one,
    /// so one empty page is no reason to stop; a long run of them means a server that never
    /// ends the list.
    pub fn max_empty_pages(mut self, pages: u32) -> Self {
        self.max_empty_pages = Some(pages.max(1));
        self
    }

    /// Paces every call of this client (and its clones, and other clients given the same
    /// limiter) under Classroom's quotas; see [`RateLimit`]. Off by default.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Sends an API key with every call, beside the OAuth token, so that Google attributes
    /// the calls to the key's project for quota. A call can carry another with `with_api_key`.
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Sends calls on your own HTTP client: its proxy, its roots of trust (a corporate CA),
    /// its pool sizes. The SDK still decides, per call: the timeout of each attempt
    /// ([`timeout`](Self::timeout)), retries, the cap on the reply it reads ([`max_response_bytes`](Self::max_response_bytes)), the bearer token and the user
    /// agent header, and it refuses a root URL that is not `https` (loopback aside) before
    /// building. The client's own connect timeout applies (`connect_timeout` here is for the
    /// SDK's client). Build it with `redirect(reqwest::redirect::Policy::none())`, so that a
    /// call carrying a token is never sent elsewhere. Token calls have their own client:
    /// [`OAuthClient::http_client`](crate::auth::OAuthClient::http_client) and
    /// [`ServiceAccountCredentials::http_client`](crate::auth::ServiceAccountCredentials::http_client).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Answers calls from the rules of `mock` instead of a server (feature `test-support`;
    /// see [`testing`](crate::testing)). Nothing reaches the network.
    #[cfg(feature = "test-support")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-support")))]
    pub fn mock(mut self, mock: Arc<crate::testing::MockTransport>) -> Self {
        self.mock = Some(mock);
        self
    }

    /// Allows an `http://` root URL on a host other than loopback. Without it such a URL is
    /// refused, since every call would send its bearer token in clear. Only for a
    /// TLS-terminating proxy you control; `http://` to `127.0.0.1`, `::1` or `localhost` (the
    /// emulator) is always allowed.
    pub fn allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    /// Bounds connecting to the server (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<Classroom> {
        let invalid = |message: String| Error::InvalidInput {
            method: "Classroom::builder",
            message,
        };
        let credentials = self.credentials.ok_or_else(|| {
            invalid("no credentials: call .credentials(...) before .build()".into())
        })?;
        let root_url = self
            .root_url
            .unwrap_or_else(|| DEFAULT_ROOT_URL.to_string());
        let mut root = reqwest::Url::parse(&root_url)
            .map_err(|e| invalid(format!("the root URL is not a URL: {e}")))?;
        if !matches!(root.scheme(), "http" | "https")
            || root.query().is_some()
            || root.fragment().is_some()
        {
            return Err(invalid(format!(
                "root URL {} must be http(s) with no query or fragment",
                crate::net::redacted(&root)
            )));
        }
        crate::net::require_tls(
            &root,
            self.allow_insecure_http,
            "ClassroomBuilder::allow_insecure_http()",
        )
        .map_err(invalid)?;
        if !root.path().ends_with('/') {
            let path = format!("{}/", root.path());
            root.set_path(&path);
        }
        let agent = concat!("classroom-rust/", env!("CARGO_PKG_VERSION"));
        let user_agent = match self.user_agent {
            Some(product) => format!("{product} {agent}"),
            None => agent.to_string(),
        };
        let own_client = self.http_client.is_some();
        let http = match self.http_client {
            Some(client) => client,
            None => reqwest::Client::builder()
                .tls_backend_preconfigured(
                    crate::net::tls_config()
                        .map_err(|e| invalid(format!("TLS set-up failed: {e}")))?,
                )
                .user_agent(user_agent.clone())
                .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| invalid(format!("HTTP client set-up failed: {e}")))?,
        };
        Ok(Classroom {
            inner: Arc::new(Inner {
                http,
                root,
                credentials,
                #[cfg(feature = "test-support")]
                mock: self.mock,
                settings: Settings {
                    retry: self.retry.unwrap_or_default(),
                    retry_budget: self.retry_budget.unwrap_or_default(),
                    timeout: self.timeout.unwrap_or(Duration::from_secs(60)),
                    idempotency: self.idempotency,
                    max_response_bytes: self
                        .max_response_bytes
                        .unwrap_or(DEFAULT_MAX_RESPONSE_BYTES),
                    max_empty_pages: self.max_empty_pages.unwrap_or(DEFAULT_MAX_EMPTY_PAGES),
                    rate_limit: self.rate_limit,
                    api_key: self.api_key,
                    user_agent: own_client.then_some(user_agent),
                },
            }),
            scopes: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BearerToken;

    #[test]
    fn debug_never_shows_a_password_in_the_root_url() {
        let root = "http://user:hunter2@127.0.0.1:9/classroom/";
        let builder = Classroom::builder()
            .root_url(root)
            .credentials(BearerToken::unchecked("t"));
        let shown = format!("{builder:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("127.0.0.1:9/classroom/"),
            "{shown}"
        );
        let client = builder.build().unwrap();
        let shown = format!("{client:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("127.0.0.1:9/classroom/"),
            "{shown}"
        );
        let refused = Classroom::builder()
            .root_url("http://user:hunter2@127.0.0.1:9/?q=1")
            .credentials(BearerToken::unchecked("t"))
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            !refused.contains("hunter2") && refused.contains("no query"),
            "{refused}"
        );
    }
}
