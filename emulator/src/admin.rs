//! The emulator's own control endpoint, for tests in any language: add users, mint a token
//! for any user, move the quota day, and set up what only a domain administrator can: disable
//! a user, turn guardians off for a domain, lower a limit. Under `/emulator/v1/`, a path
//! Google does not serve.
//!
//! Every request must authenticate as an OAuth client of the emulator with HTTP Basic
//! (`Authorization: Basic base64(CLIENT_ID:CLIENT_SECRET)`, the `client_id` and
//! `client_secret` of the standalone server's line); a bearer token, even a valid one, is
//! refused. The answers are JSON; errors are Google-shaped,
//! `{"error": {"code", "message", "status"}}`:
//!
//! | Request | Body | Answer |
//! |---|---|---|
//! | `POST /emulator/v1/users` | an [accounts document](crate::accounts) | 200 `{"users": [{"id", "email", "role"}]}` |
//! | `POST /emulator/v1/tokens` | `{"user": EMAIL_OR_ID, "scopes": [SCOPE, ...]}` | 200 `{"access_token", "expires_in", "scope", "token_type"}` |
//! | `POST /emulator/v1/quotas/day:advance` | `{"days": N}` (1 to 3650; `{}` is one day) | 200 `{"quotaDay": "YYYY-MM-DD"}` |
//! | `POST /emulator/v1/users/{USER}:disable`, `...:enable` | none | 200 `{"id", "email", "role", "disabled"}` |
//! | `POST /emulator/v1/domains/{DOMAIN}:disableGuardians`, `...:enableGuardians` | none | 200 `{"domain", "guardiansEnabled"}` |
//! | `POST /emulator/v1/quotas` | the limits to change, `{"courseMemberLimit": 2, "perProjectPerDay": null}` | 200 every limit in force |
//!
//! - users: 400 `INVALID_ARGUMENT` for a bad document, 409 `ALREADY_EXISTS` for an email the
//!   emulator has; either adds nobody. The message is the [`AccountsError`](crate::AccountsError),
//!   its source named `request body`.
//! - tokens: `user` is an email, an id or `admin`; a scope is a URL
//!   (`https://www.googleapis.com/auth/classroom.courses`) or the part after
//!   `https://www.googleapis.com/auth/` (`classroom.courses`). The token is issued to the client
//!   that authenticated, for the emulator's token lifetime, and acts as that user, exactly as
//!   one from the authorization code flow. 404 `NOT_FOUND` for an unknown user, 400
//!   `INVALID_ARGUMENT` for a missing or unknown scope.
//! - quotas/day:advance: see [`Emulator::advance_quota_day`](crate::Emulator::advance_quota_day).
//! - users/{USER}:disable and :enable: `USER` is an email, an id or `admin` (percent-encoded
//!   or not); see [`Emulator::disable_user`](crate::Emulator::disable_user). 404 `NOT_FOUND`
//!   for an unknown user.
//! - domains/{DOMAIN}:disableGuardians and :enableGuardians: see
//!   [`Emulator::disable_guardians`](crate::Emulator::disable_guardians). 400 for an empty
//!   domain or one with a space or `@`.
//! - quotas: the fields are the [`Quotas`](crate::Quotas) fields in camelCase
//!   (`perUserPerMinute`, `perProjectPerMinute`, `userBurst`, `projectBurst`,
//!   `dailyInvitationsPerUser`, `courseMemberLimit`, `perProjectPerDay`,
//!   `courseTeacherLimit`, `guardianLinkLimit`); a whole number from 0 to 4294967295 sets
//!   the limit, `null` lifts it, a field left out stays as it is. What has been spent is
//!   kept ([`Emulator::update_quotas`](crate::Emulator::update_quotas)); `{}` reads the
//!   limits. The answer has every field, `null` for no limit. 400 `INVALID_ARGUMENT` for an
//!   unknown field or a bad value, and nothing changes.
//!
//! 401 `UNAUTHENTICATED` (with `WWW-Authenticate: Basic`) without the client's credentials,
//! before anything else is looked at; 404 for another path under `/emulator/`; 405 for another
//! method. The endpoint is not a Classroom API call: injected faults and quotas pass it by, and
//! [`Emulator::api_calls`](crate::Emulator::api_calls) does not count it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::errors::Status;
use crate::server::{Reply, Req};
use crate::{Accounts, Role, Shared};

/// The prefix every admin path starts with.
const PREFIX: &str = "/emulator/";

const USERS: &str = "/emulator/v1/users";
const TOKENS: &str = "/emulator/v1/tokens";
const ADVANCE_DAY: &str = "/emulator/v1/quotas/day:advance";
const QUOTAS: &str = "/emulator/v1/quotas";
const USER_PREFIX: &str = "/emulator/v1/users/";
const DOMAIN_PREFIX: &str = "/emulator/v1/domains/";

/// A route of the endpoint.
enum Route {
    Users,
    Tokens,
    AdvanceDay,
    Quotas,
    /// A user, and whether to disable (else enable) it.
    User(String, bool),
    /// A domain, and whether to enable (else disable) its guardians.
    Guardians(String, bool),
}

/// The route of `path`, if it is one.
fn route(path: &str) -> Option<Route> {
    match path {
        USERS => return Some(Route::Users),
        TOKENS => return Some(Route::Tokens),
        ADVANCE_DAY => return Some(Route::AdvanceDay),
        QUOTAS => return Some(Route::Quotas),
        _ => {}
    }
    if let Some(rest) = path.strip_prefix(USER_PREFIX) {
        let (user, verb) = rest.rsplit_once(':')?;
        let disable = match verb {
            "disable" => true,
            "enable" => false,
            _ => return None,
        };
        return Some(Route::User(crate::server::decode(user), disable));
    }
    let rest = path.strip_prefix(DOMAIN_PREFIX)?;
    let (domain, verb) = rest.rsplit_once(':')?;
    let enable = match verb {
        "enableGuardians" => true,
        "disableGuardians" => false,
        _ => return None,
    };
    Some(Route::Guardians(crate::server::decode(domain), enable))
}

/// The longest a quota day may be moved at once: ten years.
const MAX_DAYS: u64 = 3650;

/// Whether `path` is the admin endpoint's.
pub(crate) fn is_admin(path: &str) -> bool {
    path.starts_with(PREFIX) || path == "/emulator"
}

/// A Google-shaped error. Not [`Reply::error`]: its 401 carries a `Bearer` challenge, and the
/// admin endpoint's asks for `Basic` only.
fn error(code: u16, status: &'static str, message: impl Into<String>) -> Reply {
    let status = Status {
        code,
        status,
        message: message.into(),
        reason: None,
        metadata: None,
        more_details: Vec::new(),
    };
    Reply::json(status.code, &status.body())
}

pub(crate) fn handle(shared: &Shared, req: &Req<'_>) -> Reply {
    let client = match authenticate(shared, req) {
        Ok(client) => client,
        Err(message) => {
            return error(401, "UNAUTHENTICATED", message).with_header(
                "www-authenticate",
                "Basic realm=\"classroom-emulator admin\"",
            );
        }
    };
    let Some(route) = route(req.path) else {
        return error(
            404,
            "NOT_FOUND",
            format!(
                "The emulator has no admin route {}; it has POST {USERS}, POST {TOKENS}, POST {ADVANCE_DAY}, POST {QUOTAS}, POST {USER_PREFIX}{{USER}}:disable (or :enable) and POST {DOMAIN_PREFIX}{{DOMAIN}}:disableGuardians (or :enableGuardians).",
                req.path.chars().take(200).collect::<String>()
            ),
        );
    };
    if req.verb != "POST" {
        return error(
            405,
            "INVALID_ARGUMENT",
            format!("Use POST for {}.", req.path),
        )
        .with_header("allow", "POST");
    }
    match route {
        Route::Users => add_users(shared, req),
        Route::Tokens => mint_token(shared, req, client),
        Route::AdvanceDay => advance_day(shared, req),
        Route::Quotas => change_quotas(shared, req),
        Route::User(user, disable) => match shared.set_user_disabled(&user, disable) {
            Some(u) => Reply::json(
                200,
                &json!({"id": u.id, "email": u.email, "role": role_name(u.role), "disabled": u.disabled}),
            ),
            None => error(
                404,
                "NOT_FOUND",
                format!(
                    "The emulator has no user {}.",
                    user.chars().take(200).collect::<String>()
                ),
            ),
        },
        Route::Guardians(domain, enable) => {
            if domain.trim().is_empty() || domain.contains(['@', ' ', '/']) {
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    "The domain must be a domain name, as in school.example.",
                );
            }
            let domain = shared.set_guardians_enabled(&domain, enable);
            Reply::json(200, &json!({"domain": domain, "guardiansEnabled": enable}))
        }
    }
}

/// Sets one limit of [`Quotas`](crate::Quotas).
type Setter = fn(crate::Quotas, Option<u32>) -> crate::Quotas;
/// Reads one limit of [`Quotas`](crate::Quotas).
type Getter = fn(&crate::Quotas) -> Option<u32>;

/// The [`Quotas`](crate::Quotas) fields, as the endpoint names them, with how to set and read
/// each.
const QUOTA_FIELDS: [(&str, Setter, Getter); 9] = [
    (
        "perUserPerMinute",
        |q, v| q.per_user_per_minute(v),
        |q| q.per_user_per_minute,
    ),
    (
        "perProjectPerMinute",
        |q, v| q.per_project_per_minute(v),
        |q| q.per_project_per_minute,
    ),
    ("userBurst", |q, v| q.user_burst(v), |q| q.user_burst),
    (
        "projectBurst",
        |q, v| q.project_burst(v),
        |q| q.project_burst,
    ),
    (
        "dailyInvitationsPerUser",
        |q, v| q.daily_invitations_per_user(v),
        |q| q.daily_invitations_per_user,
    ),
    (
        "courseMemberLimit",
        |q, v| q.course_member_limit(v),
        |q| q.course_member_limit,
    ),
    (
        "perProjectPerDay",
        |q, v| q.per_project_per_day(v),
        |q| q.per_project_per_day,
    ),
    (
        "courseTeacherLimit",
        |q, v| q.course_teacher_limit(v),
        |q| q.course_teacher_limit,
    ),
    (
        "guardianLinkLimit",
        |q, v| q.guardian_link_limit(v),
        |q| q.guardian_link_limit,
    ),
];

fn change_quotas(shared: &Shared, req: &Req<'_>) -> Reply {
    let body = match body(req) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let mut changes: Vec<(Setter, Option<u32>)> = Vec::new();
    for (name, value) in &body {
        let Some((_, set, _)) = QUOTA_FIELDS.iter().find(|(n, _, _)| n == name) else {
            let names: Vec<&str> = QUOTA_FIELDS.iter().map(|(n, _, _)| *n).collect();
            return error(
                400,
                "INVALID_ARGUMENT",
                format!(
                    "Unknown field {name:?}; the fields are {}.",
                    names.join(", ")
                ),
            );
        };
        let limit = match value {
            Value::Null => None,
            v => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => {
                    return error(
                        400,
                        "INVALID_ARGUMENT",
                        format!(
                            "{name} must be a whole number from 0 to {}, or null for no limit.",
                            u32::MAX
                        ),
                    );
                }
            },
        };
        changes.push((*set, limit));
    }
    let quotas = shared.update_quotas(|mut quotas| {
        for (set, limit) in changes {
            quotas = set(quotas, limit);
        }
        quotas
    });
    let fields: serde_json::Map<String, Value> = QUOTA_FIELDS
        .iter()
        .map(|(name, _, get)| (name.to_string(), json!(get(&quotas))))
        .collect();
    Reply::json(200, &Value::Object(fields))
}

/// The OAuth client of a Basic `Authorization` header, if its secret is right.
fn authenticate(shared: &Shared, req: &Req<'_>) -> Result<String, &'static str> {
    const HOW: &str = "The emulator's admin endpoint takes HTTP Basic authentication with the emulator's client_id and client_secret.";
    let header = req
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(HOW)?;
    let (scheme, encoded) = header.split_once(' ').ok_or(HOW)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(HOW);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(HOW)?;
    let (id, secret) = decoded.split_once(':').ok_or(HOW)?;
    let state = shared.state();
    // A client with no secret (a public client) cannot authenticate here.
    state
        .clients
        .iter()
        .find(|c| c.id == id && c.secret.as_deref() == Some(secret))
        .map(|c| c.id.clone())
        .ok_or("The client_id and client_secret are not the emulator's.")
}

/// The body as a JSON object; an empty body is `{}`.
fn body(req: &Req<'_>) -> Result<serde_json::Map<String, Value>, Reply> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(req.body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(error(
            400,
            "INVALID_ARGUMENT",
            "The body must be a JSON object.",
        )),
        Err(e) => Err(error(
            400,
            "INVALID_ARGUMENT",
            format!("The body is not JSON: {e}"),
        )),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Teacher => "teacher",
        Role::Student => "student",
        Role::Guardian => "guardian",
    }
}

fn add_users(shared: &Shared, req: &Req<'_>) -> Reply {
    let text = String::from_utf8_lossy(req.body);
    let accounts = match Accounts::parse("request body", &text) {
        Ok(accounts) => accounts,
        Err(e) => return error(400, "INVALID_ARGUMENT", e.to_string()),
    };
    let ids = match accounts.add_to(&mut shared.state()) {
        Ok(ids) => ids,
        Err(e) => return error(409, "ALREADY_EXISTS", e.to_string()),
    };
    let users: Vec<Value> = accounts
        .users()
        .iter()
        .zip(ids)
        .map(|(u, id)| json!({"id": id, "email": u.email, "role": role_name(u.role)}))
        .collect();
    Reply::json(200, &json!({ "users": users }))
}

fn mint_token(shared: &Shared, req: &Req<'_>, client: String) -> Reply {
    let body = match body(req) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if let Some(other) = body
        .keys()
        .find(|k| !matches!(k.as_str(), "user" | "scopes"))
    {
        return error(
            400,
            "INVALID_ARGUMENT",
            format!("Unknown field {other:?}; the fields are user and scopes."),
        );
    }
    let Some(user) = body.get("user").and_then(Value::as_str) else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "user is required: an email, a user id or admin.",
        );
    };
    let scopes: Option<Vec<String>> = body.get("scopes").and_then(Value::as_array).and_then(|a| {
        a.iter()
            .map(|s| {
                s.as_str().map(|s| {
                    if s.contains("://") {
                        s.to_string()
                    } else {
                        format!("https://www.googleapis.com/auth/{s}")
                    }
                })
            })
            .collect()
    });
    let Some(scopes) = scopes.filter(|s| !s.is_empty()) else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "scopes is required: a non-empty array of scope URLs or names (classroom.courses).",
        );
    };
    if let Some(bad) = scopes.iter().find(|s| !crate::oauth::known_scope(s)) {
        return error(400, "INVALID_ARGUMENT", format!("Unknown scope: {bad}"));
    }
    let mut state = shared.state();
    let key = if user == "admin" {
        crate::demo::ADMIN
    } else {
        user
    };
    let Some(id) = state.user(key, "").map(|u| u.id.clone()) else {
        return error(
            404,
            "NOT_FOUND",
            format!(
                "The emulator has no user {}.",
                user.chars().take(200).collect::<String>()
            ),
        );
    };
    let token = crate::oauth::issue(&mut state, id, scopes, client, None);
    Reply::json(200, &token).with_header("cache-control", "no-store")
}

fn advance_day(shared: &Shared, req: &Req<'_>) -> Reply {
    let body = match body(req) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if let Some(other) = body.keys().find(|k| k.as_str() != "days") {
        return error(
            400,
            "INVALID_ARGUMENT",
            format!("Unknown field {other:?}; the only field is days."),
        );
    }
    let days = match body.get("days") {
        None => 1,
        Some(v) => match v.as_u64().filter(|d| (1..=MAX_DAYS).contains(d)) {
            Some(d) => d,
            None => {
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    format!("days must be a whole number from 1 to {MAX_DAYS}."),
                );
            }
        },
    };
    let day = shared.quotas.advance_day(days as u32);
    Reply::json(200, &json!({ "quotaDay": day }))
}
