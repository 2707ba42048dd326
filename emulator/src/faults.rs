//! Injected faults: rate limits, overload, latency, dropped connections, and answers lost after
//! the call has acted; for whole HTTP requests, or for the parts of batch requests
//! ([`Fault::in_batch`], [`Fault::part`]).

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
///
/// A fault hits whole HTTP requests unless aimed at the parts of batches:
///
/// ```
/// use std::time::Duration;
/// use classroom_emulator::Fault;
///
/// // The third part of the next batch is answered 429 with `Retry-After: 2`; the other parts
/// // are carried out and answered as usual.
/// let third = Fault::rate_limited(Duration::from_secs(2)).part(2).times(1);
/// // The next two courses.create parts, in any batch, create their course and answer 503.
/// let lost = Fault::unavailable_after_commit().on("classroom.courses.create").in_batch().times(2);
/// # let _ = (third, lost);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    kind: Kind,
    method: Option<String>,
    fraction: f64,
    times: Option<u32>,
    /// `None`: whole HTTP requests; else the batch parts it hits.
    parts: Option<Parts>,
}

/// The parts of a batch a fault hits.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Parts {
    Any,
    At(usize),
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
            parts: None,
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

    /// Aims the fault at the parts of batch requests instead of whole HTTP requests. Each part
    /// it hits gets the fault as its own answer, inside a batch answered 200 as usual; the
    /// other parts are carried out and answered as if nothing had happened. With
    /// [`on`](Fault::on), only parts calling that method (`classroom.courses.create`); with
    /// [`times`](Fault::times), the next `n` parts it hits, whatever batches they are in.
    ///
    /// A part can be [rate limited](Fault::rate_limited) (429 `RESOURCE_EXHAUSTED` with
    /// `Retry-After` in the part's headers), [unavailable](Fault::unavailable) (503), or
    /// [unavailable after commit](Fault::unavailable_after_commit) (the part's call is carried
    /// out and stays carried out; its answer is 503). Latency and dropped connections belong
    /// to the whole batch: aim those at `.on("batch")` without `in_batch`;
    /// [`Emulator::inject`](crate::Emulator::inject) refuses them here.
    pub fn in_batch(mut self) -> Fault {
        self.parts.get_or_insert(Parts::Any);
        self
    }

    /// Only the part at this position of a batch request, counted from 0 in the order the
    /// parts are sent (not by `Content-ID`); implies [`in_batch`](Fault::in_batch).
    pub fn part(mut self, index: usize) -> Fault {
        self.parts = Some(Parts::At(index));
        self
    }

    /// Why this fault cannot be injected, if it cannot.
    pub(crate) fn refusal(&self) -> Option<String> {
        match (&self.kind, self.parts) {
            (Kind::Latency(_) | Kind::Drop | Kind::DropAfterCommit, Some(_)) => Some(
                "Fault::latency, drop_connection and drop_after_commit cannot hit a batch part alone: a part is not delayed or dropped apart from its batch. Aim them at the whole batch with .on(\"batch\"), without in_batch() or part(n).".to_string(),
            ),
            _ => None,
        }
    }
}

/// The number of whole seconds a `Retry-After` header carries for `after`, rounded up.
pub(crate) fn retry_after_seconds(after: Duration) -> u64 {
    after
        .as_secs()
        .saturating_add(u64::from(after.subsec_nanos() > 0))
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
        self.check_matching(method, |parts| parts.is_none())
    }

    /// Which faults hit the part at `index` of a batch, a call to `method`; spends one of each
    /// counted fault that hits. Only [`Outcome::fail`] applies to a part.
    pub(crate) fn check_part(&self, method: &str, index: usize) -> Outcome {
        self.check_matching(method, |parts| match parts {
            Some(Parts::Any) => true,
            Some(Parts::At(at)) => *at == index,
            None => false,
        })
    }

    fn check_matching(&self, method: &str, aimed: impl Fn(&Option<Parts>) -> bool) -> Outcome {
        let mut rules = self.lock();
        let mut outcome = Outcome::default();
        for rule in rules.iter_mut() {
            if !aimed(&rule.parts) {
                continue;
            }
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
