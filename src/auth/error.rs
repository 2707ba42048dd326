//! [`AuthError`]: why a token could not be had, each case saying what to do next.

/// Why an access token could not be had, or a flow could not go on.
///
/// The OAuth 2.0 error codes Google documents each have their own variant, whose message says
/// what the user or the developer should do. No variant ever holds a secret.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// `invalid_grant` on a refresh: the refresh token is expired or revoked. The stored token
    /// was cleared; the user must go through consent again.
    #[error(
        "the refresh token is no longer valid (invalid_grant{}): it expired or was revoked; the \
         stored token was cleared, so run the authorization flow again with access_type=offline \
         and prompt=consent",
        detail(description)
    )]
    ConsentRequired {
        /// The server's description, if any.
        description: Option<String>,
    },

    /// `invalid_grant` on a code exchange: the authorization code expired (codes live minutes),
    /// was already redeemed, or does not match the PKCE verifier or redirect URI of its
    /// request. Nothing stored was touched; start the authorization again.
    #[error(
        "the authorization code was refused (invalid_grant{}): it expired, was already used, or \
         its PKCE verifier or redirect URI differs from the authorization request's; send the \
         user through the authorization again, and redeem each code once, promptly",
        detail(description)
    )]
    AuthorizationCodeRejected {
        /// The server's description, if any.
        description: Option<String>,
    },

    /// `invalid_grant` on a service account's assertion: a clock off by minutes, a deleted or
    /// disabled key, or (with a subject) a subject that is not a user of the domain.
    #[error("{}", service_account_advice(description, *delegated))]
    ServiceAccountRejected {
        /// The server's description, if any.
        description: Option<String>,
        /// Whether the assertion named a subject (domain-wide delegation).
        delegated: bool,
    },

    /// `unauthorized_client` on a service account acting for a user: domain-wide delegation is
    /// not granted to the service account, or not for every scope requested.
    #[error("{}", delegation_advice(description, client_id.as_deref(), scopes))]
    DelegationNotAuthorized {
        /// The server's description, if any.
        description: Option<String>,
        /// The service account's OAuth client id (`client_id` in the key file), if known.
        client_id: Option<String>,
        /// The scopes requested, which must all be listed for the client id.
        scopes: Vec<String>,
    },

    /// `unauthorized_client`: the OAuth client may not use this grant.
    #[error(
        "the OAuth client may not use the {grant} grant (unauthorized_client{}): allow that grant \
         type for the client on the OAuth server, or use another flow",
        detail(description)
    )]
    UnauthorizedClient {
        /// The grant that was refused, e.g. `client_credentials`.
        grant: &'static str,
        /// The server's description, if any.
        description: Option<String>,
    },

    /// `invalid_client`: the client id or secret is wrong, or the client was deleted.
    #[error(
        "the OAuth client was not accepted (invalid_client{}): check the client id and secret \
         (download client_secret.json again from the Google Cloud console)",
        detail(description)
    )]
    InvalidClient {
        /// The server's description, if any.
        description: Option<String>,
    },

    /// `redirect_uri_mismatch`: the redirect URI is not registered for the client.
    #[error(
        "the redirect URI is not registered for this client (redirect_uri_mismatch{}): add it, exactly, \
         to the OAuth client's authorized redirect URIs",
        detail(description)
    )]
    RedirectUriMismatch {
        /// The server's description, if any.
        description: Option<String>,
    },

    /// `access_denied`: the user (or the server) declined to grant access.
    #[error(
        "access was denied (access_denied{}): the user declined consent; explain why the app needs \
         the scopes and ask again",
        detail(description)
    )]
    AccessDenied {
        /// The server's description, if any.
        description: Option<String>,
    },

    /// `admin_policy_enforced`: a Google Workspace administrator blocks this app or its scopes.
    #[error(
        "the account's Workspace administrator does not allow this app or these scopes \
         (admin_policy_enforced{}): ask the administrator to trust the app in the Admin console",
        detail(description)
    )]
    AdminPolicyEnforced {
        /// The server's description, if any.
        description: Option<String>,
    },

    /// `org_internal`: the OAuth client is limited to users of another Workspace organization.
    #[error(
        "the app is internal to another organization (org_internal{}): sign in with an account of that \
         organization, or make the app's user type External",
        detail(description)
    )]
    OrgInternal {
        /// The server's description, if any.
        description: Option<String>,
    },

    /// `invalid_request`: the request was malformed (a missing or repeated parameter).
    #[error(
        "the OAuth server refused a malformed request (invalid_request{}): check the provider URLs and \
         the client configuration",
        detail(description)
    )]
    InvalidRequest {
        /// The server's description, if any.
        description: Option<String>,
    },

    /// Another OAuth 2.0 error code (`invalid_scope`, `unauthorized_client`, ...).
    #[error("the OAuth server refused the request: {code}{}", detail(description))]
    Rejected {
        /// The OAuth 2.0 error code, e.g. `invalid_scope`.
        code: String,
        /// The server's description, if any.
        description: Option<String>,
    },

    /// The token endpoint could not be reached, or answered 429 or 5xx. Retrying may help.
    #[error("the token endpoint could not be used: {message}; retry later")]
    Unavailable {
        /// What went wrong.
        message: String,
    },

    /// The endpoint is on this machine (loopback) and nothing listens there: the connection was
    /// refused. Not retried, as nothing would answer a few seconds later either.
    #[error(
        "{endpoint} refused the connection (tried once: nothing is listening there, and on this \
         machine nothing would a few seconds later); the address may be wrong (for an emulator, \
         its root URL's /token) or the server is not running"
    )]
    Refused {
        /// The endpoint, without userinfo and with query values blanked.
        endpoint: String,
    },

    /// The server answered with something other than a token or an OAuth error (HTML, bad
    /// JSON, missing fields).
    #[error("the OAuth server's reply (HTTP {status}) is not usable: {message}")]
    MalformedResponse {
        /// The HTTP status of the reply.
        status: u16,
        /// What is wrong with it.
        message: String,
    },

    /// The `state` of the authorization callback is not the one this flow sent: the callback
    /// may be forged (CSRF) or belong to another attempt.
    #[error(
        "the callback's state does not match the authorization request: start the authorization again"
    )]
    StateMismatch,

    /// The authorization callback carries neither a code nor an error.
    #[error("the authorization callback is not usable: {message}")]
    InvalidCallback {
        /// What is wrong with it.
        message: String,
    },

    /// A token or revocation endpoint uses `http://` on a host other than loopback: what would
    /// be sent there (client secret, refresh token, assertion) would cross the network in
    /// clear. Nothing was sent; the message names the setting that allows it.
    #[error("{message}")]
    InsecureEndpoint {
        /// What was refused, and how to allow it.
        message: String,
    },

    /// A redirect URI breaks one of Google's redirect URI rules; no flow was started.
    #[error("redirect URI {uri:?} is not allowed: {message}")]
    InvalidRedirectUri {
        /// The URI as given, without userinfo and with query values blanked.
        uri: String,
        /// Short name of the rule broken: `https`, `raw-ip`, `userinfo`, `fragment`,
        /// `path-traversal`, `wildcard`, `percent-encoding`, `null`, `characters`, `scheme`,
        /// `domain`, `public-suffix`, `shortener`, `open-redirect` or `syntax`.
        rule: &'static str,
        /// The rule, in words.
        message: String,
    },

    /// A credentials file (`client_secret.json`, a service account key, an `authorized_user`
    /// file) could not be read or is not the expected kind.
    #[error("{what} is not usable: {message}")]
    InvalidFile {
        /// Which file, e.g. `client_secret.json` or a path.
        what: String,
        /// What is wrong, and what was expected.
        message: String,
    },

    /// The token store could not be read or written.
    #[error("the token store failed: {message}")]
    Store {
        /// What went wrong.
        message: String,
    },

    /// The ID token of a sign-in that asked for `openid` is missing or did not verify
    /// (signature, issuer, audience, expiry): who signed in is not known, so no tokens are
    /// stored under their name.
    #[error("the ID token was refused: {reason}")]
    IdTokenRejected {
        /// What failed.
        reason: String,
    },

    /// A stored token is encrypted and cannot be opened: the store was given no key, not the
    /// key it was written with (`key_id` names that one), or the row was altered. Nothing is
    /// read from such a row; give the store the key (an old one through
    /// [`Keyring::with_old_key`](super::users::Keyring::with_old_key) during a rotation).
    #[error("the stored token for {user} cannot be decrypted with the key {key_id:?}: {reason}")]
    StoreKey {
        /// The user whose row it is (`tenant/subject`).
        user: String,
        /// The id of the key the row says it was written with.
        key_id: String,
        /// Why it could not be opened.
        reason: String,
    },

    /// [`default_credentials`](super::default_credentials) found no credentials in any of
    /// the places Google's libraries look; each entry of `tried` says where it looked and what
    /// it found.
    #[error("{}", no_default_advice(tried))]
    NoDefaultCredentials {
        /// Each source tried, in order, with what was found there.
        tried: Vec<String>,
    },

    /// The metadata server answered, but not with what was asked for (no service account
    /// attached, scopes the instance lacks, a proxy that is not a metadata server).
    #[error("the metadata server could not be used: {message}")]
    Metadata {
        /// What went wrong.
        message: String,
    },

    /// The IAM Credentials API refused to let the caller act as a service account
    /// (`signJwt`, `generateAccessToken`): the caller lacks the Service Account Token Creator
    /// role on it, its token lacks the `cloud-platform` scope, or the account does not exist.
    #[error(
        "the caller may not act as {service_account} (HTTP {status}, {permission} denied: \
         {message}): grant the caller's principal the Service Account Token Creator role \
         (roles/iam.serviceAccountTokenCreator) on that service account, give its credentials \
         the https://www.googleapis.com/auth/cloud-platform scope, and check the email"
    )]
    ImpersonationDenied {
        /// The service account that was to be acted as.
        service_account: String,
        /// The IAM permission the call needs, e.g. `iam.serviceAccounts.signJwt`.
        permission: &'static str,
        /// The HTTP status of the refusal (401, 403 or 404).
        status: u16,
        /// The server's message.
        message: String,
    },

    /// The flow could not go on: no refresh token on file, loopback listener failure, timeout.
    #[error("{message}")]
    Flow {
        /// What happened and what to do.
        message: String,
    },
}

fn no_default_advice(tried: &[String]) -> String {
    format!(
        "no Application Default Credentials were found; tried, in order: {}. Set \
         GOOGLE_APPLICATION_CREDENTIALS to a credentials file, run `gcloud auth \
         application-default login`, or run on a Google Cloud platform with a service account \
         attached",
        tried.join("; ")
    )
}

fn service_account_advice(description: &Option<String>, delegated: bool) -> String {
    let subject = if delegated {
        ", and that the subject is an existing, active user of the Workspace domain that \
         granted the service account domain-wide delegation (not an alias, a group or an \
         address of another domain)"
    } else {
        ""
    };
    format!(
        "the service account's assertion was refused (invalid_grant{}): check that this \
         machine's clock is right (an assertion issued minutes off is refused), that the key is \
         still active for the service account in the Google Cloud console{subject}",
        detail(description)
    )
}

fn delegation_advice(
    description: &Option<String>,
    client_id: Option<&str>,
    scopes: &[String],
) -> String {
    let id = client_id.map_or_else(
        || "the service account's client ID (client_id in its key file)".to_string(),
        |id| format!("client ID {id}"),
    );
    format!(
        "the service account may not act for users of this domain with these scopes \
         (unauthorized_client{}): a super administrator of the Workspace domain must open the \
         Admin console, Security > Access and data control > API controls > Manage Domain Wide \
         Delegation, and add {id} with exactly these OAuth scopes (comma-separated): {}; a change \
         can take a while to apply",
        detail(description),
        scopes.join(",")
    )
}

fn detail(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl AuthError {
    /// Whether asking again later may succeed (the endpoint was unreachable or overloaded).
    pub fn is_transient(&self) -> bool {
        matches!(self, AuthError::Unavailable { .. })
    }

    /// Whether the user must go through the authorization again: the refresh token is gone or
    /// no longer valid ([`ConsentRequired`](AuthError::ConsentRequired)), or the code of this
    /// authorization cannot be redeemed
    /// ([`AuthorizationCodeRejected`](AuthError::AuthorizationCodeRejected)).
    pub fn is_consent_required(&self) -> bool {
        matches!(
            self,
            AuthError::ConsentRequired { .. } | AuthError::AuthorizationCodeRejected { .. }
        )
    }

    /// The typed error for an OAuth 2.0 error code from a token or revocation endpoint, with
    /// advice that fits the grant that was refused.
    pub(crate) fn from_token_error(
        code: &str,
        description: Option<String>,
        grant: &super::http::Grant,
    ) -> Self {
        use super::http::Grant;
        match (code, grant) {
            ("invalid_grant", Grant::RefreshToken) => AuthError::ConsentRequired { description },
            ("invalid_grant", Grant::AuthorizationCode) => {
                AuthError::AuthorizationCodeRejected { description }
            }
            ("invalid_grant", Grant::JwtBearer { subject, .. }) => {
                AuthError::ServiceAccountRejected {
                    description,
                    delegated: subject.is_some(),
                }
            }
            (
                "unauthorized_client",
                Grant::JwtBearer {
                    subject: Some(_),
                    client_id,
                    scopes,
                },
            ) => AuthError::DelegationNotAuthorized {
                description,
                client_id: client_id.clone(),
                scopes: scopes.clone(),
            },
            ("unauthorized_client", grant) => AuthError::UnauthorizedClient {
                grant: grant.name(),
                description,
            },
            ("invalid_grant", _) => AuthError::Rejected {
                code: code.to_string(),
                description,
            },
            _ => AuthError::from_code(code, description),
        }
    }

    /// The typed error for an OAuth 2.0 error code, from a token endpoint or a callback.
    pub(crate) fn from_code(code: &str, description: Option<String>) -> Self {
        match code {
            "invalid_grant" => AuthError::ConsentRequired { description },
            "invalid_client" => AuthError::InvalidClient { description },
            "redirect_uri_mismatch" => AuthError::RedirectUriMismatch { description },
            "access_denied" => AuthError::AccessDenied { description },
            "admin_policy_enforced" => AuthError::AdminPolicyEnforced { description },
            "org_internal" => AuthError::OrgInternal { description },
            "invalid_request" => AuthError::InvalidRequest { description },
            _ => AuthError::Rejected {
                code: code.to_string(),
                description,
            },
        }
    }

    pub(crate) fn flow(message: impl Into<String>) -> Self {
        AuthError::Flow {
            message: message.into(),
        }
    }

    pub(crate) fn file(what: impl Into<String>, message: impl Into<String>) -> Self {
        AuthError::InvalidFile {
            what: what.into(),
            message: message.into(),
        }
    }
}
