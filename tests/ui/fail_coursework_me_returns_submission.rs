use classroom::{BearerToken, Classroom, Scopes};

fn main() {
    // A student's own scope cannot return (grade) a submission.
    let client: Classroom<Scopes![CourseworkMe]> = Classroom::new(BearerToken::unchecked("t")).unwrap().typed();
    let _ = client.courses().course_work().student_submissions().return_("course", "work", "id");
}
