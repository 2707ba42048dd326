//! The standalone binary with a generated district (`--accounts FILE`), its admin endpoint
//! (`/emulator/v1/...`) and `--daily-invitations`, as a test in another language meets them:
//! the binary as a process, plain HTTP over 127.0.0.1.

mod http;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use serde_json::{Value, json};

use http::{Answer, basic, bearer, send};

const BINARY: &str = env!("CARGO_BIN_EXE_classroom-emulator");

/// Kills the server, by its own handle, however the test ends.
struct Server {
    child: Child,
    addr: String,
    client_id: String,
    client_secret: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts the binary with these arguments and reads its first line.
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BINARY)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|f| f.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("{key} in the line {line:?}"))
                .to_string()
        };
        let root = field("root");
        Server {
            addr: root
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            client_id: field("client_id"),
            client_secret: field("client_secret"),
            child,
        }
    }

    fn admin(&self, path: &str, body: &Value) -> Answer {
        send(
            &self.addr,
            "POST",
            path,
            Some(&basic(&self.client_id, &self.client_secret)),
            Some(&body.to_string()),
        )
    }

    /// A token for `user` through the admin endpoint.
    fn token(&self, user: &str, scopes: &[&str]) -> String {
        let answer = self.admin(
            "/emulator/v1/tokens",
            &json!({"user": user, "scopes": scopes}),
        );
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["access_token"].as_str().unwrap().to_string()
    }

    fn api(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Answer {
        send(
            &self.addr,
            method,
            path,
            Some(&bearer(token)),
            body.map(Value::to_string).as_deref(),
        )
    }
}

/// A file of this test run's own, in the system's temporary directory.
fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("classroom-emulator-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// A generated district: 20 teachers, 280 students, one line per user.
fn district() -> String {
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(json!({"email": format!("teacher{i}@district.example"),
            "givenName": format!("Teacher{i}"), "familyName": "Staff", "role": "teacher"}));
    }
    for i in 0..280 {
        users.push(json!({"email": format!("student{i}@district.example"),
            "givenName": format!("Student{i}"), "familyName": "Pupil", "role": "student"}));
    }
    let lines: Vec<String> = users.iter().map(Value::to_string).collect();
    format!(
        "{{\"domain\": \"district.example\", \"users\": [\n{}\n]}}\n",
        lines.join(",\n")
    )
}

const PROFILE_SCOPES: [&str; 2] = ["classroom.rosters", "classroom.profile.emails"];

#[test]
fn a_district_from_a_file_signs_in_and_grows_through_the_admin_endpoint() {
    let file = temp_file("district.json", &district());
    let server = Server::start(&["--empty", "--accounts", file.to_str().unwrap()]);

    // A teacher of the file acts through a minted token.
    let teacher = server.token(
        "teacher7@district.example",
        &[
            "classroom.courses",
            "classroom.rosters",
            "classroom.profile.emails",
        ],
    );
    let me = server.api("GET", "/v1/userProfiles/me", &teacher, None);
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["name"]["givenName"], "Teacher7");
    assert_eq!(me.body["emailAddress"], "teacher7@district.example");
    // The last user of the file is there too.
    let last = server.api(
        "GET",
        "/v1/userProfiles/student279@district.example",
        &server.token("admin", &PROFILE_SCOPES),
        None,
    );
    assert_eq!(
        last.status, 200,
        "every user of the file is seeded: {last:?}"
    );
    assert_eq!(last.body["name"]["fullName"], "Student279 Pupil");

    // File users are users like any: the teacher makes a course, rosters a student of the file,
    // and renames the course as its teacher.
    let course = server.api(
        "POST",
        "/v1/courses",
        &teacher,
        Some(&json!({"name": "Algebra 7", "ownerId": "me", "courseState": "ACTIVE"})),
    );
    assert_eq!(course.status, 200, "{course:?}");
    let id = course.body["id"].as_str().unwrap();
    let enrolled = server.api(
        "POST",
        &format!("/v1/courses/{id}/students"),
        &teacher,
        Some(&json!({"userId": "student3@district.example"})),
    );
    assert_eq!(enrolled.status, 200, "{enrolled:?}");
    let renamed = server.api(
        "PATCH",
        &format!("/v1/courses/{id}?updateMask=name"),
        &teacher,
        Some(&json!({"name": "Algebra 7 (renamed)"})),
    );
    assert_eq!(renamed.status, 200, "{renamed:?}");
    assert_eq!(renamed.body["name"], "Algebra 7 (renamed)");

    // A user added while the server runs can act at once.
    let added = server.admin(
        "/emulator/v1/users",
        &json!({"users": [{"email": "late.hire@district.example", "givenName": "Late",
                           "familyName": "Hire", "role": "teacher"}]}),
    );
    assert_eq!(added.status, 200, "{added:?}");
    assert_eq!(
        added.body["users"][0]["email"],
        "late.hire@district.example"
    );
    assert_eq!(added.body["users"][0]["role"], "teacher");
    let new_id = added.body["users"][0]["id"].as_str().unwrap().to_string();
    let late = server.token(&new_id, &PROFILE_SCOPES);
    let profile = server.api("GET", "/v1/userProfiles/me", &late, None);
    assert_eq!(profile.status, 200, "{profile:?}");
    assert_eq!(
        profile.body["id"],
        new_id.as_str(),
        "the token acts as the new user"
    );

    // Adding an email twice, or a bad document, adds nobody and says why.
    let again = server.admin(
        "/emulator/v1/users",
        &json!({"users": [
            {"email": "another@district.example", "givenName": "An", "familyName": "Other", "role": "student"},
            {"email": "late.hire@district.example", "givenName": "Late", "familyName": "Hire", "role": "teacher"}]}),
    );
    assert_eq!(
        (again.status, again.error_status()),
        (409, "ALREADY_EXISTS"),
        "{again:?}"
    );
    assert!(
        again
            .error_message()
            .starts_with("request body:1: users[1] (late.hire@district.example): "),
        "{again:?}"
    );
    let bad = server.admin(
        "/emulator/v1/users",
        &json!({"users": [{"email": "x@district.example", "givenName": "X", "familyName": "Y", "role": "janitor"}]}),
    );
    assert_eq!(
        (bad.status, bad.error_status()),
        (400, "INVALID_ARGUMENT"),
        "{bad:?}"
    );
    assert!(bad.error_message().contains("role \"janitor\""), "{bad:?}");
    let nobody = server.admin(
        "/emulator/v1/tokens",
        &json!({"user": "another@district.example", "scopes": ["classroom.rosters"]}),
    );
    assert_eq!(
        (nobody.status, nobody.error_status()),
        (404, "NOT_FOUND"),
        "a refused document added none of its users: {nobody:?}"
    );
    let scope = server.admin(
        "/emulator/v1/tokens",
        &json!({"user": "admin", "scopes": ["classroom.everything"]}),
    );
    assert_eq!(scope.status, 400, "{scope:?}");
    assert!(
        scope.error_message().contains("classroom.everything"),
        "{scope:?}"
    );
}

fn run(args: &[&str]) -> (Output, String) {
    let output = Command::new(BINARY)
        .args(["--port", "0"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stderr)
}

#[test]
fn a_refused_accounts_file_exits_2_naming_the_file_line_and_entry() {
    let cases = [
        (
            "bad-role.json",
            "{\"users\": [\n  {\"email\": \"a@d.example\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"teacher\"},\n  {\"email\": \"b@d.example\", \"givenName\": \"B\", \"familyName\": \"C\", \"role\": \"Teacher\"}\n]}",
            ":3: users[1] (b@d.example): role \"Teacher\" is not one of admin, teacher, student, guardian",
        ),
        (
            "not-json.json",
            "{\"users\": [\n  {\"email\" \"a@d.example\"}\n]}",
            ":2:12: not JSON: expected `:`",
        ),
        (
            "snake-case.json",
            "{\"users\": [{\"email\": \"a@d.example\", \"given_name\": \"A\"}]}",
            ":1: users[0] (a@d.example): unknown field \"given_name\"",
        ),
        (
            // The demo users are there even with --empty.
            "demo-admin.json",
            "{\"users\": [{\"email\": \"admin@school.example\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"admin\"}]}",
            ":1: users[0] (admin@school.example): the emulator already has this user",
        ),
    ];
    for (name, contents, expected) in cases {
        let file = temp_file(name, contents);
        let (output, stderr) = run(&["--empty", "--accounts", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(output.stdout.is_empty(), "{name}: no line when refused");
        assert!(
            stderr.contains(&format!("{}{expected}", file.display())),
            "{name}: the message names the file, line and entry: {stderr}"
        );
    }

    let (missing, stderr) = run(&["--accounts", "/no/such/district.json"]);
    assert_eq!(missing.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/no/such/district.json: cannot read the file"),
        "{stderr}"
    );
    let (no_file, stderr) = run(&["--accounts"]);
    assert_eq!(no_file.status.code(), Some(2));
    assert!(stderr.contains("--accounts needs a file"), "{stderr}");
    let (bad_count, stderr) = run(&["--daily-invitations", "many"]);
    assert_eq!(bad_count.status.code(), Some(2));
    assert!(
        stderr.contains("--daily-invitations needs a whole number"),
        "{stderr}"
    );

    let help = Command::new(BINARY).arg("--help").output().unwrap();
    let usage = String::from_utf8_lossy(&help.stderr);
    assert!(
        usage.contains("--accounts FILE") && usage.contains("--daily-invitations N"),
        "{usage}"
    );
}

#[test]
fn the_admin_endpoint_refuses_anyone_without_the_client_credentials() {
    let server = Server::start(&[]);
    let user = json!({"users": [{"email": "intruder@school.example", "givenName": "In",
                                 "familyName": "Truder", "role": "admin"}]});
    let routes = [
        ("/emulator/v1/users", user.clone()),
        (
            "/emulator/v1/tokens",
            json!({"user": "admin", "scopes": ["classroom.courses"]}),
        ),
        ("/emulator/v1/quotas/day:advance", json!({"days": 1})),
        ("/emulator/v1/no-such-route", json!({})),
    ];
    // A valid API token of the admin, as the token endpoint issues it.
    let api_token = server.token("admin", &["classroom.courses"]);
    let callers = [
        None,
        Some(bearer(&api_token)),
        Some(basic(&server.client_id, "wrong-secret")),
        Some(basic(&server.client_id, &api_token)),
        Some(basic(
            "someone-else.apps.googleusercontent.com",
            &server.client_secret,
        )),
        Some("Basic not-base64!".to_string()),
    ];
    for (path, body) in &routes {
        for auth in &callers {
            let answer = send(
                &server.addr,
                "POST",
                path,
                auth.as_deref(),
                Some(&body.to_string()),
            );
            assert_eq!(
                (answer.status, answer.error_status()),
                (401, "UNAUTHENTICATED"),
                "{path} with {auth:?}: {answer:?}"
            );
            let challenges: Vec<&str> = answer
                .head
                .lines()
                .filter_map(|l| l.strip_prefix("www-authenticate: "))
                .collect();
            assert_eq!(
                challenges,
                ["basic realm=\"classroom-emulator admin\""],
                "the 401 asks for Basic, and only Basic: {answer:?}"
            );
        }
    }
    let intruder = server.admin(
        "/emulator/v1/tokens",
        &json!({"user": "intruder@school.example", "scopes": ["classroom.courses"]}),
    );
    assert_eq!(
        intruder.status, 404,
        "a refused call added no user: {intruder:?}"
    );

    // With the credentials: the other answers of the endpoint.
    let auth = basic(&server.client_id, &server.client_secret);
    let get = send(&server.addr, "GET", "/emulator/v1/users", Some(&auth), None);
    assert_eq!(get.status, 405, "{get:?}");
    assert!(get.head.contains("allow: post"), "{get:?}");
    let unknown = send(
        &server.addr,
        "POST",
        "/emulator/v1/nope",
        Some(&auth),
        Some("{}"),
    );
    assert_eq!((unknown.status, unknown.error_status()), (404, "NOT_FOUND"));
    assert!(
        unknown.error_message().contains("/emulator/v1/users"),
        "{unknown:?}"
    );
    let not_json = send(
        &server.addr,
        "POST",
        "/emulator/v1/tokens",
        Some(&auth),
        Some("{user"),
    );
    assert_eq!(
        (not_json.status, not_json.error_status()),
        (400, "INVALID_ARGUMENT")
    );
    let zero = server.admin("/emulator/v1/quotas/day:advance", &json!({"days": 0}));
    assert_eq!(zero.status, 400, "{zero:?}");
    // An admin endpoint token is an API token like any: Classroom takes it.
    let listed = server.api("GET", "/v1/courses", &api_token, None);
    assert_eq!(listed.status, 200, "{listed:?}");
}

#[test]
fn the_daily_invitation_quota_renews_when_the_day_is_moved_on() {
    let server = Server::start(&["--daily-invitations", "2"]);
    let admin = server.token("admin", &["classroom.guardianlinks.students"]);
    let invite = |student: &str, guardian: &str| {
        server.api(
            "POST",
            &format!("/v1/userProfiles/{student}/guardianInvitations"),
            &admin,
            Some(&json!({"studentId": student, "invitedEmailAddress": guardian})),
        )
    };
    let first = invite("edsger.dijkstra@school.example", "parent.d@family.example");
    assert_eq!(first.status, 200, "{first:?}");
    // A pending invitation to the same address: ALREADY_EXISTS, and it does not count.
    let twice = invite("edsger.dijkstra@school.example", "Parent.D@family.example");
    assert_eq!(
        (twice.status, twice.error_status()),
        (409, "ALREADY_EXISTS"),
        "{twice:?}"
    );
    let second = invite("barbara.liskov@school.example", "parent.l@family.example");
    assert_eq!(
        second.status, 200,
        "the refused one was not counted: {second:?}"
    );
    let third = invite("donald.knuth@school.example", "parent.k@family.example");
    assert_eq!(
        (third.status, third.error_status()),
        (429, "RESOURCE_EXHAUSTED"),
        "{third:?}"
    );
    assert!(
        third
            .error_message()
            .starts_with("@UserInvitationQuotaExhausted "),
        "{third:?}"
    );

    let next = server.admin("/emulator/v1/quotas/day:advance", &json!({}));
    assert_eq!(next.status, 200, "{next:?}");
    let day = next.body["quotaDay"].as_str().unwrap_or_default();
    assert!(
        day.len() == 10 && day.as_bytes()[4] == b'-',
        "quotaDay is YYYY-MM-DD: {next:?}"
    );
    let renewed = invite("donald.knuth@school.example", "parent.k@family.example");
    assert_eq!(renewed.status, 200, "a new day, a new quota: {renewed:?}");
    let later = server.admin("/emulator/v1/quotas/day:advance", &json!({"days": 3}));
    assert_ne!(later.body["quotaDay"], next.body["quotaDay"], "{later:?}");
}
