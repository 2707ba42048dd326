//! Injected faults: rate limits, overload, latency, dropped connections, and answers lost after
//! the call has acted.

use std::sync::Mutex;
use std::time::Duration;

/// A fault the emulator injects into calls, for resilience tests.
///
/// ```
/// use std::time::Duration;
/// use classroom_emulator::Fault;
///
/// // The next call to courses.list gets 429 with `Retry-After: 1`.
/// let fault = Fault::rate_limited(Duration::from_secs(1)).on("classroom.courses.list").times(1);
/// // A tenth of all calls wait 50 ms more.
/// let slow = Fault::latency(Duration::from_millis(50)).fraction(0.1);
/// # let _ = (fault, slow);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    kind: Kind,
    method: Option<String>,
    fraction: f64,
    times: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    RateLimited(Duration),
    Unavailable,
    Latency(Duration),
    Drop,
    DropAfterCommit,
    UnavailableAfterCommit,
}

impl Fault {
    fn new(kind: Kind) -> Fault {
        Fault {
            kind,
            method: None,
            fraction: 1.0,
            times: None,
        }
    }

    /// 429 `RESOURCE_EXHAUSTED` with `Retry-After` (whole seconds, rounded up).
    pub fn rate_limited(retry_after: Duration) -> Fault {
        Fault::new(Kind::RateLimited(retry_after))
    }

    /// 503 `UNAVAILABLE`.
    pub fn unavailable() -> Fault {
        Fault::new(Kind::Unavailable)
    }

    /// The call is answered normally, this much later. With no [`times`](Fault::times) and no
    /// [`fraction`](Fault::fraction) it delays every HTTP request (a batch once, OAuth
    /// endpoints too), as a network round trip would: a sync can be timed as if it ran
    /// against Google. The delay comes before [`Quotas`](crate::Quotas) are counted.
    pub fn latency(delay: Duration) -> Fault {
        Fault::new(Kind::Latency(delay))
    }

    /// The connection is closed without an answer; the call is not handled.
    pub fn drop_connection() -> Fault {
        Fault::new(Kind::Drop)
    }

    /// The call is handled, and whatever it changes stays changed, but the connection is then
    /// closed without an answer: a proxy or network losing the reply. The client cannot tell
    /// this from [`drop_connection`](Fault::drop_connection), where nothing was done.
    pub fn drop_after_commit() -> Fault {
        Fault::new(Kind::DropAfterCommit)
    }

    /// The call is handled, and whatever it changes stays changed, but the answer is replaced
    /// by 503 `UNAVAILABLE`: a proxy failing on the way back. The client cannot tell this from
    /// [`unavailable`](Fault::unavailable), where nothing was done.
    pub fn unavailable_after_commit() -> Fault {
        Fault::new(Kind::UnavailableAfterCommit)
    }

    /// Only calls to this method: a method id (`classroom.courses.list`), or `oauth.token`,
    /// `oauth.authorize`, `oauth.revoke`, `batch`. By default every call.
    pub fn on(mut self, method: impl Into<String>) -> Fault {
        self.method = Some(method.into());
        self
    }

    /// Only this fraction of matching calls, chosen at random (default all).
    pub fn fraction(mut self, fraction: f64) -> Fault {
        self.fraction = fraction.clamp(0.0, 1.0);
        self
    }

    /// Only the next `n` matching calls (default unlimited).
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }
}

/// What to do with a call.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) delay: Duration,
    /// A fault that ends the call: anything but latency.
    pub(crate) fail: Option<Kind>,
}

/// The injected faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<Fault>>,
}

impl Faults {
    pub(crate) fn add(&self, fault: Fault) {
        self.lock().push(fault);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Fault>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Which faults hit a call to `method`; spends one of each counted fault that hits.
    pub(crate) fn check(&self, method: &str) -> Outcome {
        let mut rules = self.lock();
        let mut outcome = Outcome::default();
        for rule in rules.iter_mut() {
            if rule.method.as_deref().is_some_and(|m| m != method) {
                continue;
            }
            if rule.times == Some(0) {
                continue;
            }
            if rule.fraction < 1.0 && crate::oauth::random_unit() >= rule.fraction {
                continue;
            }
            match &rule.kind {
                Kind::Latency(d) => outcome.delay += *d,
                kind if outcome.fail.is_none() => outcome.fail = Some(kind.clone()),
                _ => continue,
            }
            if let Some(n) = &mut rule.times {
                *n = n.saturating_sub(1);
            }
        }
        rules.retain(|r| r.times != Some(0));
        outcome
    }
}
