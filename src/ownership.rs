//! Which developer project may change a piece of coursework and its grades.
//!
//! Classroom ties coursework (and so its student submissions) to the Google Cloud project of
//! the OAuth client that created it. Only that project may change the coursework or grade its
//! submissions; any other project is answered 403 `PERMISSION_DENIED`
//! `@ProjectPermissionDenied` ([`Error::is_project_permission_denied`](crate::Error::is_project_permission_denied)),
//! however the caller is otherwise allowed. Every read tells the caller which items are its
//! project's in `associatedWithDeveloper`; the predicates here read it, so a program can leave
//! out the writes Classroom would refuse instead of sending them:
//!
//! ```
//! use classroom::models::{CourseWork, StudentSubmission};
//!
//! let ours = CourseWork { associated_with_developer: Some(true), ..Default::default() };
//! let theirs = StudentSubmission { associated_with_developer: Some(false), ..Default::default() };
//! assert!(ours.created_by_this_project());
//! assert!(!theirs.created_by_this_project());
//! // Absent (a partial response without the field): not known to be ours, so not ours.
//! assert!(!CourseWork::default().created_by_this_project());
//! ```

use crate::models::{CourseWork, StudentSubmission};

impl CourseWork {
    /// Whether the developer project of the OAuth client that read this coursework created it
    /// (`associatedWithDeveloper` is `true`): only then may that project change it, or grade
    /// its submissions. An absent field (a `fields` mask that left it out) counts as not ours,
    /// so a write is never sent on a guess.
    pub fn created_by_this_project(&self) -> bool {
        self.associated_with_developer == Some(true)
    }
}

impl StudentSubmission {
    /// Whether the developer project of the OAuth client that read this submission created
    /// its coursework (`associatedWithDeveloper` is `true`): only then may that project grade
    /// it, return it or change it. An absent field counts as not ours.
    pub fn created_by_this_project(&self) -> bool {
        self.associated_with_developer == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::{ApiError, Error};

    fn error(status: u16, body: &str) -> Error {
        Error::from(ApiError::from_response("m", status, None, body.as_bytes()))
    }

    #[test]
    fn only_a_403_naming_project_permission_denied_is_another_projects_item() {
        let theirs = error(
            403,
            r#"{"error":{"code":403,"status":"PERMISSION_DENIED","message":"@ProjectPermissionDenied The Developer Project is not permitted to make this request."}}"#,
        );
        assert!(theirs.is_project_permission_denied());
        assert!(!theirs.is_retryable(), "lasting: retrying cannot help");
        let other_denial = error(
            403,
            r#"{"error":{"code":403,"status":"PERMISSION_DENIED","message":"The caller does not have permission"}}"#,
        );
        assert!(!other_denial.is_project_permission_denied());
        let not_found = error(
            404,
            r#"{"error":{"code":404,"status":"NOT_FOUND","message":"@ProjectPermissionDenied odd"}}"#,
        );
        assert!(!not_found.is_project_permission_denied(), "403 only");
    }
}
