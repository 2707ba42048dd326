use classroom::{BearerToken, Classroom, Scopes};

pub fn main() {
    let client: Classroom<Scopes![RostersReadonly, ProfileEmails]> =
        Classroom::new(BearerToken::unchecked("t")).unwrap().typed();
    let _ = client.courses().students().list("course");
    let _ = client.courses().teachers().get("course", "me");
}
