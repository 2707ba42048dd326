//! Encryption at rest: AES-256-GCM (ring) under keys the application supplies, and the keyed
//! fingerprints that find a row by its refresh token without storing the token.

use std::fmt;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac};

use super::{Payload, UserKey};
use crate::auth::risc::{PREFIX_CHARS, double_sha512};
use crate::auth::{AuthError, RevokedToken};

/// The keys a store seals its rows with: one current key, which every write uses, and older
/// ones still accepted for reading while rows move to the current key
/// ([`UserTokenStore::rekey`](super::UserTokenStore::rekey)).
///
/// Each key is 32 bytes (AES-256-GCM) with an id of the application's choosing, stored beside
/// each row so that the right key opens it; the id is not secret, the key is. Each row's
/// ciphertext is bound to its user: a row copied onto another user does not open. From each
/// key the store also derives (HKDF-SHA-256) a second key for the row's refresh-token
/// fingerprints (see
/// [`UserTokenStore::find_refresh_token`](super::UserTokenStore::find_refresh_token)), so
/// that a row can be found by its refresh token without the token, or any unkeyed hash of it,
/// in the database.
pub struct Keyring {
    current: Entry,
    old: Vec<Entry>,
}

struct Entry {
    id: String,
    aead: LessSafeKey,
    fingerprint: hmac::Key,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field("old", &self.old.iter().map(|e| &e.id).collect::<Vec<_>>())
            .finish()
    }
}

fn entry(id: String, bytes: &[u8; 32]) -> Entry {
    let aead =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("32 bytes is an AES-256 key"));
    let fingerprint = hkdf::Salt::new(hkdf::HKDF_SHA256, b"classroom-user-token")
        .extract(bytes)
        .expand(&[b"refresh-token fingerprint v1"], hmac::HMAC_SHA256)
        .expect("one HMAC-SHA-256 key is within HKDF-SHA-256's output")
        .into();
    Entry {
        id,
        aead,
        fingerprint,
    }
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
            current: entry(id.into(), key_bytes),
            old: Vec::new(),
        }
    }

    /// Also opens rows sealed with an older key `id`.
    pub fn with_old_key(mut self, id: impl Into<String>, key_bytes: &[u8; 32]) -> Self {
        self.old.push(entry(id.into(), key_bytes));
        self
    }

    /// The current key's id.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    fn entries(&self) -> impl Iterator<Item = &Entry> {
        std::iter::once(&self.current).chain(&self.old)
    }

    fn find(&self, id: &str) -> Option<&LessSafeKey> {
        self.entries().find(|e| e.id == id).map(|e| &e.aead)
    }
}

/// The fingerprint key of rows stored in clear (no keyring). It is public: such a row holds
/// its refresh token in clear, so a fingerprint under it reveals nothing the row does not.
static PLAIN_FINGERPRINT: LazyLock<hmac::Key> = LazyLock::new(|| {
    hmac::Key::new(
        hmac::HMAC_SHA256,
        b"classroom-user-token: a row stored in clear",
    )
});

/// The two forms a RISC `token-revoked` event identifies a refresh token by.
const BY_PREFIX: &[u8] = b"prefix\0";
const BY_HASH: &[u8] = b"hash_base64_sha512_sha512\0";

fn fingerprint(key: &hmac::Key, form: &[u8], identifier: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Context::with_key(key);
    mac.update(form);
    mac.update(identifier);
    mac.sign().as_ref().to_vec()
}

/// A row's refresh-token fingerprints: HMAC-SHA-256, under the key that seals the row, of the
/// token's first 16 characters and of its double SHA-512 (what a `token-revoked` event sends).
/// Empty when the row holds no refresh token. Stored with the row version they were computed
/// at: a row whose version differs (written before fingerprints existed, or since by a program
/// that does not write them) is checked by opening it.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Fingerprints {
    pub(crate) prefix: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

fn fingerprints(key: &hmac::Key, refresh_token: Option<&str>) -> Fingerprints {
    let Some(token) = refresh_token else {
        return Fingerprints::default();
    };
    let prefix: String = token.chars().take(PREFIX_CHARS).collect();
    Fingerprints {
        prefix: fingerprint(key, BY_PREFIX, prefix.as_bytes()),
        hash: fingerprint(key, BY_HASH, &double_sha512(token)),
    }
}

/// Which rows may hold the refresh token an event identifies.
#[derive(Debug, PartialEq)]
pub(crate) enum Lookup {
    /// Rows whose fingerprint column holds one of `candidates` (one per key the store knows,
    /// and the key of rows in clear), and rows whose fingerprints are not current.
    Fingerprints {
        /// `refresh_prefix_fp` or `refresh_hash_fp`.
        column: &'static str,
        candidates: Vec<Vec<u8>>,
    },
    /// Every row: a prefix of other than 16 characters, which no fingerprint covers.
    Scan,
    /// No row: an identifier that matches no token (an unknown algorithm, a prefix under 8
    /// characters, a hash that is not base64 of 64 bytes).
    Nothing,
}

pub(crate) fn lookup(keyring: Option<&Keyring>, token: &RevokedToken) -> Lookup {
    let identifier = token.identifier();
    let (column, form, bytes) = match token.algorithm() {
        "hash_base64_sha512_sha512" => {
            let given = identifier.trim_end_matches('=');
            let hash = STANDARD_NO_PAD
                .decode(given)
                .or_else(|_| URL_SAFE_NO_PAD.decode(given));
            match hash {
                Ok(hash) if hash.len() == 64 => ("refresh_hash_fp", BY_HASH, hash),
                _ => return Lookup::Nothing,
            }
        }
        "prefix" if identifier.chars().count() == PREFIX_CHARS => (
            "refresh_prefix_fp",
            BY_PREFIX,
            identifier.as_bytes().to_vec(),
        ),
        // `RevokedToken::matches` takes a prefix of 8 characters or more.
        "prefix" if identifier.chars().count() >= 8 => return Lookup::Scan,
        _ => return Lookup::Nothing,
    };
    let keys = std::iter::once(&*PLAIN_FINGERPRINT).chain(
        keyring
            .into_iter()
            .flat_map(|k| k.entries().map(|e| &e.fingerprint)),
    );
    Lookup::Fingerprints {
        column,
        candidates: keys.map(|key| fingerprint(key, form, &bytes)).collect(),
    }
}

/// A row as stored: the key id (`None`: plain JSON), the bytes, and the refresh token's
/// fingerprints under the same key.
pub(crate) struct Sealed {
    pub(crate) key_id: Option<String>,
    pub(crate) bytes: Vec<u8>,
    pub(crate) fingerprints: Fingerprints,
}

pub(crate) fn seal(
    keyring: Option<&Keyring>,
    user: &UserKey,
    payload: &Payload,
) -> Result<Sealed, AuthError> {
    let json = serde_json::to_vec(payload).map_err(|e| AuthError::Store {
        message: format!("encoding the token of {user} failed: {e}"),
    })?;
    let refresh = payload.token.refresh_token.as_ref().map(|t| t.secret());
    let Some(keyring) = keyring else {
        return Ok(Sealed {
            key_id: None,
            bytes: json,
            fingerprints: fingerprints(&PLAIN_FINGERPRINT, refresh),
        });
    };
    let Entry {
        id,
        aead,
        fingerprint,
    } = &keyring.current;
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| AuthError::flow("the system random number generator failed"))?;
    let mut sealed = json;
    aead.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(user, id)),
        &mut sealed,
    )
    .map_err(|_| AuthError::Store {
        message: format!("encrypting the token of {user} failed"),
    })?;
    let mut row = nonce.to_vec();
    row.extend_from_slice(&sealed);
    Ok(Sealed {
        key_id: Some(id.clone()),
        bytes: row,
        fingerprints: fingerprints(fingerprint, refresh),
    })
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
        let Sealed {
            key_id: id, bytes, ..
        } = seal(Some(&ring), &user, &payload()).unwrap();
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
        assert_eq!(
            format!("{rotated:?}"),
            r#"Keyring { current: "k2", old: ["k1"] }"#,
            "Debug names the keys by id only"
        );
    }

    /// The fingerprints a row stores are found from what a `token-revoked` event sends, in
    /// either form and either base64 alphabet, under the sealing key or the clear-row key; a
    /// fingerprint under one key is not found under another, and none holds the token, its
    /// prefix or its unkeyed hash.
    #[test]
    fn fingerprints_are_found_by_the_event_identifiers_and_hide_the_token() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let token = "1//0gLx-refresh-token-value-xyz";
        let with_token = Payload {
            token: StoredToken {
                refresh_token: Some(RefreshToken::new(token)),
                ..StoredToken::default()
            },
            email: None,
        };
        let user = UserKey::new("t", "1");
        let k1 = Keyring::new("k1", &[7; 32]);
        let k2 = Keyring::new("k2", &[8; 32]);
        let rotated = Keyring::new("k2", &[8; 32]).with_old_key("k1", &[7; 32]);
        let sealed = seal(Some(&k1), &user, &with_token).unwrap().fingerprints;
        let plain = seal(None, &user, &with_token).unwrap().fingerprints;
        assert_eq!(sealed.hash.len(), 32);
        assert_ne!(sealed, plain, "the key is part of a fingerprint");
        assert_ne!(sealed.prefix, sealed.hash, "the two forms differ");

        let hash = double_sha512(token);
        let hashes = [
            STANDARD.encode(&hash),
            STANDARD_NO_PAD.encode(&hash),
            URL_SAFE.encode(&hash),
            URL_SAFE_NO_PAD.encode(&hash),
        ];
        let candidates = |ring: Option<&Keyring>, alg: &str, id: &str| {
            let revoked = RevokedToken::from_parts("refresh_token", alg, id);
            assert!(revoked.matches(token), "{alg} {id} names the token");
            match lookup(ring, &revoked) {
                Lookup::Fingerprints { column, candidates } => (column, candidates),
                other => panic!("{alg} {id}: {other:?}"),
            }
        };
        for id in &hashes {
            let (column, found) = candidates(Some(&k1), "hash_base64_sha512_sha512", id);
            assert_eq!(column, "refresh_hash_fp");
            assert!(found.contains(&sealed.hash), "{id}");
            assert!(found.contains(&plain.hash), "rows in clear are found too");
            assert!(!found.contains(&sealed.prefix));
            let (_, other_key) = candidates(Some(&k2), "hash_base64_sha512_sha512", id);
            assert!(
                !other_key.contains(&sealed.hash),
                "k2 alone does not find a k1 row"
            );
            let (_, both) = candidates(Some(&rotated), "hash_base64_sha512_sha512", id);
            assert!(
                both.contains(&sealed.hash),
                "an old key on the ring finds its rows"
            );
            assert_eq!(both.len(), 3, "clear, k2 and k1");
        }
        let prefix: String = token.chars().take(16).collect();
        let (column, found) = candidates(Some(&k1), "prefix", &prefix);
        assert_eq!(column, "refresh_prefix_fp");
        assert!(found.contains(&sealed.prefix) && found.contains(&plain.prefix));
        let (_, none) = candidates(None, "prefix", &prefix);
        assert_eq!(
            none,
            vec![plain.prefix.clone()],
            "no keyring: the clear-row key only"
        );

        let stored =
            [&sealed.prefix, &sealed.hash].map(|f| String::from_utf8_lossy(f).into_owned());
        for leak in [token, prefix.as_str(), &hashes[1]] {
            assert!(!stored.iter().any(|s| s.contains(leak)), "{leak}");
        }
        assert!(
            ![&sealed.prefix, &sealed.hash].contains(&&hash),
            "not the unkeyed hash"
        );

        let no_token = seal(Some(&k1), &user, &payload_without_token()).unwrap();
        assert_eq!(
            no_token.fingerprints,
            Fingerprints::default(),
            "empty, not NULL"
        );
    }

    fn payload_without_token() -> Payload {
        Payload {
            token: StoredToken::default(),
            email: Some("ada@example.edu".into()),
        }
    }

    #[test]
    fn identifiers_no_fingerprint_covers_scan_or_find_nothing() {
        let ring = Keyring::new("k1", &[7; 32]);
        let revoked = |alg: &str, id: &str| {
            lookup(
                Some(&ring),
                &RevokedToken::from_parts("refresh_token", alg, id),
            )
        };
        assert_eq!(
            revoked("prefix", "1//0gLx-re"),
            Lookup::Scan,
            "10 characters"
        );
        assert_eq!(revoked("prefix", "1//0gLx-"), Lookup::Scan, "8 characters");
        assert_eq!(
            revoked("prefix", "1//0gLx"),
            Lookup::Nothing,
            "7 match nothing"
        );
        assert_eq!(
            revoked("hash_base64_sha512_sha512", "not base64!"),
            Lookup::Nothing
        );
        assert_eq!(
            revoked(
                "hash_base64_sha512_sha512",
                &STANDARD_NO_PAD.encode([1u8; 32])
            ),
            Lookup::Nothing,
            "a 32-byte hash is no double SHA-512"
        );
        assert_eq!(revoked("rot13", "1//0gLx-refresh-"), Lookup::Nothing);
    }
}
