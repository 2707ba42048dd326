//! The Redis backend of [`RateLimit`]: the same GCRA as the in-process buckets, run
//! atomically on the server by a Lua script, so that workers in several processes share one
//! quota.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Bucket, RateLimit};

/// How long the limiter waits for Redis by default before it falls back to its in-process
/// share: a loopback round trip is a tenth of a millisecond, a LAN's a millisecond.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(250);

/// While Redis is unreachable, how often a call tries it again (the others use the fallback
/// without waiting for it).
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// The GCRA of every bucket in `KEYS`, atomically, on Redis' clock.
///
/// `ARGV[1]`: the calls to take (at most every bucket's burst; 0 for a pause); `ARGV[2]`: the
/// pause, in microseconds; then for each key its emission interval (microseconds a call) and
/// its burst. A bucket's value is its theoretical arrival time (TAT, microseconds): the bucket
/// is empty when the TAT is a burst's worth of intervals ahead of now. The calls are granted
/// at the earliest instant every bucket allows them, reserved in each at that instant, and the
/// reply is how many microseconds from now that is: a reservation, so that callers wait their
/// turn in order instead of polling. A bucket Redis has never seen (or has forgotten, or lost
/// in a restart) starts empty, since the server's bucket may just have been spent.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[1])
local pause = tonumber(ARGV[2])
local go = now
local tats = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[1 + 2 * i])
  local tau = interval * tonumber(ARGV[2 + 2 * i])
  local stored = redis.call('GET', key)
  local tat = now + tau
  if stored then tat = tonumber(stored) end
  if pause > 0 then tat = math.max(tat, now + pause + tau - interval) end
  tats[i] = tat
  go = math.max(go, math.max(tat, now) + n * interval - tau)
end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[1 + 2 * i])
  local tat = tats[i]
  if n > 0 then tat = math.max(tat, go) + n * interval end
  local ttl = math.floor((tat - now) / 1000) + 1000
  redis.call('SET', key, string.format('%.0f', tat), 'PX', ttl)
end
return math.floor(go - now)
";

/// Where a [`RateLimit`] shares its buckets: a Redis server, the project's and the user's keys
/// on it, and what to do while it is unreachable. Give it to [`RateLimit::shared`].
///
/// Every worker on a quota names the same server, project and user (and key prefix) and is
/// built with the same limits; the keys are `{prefix}:{project}:project` and
/// `{prefix}:{project}:user:{user}`.
///
/// **When Redis is unreachable** (refused, reset, or slower than [`RedisLimit::timeout`]), no
/// call fails and none waits longer than that timeout for Redis: the limiter warns, in a
/// `classroom.rate_limit.fallback` span at `WARN`, and paces this process in-process at its
/// share of each quota, the quota divided by [`RedisLimit::workers`], starting from an
/// empty bucket. It tries Redis again at most once a second and, when Redis answers, shares
/// the limit again (logged at `INFO`). Set `workers` to the number of processes on the
/// quota: with the default of 1, each process in an outage runs at the whole quota.
///
/// The connection is made on the first call, in that call's Tokio runtime, and kept (with
/// reconnection) by `redis`' `ConnectionManager`.
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Clone)]
pub struct RedisLimit {
    client: redis::Client,
    prefix: String,
    project: String,
    user: String,
    workers: NonZeroU32,
    timeout: Duration,
}

/// A Redis URL [`RedisLimit::new`] cannot use.
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Debug, thiserror::Error)]
#[error("cannot use {url:?} as a Redis URL ({reason}); expected redis://HOST:PORT/DB")]
#[non_exhaustive]
pub struct RedisUrlError {
    /// The URL given.
    pub url: String,
    /// What is wrong with it.
    pub reason: String,
}

impl RedisLimit {
    /// The limit of `user` in `project`, shared on the Redis server at `url`
    /// (`redis://127.0.0.1:6379/`). Nothing connects yet.
    pub fn new(
        url: &str,
        project: impl Into<String>,
        user: impl Into<String>,
    ) -> Result<RedisLimit, RedisUrlError> {
        let client = redis::Client::open(url).map_err(|e| RedisUrlError {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        Ok(RedisLimit {
            client,
            prefix: "classroom:limit".to_string(),
            project: project.into(),
            user: user.into(),
            workers: NonZeroU32::MIN,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// How many processes share the quota: while Redis is unreachable each paces itself at
    /// this share of each quota (1, the default: the whole quota).
    pub fn workers(mut self, workers: u32) -> Self {
        self.workers = NonZeroU32::new(workers).unwrap_or(NonZeroU32::MIN);
        self
    }

    /// The longest a call waits for Redis' answer (or a connection) before the limiter falls
    /// back to its in-process share; 250 ms by default.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The prefix of the keys (`classroom:limit` by default).
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl fmt::Debug for RedisLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection info may hold a password: only the address.
        f.debug_struct("RedisLimit")
            .field(
                "addr",
                &self.client.get_connection_info().addr().to_string(),
            )
            .field("prefix", &self.prefix)
            .field("project", &self.project)
            .field("user", &self.user)
            .field("workers", &self.workers)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl RateLimit {
    /// Shares this limiter's buckets with every process that names the same Redis keys; see
    /// [`RedisLimit`] for what happens while Redis is unreachable. Set the limits first: a
    /// limit set afterwards replaces the shared one's size, not its keys.
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub fn shared(mut self, redis: RedisLimit) -> Self {
        self.shared = Some(Arc::new(Shared {
            script: redis::Script::new(SCRIPT),
            connection: OnceLock::new(),
            project_key: format!("{}:{}:project", redis.prefix, redis.project),
            user_key: format!("{}:{}:user:{}", redis.prefix, redis.project, redis.user),
            fallback: Mutex::new(None),
            config: redis,
        }));
        self
    }
}

/// The Redis state a limiter and its clones share.
pub(super) struct Shared {
    config: RedisLimit,
    script: redis::Script,
    connection: OnceLock<ConnectionManager>,
    project_key: String,
    user_key: String,
    /// While Redis is unreachable: the in-process share and when to try Redis again.
    fallback: Mutex<Option<Fallback>>,
}

/// The fallback's project and user buckets.
type Buckets = (Option<Arc<Bucket>>, Option<Arc<Bucket>>);

struct Fallback {
    project: Option<Arc<Bucket>>,
    user: Option<Arc<Bucket>>,
    retry_at: Instant,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.config, f)
    }
}

impl Shared {
    fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        if let Some(connection) = self.connection.get() {
            return Ok(connection.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.config.timeout))
            .set_response_timeout(Some(self.config.timeout))
            .set_number_of_retries(2)
            .set_max_delay(RETRY_EVERY);
        let connection =
            ConnectionManager::new_lazy_with_config(self.config.client.clone(), config)?;
        Ok(self.connection.get_or_init(|| connection).clone())
    }

    /// Runs the script on the buckets present, within the timeout: the wait it grants.
    async fn run(
        &self,
        calls: u32,
        pause: Duration,
        project: Option<&Bucket>,
        user: Option<&Bucket>,
    ) -> Result<Duration, String> {
        let mut connection = self.connection().map_err(|e| e.to_string())?;
        let mut invocation = self.script.prepare_invoke();
        invocation.arg(calls).arg(pause.as_micros() as u64);
        for (key, bucket) in [(&self.project_key, project), (&self.user_key, user)] {
            if let Some(bucket) = bucket {
                let interval = 60_000_000 / u64::from(bucket.per_minute.get());
                invocation.key(key).arg(interval).arg(bucket.burst.get());
            }
        }
        let reply = tokio::time::timeout(
            self.config.timeout,
            invocation.invoke_async::<i64>(&mut connection),
        )
        .await;
        match reply {
            Ok(Ok(wait)) => Ok(Duration::from_micros(wait.max(0) as u64)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.config.timeout)),
        }
    }

    /// The fallback buckets, if Redis is not to be tried now.
    fn falling_back(&self) -> Option<Buckets> {
        let mut fallback = self.fallback.lock().unwrap_or_else(|e| e.into_inner());
        let state = fallback.as_mut()?;
        let now = Instant::now();
        if now >= state.retry_at {
            // This call tries Redis; the others keep to the fallback meanwhile.
            state.retry_at = now + RETRY_EVERY;
            return None;
        }
        Some((state.project.clone(), state.user.clone()))
    }

    /// Redis failed: the fallback buckets (made, empty, on the first failure).
    fn fall_back(&self, why: &str, project: Option<&Bucket>, user: Option<&Bucket>) -> Buckets {
        let mut fallback = self.fallback.lock().unwrap_or_else(|e| e.into_inner());
        let workers = self.config.workers.get();
        let share = |bucket: Option<&Bucket>| {
            bucket.map(|b| {
                Bucket::empty(
                    NonZeroU32::new(b.per_minute.get() / workers).unwrap_or(NonZeroU32::MIN),
                )
            })
        };
        let state = fallback.get_or_insert_with(|| {
            let span = tracing::warn_span!(
                "classroom.rate_limit.fallback",
                redis = %self.config.client.get_connection_info().addr(),
                key = %self.user_key,
                workers,
            );
            let _span = span.enter();
            tracing::warn!(
                error = why,
                "Redis is unreachable: pacing this process at 1/{workers} of each quota until it answers"
            );
            Fallback {
                project: share(project),
                user: share(user),
                retry_at: Instant::now() + RETRY_EVERY,
            }
        });
        state.retry_at = state.retry_at.max(Instant::now() + RETRY_EVERY);
        (state.project.clone(), state.user.clone())
    }

    fn recovered(&self) {
        let mut fallback = self.fallback.lock().unwrap_or_else(|e| e.into_inner());
        if fallback.take().is_some() {
            tracing::info!(key = %self.user_key, "Redis answers again: the rate limit is shared again");
        }
    }

    /// Waits until `calls` more calls may go under the shared buckets (or, while Redis is
    /// unreachable, under this process' share), taking at most a burst at a time.
    pub(super) async fn acquire(
        &self,
        mut calls: u32,
        project: Option<&Bucket>,
        user: Option<&Bucket>,
    ) {
        let burst = [project, user]
            .into_iter()
            .flatten()
            .map(|b| b.burst.get())
            .min();
        let Some(burst) = burst else { return };
        while calls > 0 {
            let take = calls.min(burst);
            calls -= take;
            let local = match self.falling_back() {
                Some(buckets) => Some(buckets),
                None => match self.run(take, Duration::ZERO, project, user).await {
                    Ok(wait) => {
                        self.recovered();
                        // Not `sleep(ZERO)`: a timer fires on the next millisecond tick.
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                        }
                        None
                    }
                    Err(why) => Some(self.fall_back(&why, project, user)),
                },
            };
            if let Some((project, user)) = local {
                for bucket in [project, user].into_iter().flatten() {
                    bucket.acquire(take).await;
                }
            }
        }
    }

    /// Pauses every worker on the keys (in this process only, already done, if Redis is
    /// unreachable).
    pub(super) async fn pause(
        &self,
        pause: Duration,
        project: Option<&Bucket>,
        user: Option<&Bucket>,
    ) {
        if pause.is_zero() || self.falling_back().is_some() {
            return;
        }
        match self.run(0, pause, project, user).await {
            Ok(_) => self.recovered(),
            Err(why) => {
                self.fall_back(&why, project, user);
            }
        }
    }
}
