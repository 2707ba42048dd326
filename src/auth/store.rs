//! Where user tokens persist between runs: [`TokenStore`], in memory or in a file.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AccessToken, AuthError, RefreshToken};

/// What a store keeps for a user: the refresh token, and the last access token with its expiry
/// and scopes.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The refresh token, if the user granted offline access.
    pub refresh_token: Option<RefreshToken>,
    /// The last access token.
    pub access_token: Option<String>,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// The scopes granted (URLs), if known.
    pub scopes: Option<Vec<String>>,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("refresh_token", &self.refresh_token)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl StoredToken {
    /// The stored access token, if any.
    pub fn access_token(&self) -> Option<AccessToken> {
        let mut token = AccessToken::new(self.access_token.clone()?);
        if let Some(at) = self.expires_at {
            token = token.with_expiry(at);
        }
        if let Some(scopes) = &self.scopes {
            token = token.with_scopes(scopes.iter().cloned());
        }
        Some(token)
    }
}

/// Keeps a user's tokens between runs. Implementations must be cheap: the credentials call
/// [`save`](TokenStore::save) after every refresh.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored token, or `None` if nothing is stored.
    fn load(&self) -> Result<Option<StoredToken>, AuthError>;

    /// Replaces the stored token.
    fn save(&self, token: &StoredToken) -> Result<(), AuthError>;

    /// Forgets the stored token (after `invalid_grant` or a revocation).
    fn clear(&self) -> Result<(), AuthError>;

    /// Whether a refresh token is on file; if not, authorize with `prompt=consent`, since only
    /// consent makes Google issue one.
    fn has_refresh_token(&self) -> bool {
        matches!(
            self.load(),
            Ok(Some(StoredToken {
                refresh_token: Some(_),
                ..
            }))
        )
    }
}

/// A store in memory, for tests and short-lived programs.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<Option<StoredToken>>);

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl TokenStore for MemoryStore {
    fn load(&self) -> Result<Option<StoredToken>, AuthError> {
        Ok(self.0.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn save(&self, token: &StoredToken) -> Result<(), AuthError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(token.clone());
        Ok(())
    }

    fn clear(&self) -> Result<(), AuthError> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
}

/// A JSON file readable only by its owner (mode 0600 on Unix).
///
/// Each save writes a temporary file next to the target, flushes it to disk and renames it
/// over the target: a reader sees the old token or the new one, never a mix, concurrent
/// writers never interleave, and a crash before the rename leaves the old token in place.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path`; the file is created on the first save.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileStore { path: path.into() }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, doing: &str, e: std::io::Error) -> AuthError {
        AuthError::Store {
            message: format!("{doing} {} failed: {e}", self.path.display()),
        }
    }

    fn temp_path(&self) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let unique = format!(
            ".{name}.{}.{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            super::secret::random_token(6).unwrap_or_default()
        );
        self.path.with_file_name(unique)
    }
}

impl TokenStore for FileStore {
    fn load(&self) -> Result<Option<StoredToken>, AuthError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => super::provider::parse_json(&self.path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error("reading", e)),
        }
    }

    fn save(&self, token: &StoredToken) -> Result<(), AuthError> {
        let json = serde_json::to_vec_pretty(token).map_err(|e| AuthError::Store {
            message: format!("the token cannot be encoded: {e}"),
        })?;
        let temp = self.temp_path();
        let write = || -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp)?;
            file.write_all(&json)?;
            file.sync_all()?;
            std::fs::rename(&temp, &self.path)?;
            // Make the rename itself durable; the old file stays whole until then.
            #[cfg(unix)]
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            self.error("writing", e)
        })
    }

    fn clear(&self) -> Result<(), AuthError> {
        match std::fs::remove_file(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.error("removing", e)),
            _ => Ok(()),
        }
    }
}
