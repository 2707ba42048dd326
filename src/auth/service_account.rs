//! Service accounts: an RS256-signed JWT exchanged for an access token (RFC 7523), with
//! `subject` for domain-wide delegation.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;

use super::cache::{Fetch, TokenCache, cached_credentials};
use super::http::{Endpoint, Grant, TokenResponse, TokenTransport, request_token};
use super::provider::{parse_json, read_file};
use super::{AuthError, Impersonation};

/// A service account key, as downloaded from the Google Cloud console (JSON, `"type":
/// "service_account"`). Its `Debug` never shows the private key.
#[derive(Clone)]
pub struct ServiceAccountKey {
    client_email: String,
    client_id: Option<String>,
    private_key_id: Option<String>,
    token_uri: String,
    key_pair: Arc<ring::signature::RsaKeyPair>,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("client_id", &self.client_id)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl ServiceAccountKey {
    /// Reads a key file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        Self::parse(&path.display().to_string(), &read_file(path)?)
    }

    /// Parses the text of a key file.
    pub fn from_json(json: &str) -> Result<Self, AuthError> {
        Self::parse("service account key", json)
    }

    pub(crate) fn parse(what: &str, json: &str) -> Result<Self, AuthError> {
        #[derive(Deserialize)]
        struct File {
            client_email: String,
            client_id: Option<String>,
            private_key: String,
            private_key_id: Option<String>,
            token_uri: Option<String>,
        }
        // The type first: a file of another kind lacks `client_email`, and saying so would
        // hide that the file is simply not a service-account key.
        #[derive(Deserialize)]
        struct Kind {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        let kind = parse_json::<Kind>(what, json)?.kind;
        if kind.as_deref() != Some("service_account") {
            let advice = match kind.as_deref() {
                Some("authorized_user") => {
                    "it is an authorized-user file (a user's refresh token): read it with \
                     UserCredentials::from_authorized_user_file"
                }
                Some("impersonated_service_account") => {
                    "it is an impersonated-service-account file: use auth::default_credentials \
                     (GOOGLE_APPLICATION_CREDENTIALS) to read it"
                }
                Some("external_account") => {
                    "it is a workload identity federation file, which this SDK does not read"
                }
                _ if json.contains("\"installed\"") || json.contains("\"web\"") => {
                    "it is an OAuth client secret (client_secret.json): read it with \
                     OAuthClient::from_client_secret_file and sign a user in"
                }
                _ => {
                    "create a key for the service account in the Google Cloud console (type \
                     \"service_account\")"
                }
            };
            let kind = kind.map_or("no type".to_string(), |k| format!("type {k:?}"));
            return Err(AuthError::file(
                what,
                format!("it is not a service-account key ({kind}); {advice}"),
            ));
        }
        let file: File = parse_json(what, json)?;
        let bad_key = |message: &str| AuthError::file(what, format!("private_key {message}"));
        let der = PrivateKeyDer::from_pem_slice(file.private_key.as_bytes())
            .map_err(|_| bad_key("is not a PEM private key"))?;
        let key_pair = match &der {
            PrivateKeyDer::Pkcs8(der) => {
                ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            }
            PrivateKeyDer::Pkcs1(der) => {
                ring::signature::RsaKeyPair::from_der(der.secret_pkcs1_der())
            }
            _ => return Err(bad_key("is not an RSA key")),
        }
        .map_err(|e| bad_key(&format!("is not a usable RSA key ({e})")))?;
        Ok(ServiceAccountKey {
            client_email: file.client_email,
            client_id: file.client_id,
            private_key_id: file.private_key_id,
            token_uri: file
                .token_uri
                .unwrap_or_else(|| super::GOOGLE_TOKEN_URI.to_string()),
            key_pair: Arc::new(key_pair),
        })
    }

    /// The service account's email address (the JWT's `iss`).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The service account's OAuth client id (`client_id`), which domain-wide delegation is
    /// granted to in the Admin console.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The token endpoint the key names (`token_uri`).
    pub fn token_uri(&self) -> &str {
        &self.token_uri
    }
}

/// Access tokens for a service account, or, with [`subject`](Self::subject), for a user of
/// the domain the account was granted domain-wide delegation in (how school administrators
/// run roster sync).
///
/// ```no_run
/// # fn run() -> Result<(), classroom::auth::AuthError> {
/// use classroom::Scope;
/// use classroom::auth::{ServiceAccountCredentials, ServiceAccountKey};
///
/// let key = ServiceAccountKey::from_file("service-account.json")?;
/// let credentials = ServiceAccountCredentials::new(key, [Scope::RostersReadonly])
///     .subject("admin@school.example.edu");
/// # Ok(()) }
/// ```
///
/// The token endpoint must use `https` unless it is on loopback (see
/// [`allow_insecure_http`](Self::allow_insecure_http)): a key file whose `token_uri` names a
/// plain-HTTP host elsewhere is refused when a token is first asked for.
pub struct ServiceAccountCredentials {
    cache: TokenCache<Assertion>,
}

cached_credentials!(ServiceAccountCredentials);

pub(crate) struct Assertion {
    signer: Signer,
    scopes: Vec<String>,
    subject: Option<String>,
    token_uri: String,
    allow_http: bool,
    transport: TokenTransport,
}

/// Who signs the assertion: a key file's private key, or IAM's `signJwt` (keyless).
pub(crate) enum Signer {
    Key(ServiceAccountKey),
    Iam(Impersonation),
}

impl Signer {
    fn client_email(&self) -> &str {
        match self {
            Signer::Key(key) => &key.client_email,
            Signer::Iam(iam) => &iam.service_account,
        }
    }
}

impl fmt::Debug for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let signer = match &self.signer {
            Signer::Key(_) => "key file",
            Signer::Iam(_) => "IAM signJwt",
        };
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.signer.client_email())
            .field("signer", &signer)
            .field("scopes", &self.scopes)
            .field("subject", &self.subject)
            .finish()
    }
}

impl ServiceAccountCredentials {
    /// Credentials for `scopes` (each a [`Scope`](crate::Scope) or a URL).
    pub fn new<I, S>(key: ServiceAccountKey, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let token_uri = key.token_uri.clone();
        Self::with_signer(Signer::Key(key), token_uri, scopes)
    }

    /// Keyless: the assertion is signed by the IAM Credentials API's `signJwt` as
    /// `iam`'s service account, with the caller's credentials (the metadata server's,
    /// [`default_credentials`](crate::auth::default_credentials), ...); no key file exists
    /// anywhere. Everything else is as with a key: [`subject`](Self::subject) for domain-wide
    /// delegation (granted to the service account's client id in the Admin console), then
    /// the JWT bearer grant at Google's token endpoint.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), classroom::auth::AuthError> {
    /// use classroom::Scope;
    /// use classroom::auth::{CLOUD_PLATFORM_SCOPE, Impersonation, ServiceAccountCredentials, default_credentials};
    ///
    /// // On Google Cloud: the machine's own service account, allowed to sign for roster-sync.
    /// let ambient = default_credentials([CLOUD_PLATFORM_SCOPE]).await?;
    /// let iam = Impersonation::new("roster-sync@my-project.iam.gserviceaccount.com", ambient);
    /// let credentials = ServiceAccountCredentials::keyless(iam, [Scope::RostersReadonly])
    ///     .subject("admin@school.example.edu");
    /// # Ok(()) }
    /// ```
    pub fn keyless<I, S>(iam: Impersonation, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::with_signer(
            Signer::Iam(iam),
            super::GOOGLE_TOKEN_URI.to_string(),
            scopes,
        )
    }

    fn with_signer<I, S>(signer: Signer, token_uri: String, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ServiceAccountCredentials {
            cache: TokenCache::new(
                Assertion {
                    signer,
                    scopes: scopes.into_iter().map(|s| s.as_ref().to_string()).collect(),
                    subject: None,
                    token_uri,
                    allow_http: false,
                    transport: TokenTransport::default(),
                },
                None,
            ),
        }
    }

    /// Acts as this user of the domain (domain-wide delegation): the JWT's `sub`.
    pub fn subject(mut self, email: impl Into<String>) -> Self {
        self.cache.source.subject = Some(email.into());
        self
    }

    /// Sends the assertion to another token endpoint than the key's `token_uri` (it is also
    /// the JWT's `aud`).
    pub fn token_uri(mut self, uri: impl Into<String>) -> Self {
        self.cache.source.token_uri = uri.into();
        self
    }

    /// Lets the token endpoint use `http://` on a host other than loopback. By default that
    /// is refused with [`AuthError::InsecureEndpoint`] before the assertion is sent, since
    /// anyone on the path could replay it for an hour. Only for a TLS-terminating proxy you
    /// control.
    pub fn allow_insecure_http(mut self) -> Self {
        self.cache.source.allow_http = true;
        self
    }

    /// How long a token call may take in all (default
    /// [`DEFAULT_TOKEN_TIMEOUT`](crate::auth::DEFAULT_TOKEN_TIMEOUT), 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.cache.source.transport.request = timeout;
        self
    }

    /// How long connecting to the token endpoint may take (default
    /// [`DEFAULT_TOKEN_CONNECT_TIMEOUT`](crate::auth::DEFAULT_TOKEN_CONNECT_TIMEOUT), 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.cache.source.transport.connect = timeout;
        self
    }

    /// Sends token calls on your own HTTP client: its proxy, its roots of trust, its pool.
    /// The SDK still sets each call's timeout ([`timeout`](Self::timeout)), refuses a token
    /// endpoint that is not `https` (loopback aside), caps the reply it reads, and keeps
    /// secrets out of errors; `connect_timeout` is then the client's own. Build the client
    /// with `redirect(reqwest::redirect::Policy::none())`: a token endpoint has no business
    /// redirecting a request that carries a secret.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.cache.source.transport.client = Some(client);
        self
    }
}

impl Assertion {
    async fn jwt(&self) -> Result<String, AuthError> {
        let now = Utc::now().timestamp();
        let mut claims = serde_json::json!({
            "iss": self.signer.client_email(),
            "scope": self.scopes.join(" "),
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        if let Some(subject) = &self.subject {
            claims["sub"] = subject.clone().into();
        }
        let key = match &self.signer {
            Signer::Key(key) => key,
            Signer::Iam(iam) => return iam.sign_jwt(&claims).await,
        };
        let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
        if let Some(kid) = &key.private_key_id {
            header["kid"] = kid.clone().into();
        }
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let key = &key.key_pair;
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| AuthError::flow("signing the service account assertion failed"))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

#[async_trait]
impl Fetch for Assertion {
    async fn fetch(&self) -> Result<TokenResponse, AuthError> {
        let form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer".to_string(),
            ),
            ("assertion", self.jwt().await?),
        ];
        let endpoint = Endpoint {
            uri: &self.token_uri,
            allow_http: self.allow_http,
            opt_in: "ServiceAccountCredentials::allow_insecure_http()",
            transport: self.transport.clone(),
        };
        let grant = Grant::JwtBearer {
            subject: self.subject.clone(),
            client_id: match &self.signer {
                Signer::Key(key) => key.client_id.clone(),
                Signer::Iam(_) => None,
            },
            scopes: self.scopes.clone(),
        };
        request_token(&endpoint, form, None, &self.scopes, &grant).await
    }
}
