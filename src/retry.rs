//! When and how long to wait before trying a failed call again.
//!
//! The decision is a pure function of the call's idempotency, what went wrong, the attempt and
//! the time spent ([`decide`]); the request loop only carries it out. A [`RetryBudget`] shared
//! by a client's calls bounds how much an outage can multiply the traffic it sends.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How a failed call is tried again: exponential backoff with full jitter, `Retry-After`
/// honoured, bounded in attempts and in total time.
///
/// What is retried depends on whether the call is idempotent (see
/// [`RequestOptions::with_idempotency`](crate::RequestOptions::with_idempotency)):
///
/// | what went wrong | idempotent (`GET`, `PUT`, `DELETE`) | not idempotent (`POST`, `PATCH`) |
/// |---|---|---|
/// | 429 (rate limited: the server did nothing) | retried | retried |
/// | no connection could be made, no token could be had (nothing was sent) | retried | retried |
/// | 408, 500, 502, 503, 504 | retried | **not retried** |
/// | connection reset, timeout, reply cut off | retried | **not retried** |
///
/// A create that was sent may have been carried out even when the reply is a 503 or never
/// arrives (a proxy in between, a dropped connection), so resending it could create a duplicate.
/// Make such a call idempotent first, for instance by creating a course under an alias
/// (`d:` or `p:` id), where a repeat answers `ALREADY_EXISTS`, then opt in with
/// `.with_idempotency(true)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// Up to 5 attempts, backoff from 500 ms doubling to at most 32 s, all within 2 minutes.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(32),
            max_elapsed: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Sets how many times a call is sent at most, the first time included.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first backoff; each later one doubles, up to the maximum.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest single wait.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Sets the total time a call may take, every attempt and wait included. Each attempt gets
    /// at most what is left of it, and no retry starts that could not finish within it.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// The total time a call may take.
    pub(crate) fn budget(&self) -> Duration {
        self.max_elapsed
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The server answered with this status; `lasting` when its error will not clear within
    /// seconds (a daily quota, a member limit).
    Status {
        status: u16,
        retry_after: Option<Duration>,
        lasting: bool,
    },
    /// Nothing reached the server: no connection could be made, or no token could be had.
    NotSent,
    /// The request was sent and then the connection failed or the reply was cut off: the
    /// server may have acted.
    AfterSend,
    /// The attempt ran out of time after the request may have been sent.
    TimedOut,
}

impl Failure {
    /// Whether sending the call again is safe and may help.
    fn retryable(self, idempotent: bool) -> bool {
        match self {
            Failure::Status { lasting: true, .. } => false,
            Failure::Status { status: 429, .. } | Failure::NotSent => true,
            Failure::Status {
                status: 408 | 500 | 502 | 503 | 504,
                ..
            }
            | Failure::AfterSend
            | Failure::TimedOut => idempotent,
            Failure::Status { .. } => false,
        }
    }

    /// What a retry takes from the client's [`RetryBudget`]: timeouts cost more, since they
    /// hold a connection for a whole attempt.
    pub(crate) fn cost(self) -> u32 {
        match self {
            Failure::TimedOut => 10,
            _ => 5,
        }
    }
}

/// The wait before the next attempt, or `None` to give up and return the failure.
///
/// `attempt` counts the attempts made so far (1 after the first), `elapsed` the time since the
/// first started, `jitter` is a number in [0, 1). Every sum saturates: a `Retry-After` of
/// `u64::MAX` seconds gives up, it does not overflow.
pub(crate) fn decide(
    policy: &RetryPolicy,
    idempotent: bool,
    failure: Failure,
    attempt: u32,
    elapsed: Duration,
    jitter: f64,
) -> Option<Duration> {
    if attempt >= policy.max_attempts || !failure.retryable(idempotent) {
        return None;
    }
    let delay = match failure {
        Failure::Status {
            retry_after: Some(wait),
            ..
        } => wait,
        _ => {
            let ceiling = policy
                .initial_backoff
                .saturating_mul(1 << attempt.saturating_sub(1).min(20))
                .min(policy.max_backoff);
            Duration::try_from_secs_f64(ceiling.as_secs_f64() * jitter.clamp(0.0, 1.0))
                .unwrap_or(ceiling)
                .min(ceiling)
        }
    };
    // A retry must have time left to run once it has waited.
    (elapsed.saturating_add(delay) < policy.max_elapsed).then_some(delay)
}

/// A number in [0, 1) that differs from call to call, so that clients rate-limited together do
/// not retry together.
pub(crate) fn jitter() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A retry budget shared by every call of a client and its clones: a token bucket, as smithy-rs
/// and the AWS SDKs keep one.
///
/// Each retry takes tokens (5, or 10 after a timeout) and each call that succeeds puts one
/// back. While the service is healthy the bucket stays full and every retry the
/// [`RetryPolicy`] allows happens; during an outage it drains, retries stop, and the load a
/// client sends falls back to one request per call instead of one per attempt. The default
/// holds 500 tokens: 100 retries in a row before retrying pauses.
#[derive(Debug)]
pub struct RetryBudget {
    capacity: u32,
    available: AtomicU32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget::with_capacity(500)
    }
}

impl Clone for RetryBudget {
    /// A budget of the same capacity, full.
    fn clone(&self) -> Self {
        RetryBudget::with_capacity(self.capacity)
    }
}

impl RetryBudget {
    /// A budget of `capacity` tokens, full. A capacity of `u32::MAX` is
    /// [`unlimited`](Self::unlimited).
    pub fn with_capacity(capacity: u32) -> Self {
        RetryBudget {
            capacity,
            available: AtomicU32::new(capacity),
        }
    }

    /// A budget that never runs out: only the [`RetryPolicy`] bounds retries. Retries take
    /// nothing from it, however many there are.
    pub fn unlimited() -> Self {
        RetryBudget::with_capacity(u32::MAX)
    }

    /// The tokens left.
    pub fn available(&self) -> u32 {
        self.available.load(Ordering::Relaxed)
    }

    /// Takes `cost` tokens for a retry; `false`, taking nothing, when fewer are left.
    pub(crate) fn withdraw(&self, cost: u32) -> bool {
        if self.capacity == u32::MAX {
            // Unlimited: taking tokens would drain it after some 860 million retries in a row.
            return true;
        }
        self.available
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(cost)
            })
            .is_ok()
    }

    /// Puts a token back after a call succeeded.
    pub(crate) fn deposit(&self) {
        let _ = self
            .available
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                (left < self.capacity).then(|| left + 1)
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn status(status: u16) -> Failure {
        Failure::Status {
            status,
            retry_after: None,
            lasting: false,
        }
    }

    #[test]
    fn a_write_is_retried_only_where_a_retry_cannot_duplicate() {
        let policy = RetryPolicy::default();
        for (failure, write_retried) in [
            (status(429), true),
            (Failure::NotSent, true),
            (status(503), false),
            (status(500), false),
            (status(502), false),
            (status(504), false),
            (status(408), false),
            (Failure::AfterSend, false),
            (Failure::TimedOut, false),
        ] {
            let read = decide(&policy, true, failure, 1, Duration::ZERO, 0.5);
            let write = decide(&policy, false, failure, 1, Duration::ZERO, 0.5);
            assert!(
                read.is_some(),
                "an idempotent call is retried after {failure:?}"
            );
            assert_eq!(write.is_some(), write_retried, "a write after {failure:?}");
        }
        for code in [400, 401, 403, 404, 409, 412, 501] {
            assert_eq!(
                decide(&policy, true, status(code), 1, Duration::ZERO, 0.5),
                None
            );
        }
    }

    #[test]
    fn none_sends_a_call_once() {
        // A 429 is retried whatever the call; under `none` it is not.
        let limited = status(429);
        assert!(
            decide(
                &RetryPolicy::default(),
                true,
                limited,
                1,
                Duration::ZERO,
                0.5
            )
            .is_some(),
            "the default policy retries a 429"
        );
        assert_eq!(
            decide(&RetryPolicy::none(), true, limited, 1, Duration::ZERO, 0.5),
            None,
            "RetryPolicy::none retried"
        );
    }

    #[test]
    fn attempts_and_total_time_bound_the_retries() {
        let policy = RetryPolicy::default().max_attempts(3);
        assert!(decide(&policy, true, status(503), 2, Duration::ZERO, 0.5).is_some());
        assert_eq!(
            decide(&policy, true, status(503), 3, Duration::ZERO, 0.5),
            None
        );
        // 119 s spent of 120: a wait of a second or more leaves no time to run.
        let late = Duration::from_secs(119);
        let wait = |s| Failure::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(s)),
            lasting: false,
        };
        assert_eq!(decide(&policy, true, wait(1), 1, late, 0.5), None);
        assert_eq!(
            decide(&policy, true, wait(1), 1, Duration::from_secs(100), 0.5),
            Some(SECOND)
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_full_jitter() {
        let policy = RetryPolicy::default()
            .initial_backoff(SECOND)
            .max_backoff(Duration::from_secs(4))
            .max_attempts(10)
            .max_elapsed(Duration::from_secs(3600));
        let ceiling = |attempt| decide(&policy, true, status(503), attempt, Duration::ZERO, 0.999);
        assert!(ceiling(1).unwrap() <= SECOND && ceiling(1).unwrap() > SECOND / 2);
        assert!(ceiling(2).unwrap() <= 2 * SECOND && ceiling(2).unwrap() > SECOND);
        assert!(ceiling(5).unwrap() <= 4 * SECOND && ceiling(5).unwrap() > 3 * SECOND);
        assert_eq!(
            decide(&policy, true, status(503), 1, Duration::ZERO, 0.0),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn huge_values_saturate_instead_of_panicking() {
        let policy = RetryPolicy::default()
            .initial_backoff(Duration::MAX)
            .max_backoff(Duration::MAX)
            .max_attempts(u32::MAX)
            .max_elapsed(Duration::MAX);
        for jitter in [0.0, 0.5, 0.999_999_999, 1.0, f64::NAN, -1.0] {
            let _ = decide(
                &policy,
                true,
                status(503),
                u32::MAX - 1,
                Duration::MAX,
                jitter,
            );
            let _ = decide(
                &policy,
                true,
                status(503),
                64,
                Duration::from_secs(5),
                jitter,
            );
        }
        let forever = Failure::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(u64::MAX)),
            lasting: false,
        };
        let default = RetryPolicy::default();
        assert_eq!(
            decide(&default, true, forever, 1, Duration::from_secs(2), 0.5),
            None
        );
    }

    #[test]
    fn the_budget_drains_in_an_outage_and_refills_with_successes() {
        let budget = RetryBudget::with_capacity(12);
        assert!(budget.withdraw(Failure::AfterSend.cost()));
        assert!(
            !budget.withdraw(Failure::TimedOut.cost()),
            "7 left, a timeout costs 10"
        );
        assert!(budget.withdraw(5));
        assert_eq!(budget.available(), 2);
        for _ in 0..100 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 12, "never above capacity");
    }

    #[test]
    fn an_unlimited_budget_never_refuses_a_retry() {
        let unlimited = RetryBudget::unlimited();
        // Far more than any capacity could pay for, with no success in between to refill it.
        for _ in 0..3 {
            assert!(
                unlimited.withdraw(u32::MAX),
                "an unlimited budget refused a retry"
            );
        }
        assert!(unlimited.withdraw(Failure::TimedOut.cost()));
        assert_eq!(unlimited.available(), u32::MAX, "nothing was taken");
        unlimited.deposit();
        assert_eq!(unlimited.available(), u32::MAX);
    }

    #[test]
    fn a_cloned_budget_is_a_new_full_bucket_of_the_same_capacity() {
        // Clones of a client share its one budget (it lives behind the client's Arc); cloning
        // the budget itself gives a separate bucket, as `Clone` documents.
        let budget = RetryBudget::with_capacity(12);
        assert!(budget.withdraw(10));
        let clone = budget.clone();
        assert_eq!(
            clone.available(),
            12,
            "the clone starts full, not at the 2 left"
        );
        assert!(clone.withdraw(12));
        assert_eq!(
            budget.available(),
            2,
            "draining the clone leaves the original alone"
        );
        assert!(budget.withdraw(2), "and the original keeps its own tokens");
        for _ in 0..100 {
            clone.deposit();
        }
        assert_eq!(clone.available(), 12, "the clone holds the same capacity");
    }

    #[test]
    fn jitter_is_spread_over_zero_to_one() {
        let draws: Vec<f64> = (0..1000).map(|_| jitter()).collect();
        for draw in &draws {
            assert!((0.0..1.0).contains(draw), "{draw} is outside [0, 1)");
        }
        // Clients rate-limited together must not retry together: 1,000 draws reach every
        // tenth of the range (a uniform draw misses one with odds of about 1 in 10^44).
        for tenth in 0..10 {
            let low = f64::from(tenth) / 10.0;
            let high = low + 0.1;
            assert!(
                draws.iter().any(|draw| (low..high).contains(draw)),
                "no jitter in [{low}, {high}) out of 1,000 draws"
            );
        }
    }

    #[test]
    fn the_waits_before_retries_are_jittered() {
        let policy = RetryPolicy::default()
            .initial_backoff(SECOND)
            .max_backoff(SECOND);
        let waits: Vec<Duration> = (0..64)
            .map(|_| decide(&policy, true, status(503), 1, Duration::ZERO, jitter()).unwrap())
            .collect();
        assert!(waits.iter().all(|&wait| wait <= SECOND), "{waits:?}");
        // 64 uniform draws all in one half of the range: odds of 1 in 2^63.
        assert!(
            waits.iter().any(|&wait| wait < SECOND / 2),
            "no wait under half the backoff: {waits:?}"
        );
        assert!(
            waits.iter().any(|&wait| wait >= SECOND / 2),
            "no wait over half the backoff: {waits:?}"
        );
    }

    proptest::proptest! {
        /// Whatever the policy, the server and the clock say: no panic, and a retry only with
        /// time left to run it.
        #[test]
        fn any_decision_is_bounded(
            attempts in proptest::prelude::any::<u32>(),
            initial in proptest::prelude::any::<u64>(),
            max in proptest::prelude::any::<u64>(),
            budget in proptest::prelude::any::<u64>(),
            attempt in proptest::prelude::any::<u32>(),
            elapsed in proptest::prelude::any::<u64>(),
            status in 100u16..1000,
            wait in proptest::prelude::any::<Option<u64>>(),
            idempotent in proptest::prelude::any::<bool>(),
            jitter in proptest::prelude::any::<f64>(),
        ) {
            let policy = RetryPolicy::default()
                .max_attempts(attempts)
                .initial_backoff(Duration::from_nanos(initial))
                .max_backoff(Duration::from_millis(max))
                .max_elapsed(Duration::from_millis(budget));
            let failure = Failure::Status { status, retry_after: wait.map(Duration::from_secs), lasting: false };
            let elapsed = Duration::from_millis(elapsed);
            if let Some(delay) = decide(&policy, idempotent, failure, attempt, elapsed, jitter) {
                proptest::prop_assert!(elapsed.saturating_add(delay) < policy.max_elapsed);
                proptest::prop_assert!(attempt < policy.max_attempts);
            }
        }
    }
}
