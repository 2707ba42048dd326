//! De-duplication of push messages by message id.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

/// Why a [`DedupStore`] could not answer (a database down, say). The push is answered 503 and
/// Pub/Sub delivers it again.
#[derive(Clone, Debug, thiserror::Error)]
#[error("the de-duplication store failed: {message}")]
#[non_exhaustive]
pub struct DedupError {
    /// What went wrong.
    pub message: String,
}

impl DedupError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        DedupError {
            message: message.into(),
        }
    }
}

/// Where message ids are remembered. [`MemoryDedup`] serves one process; implement it over
/// Redis (`SET id 1 NX PX window`) or a database table with a unique key to share it between
/// replicas.
#[async_trait]
pub trait DedupStore: Send + Sync + fmt::Debug {
    /// Claims `message_id` for `window`: `true` if no claim on it is held (it is new, or its
    /// window has passed), `false` if it was claimed before within its window.
    async fn claim(&self, message_id: &str, window: Duration) -> Result<bool, DedupError>;

    /// Gives a claim up: the message was not applied, so its redelivery must be.
    async fn release(&self, message_id: &str) -> Result<(), DedupError>;
}

/// At most this many ids are remembered by a [`MemoryDedup`]; past it, the ones closest to
/// the end of their window are forgotten first.
pub const MAX_REMEMBERED_MESSAGES: usize = 100_000;

/// A [`DedupStore`] in this process's memory (tokio's clock, so tests can pause it).
#[derive(Default)]
pub struct MemoryDedup {
    claims: Mutex<HashMap<String, Instant>>,
}

impl fmt::Debug for MemoryDedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedup")
            .field("remembered", &self.lock().len())
            .finish()
    }
}

impl MemoryDedup {
    /// An empty store.
    pub fn new() -> Self {
        MemoryDedup::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.claims.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl DedupStore for MemoryDedup {
    async fn claim(&self, message_id: &str, window: Duration) -> Result<bool, DedupError> {
        let now = Instant::now();
        let mut claims = self.lock();
        if claims.get(message_id).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        if claims.len() >= MAX_REMEMBERED_MESSAGES {
            claims.retain(|_, until| *until > now);
            if claims.len() >= MAX_REMEMBERED_MESSAGES {
                let mut ends: Vec<Instant> = claims.values().copied().collect();
                let (_, median, _) = ends.select_nth_unstable(MAX_REMEMBERED_MESSAGES / 2);
                let median = *median;
                claims.retain(|_, until| *until > median);
            }
        }
        let until = now.checked_add(window).unwrap_or(now);
        claims.insert(message_id.to_string(), until);
        Ok(true)
    }

    async fn release(&self, message_id: &str) -> Result<(), DedupError> {
        self.lock().remove(message_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_id_is_new_once_per_window_and_again_after_release() {
        let store = MemoryDedup::new();
        let window = Duration::from_secs(600);
        assert!(store.claim("m1", window).await.unwrap());
        assert!(
            !store.claim("m1", window).await.unwrap(),
            "a repeat is a duplicate"
        );
        store.release("m1").await.unwrap();
        assert!(
            store.claim("m1", window).await.unwrap(),
            "released: applied again"
        );
        tokio::time::advance(window + Duration::from_secs(1)).await;
        assert!(
            store.claim("m1", window).await.unwrap(),
            "past the window it is new"
        );
    }
}
