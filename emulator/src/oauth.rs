//! Google-shaped OAuth 2.0 endpoints: authorize (scripted consent), token (authorization code
//! with PKCE, refresh token, client credentials, JWT bearer), revoke and tokeninfo; and the
//! routing to the other identity endpoints: IAM Credentials ([`iam`](crate::iam)), the
//! metadata server ([`metadata`](crate::metadata)) and Cross-Account Protection
//! ([`risc`](crate::risc)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SecureRandom;
use serde_json::{Value, json};

use crate::server::{Reply, Req, parse_query};
use crate::store::{CodeGrant, RefreshGrant, State, TokenGrant};
use crate::{Consent, Decision, Shared, demo};
use classroom_spec::Scope;

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Scopes the authorize and token endpoints accept besides Classroom's.
const IDENTITY_SCOPES: [&str; 7] = [
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
    // What credentials calling the IAM Credentials API (keyless delegation) hold.
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/iam",
];

/// The name of an OAuth endpoint, for fault matching, if `path` is one.
pub(crate) fn endpoint(path: &str) -> Option<&'static str> {
    match path {
        "/o/oauth2/v2/auth" | "/o/oauth2/auth" => Some("oauth.authorize"),
        "/token" | "/oauth2/v4/token" => Some("oauth.token"),
        "/revoke" | "/o/oauth2/revoke" => Some("oauth.revoke"),
        "/tokeninfo" | "/oauth2/v3/tokeninfo" => Some("oauth.tokeninfo"),
        _ => crate::iam::endpoint(path)
            .or_else(|| crate::metadata::endpoint(path))
            .or_else(|| crate::risc::endpoint(path)),
    }
}

/// A random token with a prefix, 32 bytes of entropy.
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    // SystemRandom only fails where the OS has no randomness at all.
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS provides randomness");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random number in [0, 1).
pub(crate) fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    let _ = ring::rand::SystemRandom::new().fill(&mut bytes);
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn handle(shared: &Shared, req: &Req<'_>) -> Reply {
    match endpoint(req.path) {
        Some("oauth.authorize") => authorize(shared, req),
        Some("oauth.token") if req.verb == "POST" => token(shared, req),
        Some("oauth.revoke") if matches!(req.verb, "POST" | "GET") => revoke(shared, req),
        Some("oauth.tokeninfo") => tokeninfo(shared, req),
        Some(name) if name.starts_with("iam.") => crate::iam::handle(shared, req),
        Some(name) if name.starts_with("metadata.") => crate::metadata::handle(shared, req),
        Some(name) if name.starts_with("risc.") => crate::risc::handle(shared, req),
        _ => oauth_error(405, "invalid_request", "Use POST for this endpoint."),
    }
}

fn oauth_error(status: u16, code: &str, description: &str) -> Reply {
    Reply::json(
        status,
        &json!({"error": code, "error_description": description}),
    )
    .with_header("cache-control", "no-store")
}

fn form(req: &Req<'_>) -> Vec<(String, String)> {
    let mut pairs = parse_query(req.query);
    if req.verb == "POST" {
        pairs.extend(parse_query(&String::from_utf8_lossy(req.body)));
    }
    pairs
}

fn get<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

pub(crate) fn known_scope(scope: &str) -> bool {
    Scope::from_url(scope).is_some() || IDENTITY_SCOPES.contains(&scope)
}

fn split_scopes(scopes: &str) -> Vec<String> {
    scopes.split_whitespace().map(str::to_string).collect()
}

fn is_loopback_redirect(uri: &str) -> bool {
    ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|prefix| {
            uri.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        })
}

/// The authorization page: answers at once with the scripted consent as a redirect.
fn authorize(shared: &Shared, req: &Req<'_>) -> Reply {
    let params = form(req);
    let page = |status: u16, message: &str| Reply {
        status,
        headers: vec![("content-type", "text/plain; charset=utf-8".into())],
        body: bytes::Bytes::from(format!("Error {status}: {message}\n")),
    };
    let client_id = get(&params, "client_id").unwrap_or_default();
    let state = shared.state();
    if !state.clients.iter().any(|c| c.id == client_id) {
        return page(401, "invalid_client: The OAuth client was not found.");
    }
    let Some(redirect) = get(&params, "redirect_uri") else {
        return page(
            400,
            "invalid_request: Missing required parameter: redirect_uri",
        );
    };
    if !is_loopback_redirect(redirect) {
        return page(
            400,
            "redirect_uri_mismatch: The emulator's demo client accepts loopback redirect URIs \
             (http://127.0.0.1:PORT/..., http://localhost:PORT/...).",
        );
    }
    drop(state);
    let redirect_with = |pairs: &[(&str, &str)]| {
        let mut location = redirect.to_string();
        let mut sep = if location.contains('?') { '&' } else { '?' };
        for (k, v) in pairs {
            location.push(sep);
            sep = '&';
            location.push_str(k);
            location.push('=');
            location.extend(percent_encoding::utf8_percent_encode(
                v,
                percent_encoding::NON_ALPHANUMERIC,
            ));
        }
        Reply {
            status: 302,
            headers: vec![("location", location)],
            body: bytes::Bytes::new(),
        }
    };
    let csrf = get(&params, "state").unwrap_or_default();
    let with_state = |mut pairs: Vec<(&'static str, String)>| {
        if !csrf.is_empty() {
            pairs.push(("state", csrf.to_string()));
        }
        let borrowed: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        redirect_with(&borrowed)
    };
    if get(&params, "response_type") != Some("code") {
        return with_state(vec![("error", "unsupported_response_type".into())]);
    }
    let requested = split_scopes(get(&params, "scope").unwrap_or_default());
    if requested.is_empty() {
        return page(400, "invalid_request: Missing required parameter: scope");
    }
    if let Some(bad) = requested.iter().find(|s| !known_scope(s)) {
        return page(
            400,
            &format!("invalid_scope: Some requested scopes were invalid: {bad}"),
        );
    }
    let challenge = match (
        get(&params, "code_challenge"),
        get(&params, "code_challenge_method").unwrap_or("plain"),
    ) {
        (None, _) => None,
        (Some(c), m @ ("S256" | "plain")) => Some((c.to_string(), m.to_string())),
        (Some(_), _) => {
            return with_state(vec![("error", "invalid_request".into())]);
        }
    };
    let consent = shared.next_consent().unwrap_or_else(Consent::grant_all);
    let granted: Vec<String> = match &consent.decision {
        Decision::Deny => return with_state(vec![("error", "access_denied".into())]),
        Decision::GrantAll => requested.clone(),
        Decision::Grant(some) => requested
            .iter()
            .filter(|s| some.contains(s) || IDENTITY_SCOPES.contains(&s.as_str()))
            .cloned()
            .collect(),
    };
    let mut state = shared.state();
    let who = consent
        .user
        .as_deref()
        .or(get(&params, "login_hint"))
        .unwrap_or(demo::ADMIN);
    let Some(user) = state.user(who, "").map(|u| u.id.clone()) else {
        return page(
            400,
            &format!("access_denied: No user {who} in the demo domain."),
        );
    };
    // Incremental authorization: earlier grants to this client come along when asked for.
    let remembered = state
        .granted
        .entry((user.clone(), client_id.to_string()))
        .or_default();
    for scope in &granted {
        if !remembered.contains(scope) {
            remembered.push(scope.clone());
        }
    }
    let granted = if get(&params, "include_granted_scopes") == Some("true") {
        remembered.clone()
    } else {
        granted
    };
    let code = random_token("4/emu-");
    state.add_code(
        code.clone(),
        CodeGrant {
            user,
            scopes: granted.clone(),
            client_id: client_id.to_string(),
            redirect_uri: redirect.to_string(),
            challenge,
            offline: get(&params, "access_type") != Some("online"),
            expires: SystemTime::now() + Duration::from_secs(600),
        },
    );
    drop(state);
    with_state(vec![
        ("code", code),
        ("scope", granted.join(" ")),
        ("authuser", "0".into()),
        ("prompt", "consent".into()),
    ])
}

/// The client authenticated by HTTP Basic or by form fields.
fn client_auth(state: &State, req: &Req<'_>, params: &[(String, String)]) -> Result<String, Reply> {
    // RFC 6749 §5.2: a 401 for client authentication says how to authenticate.
    let unauthorized = || {
        oauth_error(401, "invalid_client", "The OAuth client was not found.")
            .with_header("www-authenticate", "Basic realm=\"emulator\"")
    };
    let (id, secret) = match req
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Basic ")
                .or_else(|| v.strip_prefix("basic "))
        }) {
        Some(encoded) => {
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(unauthorized)?;
            let (id, secret) = decoded.split_once(':').ok_or_else(unauthorized)?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before joining.
            (
                crate::server::decode(id),
                Some(crate::server::decode(secret)),
            )
        }
        None => (
            get(params, "client_id").unwrap_or_default().to_string(),
            get(params, "client_secret").map(str::to_string),
        ),
    };
    let client = state
        .clients
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(unauthorized)?;
    match (&client.secret, secret) {
        (None, _) => Ok(id),
        (Some(expected), Some(given)) if *expected == given => Ok(id),
        _ => Err(unauthorized()),
    }
}

pub(crate) fn issue(
    state: &mut State,
    user: String,
    scopes: Vec<String>,
    client_id: String,
    refresh: Option<String>,
) -> Value {
    let access = random_token("ya29.emu-");
    let lifetime = state.token_lifetime;
    state.add_token(
        access.clone(),
        TokenGrant {
            user,
            scopes: scopes.clone(),
            expires: SystemTime::now() + lifetime,
            client_id,
            refresh,
        },
    );
    json!({
        "access_token": access,
        "expires_in": lifetime.as_secs(),
        "scope": scopes.join(" "),
        "token_type": "Bearer",
    })
}

fn token(shared: &Shared, req: &Req<'_>) -> Reply {
    let params = form(req);
    let mut state = shared.state();
    let result = match get(&params, "grant_type") {
        Some("authorization_code") => code_grant(&mut state, &shared.base, req, &params),
        Some("refresh_token") => refresh_grant(&mut state, req, &params),
        Some("client_credentials") => client_credentials(&mut state, req, &params),
        Some(JWT_BEARER) => jwt_grant(&mut state, &shared.base, &params),
        Some(other) => Err(oauth_error(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        )),
        None => Err(oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: grant_type",
        )),
    };
    match result {
        Ok(body) => Reply::json(200, &body).with_header("cache-control", "no-store"),
        Err(reply) => reply,
    }
}

fn code_grant(
    state: &mut State,
    base: &str,
    req: &Req<'_>,
    params: &[(String, String)],
) -> Result<Value, Reply> {
    let client = client_auth(state, req, params)?;
    let code = get(params, "code")
        .ok_or_else(|| oauth_error(400, "invalid_request", "Missing required parameter: code"))?;
    // A code is single-use: it is gone whether or not the exchange succeeds.
    let grant = state
        .codes
        .remove(code)
        .filter(|g| g.expires > SystemTime::now())
        .ok_or_else(|| oauth_error(400, "invalid_grant", "Malformed auth code."))?;
    if grant.client_id != client {
        return Err(oauth_error(
            400,
            "invalid_grant",
            "The code was issued to another client.",
        ));
    }
    if get(params, "redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return Err(oauth_error(400, "redirect_uri_mismatch", "Bad Request"));
    }
    let verifier = get(params, "code_verifier");
    match (&grant.challenge, verifier) {
        (None, None) => {}
        (None, Some(_)) => {
            return Err(oauth_error(
                400,
                "invalid_grant",
                "Code verifier given, but no code challenge was.",
            ));
        }
        (Some(_), None) => {
            return Err(oauth_error(400, "invalid_grant", "Missing code verifier."));
        }
        (Some((challenge, method)), Some(verifier)) => {
            let computed = if method == "S256" {
                URL_SAFE_NO_PAD.encode(ring::digest::digest(
                    &ring::digest::SHA256,
                    verifier.as_bytes(),
                ))
            } else {
                verifier.to_string()
            };
            if computed != *challenge {
                return Err(oauth_error(400, "invalid_grant", "Invalid code verifier."));
            }
        }
    }
    let refresh = grant.offline.then(|| random_token("1//emu-"));
    let id_token = grant
        .scopes
        .iter()
        .any(|s| s == "openid")
        .then(|| id_token(state, base, &grant.user, &client, &grant.scopes));
    let mut body = issue(
        state,
        grant.user.clone(),
        grant.scopes.clone(),
        client.clone(),
        refresh.clone(),
    );
    if let Some(refresh) = refresh {
        state.add_refresh_token(
            refresh.clone(),
            RefreshGrant {
                user: grant.user,
                scopes: grant.scopes,
                client_id: client,
                issued: 0,
                previous: None,
            },
        );
        body["refresh_token"] = json!(refresh);
    }
    if let Some(Some(id_token)) = id_token {
        body["id_token"] = json!(id_token);
    }
    Ok(body)
}

/// An ID token as Google issues for `openid`: `sub` is the user's id, `email` with the email
/// scope, issued by the emulator's root URL and signed with the key it publishes at
/// `/oauth2/v3/certs` (the RISC key: Google's ID tokens and security events share that set).
fn id_token(
    state: &State,
    base: &str,
    user: &str,
    client: &str,
    scopes: &[String],
) -> Option<String> {
    let user = state.user_by_id(user)?;
    let now = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let mut claims = json!({
        "iss": base,
        "aud": client,
        "azp": client,
        "sub": user.id,
        "iat": now,
        "exp": now + 3600,
    });
    if scopes
        .iter()
        .any(|s| s == "email" || s == "https://www.googleapis.com/auth/userinfo.email")
    {
        claims["email"] = json!(user.email);
        claims["email_verified"] = json!(true);
        if let Some((_, domain)) = user.email.split_once('@') {
            claims["hd"] = json!(domain);
        }
    }
    Some(crate::iam::sign(
        crate::risc::signing_key(),
        crate::RISC_KEY_ID,
        &claims,
    ))
}

fn refresh_grant(
    state: &mut State,
    req: &Req<'_>,
    params: &[(String, String)],
) -> Result<Value, Reply> {
    let client = client_auth(state, req, params)?;
    let token = get(params, "refresh_token").ok_or_else(|| {
        oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: refresh_token",
        )
    })?;
    let grant =
        state.refresh_tokens.get(token).cloned().ok_or_else(|| {
            oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        })?;
    if grant.client_id != client {
        return Err(oauth_error(400, "unauthorized_client", "Unauthorized"));
    }
    let scopes = match get(params, "scope") {
        None => grant.scopes.clone(),
        Some(asked) => {
            let asked = split_scopes(asked);
            if let Some(extra) = asked.iter().find(|s| !grant.scopes.contains(s)) {
                return Err(oauth_error(
                    400,
                    "invalid_scope",
                    &format!("The refresh token was not granted {extra}."),
                ));
            }
            asked
        }
    };
    // The token this one replaced is done with once this one is used.
    if let Some(previous) = &grant.previous {
        state.refresh_tokens.remove(previous);
        if let Some(g) = state.refresh_tokens.get_mut(token) {
            g.previous = None;
        }
    }
    *state.refreshes.entry(grant.user.clone()).or_default() += 1;
    if !state.rotate_refresh_tokens {
        return Ok(issue(
            state,
            grant.user,
            scopes,
            client,
            Some(token.to_string()),
        ));
    }
    // Rotation: a new refresh token replaces this one, which stays valid until the new one
    // is first used. A client that refreshed and died before saving loses nothing; one that
    // keeps an older token than the newest it was given gets `invalid_grant`.
    let rotated = random_token("1//emu-");
    let mut body = issue(
        state,
        grant.user.clone(),
        scopes,
        client.clone(),
        Some(rotated.clone()),
    );
    state.add_refresh_token(
        rotated.clone(),
        RefreshGrant {
            previous: Some(token.to_string()),
            ..grant
        },
    );
    body["refresh_token"] = json!(rotated);
    Ok(body)
}

fn client_credentials(
    state: &mut State,
    req: &Req<'_>,
    params: &[(String, String)],
) -> Result<Value, Reply> {
    let client = client_auth(state, req, params)?;
    let scopes = match get(params, "scope") {
        Some(s) => split_scopes(s),
        None => Scope::ALL.iter().map(|s| s.url().to_string()).collect(),
    };
    if let Some(bad) = scopes.iter().find(|s| !known_scope(s)) {
        return Err(oauth_error(
            400,
            "invalid_scope",
            &format!("Unknown scope: {bad}"),
        ));
    }
    let admin = state
        .user(demo::ADMIN, "")
        .map(|u| u.id.clone())
        .unwrap_or_default();
    Ok(issue(state, admin, scopes, client, None))
}

fn jwt_grant(state: &mut State, base: &str, params: &[(String, String)]) -> Result<Value, Reply> {
    let invalid = |message: &str| oauth_error(400, "invalid_grant", message);
    let assertion = get(params, "assertion").ok_or_else(|| {
        oauth_error(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        )
    })?;
    let mut parts = assertion.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("Invalid JWT: not three dot-separated parts."));
    };
    let decode_json = |part: &str| -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let header =
        decode_json(h).ok_or_else(|| invalid("Invalid JWT: the header is not base64url JSON."))?;
    let claims =
        decode_json(p).ok_or_else(|| invalid("Invalid JWT: the payload is not base64url JSON."))?;
    if header["alg"] != "RS256" {
        return Err(invalid("Invalid JWT: only RS256 is accepted."));
    }
    let issuer = claims["iss"].as_str().unwrap_or_default();
    let key =
        state.service_accounts.get(issuer).cloned().ok_or_else(|| {
            oauth_error(401, "invalid_client", "The service account was not found.")
        })?;
    let signature = URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| invalid("Invalid JWT Signature."))?;
    let message = format!("{h}.{p}");
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, &key)
        .verify(message.as_bytes(), &signature)
        .map_err(|_| invalid("Invalid JWT Signature."))?;
    let token_url = format!("{base}token");
    let aud = claims["aud"].as_str().unwrap_or_default();
    if aud != token_url && aud != "https://oauth2.googleapis.com/token" {
        return Err(invalid(&format!(
            "Invalid JWT: the audience must be {token_url}."
        )));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    let (Some(iat), Some(exp)) = (iat, exp) else {
        return Err(invalid("Invalid JWT: iat and exp are required."));
    };
    if exp <= now || iat > now + 300 || exp - iat > 3600 {
        return Err(invalid(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        ));
    }
    let scopes = split_scopes(claims["scope"].as_str().unwrap_or_default());
    if scopes.is_empty() {
        return Err(oauth_error(
            400,
            "invalid_scope",
            "Empty or missing scope not allowed.",
        ));
    }
    if let Some(bad) = scopes.iter().find(|s| !known_scope(s)) {
        return Err(oauth_error(
            400,
            "invalid_scope",
            &format!("Unknown scope: {bad}"),
        ));
    }
    // With `sub`, the service account acts as that user (domain-wide delegation); without, the
    // emulator lets it act as the domain admin.
    let subject = claims["sub"].as_str().unwrap_or(demo::ADMIN);
    let user = state
        .user(subject, "")
        .map(|u| u.id.clone())
        .ok_or_else(|| invalid("Invalid email or User ID"))?;
    Ok(issue(state, user, scopes, issuer.to_string(), None))
}

fn revoke(shared: &Shared, req: &Req<'_>) -> Reply {
    let params = form(req);
    let Some(token) = get(&params, "token") else {
        return oauth_error(400, "invalid_request", "Missing required parameter: token");
    };
    let mut state = shared.state();
    if state.refresh_tokens.remove(token).is_some() {
        state
            .tokens
            .retain(|_, g| g.refresh.as_deref() != Some(token));
    } else if state.tokens.remove(token).is_none() {
        return oauth_error(400, "invalid_token", "Token expired or revoked");
    }
    Reply::json(200, &json!({}))
}

fn tokeninfo(shared: &Shared, req: &Req<'_>) -> Reply {
    let params = form(req);
    let token = get(&params, "access_token").unwrap_or_default();
    let state = shared.state();
    let Some(grant) = state
        .tokens
        .get(token)
        .filter(|g| g.expires > SystemTime::now())
    else {
        return oauth_error(400, "invalid_token", "Invalid Value");
    };
    let expires_in = grant
        .expires
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .as_secs();
    let exp = grant
        .expires
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let email = state
        .user_by_id(&grant.user)
        .map(|u| u.email.clone())
        .unwrap_or_default();
    Reply::json(
        200,
        &json!({
            "azp": grant.client_id,
            "aud": grant.client_id,
            "sub": grant.user,
            "scope": grant.scopes.join(" "),
            "exp": exp.to_string(),
            "expires_in": expires_in.to_string(),
            "email": email,
            "email_verified": "true",
        }),
    )
}
