//! What every API method knows about itself: id, HTTP verb, path template and scopes.

use std::fmt;

use crate::Scope;

/// An HTTP verb used by the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl HttpMethod {
    /// The verb as written in a request line.
    pub const fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Delete => "DELETE",
        }
    }

    /// Whether repeating the request has the same effect as sending it once.
    pub const fn is_idempotent(self) -> bool {
        matches!(self, HttpMethod::Get | HttpMethod::Put | HttpMethod::Delete)
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method of the API as the discovery document describes it. [`METHODS`](crate::METHODS) lists
/// them all; in the `classroom` SDK every request builder also has its own as its `METHOD`
/// constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodInfo {
    /// The method id, e.g. `classroom.courses.list`.
    pub id: &'static str,
    /// The HTTP verb.
    pub http_method: HttpMethod,
    /// The path template relative to the root URL, e.g. `v1/courses/{id}`.
    pub path: &'static str,
    /// The scopes the discovery document lists for the method. Holding any one of them
    /// authorizes the call, except the additional scopes (see [`Scope::is_additional`]),
    /// which never authorize a call on their own.
    pub scopes: &'static [Scope],
}

impl MethodInfo {
    /// The scopes that authorize this method on their own: [`MethodInfo::scopes`] without
    /// the additional ones.
    pub fn authorizing_scopes(&self) -> impl Iterator<Item = Scope> + '_ {
        self.scopes.iter().copied().filter(|s| !s.is_additional())
    }

    /// Whether a token holding `granted` (scope URLs, or [`Scope`] values) may call this
    /// method: it holds one of the [authorizing scopes](MethodInfo::authorizing_scopes). This is
    /// the rule the `classroom` SDK checks before sending (failing with its
    /// `Error::MissingScope`), and the one a server answering for Classroom, such as the
    /// `classroom-emulator` crate, applies before answering 403.
    ///
    /// ```
    /// use classroom_spec::{METHODS, Scope};
    ///
    /// let list = METHODS.iter().find(|m| m.id == "classroom.courses.list").unwrap();
    /// assert!(list.is_authorized_by(&[Scope::CoursesReadonly]));
    /// assert!(list.is_authorized_by(&["https://www.googleapis.com/auth/classroom.courses"]));
    /// // An additional scope widens responses but authorizes nothing on its own.
    /// assert!(!list.is_authorized_by(&[Scope::ProfileEmails]));
    /// ```
    pub fn is_authorized_by(&self, granted: &[impl AsRef<str>]) -> bool {
        self.authorizing_scopes()
            .any(|scope| granted.iter().any(|g| g.as_ref() == scope.url()))
    }
}
