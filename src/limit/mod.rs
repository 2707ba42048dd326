//! An optional client-side rate limiter shaped after Classroom's quotas, so that a sync runs
//! just under them instead of bouncing off them with 429s.

use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota};

#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "redis")]
pub use self::redis::{RedisLimit, RedisUrlError};

/// How long every call under a limiter waits after a 429 that names no `Retry-After`: a
/// second, in which a bucket of one second's worth refills.
pub(crate) const PAUSE_AFTER_429: Duration = Duration::from_secs(1);

/// Classroom's documented quota of requests per minute for a Cloud project.
pub const CLASSROOM_PROJECT_PER_MINUTE: u32 = 3_000;

/// Classroom's documented quota of requests per minute for one user (a delegated sync puts
/// every call on one user).
pub const CLASSROOM_USER_PER_MINUTE: u32 = 1_200;

/// Paces a client's calls to stay under Classroom's per-project and per-user quotas.
///
/// Each limit refills continuously (a limit of 1,200 a minute lets a call through every 50 ms)
/// and holds at most one second's worth of calls for a burst, so a client never runs ahead of
/// a quota that is counted per minute. Every call waits its turn before it is sent, retries
/// included; a batch counts each of its parts as one call.
///
/// After a 429 (a rate limit the limiter did not foresee: another program on the quota, a
/// server counting differently), every call under the limiter pauses for the reply's
/// `Retry-After`, or a second without one, before the limiter grants it.
///
/// **Backends.** By default the buckets live in this process ([`RateLimit::new`]): no server
/// is needed, and the limit holds for the clients sharing this value. Workers in several
/// processes or machines on one quota share it through Redis instead (the `redis` feature,
/// `RateLimit::shared`): the same algorithm runs atomically on the server, and a pause
/// after a 429 reaches every worker on the key.
///
/// A limiter is shared by the clients given it and by all their clones. Clients for several
/// users of one project share the project limit and each have their own user limit:
///
/// ```no_run
/// # fn run(a: classroom::auth::ServiceAccountCredentials, b: classroom::auth::ServiceAccountCredentials) -> classroom::Result<()> {
/// use classroom::{Classroom, RateLimit};
///
/// let limit = RateLimit::classroom();
/// let admin = Classroom::builder().credentials(a).rate_limit(limit.clone()).build()?;
/// let teacher = Classroom::builder()
///     .credentials(b)
///     .rate_limit(limit.for_another_user())
///     .build()?;
/// # let _ = (admin, teacher); Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct RateLimit {
    project: Option<Arc<Bucket>>,
    user: Option<Arc<Bucket>>,
    user_per_minute: Option<NonZeroU32>,
    /// Held while one acquisition takes its calls, so that a batch's calls are granted
    /// together: interleaved with other batches', they would be granted over a long stretch
    /// yet all spent at once when the batch is sent, a burst the server may refuse.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// No call is granted before this instant (a pause after a 429).
    paused_until: Arc<Mutex<Option<Instant>>>,
    /// The Redis backend, when the limit is shared between processes.
    #[cfg(feature = "redis")]
    shared: Option<Arc<self::redis::Shared>>,
}

struct Bucket {
    limiter: DefaultDirectRateLimiter,
    per_minute: NonZeroU32,
    burst: NonZeroU32,
}

impl Bucket {
    /// A bucket with no calls left, which refills at its rate: where another limiter may
    /// just have spent the server's bucket (Redis' buckets while Redis is unreachable).
    #[cfg(feature = "redis")]
    fn empty(per_minute: NonZeroU32) -> Arc<Bucket> {
        let bucket = Bucket::per_minute(per_minute);
        let _ = bucket.limiter.check_n(bucket.burst);
        bucket
    }

    fn per_minute(per_minute: NonZeroU32) -> Arc<Bucket> {
        let burst = NonZeroU32::new(per_minute.get() / 60).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs(60) / per_minute.get();
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(per_minute))
            .allow_burst(burst);
        Arc::new(Bucket {
            limiter: DefaultDirectRateLimiter::direct(quota),
            per_minute,
            burst,
        })
    }

    /// Waits until `n` calls may go, taking at most a burst at a time.
    async fn acquire(&self, mut n: u32) {
        while let Some(take) = NonZeroU32::new(n.min(self.burst.get())) {
            // `take` never exceeds the burst, so capacity always suffices.
            let _ = self.limiter.until_n_ready(take).await;
            n -= take.get();
        }
    }
}

impl RateLimit {
    /// No limit yet; add them with [`RateLimit::project_per_minute`] and
    /// [`RateLimit::user_per_minute`].
    pub fn new() -> Self {
        RateLimit::default()
    }

    /// Classroom's documented quotas: 3,000 calls a minute for the project and 1,200 for the
    /// user ([`CLASSROOM_PROJECT_PER_MINUTE`], [`CLASSROOM_USER_PER_MINUTE`]).
    pub fn classroom() -> Self {
        RateLimit::new()
            .project_per_minute(CLASSROOM_PROJECT_PER_MINUTE)
            .user_per_minute(CLASSROOM_USER_PER_MINUTE)
    }

    /// Limits the calls of the whole project (every client sharing this limiter) to
    /// `per_minute` (0 means no limit).
    pub fn project_per_minute(mut self, per_minute: u32) -> Self {
        self.project = NonZeroU32::new(per_minute).map(Bucket::per_minute);
        self
    }

    /// Limits the calls of this limiter's user to `per_minute` (0 means no limit).
    pub fn user_per_minute(mut self, per_minute: u32) -> Self {
        self.user_per_minute = NonZeroU32::new(per_minute);
        self.user = self.user_per_minute.map(Bucket::per_minute);
        self
    }

    /// A limiter for another user of the same project: the project limit is shared, the user
    /// limit is the same size but separate.
    pub fn for_another_user(&self) -> Self {
        RateLimit {
            project: self.project.clone(),
            user: self.user_per_minute.map(Bucket::per_minute),
            user_per_minute: self.user_per_minute,
            turn: Arc::default(),
            // A pause after a 429 is the project's too.
            paused_until: self.paused_until.clone(),
            // The user's bucket is in this process only; `shared` with the other user's
            // `RedisLimit` shares it.
            #[cfg(feature = "redis")]
            shared: None,
        }
    }

    /// Waits until `calls` more calls may be sent under every limit. The SDK takes its turn
    /// here before every request (a batch takes its parts together); calls to the same quota
    /// that the SDK does not send (another client's) can take theirs too.
    pub async fn acquire(&self, calls: u32) {
        let _turn = self.turn.lock().await;
        let paused = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        // Only a pause still running: a timer, even one already due, fires on the next
        // millisecond tick.
        if let Some(until) = paused.filter(|&until| until > Instant::now()) {
            tokio::time::sleep_until(until.into()).await;
        }
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared {
            return shared
                .acquire(calls, self.project.as_deref(), self.user.as_deref())
                .await;
        }
        if let Some(project) = &self.project {
            project.acquire(calls).await;
        }
        if let Some(user) = &self.user {
            user.acquire(calls).await;
        }
    }
}

impl RateLimit {
    /// Holds every call under this limiter (and, shared through Redis, under every worker
    /// on its keys) for `pause`: after a 429, whose `Retry-After` it is, or
    /// [`PAUSE_AFTER_429`] without one.
    pub(crate) async fn pause(&self, pause: Duration) {
        let until = Instant::now() + pause.min(Duration::from_secs(3600));
        {
            let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            *paused = Some(paused.map_or(until, |p| p.max(until)));
        }
        #[cfg(feature = "redis")]
        if let Some(shared) = &self.shared {
            shared
                .pause(pause, self.project.as_deref(), self.user.as_deref())
                .await;
        }
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = |b: &Option<Arc<Bucket>>| {
            b.as_ref()
                .map(|b| format!("{} a minute (burst {})", b.per_minute, b.burst))
        };
        let mut f = f.debug_struct("RateLimit");
        f.field("project", &rate(&self.project))
            .field("user", &rate(&self.user));
        #[cfg(feature = "redis")]
        f.field("shared", &self.shared);
        f.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_are_paced_at_the_rate_after_a_one_second_burst() {
        // 6,000 a minute: 100 a second, a burst of 100.
        let limit = RateLimit::new().user_per_minute(6_000);
        let started = std::time::Instant::now();
        limit.acquire(100).await;
        assert!(
            started.elapsed() < Duration::from_millis(50),
            "the burst goes at once"
        );
        limit.acquire(30).await;
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_millis(1000),
            "30 more at 100 a second: {took:?}"
        );
    }

    #[tokio::test]
    async fn another_user_shares_the_project_limit_only() {
        let a = RateLimit::new()
            .project_per_minute(60_000)
            .user_per_minute(600);
        let b = a.for_another_user();
        let started = std::time::Instant::now();
        a.acquire(10).await; // a's whole user burst
        b.acquire(10).await; // b's own burst: no wait
        assert!(started.elapsed() < Duration::from_millis(50));
        a.acquire(2).await; // a waits for its own refill: 10 a second
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    #[tokio::test]
    async fn concurrent_batches_are_granted_one_after_another() {
        let limit = RateLimit::new().user_per_minute(1_200); // 20 a second, burst 20
        let started = std::time::Instant::now();
        let batch = |limit: RateLimit| async move {
            limit.acquire(30).await;
            started.elapsed()
        };
        let (a, b) = tokio::join!(batch(limit.clone()), batch(limit.clone()));
        let (first, second) = (a.min(b), a.max(b));
        assert!(
            first < Duration::from_millis(700),
            "the first batch does not wait for the second's calls: {first:?}"
        );
        assert!(second >= Duration::from_millis(1900), "{second:?}");
    }

    #[tokio::test]
    async fn a_batch_larger_than_the_burst_is_taken_in_bursts() {
        let limit = RateLimit::new().user_per_minute(1_200); // 20 a second, burst 20
        let started = std::time::Instant::now();
        limit.acquire(50).await;
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(1400) && took < Duration::from_millis(2500),
            "50 calls at 20 a second after a burst of 20: {took:?}"
        );
    }
}
