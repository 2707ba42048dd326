//! The API's scopes, generated from the discovery document.

include!(concat!(env!("OUT_DIR"), "/scopes.rs"));

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
