//! Encryption at rest: AES-256-GCM (ring) under keys the application supplies.

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use super::{Payload, UserKey};
use crate::auth::AuthError;

/// The keys a store seals its rows with: one current key, which every write uses, and older
/// ones still accepted for reading while rows move to the current key
/// ([`UserTokenStore::rekey`](super::UserTokenStore::rekey)).
///
/// Each key is 32 bytes (AES-256-GCM) with an id of the application's choosing, stored beside
/// each row so that the right key opens it; the id is not secret, the key is. Each row's
/// ciphertext is bound to its user: a row copied onto another user does not open.
pub struct Keyring {
    current: (String, LessSafeKey),
    old: Vec<(String, LessSafeKey)>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.0)
            .field(
                "old",
                &self.old.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

fn key(bytes: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key"))
}

fn aad(user: &UserKey, key_id: &str) -> Vec<u8> {
    let mut aad = b"classroom-user-token\0".to_vec();
    for part in [&user.tenant, &user.subject, key_id] {
        aad.extend_from_slice(&(part.len() as u64).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

impl Keyring {
    /// A keyring whose current key is `key`, named `id`.
    pub fn new(id: impl Into<String>, key_bytes: &[u8; 32]) -> Self {
        Keyring {
            current: (id.into(), key(key_bytes)),
            old: Vec::new(),
        }
    }

    /// Also opens rows sealed with an older key `id`.
    pub fn with_old_key(mut self, id: impl Into<String>, key_bytes: &[u8; 32]) -> Self {
        self.old.push((id.into(), key(key_bytes)));
        self
    }

    /// The current key's id.
    pub fn current_id(&self) -> &str {
        &self.current.0
    }

    fn find(&self, id: &str) -> Option<&LessSafeKey> {
        std::iter::once(&self.current)
            .chain(&self.old)
            .find(|(k, _)| k == id)
            .map(|(_, key)| key)
    }
}

/// A row's key id (`None`: plain JSON) and bytes.
pub(crate) type Sealed = (Option<String>, Vec<u8>);

pub(crate) fn seal(
    keyring: Option<&Keyring>,
    user: &UserKey,
    payload: &Payload,
) -> Result<Sealed, AuthError> {
    let json = serde_json::to_vec(payload).map_err(|e| AuthError::Store {
        message: format!("encoding the token of {user} failed: {e}"),
    })?;
    let Some(keyring) = keyring else {
        return Ok((None, json));
    };
    let (id, key) = &keyring.current;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| AuthError::flow("the system random number generator failed"))?;
    let mut sealed = json;
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(user, id)),
        &mut sealed,
    )
    .map_err(|_| AuthError::Store {
        message: format!("encrypting the token of {user} failed"),
    })?;
    let mut row = nonce.to_vec();
    row.extend_from_slice(&sealed);
    Ok((Some(id.clone()), row))
}

pub(crate) fn open(
    keyring: Option<&Keyring>,
    user: &UserKey,
    key_id: Option<&str>,
    bytes: &[u8],
) -> Result<Payload, AuthError> {
    let refused = |key_id: &str, reason: &str| AuthError::StoreKey {
        user: user.to_string(),
        key_id: key_id.to_string(),
        reason: reason.to_string(),
    };
    let plain;
    let json: &[u8] = match key_id {
        None => bytes,
        Some(id) => {
            let keyring = keyring.ok_or_else(|| {
                refused(
                    id,
                    "the row is encrypted and the store was given no keyring",
                )
            })?;
            let key = keyring
                .find(id)
                .ok_or_else(|| refused(id, "the keyring has no key with this id"))?;
            if bytes.len() < NONCE_LEN {
                return Err(refused(id, "the row is too short to be sealed"));
            }
            let (nonce, sealed) = bytes.split_at(NONCE_LEN);
            let nonce = Nonce::try_assume_unique_for_key(nonce)
                .map_err(|_| refused(id, "the row's nonce is malformed"))?;
            let mut buf = sealed.to_vec();
            plain = key
                .open_in_place(nonce, Aad::from(aad(user, id)), &mut buf)
                .map_err(|_| {
                    refused(
                        id,
                        "authentication failed: a wrong key under this id, or the row was altered",
                    )
                })?
                .to_vec();
            &plain
        }
    };
    serde_json::from_slice(json).map_err(|e| AuthError::Store {
        message: format!("the stored token of {user} is not readable: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{RefreshToken, StoredToken};

    fn payload() -> Payload {
        Payload {
            token: StoredToken {
                refresh_token: Some(RefreshToken::new("1//secret-refresh")),
                ..StoredToken::default()
            },
            email: Some("ada@example.edu".into()),
        }
    }

    #[test]
    fn sealed_rows_hide_the_token_and_open_only_with_the_right_key_and_user() {
        let user = UserKey::new("t", "1");
        let ring = Keyring::new("k1", &[7; 32]);
        let (id, bytes) = seal(Some(&ring), &user, &payload()).unwrap();
        assert_eq!(id.as_deref(), Some("k1"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("secret-refresh") && !text.contains("ada@"),
            "sealed"
        );
        let back = open(Some(&ring), &user, id.as_deref(), &bytes).unwrap();
        assert_eq!(back.token, payload().token);

        let wrong = Keyring::new("k1", &[8; 32]);
        let err = open(Some(&wrong), &user, Some("k1"), &bytes).err().unwrap();
        assert!(matches!(err, AuthError::StoreKey { .. }), "{err}");
        let err = open(None, &user, Some("k1"), &bytes).err().unwrap();
        assert!(matches!(err, AuthError::StoreKey { .. }), "no key: {err}");
        let other = UserKey::new("t", "2");
        let err = open(Some(&ring), &other, Some("k1"), &bytes).err().unwrap();
        assert!(
            matches!(err, AuthError::StoreKey { .. }),
            "moved row: {err}"
        );
        assert!(!format!("{ring:?}").contains("7, 7"), "Debug shows no key");

        let rotated = Keyring::new("k2", &[9; 32]).with_old_key("k1", &[7; 32]);
        assert!(open(Some(&rotated), &user, Some("k1"), &bytes).is_ok());
    }
}
