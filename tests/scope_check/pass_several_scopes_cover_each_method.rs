use classroom::scope_check::ScopeSet;
use classroom::{BearerToken, Classroom, Scope, Scopes};

type Sync = Scopes![
    CoursesReadonly,
    Rosters,
    CourseworkStudents,
    GuardianlinksStudents
];

/// The consent screen asks for exactly the set the calls were checked against.
#[allow(dead_code)]
fn consent(flow: &classroom::auth::WebFlow) -> classroom::auth::AuthorizationRequest<'_> {
    flow.authorize(Sync::scopes())
}

pub fn main() {
    let client: Classroom<Sync> = Classroom::new(BearerToken::unchecked("t")).unwrap().typed();
    let _ = client.courses().list();
    let _ = client
        .courses()
        .students()
        .create("course", Default::default());
    let _ = client
        .courses()
        .course_work()
        .create("course", Default::default());
    let _ = client
        .courses()
        .course_work()
        .student_submissions()
        .return_("course", "work", "id");
    let _ = client
        .user_profiles()
        .guardian_invitations()
        .create("student", Default::default());
    // The set is also what the consent screen asks for.
    assert_eq!(
        Sync::scopes(),
        [
            Scope::CoursesReadonly,
            Scope::Rosters,
            Scope::CourseworkStudents,
            Scope::GuardianlinksStudents
        ]
    );
}
