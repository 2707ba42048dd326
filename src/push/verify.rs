//! The OIDC token Pub/Sub attaches to each push, verified.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::PushError;
use crate::auth::{JwtError, JwtVerifier};

/// The issuer of Google's OIDC tokens, as Pub/Sub's tokens spell it; `accounts.google.com`
/// (no scheme) is accepted too.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// How far a token's `exp` and `iat` may be off (clock differences), by default.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// The longest token accepted in an `Authorization` header (Google's are about 1 KB).
const MAX_TOKEN: usize = 16 * 1024;

/// Who pushed: the claims of a verified token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PushIdentity {
    /// The service account the push subscription authenticates as (`email`).
    pub email: String,
    /// Its account id (`sub`).
    pub subject: String,
    /// When the token was issued.
    pub issued_at: DateTime<Utc>,
    /// When it expires.
    pub expires_at: DateTime<Utc>,
}

/// Verifies the OIDC token of a Pub/Sub push (`Authorization: Bearer ...`).
///
/// A push subscription with authentication enabled makes Pub/Sub sign, for each push, a
/// Google OIDC token for a service account you name, with the audience you configure
/// (by default the push endpoint's URL). [`verify`](PushVerifier::verify) accepts it only if
///
/// - it is RS256, signed by a key Google publishes (the shared verifier of Google-signed
///   JWTs: keys cached, fetched again for an unknown key id at most every
///   [refetch floor](PushVerifier::key_refetch_floor));
/// - `iss` is `https://accounts.google.com` or `accounts.google.com`;
/// - `aud` is the configured audience;
/// - `email` is the configured service account and `email_verified` is true;
/// - `exp` has not passed and `iat` is not in the future, each within the
///   [leeway](PushVerifier::leeway).
///
/// ```no_run
/// # async fn run(authorization: Option<&str>) -> Result<(), classroom::push::PushError> {
/// use classroom::push::PushVerifier;
///
/// let verifier = PushVerifier::new(
///     "https://example.com/classroom/push",
///     "push-invoker@my-project.iam.gserviceaccount.com",
/// );
/// let who = verifier.verify(authorization).await?;
/// # Ok(()) }
/// ```
pub struct PushVerifier {
    audience: String,
    service_account: String,
    issuers: Vec<String>,
    leeway: Duration,
    jwt: JwtVerifier,
}

impl fmt::Debug for PushVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushVerifier")
            .field("audience", &self.audience)
            .field("service_account", &self.service_account)
            .field("issuers", &self.issuers)
            .field("jwks_uri", &self.jwt.jwks_uri)
            .finish_non_exhaustive()
    }
}

impl PushVerifier {
    /// Accepts tokens for `audience` (the subscription's configured audience) naming the
    /// service account `service_account`.
    pub fn new(audience: impl Into<String>, service_account: impl Into<String>) -> Self {
        PushVerifier {
            audience: audience.into(),
            service_account: service_account.into(),
            issuers: vec![GOOGLE_ISSUER.to_string(), "accounts.google.com".to_string()],
            leeway: DEFAULT_LEEWAY,
            jwt: JwtVerifier::new(
                crate::auth::GOOGLE_JWKS_URI,
                "PushVerifier::allow_insecure_http()",
            ),
        }
    }

    /// Fetches the signing keys from here (default
    /// [`GOOGLE_JWKS_URI`](crate::auth::GOOGLE_JWKS_URI); the emulator publishes its own).
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwt.jwks_uri = uri.into();
        self
    }

    /// After a token names an unknown key, fetches the keys again at most this often (default
    /// [`DEFAULT_KEY_REFETCH_FLOOR`](crate::auth::DEFAULT_KEY_REFETCH_FLOOR)).
    pub fn key_refetch_floor(mut self, floor: Duration) -> Self {
        self.jwt.refetch_floor = floor;
        self
    }

    /// How far `exp` and `iat` may be off (default [`DEFAULT_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Lets the key URL use `http://` off loopback (refused by default).
    pub fn allow_insecure_http(mut self) -> Self {
        self.jwt.allow_http = true;
        self
    }

    /// How many times the key set has been fetched, for monitoring the refetch floor.
    pub fn key_fetches(&self) -> u64 {
        self.jwt.key_fetches()
    }

    /// Verifies the value of the push request's `Authorization` header. See [`PushVerifier`].
    pub async fn verify(&self, authorization: Option<&str>) -> Result<PushIdentity, PushError> {
        let token = authorization
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or(PushError::Unauthenticated)?;
        if token.len() > MAX_TOKEN {
            return Err(PushError::InvalidToken {
                message: "the token is longer than 16 KiB".into(),
            });
        }
        let claims = self.jwt.verify(token).await.map_err(|e| match e {
            JwtError::Malformed(message) => PushError::InvalidToken { message },
            JwtError::UnsupportedAlgorithm(alg) => PushError::UnsupportedAlgorithm { alg },
            JwtError::UnknownKey(kid) => PushError::UnknownKey { kid },
            JwtError::BadSignature => PushError::BadSignature,
            JwtError::Keys(error) => PushError::Keys {
                message: error.to_string(),
            },
        })?;
        let shown = |s: &str| crate::net::excerpt(s.as_bytes(), 200);
        let issuer = claims["iss"].as_str().unwrap_or_default();
        if !self.issuers.iter().any(|i| i == issuer) {
            return Err(PushError::WrongIssuer {
                issuer: shown(issuer),
            });
        }
        let audience = crate::auth::jwt_audiences(&claims);
        if !audience.contains(&self.audience) {
            return Err(PushError::WrongAudience {
                audience: audience.iter().map(|a| shown(a)).collect(),
                expected: self.audience.clone(),
            });
        }
        let email = claims["email"].as_str().unwrap_or_default();
        if !email.eq_ignore_ascii_case(&self.service_account) {
            return Err(PushError::WrongServiceAccount {
                email: shown(email),
                expected: self.service_account.clone(),
            });
        }
        let verified = match &claims["email_verified"] {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(s) => s == "true",
            _ => false,
        };
        if !verified {
            return Err(PushError::EmailNotVerified);
        }
        let number = |name: &str| {
            claims[name]
                .as_i64()
                .ok_or_else(|| PushError::InvalidToken {
                    message: format!("the token has no numeric {name}"),
                })
        };
        let (exp, iat) = (number("exp")?, number("iat")?);
        let now = Utc::now().timestamp();
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        if now > exp.saturating_add(leeway) {
            return Err(PushError::Expired {
                seconds_ago: now.saturating_sub(exp),
            });
        }
        if iat > now.saturating_add(leeway) {
            return Err(PushError::IssuedInFuture {
                seconds_ahead: iat.saturating_sub(now),
            });
        }
        Ok(PushIdentity {
            email: email.to_string(),
            subject: claims["sub"].as_str().unwrap_or_default().to_string(),
            issued_at: DateTime::from_timestamp(iat, 0).unwrap_or_default(),
            expires_at: DateTime::from_timestamp(exp, 0).unwrap_or_default(),
        })
    }
}
