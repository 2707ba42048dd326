//! The tool as a district installs and runs it: `cargo install` of `classroom-sync` and of
//! `classroom-emulator`, the standalone emulator seeded from an accounts file, and a
//! generated district (80 classes, 4,000 enrollments, 300 guardians) synced into it through
//! `--root-url`: plan, apply, plan again is empty; guardians are invited up to the daily quota
//! and the rest the next day; a teacher's rename survives the next run; a new primary teacher
//! gets the course; a hand-made course is untouched.
//!
//! The install builds into its own target directory (`target/installed`, beside cargo's
//! own profiles), so that it never replaces the binaries `cargo test` built; the first run
//! builds the dependencies once more, a few minutes on two cores.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use classroom::models::Course;
use classroom::{BearerToken, Classroom, FieldMask};
use classroom_sync::Roster;
use classroom_sync::synthetic::{District, DistrictSpec};
use serde_json::{Value, json};

mod support;
use support::temp_dir;

/// `cargo install --path` of the two packages into `root`; their binaries.
fn install(root: &Path) -> (PathBuf, PathBuf) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    // This test's own target directory: .../target/debug/deps/installed-HASH.
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().join("installed");
    for package in ["sync", "emulator"] {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        // Without what cargo sets for this test process, which build scripts would see.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*name)
            {
                command.env_remove(&*name);
            }
        }
        let status = command
            .current_dir(workspace)
            .args([
                "install", "--quiet", "--locked", "--debug", "--force", "--path",
            ])
            .arg(workspace.join(package))
            .arg("--root")
            .arg(root)
            .arg("--target-dir")
            .arg(&target)
            .status()
            .unwrap();
        assert!(status.success(), "cargo install --path {package} failed");
    }
    let bin = |name: &str| {
        root.join("bin")
            .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
    };
    (bin("classroom-sync"), bin("classroom-emulator"))
}

/// The standalone emulator, killed however the test ends.
struct Standalone {
    child: Child,
    root: String,
    token_url: String,
    client_id: String,
    client_secret: String,
}

impl Standalone {
    fn start(binary: &Path, args: &[&str]) -> Standalone {
        let mut child = Command::new(binary)
            .args(["--port", "0", "--empty"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
                .to_string()
        };
        Standalone {
            root: field("root"),
            token_url: field("token_url"),
            client_id: field("client_id"),
            client_secret: field("client_secret"),
            child,
        }
    }

    /// A token for `user` from the admin endpoint.
    async fn token_for(&self, user: &str, scopes: &[&str]) -> String {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let reply: Value = reqwest::Client::new()
            .post(format!("{}emulator/v1/tokens", self.root))
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .json(&json!({ "user": user, "scopes": scopes }))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        reply["access_token"].as_str().unwrap().to_string()
    }

    async fn client_for(&self, user: &str) -> Classroom {
        let scopes = [
            "classroom.courses",
            "classroom.rosters",
            "classroom.profile.emails",
        ];
        let token = self.token_for(user, &scopes).await;
        Classroom::builder()
            .root_url(&self.root)
            .credentials(BearerToken::new(
                token,
                scopes.map(|s| format!("https://www.googleapis.com/auth/{s}")),
            ))
            .build()
            .unwrap()
    }
}

impl Drop for Standalone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The emulator's accounts file for the district's teachers and students.
fn accounts(roster: &Roster, domain: &str) -> Value {
    let users: Vec<Value> = roster
        .users
        .iter()
        .filter(|u| matches!(u.role.as_str(), "teacher" | "student"))
        .map(|u| {
            json!({
                "email": u.email,
                "givenName": u.given_name,
                "familyName": u.family_name,
                "role": u.role,
            })
        })
        .collect();
    json!({ "domain": domain, "users": users })
}

struct Run {
    code: i32,
    lines: Vec<Value>,
    stdout: String,
}

impl Run {
    fn count(&self, event: &str) -> usize {
        self.lines.iter().filter(|l| l["event"] == event).count()
    }

    fn kinds(&self, event: &str) -> Vec<String> {
        self.lines
            .iter()
            .filter(|l| l["event"] == event)
            .map(|l| l["change"]["kind"].as_str().unwrap().to_string())
            .collect()
    }
}

fn tool(binary: &Path, config: &Path, root: &str, args: &[&str]) -> Run {
    let output = Command::new(binary)
        .arg("--config")
        .arg(config)
        .args(["--root-url", root])
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_installed_tool_syncs_a_district_into_the_standalone_emulator() {
    let dir = temp_dir("district");
    let (sync_bin, emulator_bin) = install(&dir.join("installed"));

    let spec = DistrictSpec {
        classes: 80,
        teachers: 70,
        students: 1_500,
        enrollments: 4_000,
        guardians: 300,
        ..DistrictSpec::default()
    };
    let district = District::generate(&spec);
    let export = dir.join("export");
    district.write(&export).unwrap();
    let roster = Roster::read(&export).unwrap();
    assert_eq!(roster.classes.len(), 80);
    assert!(roster.enrollments.len() >= 4_000);
    std::fs::write(
        dir.join("accounts.json"),
        accounts(&roster, &spec.domain).to_string(),
    )
    .unwrap();
    let emulator = Standalone::start(
        &emulator_bin,
        &[
            "--accounts",
            dir.join("accounts.json").to_str().unwrap(),
            "--daily-invitations",
            "200",
        ],
    );
    let config = dir.join("sync.toml");
    std::fs::write(
        &config,
        format!(
            r#"roster = "export"
domain = "{domain}"
state_file = "state.json"
rate_limit = "none"

[credentials]
kind = "client_credentials"
client_id = "{id}"
client_secret = "{secret}"
token_url = "{token_url}"

[policies]
remove_members = true
archive_missing = true
teacher_fields = ["name"]
transfer_ownership = true
invite_guardians = true
"#,
            domain = spec.domain,
            id = emulator.client_id,
            secret = emulator.client_secret,
            token_url = emulator.token_url,
        ),
    )
    .unwrap();

    // A course a person made by hand: no alias under the prefix.
    let admin = emulator.client_for("admin").await;
    let teacher = &roster
        .users
        .iter()
        .find(|u| u.role == "teacher")
        .unwrap()
        .email;
    let by_hand = admin
        .courses()
        .create(Course {
            name: Some("Robotics club".into()),
            owner_id: Some(teacher.clone()),
            ..Course::default()
        })
        .send()
        .await
        .unwrap();

    let root = &emulator.root;
    let check = tool(&sync_bin, &config, root, &["check"]);
    assert_eq!(check.code, 0, "{}", check.stdout);
    let plan = tool(&sync_bin, &config, root, &["plan", "--detailed-exitcode"]);
    assert_eq!(plan.code, 5, "{}", plan.stdout);
    let planned = plan.count("planned");
    assert!(planned >= 4_000, "{planned} changes planned");
    let invitations = plan
        .kinds("planned")
        .iter()
        .filter(|k| *k == "invite_guardian")
        .count();
    assert_eq!(invitations, 300, "one per guardian");
    // The day's quota (200 invitations) sends 200; the other 100 wait for tomorrow, which is
    // not a failure.
    let apply = tool(&sync_bin, &config, root, &["apply"]);
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    assert_eq!(apply.count("change"), planned);
    let summary = &apply.lines.last().unwrap()["summary"];
    assert_eq!(
        (summary["failed"].as_u64(), summary["deferred"].as_u64()),
        (Some(0), Some(100)),
        "{summary}"
    );
    let today = tool(&sync_bin, &config, root, &["plan", "--detailed-exitcode"]);
    assert_eq!(today.code, 5);
    assert_eq!(today.kinds("planned"), vec!["invite_guardian"; 100]);
    let next_day: Value = reqwest::Client::new()
        .post(format!("{root}emulator/v1/quotas/day:advance"))
        .basic_auth(&emulator.client_id, Some(&emulator.client_secret))
        .json(&json!({ "days": 1 }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(next_day["quotaDay"].is_string(), "{next_day}");
    let apply = tool(&sync_bin, &config, root, &["apply"]);
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    assert_eq!(apply.kinds("change"), vec!["invite_guardian"; 100]);
    let again = tool(&sync_bin, &config, root, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        (again.code, again.count("planned")),
        (0, 0),
        "{}",
        again.stdout
    );

    // A teacher renames their course; their name survives the next run.
    let class = &roster.classes[0];
    let alias = classroom_sync::alias_for("sis-", &class.sourced_id);
    let course = admin.courses().get(&alias).send().await.unwrap();
    let owner = emulator
        .client_for(course.owner_id.as_deref().unwrap())
        .await;
    owner
        .courses()
        .patch(
            &alias,
            Course {
                name: Some("Ms. Rivera's class".into()),
                ..Course::default()
            },
        )
        .update_mask(FieldMask::new(["name"]))
        .send()
        .await
        .unwrap();
    let again = tool(&sync_bin, &config, root, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        (again.code, again.count("planned")),
        (0, 0),
        "{}",
        again.stdout
    );

    // The class gets a new primary teacher: it becomes theirs.
    let enrollments = export.join("enrollments.csv");
    let text = std::fs::read_to_string(&enrollments).unwrap();
    let primary = roster
        .enrollments
        .iter()
        .find(|e| e.class_sourced_id == class.sourced_id && e.primary)
        .unwrap();
    let in_class: Vec<&str> = roster
        .enrollments
        .iter()
        .filter(|e| e.class_sourced_id == class.sourced_id)
        .map(|e| e.user_sourced_id.as_str())
        .collect();
    let other = roster
        .users
        .iter()
        .find(|u| u.role == "teacher" && !in_class.contains(&u.sourced_id.as_str()))
        .unwrap();
    let column = text
        .lines()
        .next()
        .unwrap()
        .split(',')
        .position(|c| c == "userSourcedId")
        .unwrap();
    let line = text
        .lines()
        .nth(primary.line as usize - 1)
        .unwrap()
        .to_string();
    let mut fields: Vec<&str> = line.split(',').collect();
    assert_eq!(fields[column], primary.user_sourced_id);
    fields[column] = &other.sourced_id;
    std::fs::write(&enrollments, text.replacen(&line, &fields.join(","), 1)).unwrap();
    // This run adds them and hands them the course; the old owner stays a teacher until the
    // next run, which removes them as the roster no longer lists them.
    let apply = tool(&sync_bin, &config, root, &["apply"]);
    assert_eq!(apply.code, 0, "{}", apply.stdout);
    assert_eq!(
        apply.kinds("change"),
        ["add_teacher", "transfer_ownership"],
        "{}",
        apply.stdout
    );
    let apply = tool(&sync_bin, &config, root, &["apply"]);
    assert_eq!(
        apply.kinds("change"),
        ["remove_teacher"],
        "{}",
        apply.stdout
    );
    let course = admin.courses().get(&alias).send().await.unwrap();
    let new_owner = admin
        .user_profiles()
        .get(&other.email)
        .send()
        .await
        .unwrap();
    assert_eq!(
        course.owner_id, new_owner.id,
        "the new primary teacher owns it"
    );
    assert!(new_owner.id.is_some());
    assert_eq!(course.name.as_deref(), Some("Ms. Rivera's class"));
    let again = tool(&sync_bin, &config, root, &["plan", "--detailed-exitcode"]);
    assert_eq!(
        (again.code, again.count("planned")),
        (0, 0),
        "{}",
        again.stdout
    );

    let robotics = admin
        .courses()
        .get(by_hand.id.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(robotics, by_hand, "the hand-made course is untouched");
}
