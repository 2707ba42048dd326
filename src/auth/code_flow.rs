//! The web-server authorization-code flow: authorization URL with state and PKCE S256, callback
//! parsing, code exchange, and incremental authorization.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::http::{Grant, request_token};
use super::secret::{constant_time_eq, random_token};
use super::{
    AuthError, IdTokenVerifier, Identity, OAuthClient, TokenStore, UserCredentials,
    validate_redirect_uri,
};

/// The authorization-code flow of one OAuth client with one redirect URI.
///
/// ```no_run
/// # async fn run(query: &str) -> Result<(), classroom::auth::AuthError> {
/// use classroom::Scope;
/// use classroom::auth::{OAuthClient, WebFlow};
///
/// let client = OAuthClient::from_client_secret_file("client_secret.json")?;
/// let flow = WebFlow::new(client, "https://app.example.com/oauth2/callback")?;
/// let (url, pending) = flow
///     .authorize([Scope::CoursesReadonly])
///     .offline(false) // no refresh token on file yet: access_type=offline, prompt=consent
///     .build()?;
/// // Redirect the user to `url`; keep `pending` in the session (it serializes).
/// // On the callback, with the query string it received:
/// let credentials = flow.finish(pending, query).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct WebFlow {
    client: OAuthClient,
    redirect_uri: String,
    store: Option<Arc<dyn TokenStore>>,
    id_tokens: Option<IdTokenVerifier>,
}

impl WebFlow {
    /// A flow redirecting to `redirect_uri`, which must pass Google's redirect URI rules
    /// ([`validate_redirect_uri`]).
    pub fn new(client: OAuthClient, redirect_uri: impl Into<String>) -> Result<Self, AuthError> {
        let redirect_uri = redirect_uri.into();
        validate_redirect_uri(&redirect_uri)?;
        Ok(WebFlow {
            client,
            redirect_uri,
            store: None,
            id_tokens: None,
        })
    }

    /// Saves the tokens the exchange yields, and every later change, to `store`.
    pub fn with_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Verifies the ID tokens of authorizations that ask for `openid` with `verifier`
    /// (default: [`IdTokenVerifier::google`] for this client, right for Google's endpoints;
    /// set one for any other issuer, e.g. the emulator).
    pub fn verify_id_tokens(mut self, verifier: IdTokenVerifier) -> Self {
        self.id_tokens = Some(verifier);
        self
    }

    /// Starts an authorization request for `scopes` (a [`Scope`](crate::Scope) or a URL).
    pub fn authorize<I, S>(&self, scopes: I) -> AuthorizationRequest<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        AuthorizationRequest {
            flow: self,
            scopes: scopes.into_iter().map(|s| s.as_ref().to_string()).collect(),
            access_type: None,
            include_granted_scopes: false,
            login_hint: None,
            prompt: None,
        }
    }

    /// Incremental authorization: from an [`Error::MissingScope`](crate::Error::MissingScope),
    /// a request that adds one scope authorizing the refused method (the first the method
    /// lists) with `include_granted_scopes=true`, so the new token keeps the old scopes.
    /// `None` for any other error.
    pub fn authorize_missing_scope(
        &self,
        error: &crate::Error,
    ) -> Option<AuthorizationRequest<'_>> {
        match error {
            crate::Error::MissingScope { accepted, .. } => {
                let scope = accepted.first()?;
                Some(self.authorize([scope.url()]).include_granted_scopes(true))
            }
            _ => None,
        }
    }

    /// Completes the flow from the callback (its full URL or its query string): checks the
    /// `state` in constant time, maps `error=...` to a typed error, and exchanges the code
    /// with the PKCE verifier.
    ///
    /// `pending` is consumed: one authorization completes once. Where it was kept serialized
    /// (a session, a database row keyed by [`PendingAuthorization::state`]), delete that copy
    /// *before* calling this, so a replayed callback finds nothing to complete.
    ///
    /// A code the server refuses (`invalid_grant`: expired, already used, PKCE or redirect
    /// URI mismatch) fails with [`AuthError::AuthorizationCodeRejected`]. When the flow's
    /// store cannot be written, the credentials are returned all the same, holding the
    /// tokens; [`UserCredentials::store_error`] tells what failed.
    pub async fn finish(
        &self,
        pending: PendingAuthorization,
        callback: &str,
    ) -> Result<UserCredentials, AuthError> {
        let code = pending.check_callback(callback)?;
        self.exchange(pending, &code).await
    }

    pub(crate) async fn exchange(
        &self,
        pending: PendingAuthorization,
        code: &str,
    ) -> Result<UserCredentials, AuthError> {
        let form = vec![
            ("grant_type", "authorization_code".to_string()),
            ("code", code.to_string()),
            ("redirect_uri", pending.redirect_uri.clone()),
            ("code_verifier", pending.pkce_verifier.clone()),
        ];
        let endpoint = self
            .client
            .token_endpoint("Provider::allow_insecure_http()");
        let response = request_token(
            &endpoint,
            form,
            Some(&self.client),
            &pending.scopes,
            &Grant::AuthorizationCode,
        )
        .await?;
        // Who signed in, when `openid` was asked for: the ID token must be there and verify,
        // or no tokens are handed out under a name nobody vouched for.
        let identity = if pending.scopes.iter().any(|s| s == "openid") {
            Some(self.identity(response.id_token.as_deref()).await?)
        } else {
            None
        };
        let scopes = response
            .access_token
            .scopes()
            .map_or_else(|| pending.scopes.clone(), <[String]>::to_vec);
        let credentials = UserCredentials::build(
            self.client.clone(),
            response.refresh_token,
            Some(response.access_token.clone()),
            scopes,
            self.store.clone(),
        )
        .with_identity(identity);
        // The code is spent: the tokens are returned even if the store cannot keep them.
        credentials.persist(&response.access_token).await;
        Ok(credentials)
    }

    async fn identity(&self, id_token: Option<&str>) -> Result<Identity, AuthError> {
        let id_token = id_token.ok_or_else(|| AuthError::IdTokenRejected {
            reason: "the token response has no id_token, though openid was asked for".into(),
        })?;
        match &self.id_tokens {
            Some(verifier) => verifier.verify(id_token).await,
            None => {
                IdTokenVerifier::google(self.client.id.clone())
                    .verify(id_token)
                    .await
            }
        }
    }
}

/// `access_type`: whether the app needs a refresh token to act while the user is away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessType {
    /// A refresh token is issued (on consent).
    Offline,
    /// Access tokens only.
    Online,
}

/// An authorization request being built; [`build`](AuthorizationRequest::build) gives the URL
/// and the pending state to keep until the callback.
#[derive(Debug)]
#[must_use]
pub struct AuthorizationRequest<'a> {
    flow: &'a WebFlow,
    scopes: Vec<String>,
    access_type: Option<AccessType>,
    include_granted_scopes: bool,
    login_hint: Option<String>,
    prompt: Option<String>,
}

impl AuthorizationRequest<'_> {
    /// Sets `access_type`.
    pub fn access_type(mut self, access_type: AccessType) -> Self {
        self.access_type = Some(access_type);
        self
    }

    /// Asks for offline access; without a refresh token on file also `prompt=consent`, since
    /// Google issues a refresh token only on consent. Pass
    /// [`TokenStore::has_refresh_token`] for `refresh_token_on_file`.
    pub fn offline(mut self, refresh_token_on_file: bool) -> Self {
        self.access_type = Some(AccessType::Offline);
        if !refresh_token_on_file {
            self.prompt = Some("consent".into());
        }
        self
    }

    /// Sets `include_granted_scopes`: the new token also holds the scopes granted before.
    pub fn include_granted_scopes(mut self, include: bool) -> Self {
        self.include_granted_scopes = include;
        self
    }

    /// Sets `login_hint` (an email address or `sub`), to preselect the account.
    pub fn login_hint(mut self, hint: impl Into<String>) -> Self {
        self.login_hint = Some(hint.into());
        self
    }

    /// Sets `prompt`: space-separated `none`, `consent`, `select_account`.
    pub fn prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// The authorization URL, and the state to keep (in the user's session) until the callback.
    pub fn build(self) -> Result<(String, PendingAuthorization), AuthError> {
        let flow = self.flow;
        let mut url = reqwest::Url::parse(&flow.client.provider.auth_uri)
            .map_err(|e| AuthError::flow(format!("the provider's auth_uri is not a URL: {e}")))?;
        let pending = PendingAuthorization {
            state: random_token(32)?,
            pkce_verifier: random_token(48)?,
            scopes: self.scopes,
            redirect_uri: flow.redirect_uri.clone(),
        };
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            ring::digest::digest(&ring::digest::SHA256, pending.pkce_verifier.as_bytes()),
        );
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &flow.client.id)
                .append_pair("redirect_uri", &flow.redirect_uri)
                .append_pair("scope", &pending.scopes.join(" "))
                .append_pair("state", &pending.state)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(access_type) = self.access_type {
                let value = match access_type {
                    AccessType::Offline => "offline",
                    AccessType::Online => "online",
                };
                query.append_pair("access_type", value);
            }
            if self.include_granted_scopes {
                query.append_pair("include_granted_scopes", "true");
            }
            if let Some(hint) = &self.login_hint {
                query.append_pair("login_hint", hint);
            }
            if let Some(prompt) = &self.prompt {
                query.append_pair("prompt", prompt);
            }
        }
        Ok((url.into(), pending))
    }
}

/// What a web app keeps between the redirect and the callback: the `state`, the PKCE verifier,
/// the scopes requested and the redirect URI. It serializes (to keep in a session) and is not
/// `Clone`: each one completes one flow. Its `Debug` shows neither state nor verifier.
#[derive(Serialize, Deserialize)]
pub struct PendingAuthorization {
    state: String,
    pkce_verifier: String,
    scopes: Vec<String>,
    redirect_uri: String,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("state", &"[redacted]")
            .field("pkce_verifier", &"[redacted]")
            .field("scopes", &self.scopes)
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

impl PendingAuthorization {
    /// The scopes requested.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The `state` sent with the authorization request, which the callback carries back: a
    /// key to find this pending authorization among several in progress. It is not secret
    /// once the user's browser has it, but it must not be guessable, so keep it out of logs.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// Whether the callback carries exactly one `state`, and it is this request's (compared
    /// in constant time).
    pub(crate) fn state_matches(&self, callback: &str) -> bool {
        let mut states = url::form_urlencoded::parse(callback_query(callback).as_bytes())
            .filter(|(key, _)| key == "state");
        match (states.next(), states.next()) {
            (Some((_, state)), None) => constant_time_eq(&state, &self.state),
            _ => false,
        }
    }

    /// Checks a callback (URL or query string) against this request and returns its code.
    pub(crate) fn check_callback(&self, callback: &str) -> Result<String, AuthError> {
        let query = callback_query(callback);
        let mut code = None;
        let mut state = None;
        let mut error = None;
        let mut description = None;
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut code,
                "state" => &mut state,
                "error" => &mut error,
                "error_description" => &mut description,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(AuthError::InvalidCallback {
                    message: format!("the parameter `{key}` appears twice"),
                });
            }
        }
        match state {
            Some(state) if constant_time_eq(&state, &self.state) => {}
            _ => return Err(AuthError::StateMismatch),
        }
        if let Some(error) = error {
            return Err(AuthError::from_code(&error, description));
        }
        code.filter(|c| !c.is_empty())
            .ok_or_else(|| AuthError::InvalidCallback {
                message: "it has neither `code` nor `error`".into(),
            })
    }
}

/// The query of a callback given as a URL, a target (`/?code=...`) or a bare query string.
fn callback_query(callback: &str) -> &str {
    let query = match callback.split_once('?') {
        Some((_, query)) => query,
        None => callback,
    };
    query.split('#').next().unwrap_or_default()
}
