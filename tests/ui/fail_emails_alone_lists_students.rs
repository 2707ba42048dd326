use classroom::{BearerToken, Classroom, Scopes};

fn main() {
    // classroom.profile.emails widens what students.list returns, but never authorizes it.
    let client: Classroom<Scopes![ProfileEmails]> = Classroom::new(BearerToken::unchecked("t")).unwrap().typed();
    let _ = client.courses().students().list("course");
}
