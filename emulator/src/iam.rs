//! The IAM Credentials API's `signJwt` and `generateAccessToken`, with a check of who may act
//! as which service account (Google's Service Account Token Creator role).
//!
//! A caller is the principal of its access token: the service account a token was issued to
//! (metadata server, JWT bearer, `generateAccessToken`), else the user it acts for. By default
//! the metadata server's account ([`demo::METADATA_SERVICE_ACCOUNT`]) may act as the demo
//! service account ([`demo::SERVICE_ACCOUNT`]); [`Emulator::allow_token_creator`] and
//! [`Emulator::deny_token_creator`] change that.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::errors::Status;
use crate::server::{Reply, Req};
use crate::store::{State, TokenGrant};
use crate::{Emulator, Shared, demo};

/// The scopes that let a token call the IAM Credentials API.
const IAM_SCOPES: [&str; 2] = [
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/iam",
];

/// Who may act as whom: (principal, service account) pairs.
#[derive(Debug)]
pub(crate) struct TokenCreators(BTreeSet<(String, String)>);

impl Default for TokenCreators {
    fn default() -> Self {
        TokenCreators(BTreeSet::from([(
            demo::METADATA_SERVICE_ACCOUNT.to_string(),
            demo::SERVICE_ACCOUNT.to_string(),
        )]))
    }
}

/// The demo service account's key pair, which signs what `signJwt` signs for it.
fn signing_key(service_account: &str) -> Option<Arc<ring::signature::RsaKeyPair>> {
    static KEY: OnceLock<Option<Arc<ring::signature::RsaKeyPair>>> = OnceLock::new();
    if service_account != demo::SERVICE_ACCOUNT {
        return None;
    }
    KEY.get_or_init(|| {
        let der = crate::seed::service_account_der()?;
        ring::signature::RsaKeyPair::from_pkcs8(&der)
            .ok()
            .map(Arc::new)
    })
    .clone()
}

/// Signs `claims` as an RS256 JWT with `key`, naming `kid`.
pub(crate) fn sign(key: &ring::signature::RsaKeyPair, kid: &str, claims: &Value) -> String {
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": kid });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    // Signing with a valid key into a buffer of the modulus' size does not fail.
    key.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .expect("RS256 signing");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// `/v1/projects/-/serviceAccounts/{email}:{method}`: the method's name and the email.
fn route(path: &str) -> Option<(&'static str, String)> {
    let rest = path.strip_prefix("/v1/projects/")?;
    let (_, tail) = rest.split_once("/serviceAccounts/")?;
    let (email, method) = tail.rsplit_once(':')?;
    let method = match method {
        "signJwt" => "iam.signJwt",
        "generateAccessToken" => "iam.generateAccessToken",
        _ => return None,
    };
    Some((method, crate::server::decode(email)))
}

/// The endpoint's name, for fault matching, if `path` is an IAM Credentials method.
pub(crate) fn endpoint(path: &str) -> Option<&'static str> {
    route(path).map(|(name, _)| name)
}

/// The principal a token acts as for IAM: the service account it was issued to, else its
/// user's email.
fn principal(state: &State, grant: &TokenGrant) -> String {
    if grant.client_id.ends_with(".gserviceaccount.com") {
        grant.client_id.clone()
    } else {
        state
            .user_by_id(&grant.user)
            .map(|u| u.email.clone())
            .unwrap_or_default()
    }
}

fn bearer<'a>(req: &'a Req<'_>) -> Option<&'a str> {
    let value = req
        .headers
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

pub(crate) fn handle(shared: &Shared, req: &Req<'_>) -> Reply {
    match call(shared, req) {
        Ok(value) => Reply::json(200, &value),
        Err(status) => Reply::error(&status),
    }
}

fn call(shared: &Shared, req: &Req<'_>) -> Result<Value, Status> {
    let Some((method, target)) = route(req.path) else {
        return Err(Status::not_found("The requested URL was not found."));
    };
    if req.verb != "POST" {
        return Err(Status::not_found(format!(
            "Method {} is not defined for this path.",
            req.verb
        )));
    }
    let token = bearer(req).ok_or_else(|| Status::unauthenticated(true))?;
    let mut state = shared.state();
    let grant = state
        .tokens
        .get(token)
        .filter(|g| g.expires > SystemTime::now())
        .cloned()
        .ok_or_else(|| Status::unauthenticated(false))?;
    if !grant
        .scopes
        .iter()
        .any(|s| IAM_SCOPES.contains(&s.as_str()))
    {
        return Err(Status::scope_insufficient(
            "google.iam.credentials.v1.IAMCredentials",
        ));
    }
    let body: Value = serde_json::from_slice(req.body)
        .map_err(|e| Status::invalid(format!("Invalid JSON payload received. {e}")))?;
    let permission = match method {
        "iam.signJwt" => "iam.serviceAccounts.signJwt",
        _ => "iam.serviceAccounts.getAccessToken",
    };
    // The chain: caller -> each delegate -> target, each allowed to act as the next.
    let mut chain = vec![principal(&state, &grant)];
    for delegate in body["delegates"].as_array().into_iter().flatten() {
        let name = delegate.as_str().unwrap_or_default();
        chain.push(name.rsplit('/').next().unwrap_or_default().to_string());
    }
    chain.push(target.clone());
    let creators = &state.token_creators.0;
    if chain
        .windows(2)
        .any(|pair| !creators.contains(&(pair[0].clone(), pair[1].clone())))
    {
        return Err(Status::denied(format!(
            "Permission '{permission}' denied on resource (or it may not exist)."
        )));
    }
    if !state.service_accounts.contains_key(&target) {
        return Err(Status::not_found(format!(
            "Service account projects/-/serviceAccounts/{target} does not exist."
        )));
    }
    if method == "iam.signJwt" {
        let payload = body["payload"]
            .as_str()
            .ok_or_else(|| Status::invalid("payload is required."))?;
        let claims: Value = serde_json::from_str(payload)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| Status::invalid("The payload is not a JSON object."))?;
        let now = unix_now();
        if claims["exp"]
            .as_i64()
            .is_some_and(|exp| exp > now + 12 * 3600)
        {
            return Err(Status::invalid(
                "The exp claim must be at most 12 hours in the future.",
            ));
        }
        let key = signing_key(&target).ok_or_else(|| {
            Status::precondition("The service account has no key the emulator can sign with.")
        })?;
        return Ok(json!({
            "keyId": "emulator-demo-key",
            "signedJwt": sign(&key, "emulator-demo-key", &claims),
        }));
    }
    let scopes: Vec<String> = body["scope"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    if scopes.is_empty() {
        return Err(Status::invalid("scope is required."));
    }
    if let Some(bad) = scopes.iter().find(|s| !crate::oauth::known_scope(s)) {
        return Err(Status::invalid(format!("Unknown scope: {bad}")));
    }
    let lifetime = match body["lifetime"].as_str() {
        None => 3600,
        Some(text) => text
            .strip_suffix('s')
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| (1..=12 * 3600).contains(s))
            .ok_or_else(|| Status::invalid("lifetime must be between 1s and 43200s."))?,
    };
    // A service account's own token acts as the domain admin, as the JWT bearer grant
    // without a subject does.
    let admin = state
        .user(demo::ADMIN, "")
        .map(|u| u.id.clone())
        .unwrap_or_default();
    let access = crate::oauth::random_token("ya29.emu-");
    let expires = SystemTime::now() + Duration::from_secs(lifetime);
    state.add_token(
        access.clone(),
        TokenGrant {
            user: admin,
            scopes,
            expires,
            client_id: target,
            refresh: None,
        },
    );
    let expire_time = chrono::DateTime::<chrono::Utc>::from(expires)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Ok(json!({ "accessToken": access, "expireTime": expire_time }))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64
}

impl Emulator {
    /// The IAM Credentials API's root URL (the emulator's root), for the `classroom` SDK's
    /// `Impersonation::endpoint`.
    pub fn iam_url(&self) -> String {
        self.shared.base.clone()
    }

    /// Lets `principal` (a service account or user email) act as `service_account` through
    /// `signJwt` and `generateAccessToken` (Google's Service Account Token Creator role).
    pub fn allow_token_creator(&self, principal: &str, service_account: &str) {
        self.shared
            .state()
            .token_creators
            .0
            .insert((principal.to_string(), service_account.to_string()));
    }

    /// Takes that permission away again (including the default grant).
    pub fn deny_token_creator(&self, principal: &str, service_account: &str) {
        self.shared
            .state()
            .token_creators
            .0
            .remove(&(principal.to_string(), service_account.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_the_method_and_the_account() {
        assert_eq!(
            route("/v1/projects/-/serviceAccounts/sa%40p.iam.gserviceaccount.com:signJwt"),
            Some(("iam.signJwt", "sa@p.iam.gserviceaccount.com".to_string()))
        );
        assert_eq!(
            route(
                "/v1/projects/-/serviceAccounts/sa@p.iam.gserviceaccount.com:generateAccessToken"
            )
            .map(|r| r.0),
            Some("iam.generateAccessToken")
        );
        assert_eq!(route("/v1/courses"), None);
        assert_eq!(route("/v1/projects/-/serviceAccounts/x:delete"), None);
    }
}
