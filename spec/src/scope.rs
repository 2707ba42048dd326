//! The API's scopes, generated from the discovery document.

include!(concat!(env!("OUT_DIR"), "/scopes.rs"));

/// Scopes that widen what a call returns (email addresses, photos) but, per Classroom's
/// authorization guide, never authorize a call on their own, even where the discovery document
/// lists them for a method.
const ADDITIONAL: [&str; 2] = [
    "https://www.googleapis.com/auth/classroom.profile.emails",
    "https://www.googleapis.com/auth/classroom.profile.photos",
];

impl Scope {
    /// Whether this is an additional scope (`classroom.profile.emails`, `classroom.profile.photos`):
    /// one that adds data to responses but never authorizes a call on its own.
    pub fn is_additional(self) -> bool {
        ADDITIONAL.contains(&self.url())
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.url())
    }
}

/// A scope as its URL, so that anything taking scope URLs (`with_scopes`, say) takes `Scope`s.
impl From<Scope> for String {
    fn from(scope: Scope) -> String {
        scope.url().to_string()
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        self.url()
    }
}
