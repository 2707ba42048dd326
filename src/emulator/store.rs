//! The emulator's state: users, resource collections keyed by parent path, aliases, tokens.
//!
//! Resources are kept as the JSON Classroom sends (`serde_json::Value`), so every schema of the
//! discovery document is stored the same way, and a field this crate does not model survives a
//! round trip. One mutex guards it all; every operation holds it briefly and never across an
//! `await`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::Role;

/// A user of the demo domain.
#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) given: String,
    pub(crate) family: String,
    pub(crate) role: Role,
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
    /// Scopes each user has granted each client, for `include_granted_scopes`.
    pub(crate) granted: HashMap<(String, String), Vec<String>>,
    pub(crate) next_id: u64,
    pub(crate) token_lifetime: Duration,
}

impl State {
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
