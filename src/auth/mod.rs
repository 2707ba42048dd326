//! Authorization: credentials that yield access tokens, the flows that obtain them, and the
//! scopes they carry.
//!
//! Every call asks its client's [`Credentials`] for an [`AccessToken`]. When the token says
//! which scopes it holds, the request path refuses, before sending, any call that none of
//! them authorizes ([`Error::MissingScope`](crate::Error::MissingScope)); a 401 from the API
//! invalidates the token and the call is retried once with a fresh one. A token whose scopes
//! are unknown (a [`BearerToken`] without [`with_scopes`](BearerToken::with_scopes)) skips the
//! scope check; the server then decides.
//!
//! | Flow | Credentials |
//! |---|---|
//! | web server: authorization code + PKCE | [`WebFlow`] → [`UserCredentials`] |
//! | desktop / CLI: loopback | [`InstalledFlow`] → [`UserCredentials`] |
//! | refresh token, `authorized_user` file, [`TokenStore`] | [`UserCredentials`] |
//! | service account, domain-wide delegation | [`ServiceAccountCredentials`] |
//! | client credentials (app tokens) | [`ClientCredentials`] |
//! | an access token from elsewhere | [`BearerToken`] |
//!
//! Providers are data ([`Provider`]): Google's by default, any RFC 6749 server otherwise.
//! Refreshing credentials cache their token, refresh it [`DEFAULT_EXPIRY_SKEW`] before it
//! expires (at most half its lifetime, for short-lived tokens), and let one caller refresh
//! while the others wait for its result and share it. When a refresh fails while the cached
//! token is still valid, that token keeps serving and the refresh is retried after
//! [`REFRESH_RETRY_DELAY`]; the error reaches callers once the token has expired.
//!
//! Token and revocation calls:
//! - go over `https` only, except to loopback hosts, unless the credential was told
//!   `allow_insecure_http()` (refused with [`AuthError::InsecureEndpoint`] before sending);
//! - time out after [`DEFAULT_TOKEN_TIMEOUT`] (connecting: [`DEFAULT_TOKEN_CONNECT_TIMEOUT`]),
//!   set per client with [`OAuthClient::timeout`] and [`OAuthClient::connect_timeout`];
//! - read at most [`TOKEN_REPLY_LIMIT`] bytes of reply, and accept only `Bearer` tokens;
//! - never follow redirects, and never put a secret we sent (or a URL's userinfo or query
//!   values) into an error.

mod adc;
mod cache;
mod client_credentials;
mod code_flow;
mod error;
mod http;
mod impersonate;
mod installed;
mod metadata;
mod provider;
mod redirect;
mod refresh;
mod risc;
mod scopes;
mod secret;
mod service_account;
mod store;
mod token;

pub use adc::{
    ApplicationDefault, CREDENTIALS_ENV, CredentialSource, CredentialsFileKind, DefaultCredentials,
    WELL_KNOWN_FILE, default_credentials,
};
pub use cache::{DEFAULT_EXPIRY_SKEW, REFRESH_RETRY_DELAY, TokenEvent, TokenHook};
pub use client_credentials::ClientCredentials;
pub use code_flow::{AccessType, AuthorizationRequest, PendingAuthorization, WebFlow};
pub use error::AuthError;
pub use http::{DEFAULT_TOKEN_CONNECT_TIMEOUT, DEFAULT_TOKEN_TIMEOUT, TOKEN_REPLY_LIMIT};
pub use impersonate::{
    CLOUD_PLATFORM_SCOPE, IAM_CREDENTIALS_URI, ImpersonatedCredentials, Impersonation,
};
pub use installed::InstalledFlow;
pub use metadata::{
    METADATA_DETECT_TIMEOUT, METADATA_HOST, METADATA_HOST_ENV, MetadataServerCredentials,
};
pub use provider::{
    ClientAuth, ClientKind, GOOGLE_AUTH_URI, GOOGLE_REVOKE_URI, GOOGLE_TOKEN_URI, OAuthClient,
    Provider,
};
pub use redirect::{URL_SHORTENERS, validate_redirect_uri};
pub use refresh::UserCredentials;
pub use risc::{
    CLOCK_LEEWAY, DEFAULT_MAX_EVENT_AGE, Effect, GOOGLE_RISC_CONFIGURATION, GOOGLE_RISC_ISSUER,
    GOOGLE_RISC_JWKS_URI, MAX_EVENT_TOKEN, Receipt, RevokedToken, RiscError, RiscReceiver,
    SecurityEvent, SubjectTokens, TokenRegistry,
};
pub use scopes::Scope;
pub use secret::{ClientSecret, RefreshToken};
pub use service_account::{ServiceAccountCredentials, ServiceAccountKey};
pub use store::{FileStore, MemoryStore, StoredToken, TokenStore};
pub use token::{AccessToken, BearerToken, Credentials};

pub(crate) use scopes::authorizes;
