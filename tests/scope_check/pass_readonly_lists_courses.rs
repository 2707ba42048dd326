use classroom::{BearerToken, Classroom, Scopes};

pub fn main() {
    let client: Classroom<Scopes![CoursesReadonly]> =
        Classroom::new(BearerToken::unchecked("t")).unwrap().typed();
    let _ = client.courses().list();
    let _ = client.courses().get("d:math-101");
}
