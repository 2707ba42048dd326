//! When and how long to wait before trying a failed call again.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

/// Retries for rate limits (429), overload (503), other 5xx on idempotent methods, and
/// connection failures: exponential backoff with full jitter, `Retry-After` honoured, bounded
/// in attempts and in total time. A call the server may have acted on (a `POST` or `PATCH` that
/// got a 500, say) is not retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_elapsed: Duration,
}

impl Default for RetryPolicy {
    /// Up to 5 attempts, backoff from 500 ms doubling to at most 32 s, within 2 minutes.
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

    /// Sets the time after the first attempt past which no retry starts.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// The wait before attempt `attempt + 1`, or `None` when the budget is spent.
    pub(crate) fn delay(
        &self,
        attempt: u32,
        started: Instant,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << (attempt - 1).min(20))
            .min(self.max_backoff);
        let delay = match retry_after {
            Some(wait) => wait,
            None => ceiling.mul_f64(jitter()),
        };
        (started.elapsed() + delay <= self.max_elapsed).then_some(delay)
    }
}

/// A number in [0, 1) that differs from call to call, so that clients rate-limited together do
/// not retry together.
fn jitter() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
