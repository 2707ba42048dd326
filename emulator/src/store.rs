//! The emulator's state: users, resource collections keyed by parent path, aliases, tokens.
//!
//! Resources are kept as the JSON Classroom sends (`serde_json::Value`), so every schema of the
//! discovery document is stored the same way, and a field this crate does not model survives a
//! round trip. One mutex guards it all; every operation holds it briefly and never across an
//! `await`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::Role;

/// A user of the demo domain.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) given: String,
    pub(crate) family: String,
    pub(crate) role: Role,
    /// The account is disabled (suspended in the Admin console): Classroom refuses to make
    /// it a course's owner or member, and a course it owns is refused changes
    /// (`@InactiveCourseOwner`).
    pub(crate) disabled: bool,
}

impl User {
    pub(crate) fn full_name(&self) -> String {
        format!("{} {}", self.given, self.family)
    }
}

/// An access token the emulator issued.
#[derive(Clone, Debug)]
pub(crate) struct TokenGrant {
    pub(crate) user: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: SystemTime,
    pub(crate) client_id: String,
    /// The refresh token it came from, so revoking that revokes this.
    pub(crate) refresh: Option<String>,
}

/// A refresh token the emulator issued.
#[derive(Clone, Debug)]
pub(crate) struct RefreshGrant {
    pub(crate) user: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) client_id: String,
    /// Issue order, so the oldest of a user's tokens for a client can be found.
    pub(crate) issued: u64,
    /// With refresh-token rotation: the token this one replaced, valid until this one is
    /// first used (so a client that crashed before saving this one can still use the old).
    pub(crate) previous: Option<String>,
}

/// An authorization code waiting to be exchanged.
#[derive(Clone, Debug)]
pub(crate) struct CodeGrant {
    pub(crate) user: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) offline: bool,
    pub(crate) expires: SystemTime,
}

/// An OAuth client the token endpoint knows.
#[derive(Clone, Debug)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
}

/// Everything the emulator holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) users: Vec<User>,
    /// Resources by collection path, e.g. `courses`, `courses/123/courseWork`, in creation
    /// order.
    pub(crate) collections: HashMap<String, Vec<Value>>,
    /// Course aliases (`d:math-101`) to course ids.
    pub(crate) aliases: BTreeMap<String, String>,
    /// Grading period settings by course id.
    pub(crate) grading: HashMap<String, Value>,
    pub(crate) tokens: HashMap<String, TokenGrant>,
    pub(crate) refresh_tokens: HashMap<String, RefreshGrant>,
    pub(crate) codes: HashMap<String, CodeGrant>,
    pub(crate) clients: Vec<Client>,
    /// Service accounts: email to public key (DER `RSAPublicKey`).
    pub(crate) service_accounts: HashMap<String, Vec<u8>>,
    /// Who may act as which service account through the IAM Credentials API.
    pub(crate) token_creators: crate::iam::TokenCreators,
    /// Scopes each user has granted each client, for `include_granted_scopes`.
    pub(crate) granted: HashMap<(String, String), Vec<String>>,
    pub(crate) next_id: u64,
    pub(crate) token_lifetime: Duration,
    /// How long a push notification registration lasts (zero: a week).
    pub(crate) registration_lifetime: Duration,
    /// Purges run when a map reaches this size (amortized: each purge doubles it).
    pub(crate) purge_tokens_at: usize,
    pub(crate) purge_codes_at: usize,
    pub(crate) refresh_issued: u64,
    /// Whether each refresh grant returns a new refresh token (rotation).
    pub(crate) rotate_refresh_tokens: bool,
    /// Successful refresh grants, by user id.
    pub(crate) refreshes: HashMap<String, u64>,
    /// Domains (lower case) whose administrators turned guardians off: guardian methods about
    /// their students answer `PERMISSION_DENIED`.
    pub(crate) guardians_off: std::collections::BTreeSet<String>,
    /// The guardian links a student or guardian may have ([`crate::Quotas::guardian_link_limit`],
    /// mirrored here for the guardian handlers).
    pub(crate) guardian_link_limit: Option<u32>,
    /// The Developer Console project (the emulator's OAuth client id) that created each item
    /// of a course (coursework, announcement, material, topic, rubric, add-on attachment), by
    /// item path (`courses/1/courseWork/2`).
    pub(crate) projects: HashMap<String, String>,
    /// Items deleted through the API, by item path: Classroom remembers them and answers a
    /// second delete or a patch with `FAILED_PRECONDITION`, not `NOT_FOUND`.
    pub(crate) deleted: std::collections::HashSet<String>,
}

/// At most this many access tokens are kept. Expired ones go first; past this, the ones
/// closest to expiry. A client asking for tokens in a loop for hours cannot grow the emulator
/// without bound (100,000 grants are a few tens of MB).
pub(crate) const MAX_TOKENS: usize = 100_000;

/// At most this many authorization codes wait to be exchanged (they live ten minutes).
pub(crate) const MAX_CODES: usize = 10_000;

/// Google's limit on refresh tokens per user and OAuth client: past it, issuing one more
/// silently invalidates the oldest (and the access tokens refreshed from it).
pub(crate) const MAX_REFRESH_TOKENS_PER_CLIENT: usize = 100;

/// The first size at which a map is purged.
const FIRST_PURGE: usize = 1024;

/// Keeps the `keep` entries of `map` whose `key` is largest (latest expiry): drops the rest.
fn keep_latest<V>(map: &mut HashMap<String, V>, keep: usize, key: impl Fn(&V) -> SystemTime) {
    if map.len() <= keep {
        return;
    }
    let mut expiries: Vec<SystemTime> = map.values().map(&key).collect();
    let cut = expiries.len() - keep;
    let (_, threshold, _) = expiries.select_nth_unstable(cut);
    let threshold = *threshold;
    map.retain(|_, v| key(v) > threshold);
}

impl State {
    /// Stores an access token; purges expired ones first once the map has grown.
    pub(crate) fn add_token(&mut self, token: String, grant: TokenGrant) {
        if self.tokens.len() >= self.purge_tokens_at.max(FIRST_PURGE) {
            let now = SystemTime::now();
            self.tokens.retain(|_, g| g.expires > now);
            keep_latest(&mut self.tokens, MAX_TOKENS * 3 / 4, |g| g.expires);
            self.purge_tokens_at = (self.tokens.len() * 2).clamp(FIRST_PURGE, MAX_TOKENS);
        }
        self.tokens.insert(token, grant);
    }

    /// Stores an authorization code; purges expired ones first once the map has grown.
    pub(crate) fn add_code(&mut self, code: String, grant: CodeGrant) {
        if self.codes.len() >= self.purge_codes_at.max(FIRST_PURGE) {
            let now = SystemTime::now();
            self.codes.retain(|_, g| g.expires > now);
            keep_latest(&mut self.codes, MAX_CODES * 3 / 4, |g| g.expires);
            self.purge_codes_at = (self.codes.len() * 2).clamp(FIRST_PURGE, MAX_CODES);
        }
        self.codes.insert(code, grant);
    }

    /// Stores a refresh token; past [`MAX_REFRESH_TOKENS_PER_CLIENT`] for its user and client,
    /// the oldest goes, with the access tokens refreshed from it.
    pub(crate) fn add_refresh_token(&mut self, token: String, mut grant: RefreshGrant) {
        self.refresh_issued += 1;
        grant.issued = self.refresh_issued;
        let mut same: Vec<(u64, &String)> = self
            .refresh_tokens
            .iter()
            .filter(|(_, g)| g.user == grant.user && g.client_id == grant.client_id)
            .map(|(t, g)| (g.issued, t))
            .collect();
        if same.len() >= MAX_REFRESH_TOKENS_PER_CLIENT {
            same.sort_unstable();
            let oldest: Vec<String> = same[..=same.len() - MAX_REFRESH_TOKENS_PER_CLIENT]
                .iter()
                .map(|(_, t)| (*t).clone())
                .collect();
            for old in oldest {
                self.refresh_tokens.remove(&old);
                self.tokens
                    .retain(|_, g| g.refresh.as_deref() != Some(old.as_str()));
            }
        }
        self.refresh_tokens.insert(token, grant);
    }

    /// A fresh numeric id, as Classroom's look.
    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}", 700_000_000_000u64 + self.next_id * 7919)
    }

    /// A user by id, email, or `me` (the caller).
    pub(crate) fn user(&self, key: &str, me: &str) -> Option<&User> {
        let key = if key == "me" { me } else { key };
        self.users
            .iter()
            .find(|u| u.id == key || u.email.eq_ignore_ascii_case(key))
    }

    pub(crate) fn user_by_id(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(crate) fn items(&self, key: &str) -> &[Value] {
        self.collections.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub(crate) fn items_mut(&mut self, key: &str) -> &mut Vec<Value> {
        self.collections.entry(key.to_string()).or_default()
    }

    pub(crate) fn find(&self, key: &str, field: &str, id: &str) -> Option<&Value> {
        self.items(key)
            .iter()
            .find(|v| v.get(field).and_then(Value::as_str) == Some(id))
    }

    pub(crate) fn find_mut(&mut self, key: &str, field: &str, id: &str) -> Option<&mut Value> {
        self.collections
            .get_mut(key)?
            .iter_mut()
            .find(|v| v.get(field).and_then(Value::as_str) == Some(id))
    }

    pub(crate) fn remove(&mut self, key: &str, field: &str, id: &str) -> Option<Value> {
        let items = self.collections.get_mut(key)?;
        let at = items
            .iter()
            .position(|v| v.get(field).and_then(Value::as_str) == Some(id))?;
        let removed = items.remove(at);
        // Everything below the removed resource goes with it.
        let prefix = format!("{key}/{id}/");
        self.collections.retain(|k, _| !k.starts_with(&prefix));
        Some(removed)
    }

    /// A course id from an id or alias.
    pub(crate) fn course_id(&self, key: &str) -> Option<String> {
        if let Some(id) = self.aliases.get(key) {
            return Some(id.clone());
        }
        self.find("courses", "id", key).map(|_| key.to_string())
    }

    pub(crate) fn course(&self, id: &str) -> Option<&Value> {
        self.find("courses", "id", id)
    }

    pub(crate) fn is_teacher(&self, course: &str, user: &str) -> bool {
        self.find(&format!("courses/{course}/teachers"), "userId", user)
            .is_some()
    }

    pub(crate) fn is_student(&self, course: &str, user: &str) -> bool {
        self.find(&format!("courses/{course}/students"), "userId", user)
            .is_some()
    }

    pub(crate) fn is_member(&self, course: &str, user: &str) -> bool {
        self.is_teacher(course, user) || self.is_student(course, user)
    }

    /// The ids of a course's students.
    pub(crate) fn student_ids(&self, course: &str) -> Vec<String> {
        self.items(&format!("courses/{course}/students"))
            .iter()
            .filter_map(|s| s["userId"].as_str().map(str::to_string))
            .collect()
    }

    /// The ids of the courses a user teaches or attends.
    pub(crate) fn courses_of(&self, user: &str) -> Vec<String> {
        self.items("courses")
            .iter()
            .filter_map(|c| c["id"].as_str())
            .filter(|c| self.is_member(c, user))
            .map(str::to_string)
            .collect()
    }
}

/// Now, as Google writes timestamps: RFC 3339, UTC, milliseconds.
pub(crate) fn now() -> String {
    timestamp(SystemTime::now())
}

pub(crate) fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(expires: SystemTime) -> TokenGrant {
        TokenGrant {
            user: "u".into(),
            scopes: vec![],
            expires,
            client_id: "c".into(),
            refresh: None,
        }
    }

    #[test]
    fn expired_tokens_and_codes_are_purged_as_new_ones_arrive() {
        let mut state = State::default();
        let past = SystemTime::now() - Duration::from_secs(1);
        let future = SystemTime::now() + Duration::from_secs(3600);
        for i in 0..50_000 {
            state.add_token(format!("old{i}"), grant(past));
        }
        assert!(
            state.tokens.len() < 2 * FIRST_PURGE,
            "expired tokens are dropped as others arrive: {}",
            state.tokens.len()
        );
        for i in 0..10 {
            state.add_token(format!("live{i}"), grant(future));
        }
        for i in 0..5000 {
            state.add_token(format!("old-again{i}"), grant(past));
        }
        assert!((0..10).all(|i| state.tokens.contains_key(&format!("live{i}"))));
        assert!(state.tokens.len() < 2 * FIRST_PURGE + 10);

        let code = |expires| CodeGrant {
            user: "u".into(),
            scopes: vec![],
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/".into(),
            challenge: None,
            offline: false,
            expires,
        };
        for i in 0..20_000 {
            state.add_code(format!("c{i}"), code(past));
        }
        assert!(state.codes.len() < 2 * FIRST_PURGE, "{}", state.codes.len());
    }

    #[test]
    fn live_tokens_are_capped_keeping_the_latest() {
        let mut state = State::default();
        let now = SystemTime::now();
        for i in 0..(MAX_TOKENS + 5000) as u64 {
            state.add_token(format!("t{i}"), grant(now + Duration::from_secs(3600 + i)));
        }
        assert!(state.tokens.len() <= MAX_TOKENS, "{}", state.tokens.len());
        let last = format!("t{}", MAX_TOKENS + 4999);
        assert!(state.tokens.contains_key(&last), "the newest token is kept");
        assert!(!state.tokens.contains_key("t0"), "the first to expire went");
    }

    #[test]
    fn refresh_tokens_per_user_and_client_are_capped_as_google_does() {
        let mut state = State::default();
        let refresh = |user: &str| RefreshGrant {
            user: user.into(),
            scopes: vec![],
            client_id: "c".into(),
            issued: 0,
            previous: None,
        };
        for i in 0..MAX_REFRESH_TOKENS_PER_CLIENT + 3 {
            state.add_refresh_token(format!("r{i}"), refresh("u"));
        }
        state.add_refresh_token("other".into(), refresh("v"));
        assert_eq!(
            state.refresh_tokens.len(),
            MAX_REFRESH_TOKENS_PER_CLIENT + 1
        );
        assert!(!state.refresh_tokens.contains_key("r2"), "the oldest went");
        assert!(state.refresh_tokens.contains_key("r3"));
        assert!(state.refresh_tokens.contains_key("other"));
    }
}
