//! The one verifier of Google-signed JWTs: RS256 signatures checked against a published JWK
//! set, fetched and cached. Cross-Account Protection's security event tokens
//! ([`RiscReceiver`](super::RiscReceiver)) and Pub/Sub push OIDC tokens
//! ([`PushVerifier`](crate::push::PushVerifier)) both go through it; each then checks the
//! claims its own kind of token must carry.
//!
//! What it enforces, whatever the token is for:
//!
//! - three base64url parts, the header JSON with `alg: RS256` (`none`, `HS256` and every
//!   other algorithm are refused before any key is looked at: a public key used as an HMAC
//!   secret proves nothing) and a `kid`;
//! - the key named by `kid` from the set at `jwks_uri`, cached for the set's `max-age`
//!   (60 s to a day, an hour without one); a `kid` not in the cache makes it fetch the set
//!   again, but never more often than the refetch floor, so tokens naming made-up keys cannot
//!   make it hammer the key server;
//! - the signature over `header.payload` with that key; only then are the claims decoded.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;
use tokio::time::Instant;

use super::AuthError;
use super::http::{self, Endpoint, TokenTransport};

/// Where Google publishes the keys that sign its ID tokens, security event tokens and the
/// OIDC tokens Pub/Sub attaches to pushes.
pub const GOOGLE_JWKS_URI: &str = "https://www.googleapis.com/oauth2/v3/certs";

/// After a token names an unknown key, the keys are fetched again at most this often (the
/// default refetch floor).
pub const DEFAULT_KEY_REFETCH_FLOOR: Duration = Duration::from_secs(30);

/// Why a JWT's form or signature was refused. Claims are the caller's to check.
#[derive(Debug)]
pub(crate) enum JwtError {
    /// Not a JWT, or a part is not base64url JSON.
    Malformed(String),
    /// `alg` other than RS256.
    UnsupportedAlgorithm(String),
    /// No published key has the `kid`, even after the allowed refetch.
    UnknownKey(String),
    /// The signature does not verify.
    BadSignature,
    /// The key set could not be had.
    Keys(AuthError),
}

#[derive(Default)]
struct Keys {
    /// `kid` to (modulus, exponent), big-endian.
    keys: HashMap<String, (Vec<u8>, Vec<u8>)>,
    fresh_until: Option<Instant>,
    fetched_at: Option<Instant>,
}

/// Verifies RS256 JWTs against a JWK set. See the [module docs](self).
pub(crate) struct JwtVerifier {
    pub(crate) jwks_uri: String,
    pub(crate) allow_http: bool,
    pub(crate) transport: TokenTransport,
    pub(crate) refetch_floor: Duration,
    /// The setter a caller names to allow plain HTTP, for the error message.
    opt_in: &'static str,
    keys: tokio::sync::Mutex<Keys>,
    fetches: std::sync::atomic::AtomicU64,
}

impl JwtVerifier {
    pub(crate) fn new(jwks_uri: impl Into<String>, opt_in: &'static str) -> Self {
        JwtVerifier {
            jwks_uri: jwks_uri.into(),
            allow_http: false,
            transport: TokenTransport::default(),
            refetch_floor: DEFAULT_KEY_REFETCH_FLOOR,
            opt_in,
            keys: tokio::sync::Mutex::default(),
            fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// How many times the key set was fetched (successfully or not).
    pub(crate) fn key_fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// A GET of `uri` under the verifier's transport rules; 200 or an error.
    pub(crate) async fn get(&self, uri: &str) -> Result<http::Reply, AuthError> {
        let endpoint = Endpoint {
            uri,
            allow_http: self.allow_http,
            opt_in: self.opt_in,
            transport: self.transport.clone(),
        };
        let reply = http::call(&endpoint, reqwest::Method::GET, None, &[], None).await?;
        if reply.status != 200 {
            return Err(AuthError::Unavailable {
                message: format!("{} answered HTTP {}", reply.shown, reply.status),
            });
        }
        Ok(reply)
    }

    /// Verifies `token`'s form and signature; returns its claims.
    pub(crate) async fn verify(&self, token: &str) -> Result<Value, JwtError> {
        let malformed = |m: &str| JwtError::Malformed(m.to_string());
        let mut parts = token.trim().split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("not a JWT (three dot-separated parts)"));
        };
        let header = json(h).ok_or_else(|| malformed("the JWT header is not base64url JSON"))?;
        let alg = header["alg"].as_str().unwrap_or_default();
        if alg != "RS256" {
            return Err(JwtError::UnsupportedAlgorithm(crate::net::excerpt(
                alg.as_bytes(),
                20,
            )));
        }
        let kid = header["kid"]
            .as_str()
            .ok_or_else(|| malformed("the JWT header has no kid"))?;
        let signature = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| malformed("the JWT signature is not base64url"))?;
        let (n, e) = self.key(kid).await?;
        ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                format!("{h}.{p}").as_bytes(),
                &signature,
            )
            .map_err(|_| JwtError::BadSignature)?;
        // Only now, signed by the issuer's key, is the content worth reading.
        json(p).ok_or_else(|| malformed("the JWT payload is not base64url JSON"))
    }

    /// The key `kid`, fetching the key set when it is stale or lacks that key (at most once
    /// per refetch floor for unknown keys).
    async fn key(&self, kid: &str) -> Result<(Vec<u8>, Vec<u8>), JwtError> {
        let mut keys = self.keys.lock().await;
        let now = Instant::now();
        let stale = keys.fresh_until.is_none_or(|until| now >= until);
        let missing = !keys.keys.contains_key(kid);
        let may_refetch = keys
            .fetched_at
            .is_none_or(|at| now.duration_since(at) >= self.refetch_floor);
        if stale || (missing && may_refetch) {
            self.fetches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match self.fetch_keys().await {
                Ok((fetched, ttl)) => {
                    keys.keys = fetched;
                    keys.fetched_at = Some(now);
                    keys.fresh_until = now.checked_add(ttl);
                }
                // Keys still held serve through a failed fetch.
                Err(error) if keys.keys.is_empty() => return Err(JwtError::Keys(error)),
                Err(_) => keys.fetched_at = Some(now),
            }
        }
        keys.keys
            .get(kid)
            .cloned()
            .ok_or_else(|| JwtError::UnknownKey(crate::net::excerpt(kid.as_bytes(), 80)))
    }

    async fn fetch_keys(
        &self,
    ) -> Result<(HashMap<String, (Vec<u8>, Vec<u8>)>, Duration), AuthError> {
        let reply = self.get(&self.jwks_uri).await?;
        let ttl = reply
            .headers
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(',')
                    .find_map(|d| d.trim().strip_prefix("max-age=")?.parse::<u64>().ok())
            })
            .map_or(Duration::from_secs(3600), |s| {
                Duration::from_secs(s.clamp(60, 24 * 3600))
            });
        #[derive(Deserialize)]
        struct Set {
            keys: Vec<Jwk>,
        }
        #[derive(Deserialize)]
        struct Jwk {
            kty: String,
            kid: Option<String>,
            n: Option<String>,
            e: Option<String>,
            alg: Option<String>,
        }
        let set: Set =
            serde_json::from_slice(&reply.body).map_err(|e| AuthError::MalformedResponse {
                status: reply.status,
                message: format!("not a JWK set: {}", crate::net::json_error(&e)),
            })?;
        let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok();
        let keys = set
            .keys
            .into_iter()
            .filter(|k| k.kty == "RSA" && k.alg.as_deref().is_none_or(|a| a == "RS256"))
            .filter_map(|k| Some((k.kid?, (b64(k.n.as_deref()?)?, b64(k.e.as_deref()?)?))))
            .collect();
        Ok((keys, ttl))
    }
}

fn json(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// The `aud` claim as a list (a string or an array of strings).
pub(crate) fn audiences(claims: &Value) -> Vec<String> {
    match &claims["aud"] {
        Value::String(aud) => vec![aud.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}
