//! Deadlines on calls that cost no timer while the call runs.
//!
//! Every attempt of a call is bounded in time, but almost none runs out. A tokio timer for each
//! attempt (reqwest's per-request timeout, or `tokio::time::timeout`) makes the runtime wait
//! in `epoll_wait` with a timeout whenever it idles with the call in flight, which arms and
//! cancels a kernel timer at each wait: 0.7-1.0 µs of a 20-30 µs loopback round trip on a
//! virtual machine, against 0.0-0.35 µs for the deadline here (`tests::cost`).
//!
//! Here one thread for the whole process keeps the deadlines in order and sleeps until the
//! earliest it knows of. A call adds its deadline and removes it when it ends, under one
//! uncontended lock. The thread is woken only when a deadline comes before the time it will
//! wake anyway: a call ending does not wake it, and a call starting after it does not either,
//! so with calls one after another under the same timeout it wakes about once per timeout.
//! The clock is the system's monotonic clock ([`std::time::Instant`]); tokio's paused test
//! time does not move these deadlines.

use std::collections::BTreeMap;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::task::AtomicWaker;

/// Runs `work` until it completes or `limit` has passed, whichever comes first; `None` when
/// the time ran out (`work` is then dropped).
pub(crate) async fn within<F: Future>(limit: Duration, work: F) -> Option<F::Output> {
    let Some(deadline) = Instant::now().checked_add(limit) else {
        return Some(work.await);
    };
    let watch = Watch::start(Deadlines::global(), deadline);
    let mut work = pin!(work);
    poll_fn(|cx| {
        if watch.slot.passed.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        watch.slot.waker.register(cx.waker());
        // The deadline may have passed between the check and the registration.
        if watch.slot.passed.load(Ordering::Acquire) {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// What the thread and one call share: whether its deadline passed, and whom to wake.
#[derive(Default)]
struct Slot {
    passed: AtomicBool,
    waker: AtomicWaker,
}

/// The deadlines of the calls in flight, in order, and the thread that watches them.
struct Deadlines {
    state: Mutex<State>,
    /// Signalled when a deadline comes before the thread's planned wake-up.
    earlier: Condvar,
}

#[derive(Default)]
struct State {
    /// By deadline, then by a number that tells apart calls with the same deadline.
    pending: BTreeMap<(Instant, u64), Arc<Slot>>,
    next_number: u64,
    /// When the thread will look next: `None` while it sleeps with nothing to watch (or has
    /// not started).
    wakes_at: Option<Instant>,
    started: bool,
}

impl Deadlines {
    fn global() -> &'static Deadlines {
        static DEADLINES: OnceLock<Deadlines> = OnceLock::new();
        DEADLINES.get_or_init(Deadlines::new)
    }

    fn new() -> Deadlines {
        Deadlines {
            state: Mutex::new(State::default()),
            earlier: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing under the lock can panic halfway through a change; a poisoned lock's
        // state is whole.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds a deadline; returns its key for [`Deadlines::remove`].
    fn add(&'static self, deadline: Instant, slot: Arc<Slot>) -> (Instant, u64) {
        let mut state = self.lock();
        let key = (deadline, state.next_number);
        state.next_number += 1;
        state.pending.insert(key, slot);
        if !state.started {
            state.started = true;
            let spawned = std::thread::Builder::new()
                .name("classroom-deadlines".into())
                .spawn(move || self.watch());
            if spawned.is_err() {
                // No thread, no deadlines: calls still end, by the server or the retry
                // policy's elapsed-time budget, only not at their attempt's deadline.
                state.started = false;
                tracing::warn!("cannot start the thread that ends calls at their deadline");
            }
        }
        if state.wakes_at.is_none_or(|at| deadline < at) {
            state.wakes_at = Some(deadline);
            self.earlier.notify_one();
        }
        key
    }

    fn remove(&self, key: &(Instant, u64)) {
        self.lock().pending.remove(key);
    }

    /// The thread: wakes the calls whose deadline passed, then sleeps until the next one.
    /// Calls are woken with the lock released, so that a waker that runs its task at once
    /// (and so removes the call's deadline) cannot wait on the thread that holds it.
    fn watch(&self) {
        let mut passed = Vec::new();
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            while let Some(entry) = state.pending.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                passed.push(entry.remove());
            }
            if !passed.is_empty() {
                drop(state);
                for slot in passed.drain(..) {
                    slot.passed.store(true, Ordering::Release);
                    slot.waker.wake();
                }
                state = self.lock();
                continue;
            }
            let next = state.pending.first_key_value().map(|(key, _)| key.0);
            state.wakes_at = next;
            state = match next {
                Some(at) => {
                    let wait = at.saturating_duration_since(now);
                    self.earlier
                        .wait_timeout(state, wait)
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .0
                }
                None => self
                    .earlier
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner()),
            };
        }
    }
}

/// One call's deadline while the call runs; removed when the call ends, however it ends.
struct Watch {
    deadlines: &'static Deadlines,
    key: (Instant, u64),
    slot: Arc<Slot>,
}

impl Watch {
    fn start(deadlines: &'static Deadlines, deadline: Instant) -> Watch {
        let slot = Arc::new(Slot::default());
        let key = deadlines.add(deadline, slot.clone());
        Watch {
            deadlines,
            key,
            slot,
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.deadlines.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many deadlines are pending `limit` from now, give or take a second. Tests run
    /// beside each other in one process, so each uses a limit of its own.
    fn pending_about(limit: Duration) -> usize {
        let now = Instant::now();
        let (low, high) = (now + limit - Duration::from_secs(1), now + limit);
        Deadlines::global()
            .lock()
            .pending
            .keys()
            .filter(|(at, _)| (low..=high).contains(at))
            .count()
    }

    #[tokio::test]
    async fn work_that_ends_in_time_gives_its_output_and_leaves_no_deadline() {
        let limit = Duration::from_secs(61);
        let output = within(limit, async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            7
        })
        .await;
        assert_eq!(output, Some(7));
        assert_eq!(pending_about(limit), 0, "the deadline is left behind");
    }

    #[tokio::test]
    async fn work_that_outlasts_its_limit_ends_at_the_limit() {
        let started = Instant::now();
        let output = within(Duration::from_millis(100), std::future::pending::<()>()).await;
        let took = started.elapsed();
        assert_eq!(output, None);
        assert!(took >= Duration::from_millis(100), "ended early: {took:?}");
        assert!(took < Duration::from_secs(5), "ended late: {took:?}");
    }

    #[tokio::test]
    async fn a_shorter_deadline_after_a_longer_one_wakes_the_thread_early() {
        // The thread first sleeps toward a deadline an hour away; the short one must not wait
        // for it.
        let long = tokio::spawn(within(
            Duration::from_secs(3600),
            std::future::pending::<()>(),
        ));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let started = Instant::now();
        let output = within(Duration::from_millis(50), std::future::pending::<()>()).await;
        assert_eq!(output, None);
        assert!(started.elapsed() < Duration::from_secs(5));
        long.abort();
        let _ = long.await;
    }

    #[tokio::test]
    async fn dropped_work_takes_its_deadline_away() {
        let limit = Duration::from_secs(7200);
        let work = tokio::spawn(within(limit, std::future::pending::<()>()));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(pending_about(limit), 1, "the deadline was not added");
        work.abort();
        let _ = work.await;
        assert_eq!(pending_about(limit), 0, "the deadline outlived its call");
    }

    /// What a deadline costs a small exchange, against none and against tokio's timer: a
    /// 64-byte echo over loopback, 3,000 round trips a round, 30 rounds alternating the three,
    /// median CPU time of this thread per round trip. On the 2-core VM this was written on:
    /// none 19.6-29.4 µs, `within` +0.0-0.35 µs, `tokio::time::timeout` +0.7-1.0 µs.
    /// `cargo test --release --lib deadline::tests::cost -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement, not a check"]
    fn cost() {
        use std::io::{Read, Write};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut echo, _) = listener.accept().unwrap();
            echo.set_nodelay(true).unwrap();
            let mut buffer = [0u8; 64];
            while echo.read_exact(&mut buffer).is_ok() {
                echo.write_all(&buffer).unwrap();
            }
        });
        let thread_cpu = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid, writable timespec.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            stream.set_nodelay(true).unwrap();
            let limit = Duration::from_secs(60);
            let mut times: [Vec<f64>; 3] = Default::default();
            for round in 0..30 {
                for step in 0..3 {
                    let which = (round + step) % 3;
                    let started = thread_cpu();
                    for _ in 0..3000 {
                        let mut buffer = [0u8; 64];
                        let exchange = async {
                            stream.write_all(&buffer).await.unwrap();
                            stream.read_exact(&mut buffer).await.unwrap();
                        };
                        match which {
                            0 => exchange.await,
                            1 => within(limit, exchange).await.unwrap(),
                            _ => tokio::time::timeout(limit, exchange).await.unwrap(),
                        }
                    }
                    times[which].push((thread_cpu() - started) / 3000.0 * 1e6);
                }
            }
            let [none, within, tokio] = times.map(|mut t| {
                t.sort_by(f64::total_cmp);
                t[t.len() / 2]
            });
            println!(
                "a round trip: {none:.2} µs with no deadline, {within:.2} µs with `within`, \
                 {tokio:.2} µs with tokio::time::timeout"
            );
        });
    }

    #[test]
    fn calls_are_woken_without_the_lock_held() {
        // A waker that takes the lock as it wakes, as one that runs its task at once would
        // (the task's deadline is removed under it).
        struct Locking(std::sync::mpsc::Sender<usize>);
        impl std::task::Wake for Locking {
            fn wake(self: Arc<Self>) {
                let pending = Deadlines::global().lock().pending.len();
                let _ = self.0.send(pending);
            }
        }
        let (sender, woken) = std::sync::mpsc::channel();
        let waker = std::task::Waker::from(Arc::new(Locking(sender)));
        let mut call = Box::pin(within(
            Duration::from_millis(20),
            std::future::pending::<()>(),
        ));
        let mut context = std::task::Context::from_waker(&waker);
        assert!(call.as_mut().poll(&mut context).is_pending());
        if woken.recv_timeout(Duration::from_secs(5)).is_err() {
            // Dropping the call would wait for the lock the stuck thread holds.
            std::mem::forget(call);
            panic!("not woken at its deadline: the thread that keeps deadlines is stuck");
        }
        assert_eq!(call.as_mut().poll(&mut context), Poll::Ready(None));
    }

    #[test]
    fn calls_with_the_same_deadline_keep_one_each() {
        let deadlines: &'static Deadlines = Box::leak(Box::new(Deadlines::new()));
        let at = Instant::now() + Duration::from_secs(3600);
        let first = deadlines.add(at, Arc::default());
        let second = deadlines.add(at, Arc::default());
        assert_eq!(deadlines.lock().pending.len(), 2);
        deadlines.remove(&first);
        assert!(deadlines.lock().pending.contains_key(&second));
    }

    #[tokio::test]
    async fn no_limit_runs_the_work_as_it_is() {
        assert_eq!(within(Duration::MAX, async { 3 }).await, Some(3));
    }
}
