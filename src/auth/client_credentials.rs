//! The client-credentials grant: app access tokens, renewed on expiry.

use async_trait::async_trait;

use super::cache::{Fetch, TokenCache, cached_credentials};
use super::http::{self, TokenResponse, request_token};
use super::{AuthError, OAuthClient};

/// App access tokens from the client-credentials grant (RFC 6749 §4.4), e.g. against Classy's
/// `POST /oauth2/auth`; renewed when they expire.
///
/// ```no_run
/// use classroom::auth::{ClientCredentials, ClientSecret, OAuthClient, Provider};
///
/// let provider = Provider::new("https://classy.example/authorize", "https://classy.example/oauth2/auth");
/// let client = OAuthClient::new("roster-app", Some(ClientSecret::new("..."))).with_provider(provider);
/// let credentials = ClientCredentials::new(client, ["https://www.googleapis.com/auth/classroom.courses.readonly"]);
/// ```
pub struct ClientCredentials {
    cache: TokenCache<Grant>,
}

cached_credentials!(ClientCredentials);

#[derive(Debug)]
pub(crate) struct Grant {
    client: OAuthClient,
    scopes: Vec<String>,
}

impl ClientCredentials {
    /// Credentials of `client` for `scopes` (none: the server's default scopes).
    pub fn new<I, S>(client: OAuthClient, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let scopes = scopes.into_iter().map(|s| s.as_ref().to_string()).collect();
        ClientCredentials {
            cache: TokenCache::new(Grant { client, scopes }, None),
        }
    }
}

#[async_trait]
impl Fetch for Grant {
    async fn fetch(&self) -> Result<TokenResponse, AuthError> {
        let mut form = vec![("grant_type", "client_credentials".to_string())];
        if !self.scopes.is_empty() {
            form.push(("scope", self.scopes.join(" ")));
        }
        let endpoint = self
            .client
            .token_endpoint("Provider::allow_insecure_http()");
        let grant = http::Grant::ClientCredentials;
        request_token(&endpoint, form, Some(&self.client), &self.scopes, &grant).await
    }
}
