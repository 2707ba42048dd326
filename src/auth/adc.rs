//! Application Default Credentials: the credentials Google's libraries find on their own, in
//! their order.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::http::TokenTransport;
use super::impersonate::CLOUD_PLATFORM_SCOPE;
use super::metadata::{self, METADATA_DETECT_TIMEOUT, METADATA_HOST, METADATA_HOST_ENV};
use super::provider::{parse_json, read_file};
use super::{
    AccessToken, AuthError, Credentials, ImpersonatedCredentials, Impersonation,
    MetadataServerCredentials, ServiceAccountCredentials, ServiceAccountKey, UserCredentials,
};

/// The environment variable naming a credentials file.
pub const CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";

/// The file `gcloud auth application-default login` writes, in gcloud's configuration
/// directory.
pub const WELL_KNOWN_FILE: &str = "application_default_credentials.json";

/// Finds credentials the way Google's client libraries do ([`ApplicationDefault`] with the
/// process environment):
///
/// 1. the file named by `GOOGLE_APPLICATION_CREDENTIALS` (a `service_account` key, an
///    `authorized_user` file, or an `impersonated_service_account` file); set but unreadable
///    or invalid is an error, not a reason to look further;
/// 2. gcloud's well-known file: `$CLOUDSDK_CONFIG/application_default_credentials.json`, else
///    `~/.config/gcloud/application_default_credentials.json` (on Windows
///    `%APPDATA%\gcloud\application_default_credentials.json`), written by
///    `gcloud auth application-default login`;
/// 3. the metadata server of Google's compute platforms (`GCE_METADATA_HOST`, else
///    `metadata.google.internal`), if it answers within [`METADATA_DETECT_TIMEOUT`]
///    (skipped when `NO_GCE_CHECK=true`); tokens are asked for with `scopes`.
///
/// Nothing found is [`AuthError::NoDefaultCredentials`], listing each place and what was
/// there.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use classroom::{Classroom, Scope};
///
/// let credentials = classroom::auth::default_credentials([Scope::CoursesReadonly]).await?;
/// println!("using {}", credentials.source());
/// let classroom = Classroom::new(credentials)?;
/// # Ok(()) }
/// ```
pub async fn default_credentials<I, S>(scopes: I) -> Result<DefaultCredentials, AuthError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    ApplicationDefault::new(scopes).find().await
}

/// Reads an environment variable.
type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// The search [`default_credentials`] runs, with what it reads made explicit: the environment
/// (replaceable with [`env`](Self::env), so tests need not change the process's) and the
/// metadata server's detection timeout.
pub struct ApplicationDefault {
    scopes: Vec<String>,
    env: EnvLookup,
    detect_timeout: Duration,
}

impl fmt::Debug for ApplicationDefault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplicationDefault")
            .field("scopes", &self.scopes)
            .field("detect_timeout", &self.detect_timeout)
            .finish_non_exhaustive()
    }
}

impl ApplicationDefault {
    /// A search for credentials for `scopes` in the process environment.
    pub fn new<I, S>(scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        ApplicationDefault {
            scopes: scopes.into_iter().map(|s| s.as_ref().to_string()).collect(),
            env: Box::new(|name| std::env::var(name).ok()),
            detect_timeout: METADATA_DETECT_TIMEOUT,
        }
    }

    /// Reads environment variables (`GOOGLE_APPLICATION_CREDENTIALS`, `CLOUDSDK_CONFIG`,
    /// `HOME`, `APPDATA`, `GCE_METADATA_HOST`, `NO_GCE_CHECK`) through `lookup` instead of
    /// the process environment.
    pub fn env(mut self, lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Box::new(lookup);
        self
    }

    /// How long the metadata server has to answer (default [`METADATA_DETECT_TIMEOUT`]).
    pub fn metadata_detect_timeout(mut self, timeout: Duration) -> Self {
        self.detect_timeout = timeout;
        self
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|v| !v.trim().is_empty())
    }

    /// gcloud's well-known file, if a home or config directory is known.
    fn well_known_file(&self) -> Option<PathBuf> {
        if let Some(config) = self.var("CLOUDSDK_CONFIG") {
            return Some(Path::new(&config).join(WELL_KNOWN_FILE));
        }
        if cfg!(windows) {
            return self
                .var("APPDATA")
                .map(|dir| Path::new(&dir).join("gcloud").join(WELL_KNOWN_FILE));
        }
        self.var("HOME").map(|home| {
            Path::new(&home)
                .join(".config")
                .join("gcloud")
                .join(WELL_KNOWN_FILE)
        })
    }

    /// Runs the search.
    pub async fn find(self) -> Result<DefaultCredentials, AuthError> {
        let mut tried = Vec::new();
        match self.var(CREDENTIALS_ENV) {
            Some(path) => {
                let path = PathBuf::from(path);
                let (credentials, kind) = from_file(&path, &self.scopes)?;
                return Ok(DefaultCredentials {
                    inner: credentials,
                    source: CredentialSource::EnvironmentFile { path, kind },
                });
            }
            None => tried.push(format!("{CREDENTIALS_ENV}: not set")),
        }
        match self.well_known_file() {
            Some(path) if path.is_file() => {
                let (credentials, kind) = from_file(&path, &self.scopes)?;
                return Ok(DefaultCredentials {
                    inner: credentials,
                    source: CredentialSource::WellKnownFile { path, kind },
                });
            }
            Some(path) => tried.push(format!(
                "gcloud's well-known file {}: not found",
                path.display()
            )),
            None => tried.push(
                "gcloud's well-known file: neither CLOUDSDK_CONFIG nor a home directory is set"
                    .into(),
            ),
        }
        let host = self
            .var(METADATA_HOST_ENV)
            .unwrap_or_else(|| METADATA_HOST.to_string());
        if self
            .var("NO_GCE_CHECK")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
        {
            tried.push("the metadata server: not checked (NO_GCE_CHECK=true)".into());
            return Err(AuthError::NoDefaultCredentials { tried });
        }
        let transport = TokenTransport {
            request: self.detect_timeout,
            connect: self.detect_timeout,
            client: None,
        };
        match metadata::email(&host, transport).await {
            Ok(service_account) => Ok(DefaultCredentials {
                inner: Arc::new(MetadataServerCredentials::with_host(
                    host.clone(),
                    &self.scopes,
                )),
                source: CredentialSource::MetadataServer {
                    host,
                    service_account,
                },
            }),
            Err(error) => {
                tried.push(format!(
                    "the metadata server at {host} (detection timeout {:?}): {error}",
                    self.detect_timeout
                ));
                Err(AuthError::NoDefaultCredentials { tried })
            }
        }
    }
}

/// The kinds of credentials file Application Default Credentials reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsFileKind {
    /// A service account key (`"type": "service_account"`).
    ServiceAccount,
    /// A user's refresh token (`"type": "authorized_user"`), as `gcloud auth
    /// application-default login` writes.
    AuthorizedUser,
    /// Impersonation of a service account by other credentials
    /// (`"type": "impersonated_service_account"`), as `gcloud auth application-default login
    /// --impersonate-service-account` writes.
    ImpersonatedServiceAccount,
}

/// The file's `type`, as the file writes it: `service_account`, `authorized_user`,
/// `impersonated_service_account`.
impl fmt::Display for CredentialsFileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CredentialsFileKind::ServiceAccount => "service_account",
            CredentialsFileKind::AuthorizedUser => "authorized_user",
            CredentialsFileKind::ImpersonatedServiceAccount => "impersonated_service_account",
        })
    }
}

/// Where [`default_credentials`] found credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The file `GOOGLE_APPLICATION_CREDENTIALS` names.
    EnvironmentFile {
        /// The file.
        path: PathBuf,
        /// What it holds.
        kind: CredentialsFileKind,
    },
    /// gcloud's well-known file.
    WellKnownFile {
        /// The file.
        path: PathBuf,
        /// What it holds.
        kind: CredentialsFileKind,
    },
    /// The metadata server.
    MetadataServer {
        /// Its host (`host` or `host:port`).
        host: String,
        /// The email of the service account attached to the machine.
        service_account: String,
    },
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::EnvironmentFile { path, kind } => write!(
                f,
                "{kind} credentials from {} ({CREDENTIALS_ENV})",
                path.display()
            ),
            CredentialSource::WellKnownFile { path, kind } => write!(
                f,
                "{kind} credentials from gcloud's well-known file {}",
                path.display()
            ),
            CredentialSource::MetadataServer {
                host,
                service_account,
            } => write!(
                f,
                "service account {service_account} from the metadata server at {host}"
            ),
        }
    }
}

/// Credentials found by [`default_credentials`], and where they were found.
#[derive(Clone)]
pub struct DefaultCredentials {
    inner: Arc<dyn Credentials>,
    source: CredentialSource,
}

impl fmt::Debug for DefaultCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultCredentials")
            .field("source", &self.source)
            .field("credentials", &self.inner)
            .finish()
    }
}

impl DefaultCredentials {
    /// Where they were found.
    pub fn source(&self) -> &CredentialSource {
        &self.source
    }

    /// The credentials, to share between clients.
    pub fn shared(&self) -> Arc<dyn Credentials> {
        self.inner.clone()
    }
}

#[async_trait]
impl Credentials for DefaultCredentials {
    async fn access_token(&self) -> Result<AccessToken, AuthError> {
        self.inner.access_token().await
    }

    async fn invalidate(&self, token: &AccessToken) {
        self.inner.invalidate(token).await
    }
}

fn from_file(
    path: &Path,
    scopes: &[String],
) -> Result<(Arc<dyn Credentials>, CredentialsFileKind), AuthError> {
    let what = path.display().to_string();
    let json = read_file(path)?;
    let value: serde_json::Value = parse_json(&what, &json)?;
    from_json(&what, &value, scopes)
}

fn from_json(
    what: &str,
    value: &serde_json::Value,
    scopes: &[String],
) -> Result<(Arc<dyn Credentials>, CredentialsFileKind), AuthError> {
    let json = value.to_string();
    match value["type"].as_str().unwrap_or_default() {
        "service_account" => {
            let key = ServiceAccountKey::parse(what, &json)?;
            Ok((
                Arc::new(ServiceAccountCredentials::new(key, scopes)),
                CredentialsFileKind::ServiceAccount,
            ))
        }
        "authorized_user" => Ok((
            Arc::new(UserCredentials::parse_authorized_user(what, &json)?),
            CredentialsFileKind::AuthorizedUser,
        )),
        "impersonated_service_account" => Ok((
            Arc::new(impersonated(what, value, scopes)?),
            CredentialsFileKind::ImpersonatedServiceAccount,
        )),
        "" => Err(AuthError::file(what, "it has no \"type\"")),
        other => Err(AuthError::file(
            what,
            format!(
                "its type {:?} is not supported (supported: service_account, authorized_user, \
                 impersonated_service_account; for workload identity federation \
                 (external_account), obtain a token with Google's tooling and use BearerToken)",
                crate::net::excerpt(other.as_bytes(), 40)
            ),
        )),
    }
}

fn impersonated(
    what: &str,
    value: &serde_json::Value,
    scopes: &[String],
) -> Result<ImpersonatedCredentials, AuthError> {
    #[derive(Deserialize)]
    struct File {
        service_account_impersonation_url: String,
        source_credentials: serde_json::Value,
        #[serde(default)]
        delegates: Vec<String>,
    }
    let file: File = parse_json(what, &value.to_string())?;
    // `{root}v1/projects/-/serviceAccounts/{email}:generateAccessToken`
    let url = &file.service_account_impersonation_url;
    let bad_url = || {
        AuthError::file(
            what,
            "service_account_impersonation_url is not an IAM Credentials generateAccessToken URL",
        )
    };
    let (root, rest) = url.split_once("v1/projects/").ok_or_else(bad_url)?;
    let email = rest
        .split_once("/serviceAccounts/")
        .map(|(_, tail)| tail)
        .and_then(|tail| tail.strip_suffix(":generateAccessToken"))
        .map(|email| {
            percent_encoding::percent_decode_str(email)
                .decode_utf8_lossy()
                .into_owned()
        })
        .filter(|email| !email.is_empty() && !email.contains('/'))
        .ok_or_else(bad_url)?;
    let nested = format!("{what} (source_credentials)");
    let source = match file.source_credentials["type"].as_str() {
        Some("service_account" | "authorized_user") => {
            from_json(
                &nested,
                &file.source_credentials,
                &[CLOUD_PLATFORM_SCOPE.to_string()],
            )?
            .0
        }
        _ => {
            return Err(AuthError::file(
                nested,
                "its type must be service_account or authorized_user",
            ));
        }
    };
    let delegates = file.delegates.into_iter().map(|d| {
        d.strip_prefix("projects/-/serviceAccounts/")
            .map(str::to_string)
            .unwrap_or(d)
    });
    let iam = Impersonation::shared(email, source)
        .endpoint(root)
        .delegates(delegates);
    Ok(ImpersonatedCredentials::new(iam, scopes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_reads_with_the_files_own_type_not_rusts() {
        let env = CredentialSource::EnvironmentFile {
            path: PathBuf::from("/etc/key.json"),
            kind: CredentialsFileKind::ServiceAccount,
        };
        assert_eq!(
            env.to_string(),
            "service_account credentials from /etc/key.json (GOOGLE_APPLICATION_CREDENTIALS)"
        );
        let gcloud = CredentialSource::WellKnownFile {
            path: PathBuf::from("adc.json"),
            kind: CredentialsFileKind::ImpersonatedServiceAccount,
        };
        assert_eq!(
            gcloud.to_string(),
            "impersonated_service_account credentials from gcloud's well-known file adc.json"
        );
        assert_eq!(
            CredentialsFileKind::AuthorizedUser.to_string(),
            "authorized_user"
        );
    }
}
