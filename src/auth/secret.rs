//! Secrets as newtypes: their `Debug` never shows them, and reading one takes an explicit
//! `.secret()`.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(secret: impl Into<String>) -> Self {
                $name(secret.into())
            }

            /// The secret itself. Keep it out of logs.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret!(
    /// An OAuth client's secret (`client_secret` in `client_secret.json`).
    ClientSecret
);
secret!(
    /// A refresh token: long-lived, it gets new access tokens without the user.
    RefreshToken
);
secret!(
    /// A Google Cloud API key, sent beside the OAuth token to attribute calls to a project
    /// for quota (`ClassroomBuilder::api_key`). It travels in the `X-Goog-Api-Key` header,
    /// never in a URL, so no URL in an error or a log can show it.
    ApiKey
);

/// Random bytes, base64url without padding: for `state` and the PKCE verifier.
pub(crate) fn random_token(bytes: usize) -> Result<String, super::AuthError> {
    use base64::Engine;
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| super::AuthError::flow("the system random number generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// Whether two strings are equal, in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
