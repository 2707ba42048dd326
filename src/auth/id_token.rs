//! ID tokens: who Google says signed in. When an authorization asks for `openid`, the code
//! exchange returns an ID token; [`IdTokenVerifier`] checks it with the same verifier of
//! Google-signed JWTs as Cross-Account Protection (signature against the published keys,
//! RS256 only), then its issuer, audience and expiry, and yields an [`Identity`]: the `sub`
//! that keys a user's tokens ([`UserKey`](super::users::UserKey)) and that a RISC event names.

use std::fmt;
use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;

use super::jwt::{JwtError, JwtVerifier};
use super::{AuthError, GOOGLE_JWKS_URI};

/// The issuers Google's ID tokens carry.
pub const GOOGLE_ID_TOKEN_ISSUERS: [&str; 2] =
    ["https://accounts.google.com", "accounts.google.com"];

/// How far a token's `exp` and `iat` may be off this machine's clock.
const LEEWAY_SECONDS: i64 = 300;

/// The verified claims of an ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The user's stable id at the issuer (`sub`): the key to store their tokens under, and
    /// the subject RISC events name.
    pub subject: String,
    /// Their email (`email`), when the `email` scope was granted.
    pub email: Option<String>,
    /// Whether the issuer verified that email (`email_verified`).
    pub email_verified: bool,
    /// Their Google Workspace domain (`hd`), if any: the school.
    pub hosted_domain: Option<String>,
    /// Who issued the token (`iss`).
    pub issuer: String,
}

impl Identity {
    fn from_claims(claims: &Value) -> Option<Identity> {
        let text = |k: &str| claims[k].as_str().map(str::to_string);
        Some(Identity {
            subject: text("sub").filter(|s| !s.is_empty())?,
            email: text("email"),
            email_verified: claims["email_verified"].as_bool().unwrap_or(false)
                || claims["email_verified"].as_str() == Some("true"),
            hosted_domain: text("hd"),
            issuer: text("iss")?,
        })
    }
}

/// Verifies ID tokens issued to one OAuth client. Keys are fetched from the issuer's JWK set
/// and cached, as for security event tokens.
#[derive(Clone)]
pub struct IdTokenVerifier {
    audience: String,
    issuers: Vec<String>,
    jwt: Arc<JwtVerifier>,
}

impl fmt::Debug for IdTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenVerifier")
            .field("audience", &self.audience)
            .field("issuers", &self.issuers)
            .field("jwks_uri", &self.jwt.jwks_uri)
            .finish()
    }
}

impl IdTokenVerifier {
    /// Google's ID tokens for the OAuth client `client_id` (their `aud`).
    pub fn google(client_id: impl Into<String>) -> Self {
        IdTokenVerifier {
            audience: client_id.into(),
            issuers: GOOGLE_ID_TOKEN_ISSUERS.map(String::from).to_vec(),
            jwt: Arc::new(JwtVerifier::new(
                GOOGLE_JWKS_URI,
                "IdTokenVerifier::allow_insecure_http()",
            )),
        }
    }

    /// Another issuer (the emulator, another OpenID provider): its `iss` and JWK set URL.
    pub fn issuer(mut self, issuer: impl Into<String>, jwks_uri: impl Into<String>) -> Self {
        self.issuers = vec![issuer.into()];
        let mut jwt = JwtVerifier::new(jwks_uri, "IdTokenVerifier::allow_insecure_http()");
        jwt.allow_http = self.jwt.allow_http;
        self.jwt = Arc::new(jwt);
        self
    }

    /// Lets the JWK set come over plain `http://` from a host other than loopback.
    pub fn allow_insecure_http(mut self) -> Self {
        let mut jwt = JwtVerifier::new(
            self.jwt.jwks_uri.clone(),
            "IdTokenVerifier::allow_insecure_http()",
        );
        jwt.allow_http = true;
        self.jwt = Arc::new(jwt);
        self
    }

    /// Checks `token`'s signature, issuer, audience and expiry; its identity.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let rejected = |reason: String| AuthError::IdTokenRejected { reason };
        let claims = self.jwt.verify(token).await.map_err(|e| match e {
            JwtError::Keys(error) => error,
            JwtError::Malformed(m) => rejected(m),
            JwtError::UnsupportedAlgorithm(alg) => rejected(format!("alg {alg:?} is not RS256")),
            JwtError::UnknownKey(kid) => rejected(format!("no published key has kid {kid:?}")),
            JwtError::BadSignature => rejected("the signature does not verify".into()),
        })?;
        let iss = claims["iss"].as_str().unwrap_or_default();
        if !self.issuers.iter().any(|i| i == iss) {
            return Err(rejected(format!(
                "the issuer {iss:?} is not {:?}",
                self.issuers
            )));
        }
        if !super::jwt::audiences(&claims).contains(&self.audience) {
            return Err(rejected(format!(
                "it was issued to another client, not {}",
                self.audience
            )));
        }
        let now = Utc::now().timestamp();
        match claims["exp"].as_i64() {
            Some(exp) if exp + LEEWAY_SECONDS > now => {}
            Some(_) => return Err(rejected("it has expired".into())),
            None => return Err(rejected("it has no exp".into())),
        }
        if claims["iat"]
            .as_i64()
            .is_some_and(|iat| iat - LEEWAY_SECONDS > now)
        {
            return Err(rejected("it was issued in the future (iat)".into()));
        }
        Identity::from_claims(&claims).ok_or_else(|| rejected("it has no sub or no iss".into()))
    }
}
