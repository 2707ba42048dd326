//! The `classroom-sync` binary, run as a scheduler runs it, against the emulator over
//! loopback: its config file, subcommands, exit codes and JSON lines, and the policies a
//! district sets in the config (teacher-editable names, ownership transfer, a hand-made course
//! left alone, archive then delete).

use std::path::{Path, PathBuf};
use std::process::Command;

use classroom::models::Course;
use classroom::{BearerToken, Classroom, FieldMask, Scope};
use classroom_emulator::{Emulator, Role};
use serde_json::Value;

mod support;
use support::temp_dir;

const USERS: [(&str, &str, Role); 5] = [
    ("ann", "teacher", Role::Teacher),
    ("bo", "teacher", Role::Teacher),
    ("cy", "student", Role::Student),
    ("di", "student", Role::Student),
    ("fay", "student", Role::Student),
];

/// A two-class export: k1 taught by Ann (primary) and Bo, k2 by Bo; `k1_primary` says who is
/// k1's primary teacher.
fn write_export(dir: &Path, k1_primary: &str, with_k2: bool) {
    let mut users =
        String::from("sourcedId,enabledUser,role,username,givenName,familyName,email\r\n");
    for (id, role, _) in USERS {
        users.push_str(&format!(
            "{id},true,{role},{id},{id},X,{id}@school.example\r\n"
        ));
    }
    let mut classes = String::from(
        "sourcedId,title,courseSourcedId,classType,location,schoolSourcedId,termSourcedIds\r\n\
         k1,Biology - Period 1,bio,scheduled,Lab 1,sch,t1\r\n",
    );
    let (ann, bo) = if k1_primary == "ann" {
        ("true", "false")
    } else {
        ("false", "true")
    };
    let mut enrollments = format!(
        "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,primary\r\n\
         e1,k1,sch,ann,teacher,{ann}\r\n\
         e2,k1,sch,bo,teacher,{bo}\r\n\
         e3,k1,sch,cy,student,\r\n\
         e4,k1,sch,di,student,\r\n"
    );
    if with_k2 {
        classes.push_str("k2,Biology - Period 2,bio,scheduled,Lab 2,sch,t1\r\n");
        enrollments.push_str("e5,k2,sch,bo,teacher,true\r\ne6,k2,sch,fay,student,\r\n");
    }
    let files = [
        (
            "orgs.csv",
            "sourcedId,name,type\r\nsch,School,school\r\n".to_string(),
        ),
        ("users.csv", users),
        (
            "courses.csv",
            "sourcedId,title,orgSourcedId\r\nbio,Biology,sch\r\n".to_string(),
        ),
        ("classes.csv", classes),
        ("enrollments.csv", enrollments),
        (
            "manifest.csv",
            "propertyName,value\r\nmanifest.version,1.0\r\noneroster.version,1.1\r\n\
             file.orgs,bulk\r\nfile.users,bulk\r\nfile.courses,bulk\r\n\
             file.classes,bulk\r\nfile.enrollments,bulk\r\n"
                .to_string(),
        ),
    ];
    std::fs::create_dir_all(dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
}

fn emulator() -> Emulator {
    let emulator = Emulator::builder().empty().start().unwrap();
    for (id, _, role) in USERS {
        emulator.add_user(&format!("{id}@school.example"), id, "X", role);
    }
    emulator
}

/// A config for the emulator, with the policies given as TOML lines.
fn config(dir: &Path, emulator: &Emulator, policies: &str) -> PathBuf {
    let text = format!(
        r#"
roster = "export"
domain = "school.example"
state_file = "state.json"
rate_limit = "none"

[credentials]
kind = "client_credentials"
client_id = "{}"
client_secret = "{}"
token_url = "{}"

[policies]
{policies}
"#,
        emulator.client_id(),
        emulator.client_secret(),
        emulator.token_url(),
    );
    let path = dir.join("sync.toml");
    std::fs::write(&path, text).unwrap();
    path
}

struct Run {
    code: i32,
    lines: Vec<Value>,
    stdout: String,
}

impl Run {
    fn events(&self, event: &str) -> Vec<&Value> {
        self.lines.iter().filter(|l| l["event"] == event).collect()
    }
}

fn tool(config: &Path, root_url: Option<&str>, args: &[&str]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_classroom-sync"));
    command.arg("--config").arg(config).arg("--log").arg("json");
    if let Some(root) = root_url {
        command.args(["--root-url", root]);
    }
    let output = command.args(args).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    Run {
        code: output.status.code().unwrap(),
        lines,
        stdout,
    }
}

fn as_user(emulator: &Emulator, user: &str) -> Classroom {
    let scopes = [Scope::Courses, Scope::Rosters, Scope::ProfileEmails];
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(
            emulator.token_for(user, &scopes),
            scopes.iter().map(|s| s.url()),
        ))
        .build()
        .unwrap()
}

#[test]
fn the_tool_plans_applies_and_then_keeps_a_teachers_rename_and_transfers_ownership() {
    let dir = temp_dir("policies");
    write_export(&dir.join("export"), "ann", true);
    let emulator = emulator();
    let root = emulator.root_url();
    let config = config(
        &dir,
        &emulator,
        "teacher_fields = [\"name\"]\ntransfer_ownership = true\narchive_missing = true\n\
         delete_archived = true\ncourse_state = \"ACTIVE\"",
    );
    let admin = as_user(&emulator, "admin");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // A course a person made by hand, with no alias under the prefix: never touched.
    let by_hand = runtime
        .block_on(
            admin
                .courses()
                .create(Course {
                    name: Some("Chess club".into()),
                    owner_id: Some("ann@school.example".into()),
                    ..Course::default()
                })
                .send(),
        )
        .unwrap();

    let calls = emulator.api_calls();
    let check = tool(&config, None, &["check"]);
    assert_eq!(
        (check.code, check.events("check").len()),
        (0, 1),
        "{}",
        check.stdout
    );
    assert_eq!(emulator.api_calls(), calls, "check calls nothing");

    let plan = tool(&config, Some(&root), &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 5, "{}", plan.stdout);
    let planned = plan.events("planned");
    assert_eq!(planned.len(), 6, "{}", plan.stdout);
    assert_eq!(plan.events("plan")[0]["changes"], 6);
    assert_eq!(planned[0]["change"]["kind"], "create_course");

    let apply = tool(&config, Some(&root), &["apply"]);
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    let outcomes = apply.events("change");
    assert_eq!(outcomes.len(), 6);
    assert!(
        outcomes.iter().all(|o| o["outcome"]["result"] == "done"),
        "{}",
        apply.stdout
    );
    assert_eq!(apply.events("summary")[0]["summary"]["done"], 6);
    assert!(
        dir.join("state.json").exists(),
        "apply records what it wrote"
    );

    let again = tool(&config, Some(&root), &["plan", "--detailed-exitcode"]);
    assert_eq!(
        (again.code, again.events("planned").len()),
        (0, 0),
        "{}",
        again.stdout
    );

    // Ann renames k1 in Classroom; the name is hers from now on, the room still the roster's.
    let ann = as_user(&emulator, "ann@school.example");
    runtime
        .block_on(
            ann.courses()
                .patch(
                    "d:sis-k1",
                    Course {
                        name: Some("Ms. Lee's Biology".into()),
                        room: Some("Lab 9".into()),
                        ..Course::default()
                    },
                )
                .update_mask(FieldMask::new(["name", "room"]))
                .send(),
        )
        .unwrap();
    // Bo becomes k1's primary teacher; k2 leaves the roster.
    write_export(&dir.join("export"), "bo", false);
    let apply = tool(&config, Some(&root), &["apply"]);
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    let kinds: Vec<String> = apply
        .events("change")
        .iter()
        .map(|o| {
            let change = &o["change"];
            format!(
                "{} {}",
                change["kind"].as_str().unwrap(),
                change["alias"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "update_course d:sis-k1",
            "transfer_ownership d:sis-k1",
            "archive_course d:sis-k2",
        ],
        "{}",
        apply.stdout
    );
    let update = &apply.events("change")[0]["change"]["changes"];
    assert_eq!(
        update.as_array().unwrap().len(),
        1,
        "only the room: {update}"
    );
    assert_eq!(update[0]["field"], "room");
    let k1 = runtime
        .block_on(admin.courses().get("d:sis-k1").send())
        .unwrap();
    assert_eq!(k1.name.as_deref(), Some("Ms. Lee's Biology"));
    assert_eq!(k1.room.as_deref(), Some("Lab 1"));
    let bo_id = emulator.user_id("bo@school.example").unwrap();
    assert_eq!(
        k1.owner_id.as_deref(),
        Some(bo_id.as_str()),
        "ownership moved to Bo"
    );

    // The next run deletes the archived k2, and then there is nothing left to do.
    let apply = tool(&config, Some(&root), &["apply"]);
    let kinds: Vec<&str> = apply
        .events("change")
        .iter()
        .map(|o| o["change"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["delete_course"], "{}", apply.stdout);
    let again = tool(&config, Some(&root), &["plan", "--detailed-exitcode"]);
    assert_eq!(
        (again.code, again.events("planned").len()),
        (0, 0),
        "{}",
        again.stdout
    );
    let chess = runtime
        .block_on(admin.courses().get(by_hand.id.as_deref().unwrap()).send())
        .unwrap();
    assert_eq!(
        chess.name.as_deref(),
        Some("Chess club"),
        "the hand-made course is untouched"
    );
    assert_eq!(chess.course_state, by_hand.course_state);
}

#[test]
fn bad_input_and_bad_config_exit_with_their_codes_and_call_nothing() {
    let dir = temp_dir("bad");
    let emulator = emulator();
    let root = emulator.root_url();
    write_export(&dir.join("export"), "ann", true);
    // Latin-1 bytes in users.csv, and a member outside the domain.
    let users = dir.join("export/users.csv");
    let mut bytes = std::fs::read(&users).unwrap();
    bytes.extend_from_slice(b"zoe,true,student,zoe,Zo\xe9,X,zoe@school.example\r\n");
    bytes.extend_from_slice(b"max,true,student,max,Max,X,max@other.example\r\n");
    std::fs::write(&users, bytes).unwrap();
    let config = config(&dir, &emulator, "");
    for args in [&["check"][..], &["plan"], &["apply"]] {
        let run = tool(&config, Some(&root), args);
        assert_eq!(run.code, 3, "{args:?}: {}", run.stdout);
        let error = run.events("error");
        assert_eq!(error[0]["kind"], "input");
        let problem = &error[0]["problems"][0];
        assert_eq!(problem["file"], "users.csv", "{}", run.stdout);
        assert_eq!(problem["line"], 7, "{}", run.stdout);
    }
    assert_eq!(emulator.api_calls(), 0, "nothing read, nothing written");

    let domain_only = temp_dir("domain");
    write_export(&domain_only.join("export"), "ann", true);
    let users = domain_only.join("export/users.csv");
    let mut text = std::fs::read_to_string(&users).unwrap();
    text.push_str("max,true,student,max,Max,X,max@other.example\r\n");
    std::fs::write(&users, text).unwrap();
    let run = tool(&config_in(&domain_only, &emulator), None, &["check"]);
    assert_eq!(run.code, 3, "{}", run.stdout);
    let problem = &run.events("error")[0]["problems"][0];
    assert_eq!(
        (problem["line"].as_u64(), problem["column"].as_str()),
        (Some(7), Some("email"))
    );

    for (name, text, says) in [
        (
            "unknown key",
            "roster = \"x\"\nrostr = 1\n",
            "unknown field `rostr`",
        ),
        (
            "no credentials",
            "roster = \"export\"\n",
            "missing field `credentials`",
        ),
        (
            "editable fields need a state file",
            "roster = \"export\"\n[credentials]\nkind = \"application_default\"\n[policies]\nteacher_fields = [\"name\"]\n",
            "needs state_file",
        ),
        (
            "bad template",
            "roster = \"export\"\n[credentials]\nkind = \"application_default\"\n[naming]\nname = \"{course.nope\"\n",
            "naming.name",
        ),
    ] {
        let path = dir.join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let run = tool(&path, None, &["check"]);
        assert_eq!(run.code, 2, "{name}: {}", run.stdout);
        let message = run.events("error")[0]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.contains(says), "{name}: {message}");
    }

    // Classroom unreachable: exit 4, and the client secret is in no line.
    let good = dir.join("good");
    write_export(&good.join("export"), "ann", true);
    let run = tool(
        &config_in(&good, &emulator),
        Some("http://127.0.0.1:9/"),
        &["plan"],
    );
    assert_eq!(run.code, 4, "{}", run.stdout);
    assert!(!run.stdout.contains(emulator.client_secret()));
}

fn config_in(dir: &Path, emulator: &Emulator) -> PathBuf {
    config(dir, emulator, "")
}
