//! Classroom's own error codes: the `@Code` at the start of many error messages.

use std::fmt;

macro_rules! reasons {
    ($($(#[$doc:meta])* $name:ident, lasting: $lasting:expr, advice: $advice:expr;)*) => {
        /// A Classroom error code, as Classroom writes it at the start of an error message
        /// (`@CourseMemberLimitReached The course is full.`), decoded.
        ///
        /// Codes that will not clear within seconds ([`ClassroomReason::is_lasting`]) are never
        /// retried: a daily quota, a member limit, a resource another project owns.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ClassroomReason {
            $($(#[$doc])* $name,)*
            /// A code this SDK does not know, as sent (without the `@`).
            Other(String),
        }

        impl ClassroomReason {
            /// The code as Classroom writes it, without the `@`.
            pub fn as_str(&self) -> &str {
                match self {
                    $(ClassroomReason::$name => stringify!($name),)*
                    ClassroomReason::Other(code) => code,
                }
            }

            /// Whether the condition lasts: waiting seconds and retrying will not help.
            pub fn is_lasting(&self) -> bool {
                match self {
                    $(ClassroomReason::$name => $lasting,)*
                    ClassroomReason::Other(_) => false,
                }
            }

            /// What to do about it, in a sentence.
            pub fn advice(&self) -> Option<&'static str> {
                match self {
                    $(ClassroomReason::$name => Some($advice),)*
                    ClassroomReason::Other(_) => None,
                }
            }

            fn from_code(code: &str) -> ClassroomReason {
                match code {
                    $(stringify!($name) => ClassroomReason::$name,)*
                    other => ClassroomReason::Other(other.to_string()),
                }
            }
        }
    };
}

reasons! {
    /// A user's daily quota of invitations is spent (429).
    UserInvitationQuotaExhausted, lasting: true,
        advice: "this user's daily invitation quota is spent; send the rest tomorrow, or add members directly where your role allows";
    /// The course has as many members as Classroom allows.
    CourseMemberLimitReached, lasting: true,
        advice: "the course is full; remove members who no longer belong before adding more";
    /// The course has as many teachers as Classroom allows.
    CourseTeacherLimitReached, lasting: true,
        advice: "the course has the most teachers allowed; remove one before adding another";
    /// The course has as many topics as Classroom allows.
    CourseTopicLimitReached, lasting: true,
        advice: "the course has the most topics allowed; delete unused topics first";
    /// The user belongs to as many groups as Workspace allows.
    UserGroupsMembershipLimitReached, lasting: true,
        advice: "the user is in the most groups Google Workspace allows; remove them from courses or groups they no longer need";
    /// The course is in a state (archived, say) that does not allow this change.
    CourseNotModifiable, lasting: true,
        advice: "the course cannot be changed in its current state (archived?); change its state first, in the same patch if you like";
    /// An ownership transfer is already waiting for the new owner to accept it.
    PendingInvitationExists, lasting: true,
        advice: "an ownership transfer is already pending; wait until the invited owner accepts it, or delete that invitation";
    /// The course owner's account is not active.
    InactiveCourseOwner, lasting: true,
        advice: "the course owner's account is inactive; transfer the course to an active owner";
    /// The user named as owner cannot own courses.
    IneligibleOwner, lasting: true,
        advice: "the user cannot own courses (check their domain and Classroom access)";
    /// The course owner may not be removed.
    CannotRemoveCourseOwner, lasting: true,
        advice: "the course owner cannot be removed; transfer ownership first";
    /// The owner of the course's Drive folder may not be removed.
    CannotRemoveCourseFolderOwner, lasting: true,
        advice: "the owner of the course's Drive folder cannot be removed; transfer the folder first";
    /// An ownership transfer is still in progress.
    CannotRemoveCourseOwnerTransferIncomplete, lasting: false,
        advice: "the course's ownership transfer is still in progress; try again in a few moments";
    /// A teacher cannot be removed from a course that has no owner.
    CannotRemoveTeacherWithNoCourseOwner, lasting: true,
        advice: "the course has no owner; give it one before removing teachers";
    /// An attachment is not visible to the user, not of the requested type, or gone.
    AttachmentNotVisible, lasting: true,
        advice: "an attachment is not visible to the user or does not exist; check the Drive ids and sharing";
    /// The user cannot be added directly (no email, or outside the domain).
    CannotDirectAddUser, lasting: true,
        advice: "the user cannot be added directly: check that the account exists and is in the admin's domain, or invite them instead";
    /// The user has no access to Classroom.
    ClassroomDisabled, lasting: true,
        advice: "the user has no access to Classroom; an admin must turn it on for them (or they signed in with another account)";
    /// The user's Classroom data is not open to the API.
    ClassroomApiDisabled, lasting: true,
        advice: "Classroom data access is turned off for this user; an admin must allow it";
    /// The resource belongs to another Google Cloud project.
    ProjectPermissionDenied, lasting: true,
        advice: "only the Cloud project whose OAuth client created this resource may change it";
    /// The user may not change grading period settings.
    UserIneligibleToUpdateGradingPeriodSettings, lasting: true,
        advice: "grading period settings need a license this user or course lacks";
}

impl ClassroomReason {
    /// The code at the start of an error message, if there is one: `@` and a name.
    pub(crate) fn from_message(message: &str) -> Option<ClassroomReason> {
        let code = message.trim_start().strip_prefix('@')?;
        let end = code
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(code.len());
        (end > 0).then(|| ClassroomReason::from_code(&code[..end]))
    }
}

impl fmt::Display for ClassroomReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_from_the_start_of_a_message() {
        assert_eq!(
            ClassroomReason::from_message("@CourseMemberLimitReached The course is full."),
            Some(ClassroomReason::CourseMemberLimitReached)
        );
        assert_eq!(
            ClassroomReason::from_message("@UserInvitationQuotaExhausted"),
            Some(ClassroomReason::UserInvitationQuotaExhausted)
        );
        assert_eq!(
            ClassroomReason::from_message("@SomethingNew: details"),
            Some(ClassroomReason::Other("SomethingNew".into()))
        );
        for plain in [
            "Requested entity was not found.",
            "@",
            "@ space",
            "",
            "email@example.com",
        ] {
            assert_eq!(ClassroomReason::from_message(plain), None, "{plain:?}");
        }
        assert!(ClassroomReason::ProjectPermissionDenied.is_lasting());
        assert!(!ClassroomReason::CannotRemoveCourseOwnerTransferIncomplete.is_lasting());
        assert!(!ClassroomReason::Other("X".into()).is_lasting());
    }
}
