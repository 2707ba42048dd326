//! Authorization: credentials that yield access tokens, the flows that obtain them, and the
//! scopes they carry.
//!
//! Every call asks its client's [`Credentials`] for an [`AccessToken`]. When the token says
//! which scopes it holds, the request path refuses, before sending, any call that none of
//! them authorizes ([`Error::MissingScope`](crate::Error::MissingScope)); a 401 from the API
//! invalidates the token and the call is retried once with a fresh one. A token whose scopes
//! are unknown ([`BearerToken::unchecked`], chosen by name) skips the scope check; the server
//! then decides.
//!
//! | Flow | Credentials |
//! |---|---|
//! | web server: authorization code + PKCE | [`WebFlow`] → [`UserCredentials`] |
//! | desktop / CLI: loopback | [`InstalledFlow`] → [`UserCredentials`] |
//! | refresh token, `authorized_user` file, [`TokenStore`] | [`UserCredentials`] |
//! | service account key, domain-wide delegation | [`ServiceAccountCredentials::new`] |
//! | no key file: delegation signed by IAM `signJwt` | [`ServiceAccountCredentials::keyless`] |
//! | acting as a service account (IAM `generateAccessToken`) | [`ImpersonatedCredentials`] |
//! | the machine's service account (metadata server) | [`MetadataServerCredentials`] |
//! | whatever the environment provides (ADC) | [`default_credentials`] → [`DefaultCredentials`] |
//! | client credentials (app tokens) | [`ClientCredentials`] |
//! | an access token from elsewhere | [`BearerToken`] |
//!
//! # Which credentials for which deployment
//!
//! - **A web app where teachers or students sign in**: [`WebFlow`] with `access_type=offline`,
//!   a [`TokenStore`] per user (e.g. [`FileStore`], or your database), and
//!   [`UserCredentials::from_store`] on later requests; with many users and several worker
//!   processes, [`users::UserTokens`] over one SQLite or PostgreSQL store for all of them.
//!   Run a [`RiscReceiver`] so that when Google reports a user's account compromised or their
//!   grant revoked, their tokens are dropped
//!   (see [Cross-Account Protection](#cross-account-protection)).
//! - **A desktop tool or CLI**: [`InstalledFlow`] (loopback redirect) with a [`FileStore`].
//!   For a developer's own machine, `gcloud auth application-default login --scopes=...`
//!   and [`default_credentials`] work too.
//! - **A server on Google Cloud** (Compute Engine, GKE, Cloud Run, Cloud Functions) syncing a
//!   school's rosters: no key file. Give the machine a service account, grant it the Service
//!   Account Token Creator role on the service account that holds domain-wide delegation (or
//!   on itself), and use [`ServiceAccountCredentials::keyless`] with
//!   [`default_credentials`]`([CLOUD_PLATFORM_SCOPE])` as the signer's credentials and
//!   `.subject(admin)`. Organizations under Google's "secure by default" policies cannot create
//!   key files at all; this is the way there. For calls that act as the service account itself
//!   (no user), [`ImpersonatedCredentials`] or [`default_credentials`] alone.
//! - **A server elsewhere** (on premises, another cloud): a service account key file,
//!   [`ServiceAccountCredentials::new`] with `.subject(...)`, the file kept secret and rotated;
//!   or `GOOGLE_APPLICATION_CREDENTIALS` pointing at it and [`default_credentials`], so the
//!   same code runs on Google Cloud without the file. (Workload identity federation files,
//!   `external_account`, are not read by this SDK.)
//! - **Other OAuth 2.0 providers** (e.g. Classy): a [`Provider`] with their endpoints, and
//!   [`ClientCredentials`] for app tokens or [`WebFlow`] for users.
//! - **Tests**: the emulator (the `classroom-emulator` crate) serves every one of these flows on loopback,
//!   its metadata server and IAM Credentials API included.
//!
//! Application Default Credentials look, in order, at `GOOGLE_APPLICATION_CREDENTIALS`,
//! gcloud's well-known file, then the metadata server (`GCE_METADATA_HOST` overrides its
//! address); see [`default_credentials`]. They are written on this module's [`Credentials`]
//! trait rather than by wrapping `google-cloud-auth`: that crate brings its own HTTP and TLS
//! stack and token cache, and its tokens do not say which scopes they hold, which the per-call
//! scope check needs; here every source shares one token cache, one TLS configuration (rustls
//! with ring) and the same TLS-only and capped-reply rules.
//!
//! # Cross-Account Protection
//!
//! [`RiscReceiver`] verifies the security event tokens Google pushes and drops the affected
//! user's tokens through a [`TokenRegistry`], a [`UserStoreSubjects`] (many users' tokens in
//! SQLite or PostgreSQL, [`users`]), or your own [`SubjectTokens`]; its docs say how to
//! register the receiving URL with Google, and `examples/risc_receiver.rs` serves one.
//!
//! Providers are data ([`Provider`]): Google's by default, any RFC 6749 server otherwise.
//! Refreshing credentials cache their token, refresh it [`DEFAULT_EXPIRY_SKEW`] before it
//! expires (at most half its lifetime, for short-lived tokens), and let one caller refresh
//! while the others wait for its result and share it. When a refresh fails while the cached
//! token is still valid, that token keeps serving and the refresh is retried after
//! [`REFRESH_RETRY_DELAY`]; the error reaches callers once the token has expired.
//!
//! Token, revocation, IAM Credentials and key-set calls:
//! - go over `https` only, except to loopback hosts, unless the credential was told
//!   `allow_insecure_http()` (refused with [`AuthError::InsecureEndpoint`] before sending);
//!   the metadata server alone is plain HTTP, as it is link-local and speaks nothing else;
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
mod id_token;
mod impersonate;
mod installed;
mod jwt;
mod metadata;
mod provider;
mod redirect;
mod refresh;
mod risc;
mod secret;
mod service_account;
mod store;
mod token;
pub mod users;

pub use adc::{
    ApplicationDefault, CREDENTIALS_ENV, CredentialSource, CredentialsFileKind, DefaultCredentials,
    WELL_KNOWN_FILE, default_credentials,
};
pub use cache::{DEFAULT_EXPIRY_SKEW, REFRESH_RETRY_DELAY, TokenEvent, TokenHook};
pub use classroom_spec::Scope;
pub use client_credentials::ClientCredentials;
pub use code_flow::{AccessType, AuthorizationRequest, PendingAuthorization, WebFlow};
pub use error::AuthError;
pub use http::{DEFAULT_TOKEN_CONNECT_TIMEOUT, DEFAULT_TOKEN_TIMEOUT, TOKEN_REPLY_LIMIT};
pub use id_token::{GOOGLE_ID_TOKEN_ISSUERS, IdTokenVerifier, Identity};
pub use impersonate::{
    CLOUD_PLATFORM_SCOPE, IAM_CREDENTIALS_URI, ImpersonatedCredentials, Impersonation,
};
pub use installed::InstalledFlow;
pub use jwt::{DEFAULT_KEY_REFETCH_FLOOR, GOOGLE_JWKS_URI};
pub(crate) use jwt::{JwtError, JwtVerifier, audiences as jwt_audiences};
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
pub use secret::{ApiKey, ClientSecret, RefreshToken};
pub use service_account::{ServiceAccountCredentials, ServiceAccountKey};
pub use store::{FileStore, MemoryStore, StoredToken, TokenStore};
pub use token::{AccessToken, BearerToken, Credentials};
pub use users::UserStoreSubjects;

pub(crate) use secret::random_token;
