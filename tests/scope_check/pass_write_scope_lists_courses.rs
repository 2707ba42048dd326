use classroom::{BearerToken, Classroom, Scopes};

pub fn main() {
    // classroom.courses authorizes courses.list as well as courses.create.
    let client: Classroom<Scopes![Courses]> =
        Classroom::new(BearerToken::unchecked("t")).unwrap().typed();
    let _ = client.courses().list();
    let _ = client.courses().create(Default::default());
}
