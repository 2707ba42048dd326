//! Connection slots, and how connections give theirs up to a new connection when every slot
//! is taken.
//!
//! The server serves at most [`MAX_CONNECTIONS`](crate::server::MAX_CONNECTIONS) connections at
//! once. A client's pool keeps connections open between calls, so a client with more calls in
//! flight than there are slots would find every slot held, most by connections idle between
//! requests, and wait for the header timeout (30 s) to close them. Instead, when a connection
//! is accepted and no slot is free:
//!
//! - the next connection to answer a request hands its slot on: the answer says
//!   `Connection: close`, and the connection closes after it. A client does not send another
//!   request on a connection that announced its close, so nothing is lost;
//! - if no connection answers within [`HANDOVER`], the connection idle longest is closed, and
//!   until a connection answers again each new connection closes one at once: the server is
//!   quiet, its idle connections are not about to be used.
//!
//! Idle means waiting for a request with none arriving, and only an idle connection is closed:
//! a request under way, even one whose head is still trickling in, is never cut. A new
//! connection counts as idle only after [`FIRST_REQUEST`] without a byte, as its client may be
//! slow to send the request it opened the connection for.
//!
//! The choice is made under a lock that reading also takes while a connection is idle, so a
//! connection is either closed before any byte of a request is read from it, or reads one and
//! is no longer idle. Closing is hyper's graceful shutdown, which lets an answer still being
//! written finish. What no server closing an idle keep-alive connection can avoid (the header
//! timeout does the same) is a client sending a request just as the connection closes: it sees
//! the connection closed without an answer. The server never read that request, so a retry is
//! safe (the SDK retries idempotent calls); preferring a hand-over, and closing the connection
//! idle longest where a client's pool reuses the one idle shortest, make this rare.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// How long a new connection waits for a connection in use to hand its slot on before an idle
/// one is closed. Long enough for an answer under load; short enough not to be noticed.
pub(crate) const HANDOVER: Duration = Duration::from_millis(50);

/// How long a new connection may be silent before it may be closed as idle: its client may be
/// busy (a thousand connections opened at once) and about to send its first request.
pub(crate) const FIRST_REQUEST: Duration = Duration::from_secs(1);

/// The slots, and the connections idle between requests.
pub(crate) struct Slots {
    permits: Arc<Semaphore>,
    /// A new connection waits for a slot: the next connection to answer hands its slot on.
    wanted: AtomicBool,
    /// The last new connection to wait waited [`HANDOVER`] in vain: the next closes an idle
    /// connection at once, until one is handed on again.
    quiet: AtomicBool,
    idle: Mutex<Idle>,
}

#[derive(Default)]
struct Idle {
    /// Keyed by when each went idle: the first entry has been idle longest.
    connections: BTreeMap<u64, (Instant, Arc<State>)>,
    next_key: u64,
}

// A connection's phase. Only an `IDLE` one may be chosen to close.

/// Waiting for a request (a new connection, or one that has answered), not yet found idle.
const WAITING: u8 = 0;
/// Waiting for a request, with none arriving when last read.
const IDLE: u8 = 1;
/// Reading a request or handling it.
const BUSY: u8 = 2;
/// The handler has answered; hyper is writing the answer, and the connection stays open.
const ANSWERED: u8 = 3;
/// Answered, and bytes of another request (pipelined) read since.
const READ_AHEAD: u8 = 4;
/// Answered with `Connection: close`: hyper closes the connection after the answer.
const LAST: u8 = 5;
/// Chosen to close, or ended: reads nothing more.
const CLOSING: u8 = 6;

struct State {
    phase: AtomicU8,
    /// No request answered yet.
    fresh: AtomicBool,
    /// Its key in [`Idle::connections`] while idle; read and written under that lock.
    key: AtomicU64,
    close: Notify,
}

impl Slots {
    pub(crate) fn new(slots: usize) -> Arc<Slots> {
        Arc::new(Slots {
            permits: Arc::new(Semaphore::new(slots)),
            wanted: AtomicBool::new(false),
            quiet: AtomicBool::new(false),
            idle: Mutex::default(),
        })
    }

    fn idle(&self) -> MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a connection just accepted: a free one, else one handed on or made free.
    pub(crate) async fn slot(&self) -> OwnedSemaphorePermit {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return permit;
        }
        self.wanted.store(true, Ordering::SeqCst);
        if self.quiet.load(Ordering::SeqCst) {
            self.close_idle();
        }
        let acquire = self.permits.clone().acquire_owned();
        tokio::pin!(acquire);
        let permit = loop {
            match tokio::time::timeout(HANDOVER, &mut acquire).await {
                Ok(permit) => break permit,
                // No connection answered in time, so none is likely to be about to.
                Err(_) => {
                    self.quiet.store(true, Ordering::SeqCst);
                    self.close_idle();
                }
            }
        };
        // Whichever connection freed the slot, no other need hand its own on.
        self.wanted.store(false, Ordering::SeqCst);
        permit.expect("the semaphore is never closed")
    }

    /// Closes the connection idle longest, passing over new connections silent for less than
    /// [`FIRST_REQUEST`].
    fn close_idle(&self) {
        let mut idle = self.idle();
        let oldest = idle
            .connections
            .iter()
            .find(|(_, (since, state))| {
                !state.fresh.load(Ordering::SeqCst) || since.elapsed() >= FIRST_REQUEST
            })
            .map(|(key, _)| *key);
        if let Some((_, state)) = oldest.and_then(|key| idle.connections.remove(&key)) {
            state.close();
        }
    }

    /// Tracks a connection just accepted.
    pub(crate) fn connection(self: &Arc<Self>) -> Connection {
        Connection {
            slots: self.clone(),
            state: Arc::new(State {
                phase: AtomicU8::new(WAITING),
                fresh: AtomicBool::new(true),
                key: AtomicU64::new(0),
                close: Notify::new(),
            }),
        }
    }
}

impl State {
    /// Marks the connection idle, after those idle longer.
    fn idle(self: &Arc<Self>, idle: &mut Idle) {
        let key = idle.next_key;
        idle.next_key += 1;
        self.key.store(key, Ordering::SeqCst);
        self.phase.store(IDLE, Ordering::SeqCst);
        idle.connections.insert(key, (Instant::now(), self.clone()));
    }

    /// Marks the connection to close and tells its task. Called under the [`Idle`] lock.
    fn close(&self) {
        self.phase.store(CLOSING, Ordering::SeqCst);
        self.close.notify_one();
    }
}

/// One connection's place among the slots.
#[derive(Clone)]
pub(crate) struct Connection {
    slots: Arc<Slots>,
    state: Arc<State>,
}

impl Connection {
    /// Resolves once the connection is to close: call hyper's graceful shutdown then.
    pub(crate) async fn closing(&self) {
        self.state.close.notified().await
    }

    /// The handler has answered: hyper writes the answer next. Returns whether the connection
    /// stays open after it; if not, the answer is to say `Connection: close`.
    pub(crate) fn answered(&self) -> bool {
        let wanted = &self.slots.wanted;
        if wanted
            .compare_exchange(true, false, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            // A new connection waits for a slot: this one hands its own on.
            self.slots.quiet.store(false, Ordering::SeqCst);
            self.state.fresh.store(false, Ordering::SeqCst);
            self.state.phase.store(LAST, Ordering::SeqCst);
            return false;
        }
        self.state.fresh.store(false, Ordering::SeqCst);
        // A connection already chosen to close stays so (a pipelined request answered after).
        self.state
            .phase
            .compare_exchange(BUSY, ANSWERED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Hyper has taken the last bytes of an answer: the connection waits for the next request,
    /// unless it has read part of it already or closes after the answer.
    fn written(&self) {
        match self.state.phase.load(Ordering::SeqCst) {
            ANSWERED => self.state.phase.store(WAITING, Ordering::SeqCst),
            READ_AHEAD => self.state.phase.store(BUSY, Ordering::SeqCst),
            _ => {}
        }
    }

    /// The connection has ended: it leaves the idle ones. Called once hyper's connection (and
    /// with it the last response body) is dropped, so that nothing marks it idle again.
    pub(crate) fn ended(&self) {
        let mut idle = self.slots.idle();
        if self.state.phase.swap(CLOSING, Ordering::SeqCst) == IDLE {
            idle.connections
                .remove(&self.state.key.load(Ordering::SeqCst));
        }
    }

    /// The connection's stream, reporting what it reads to the slots.
    pub(crate) fn stream(&self, stream: TcpStream) -> Stream {
        Stream {
            stream,
            connection: self.clone(),
        }
    }

    /// A response body that marks the connection idle once hyper has taken all of it.
    pub(crate) fn body<B>(&self, body: B) -> Answer<B> {
        Answer {
            body,
            connection: self.clone(),
        }
    }
}

/// A connection's TCP stream.
pub(crate) struct Stream {
    stream: TcpStream,
    connection: Connection,
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let state = &this.connection.state;
        let before = buf.filled().len();
        match state.phase.load(Ordering::SeqCst) {
            IDLE | CLOSING => {
                // Held across the read, so that the connection cannot be chosen to close
                // between reading a byte of a request and ceasing to be idle.
                let mut idle = this.connection.slots.idle();
                if state.phase.load(Ordering::SeqCst) == CLOSING {
                    // The task, told to close, shuts the connection down; nothing is read.
                    return Poll::Pending;
                }
                let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
                if buf.filled().len() > before {
                    idle.connections.remove(&state.key.load(Ordering::SeqCst));
                    state.phase.store(BUSY, Ordering::SeqCst);
                }
                polled
            }
            WAITING => {
                let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
                if buf.filled().len() > before {
                    state.phase.store(BUSY, Ordering::SeqCst);
                } else if polled.is_pending() {
                    // Nothing has arrived: idle. Not before this read, which would take a
                    // connection accepted with its request unread for one without.
                    state.idle(&mut this.connection.slots.idle());
                }
                polled
            }
            ANSWERED => {
                let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
                if buf.filled().len() > before {
                    state.phase.store(READ_AHEAD, Ordering::SeqCst);
                }
                polled
            }
            _ => Pin::new(&mut this.stream).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A response body; its connection becomes idle when hyper drops it, having taken it all.
pub(crate) struct Answer<B> {
    body: B,
    connection: Connection,
}

impl<B: Body + Unpin> Body for Answer<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl<B> Drop for Answer<B> {
    fn drop(&mut self) {
        self.connection.written();
    }
}
