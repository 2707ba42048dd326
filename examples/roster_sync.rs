//! Roster sync from OneRoster CSV files: `plan` shows what would change, `apply` changes it.
//!
//! ```text
//! cargo run --example roster_sync -- plan                      # a generated district, on the emulator
//! cargo run --example roster_sync -- apply --remove-members --archive-missing
//! cargo run --example roster_sync -- generate --dir district/  # write the synthetic district
//! cargo run --example roster_sync -- plan --dir district/ --service-account key.json --subject admin@school.edu
//! ```
//!
//! With no credentials it runs on the local emulator: it generates a synthetic district
//! (60 classes, 1,000 users, 2,000 enrollments; or reads `--dir`), adds its users to the
//! emulator's domain, and (without `--dir`) first syncs last night's version of the district,
//! so that the plan shows what changed since: a renamed class, new and departed students, a
//! class that was dropped.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use classroom::auth::{
    ClientCredentials, ClientSecret, OAuthClient, Provider, ServiceAccountCredentials,
    ServiceAccountKey,
};
use classroom::{Classroom, RateLimit, RetryPolicy};
use classroom_emulator::{Emulator, Quotas, Role};
use classroom_sync::synthetic::{District, DistrictSpec};
use classroom_sync::{CourseNaming, Progress, Roster, RosterSync, SCOPES, SyncOptions, Template};

const USAGE: &str = "\
usage: roster_sync <plan|apply|generate> [options]

  plan      read the OneRoster files, read Classroom, print the changes that would make
            Classroom match the files; writes nothing
  apply     plan, then carry the plan out, with a progress counter and a summary
  generate  write a synthetic district's OneRoster files into --dir

options:
  --dir DIR                 the OneRoster CSV directory (orgs, users, courses, classes,
                            enrollments .csv); default: a generated district
  --json                    print the plan (and apply's report) as JSON
  --prefix PREFIX           alias prefix: courses are d:PREFIX<class sourcedId> (default sis-)
  --remove-members          plan removing teachers and students the files do not list
  --archive-missing         plan archiving courses under the prefix whose class is gone
  --no-create, --no-update, --no-add
                            leave out creating courses, updating their fields, adding members
  --name TEMPLATE, --section TEMPLATE, --room TEMPLATE
                            how courses are named from the columns of the class, its course
                            and its school, e.g. --section '{class.periods} · {school.name}'
                            (default: name {course.title}, section {class.title|class.classCode}
                            without the name it repeats, room {class.location}; see
                            classroom_sync::CourseNaming)
  --concurrency N           batch requests in flight at once (default 4)
  --rate-limit LIMIT        `classroom` (Classroom's quotas: 1,200 calls a minute per user,
                            3,000 per project), `none`, or calls per minute for the user;
                            default `classroom` with credentials, `none` on the emulator
  --seed N                  the synthetic district's seed (default 2026)
  --emulator-quotas         on the emulator, enforce Classroom's quotas while planning and
                            applying (1,200 calls a minute per user, 3,000 per project, a
                            bucket of 100), and report its calls and 429 replies
  --service-account KEY --subject EMAIL
                            sync real Classroom as EMAIL, a domain admin (domain-wide
                            delegation); without them, a local emulator is used

exit status: 0 when everything is as the files say (or was planned), 1 on an error before
anything was written (invalid files, Classroom unreadable), 2 when some changes failed.";

#[tokio::main]
async fn main() {
    match run().await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = e.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            std::process::exit(1);
        }
    }
}

struct Args(Vec<String>);

impl Args {
    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    fn value(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
    }
}

async fn run() -> Result<i32, Box<dyn std::error::Error>> {
    let args = Args(std::env::args().skip(1).collect());
    if args.0.is_empty() || args.flag("-h") || args.flag("--help") {
        println!("{USAGE}");
        return Ok(0);
    }
    let command = args.0[0].as_str();
    let seed: u64 = args.value("--seed").map_or(Ok(2026), |s| s.parse())?;
    let spec = DistrictSpec {
        seed,
        ..DistrictSpec::default()
    };
    if command == "generate" {
        let dir = args.value("--dir").ok_or("generate needs --dir DIR")?;
        District::generate(&spec).write(&dir)?;
        eprintln!("wrote a synthetic district (seed {seed}) to {dir}");
        return Ok(0);
    }
    if command != "plan" && command != "apply" {
        return Err(format!("unknown command {command:?}\n\n{USAGE}").into());
    }
    let mut naming = CourseNaming::default();
    if let Some(template) = args.value("--name") {
        naming = naming.name(Template::parse(&template)?);
    }
    if let Some(template) = args.value("--section") {
        naming = naming.section(Template::parse(&template)?);
    }
    if let Some(template) = args.value("--room") {
        naming = naming.room(Template::parse(&template)?);
    }
    let options = SyncOptions::default()
        .naming(naming)
        .alias_prefix(args.value("--prefix").unwrap_or_else(|| "sis-".into()))
        .remove_members(args.flag("--remove-members"))
        .archive_missing(args.flag("--archive-missing"))
        .create_courses(!args.flag("--no-create"))
        .update_courses(!args.flag("--no-update"))
        .add_members(!args.flag("--no-add"))
        .concurrency(args.value("--concurrency").map_or(Ok(4), |s| s.parse())?);

    // Kept alive until the end: dropping it stops the emulator.
    let mut _emulator = None;
    let real = args.value("--service-account").is_some();
    let limit = match args.value("--rate-limit").as_deref() {
        None if real => Some(RateLimit::classroom()),
        None | Some("none") => None,
        Some("classroom") => Some(RateLimit::classroom()),
        Some(n) => Some(RateLimit::new().user_per_minute(n.parse()?)),
    };
    let (classroom, dir) = match (args.value("--service-account"), args.value("--subject")) {
        (Some(key), Some(subject)) => {
            let dir = args
                .value("--dir")
                .ok_or("with credentials, give --dir DIR")?;
            let credentials =
                ServiceAccountCredentials::new(ServiceAccountKey::from_file(key)?, SCOPES)
                    .subject(&subject);
            let mut builder = Classroom::builder().credentials(credentials);
            if let Some(limit) = limit {
                builder = builder.rate_limit(limit);
            }
            (builder.build()?, PathBuf::from(dir))
        }
        (None, None) => {
            let emulator = Emulator::builder().empty().start()?;
            let client = OAuthClient::new(
                emulator.client_id(),
                Some(ClientSecret::new(emulator.client_secret())),
            )
            .with_provider(Provider::token_endpoint(emulator.token_url()));
            let mut builder = Classroom::builder()
                .root_url(emulator.root_url())
                .credentials(ClientCredentials::new(client, SCOPES.map(|s| s.url())))
                .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(50)));
            if let Some(limit) = limit {
                builder = builder.rate_limit(limit);
            }
            let classroom = builder.build()?;
            let dir = match args.value("--dir") {
                Some(dir) => {
                    let dir = PathBuf::from(dir);
                    add_users(&emulator, &Roster::read(&dir)?);
                    eprintln!(
                        "no credentials given: syncing {} to a local emulator at {} whose domain holds its users",
                        dir.display(),
                        emulator.root_url()
                    );
                    dir
                }
                None => {
                    let dir = std::env::temp_dir()
                        .join(format!("roster_sync-district-{}", std::process::id()));
                    let district = District::generate(&spec);
                    district.write(&dir)?;
                    add_users(&emulator, &Roster::read(&dir)?);
                    let yesterday = std::env::temp_dir()
                        .join(format!("roster_sync-yesterday-{}", std::process::id()));
                    last_night(&district).write(&yesterday)?;
                    let before = RosterSync::new(classroom.clone())
                        .options(options.clone().remove_members(true));
                    let plan = before.plan(&Roster::read(&yesterday)?).await?;
                    before.apply(&plan).await;
                    std::fs::remove_dir_all(&yesterday)?;
                    eprintln!(
                        "no credentials given: a local emulator at {} holds last night's sync of a synthetic \
                         district (seed {seed}); today's files are in {}",
                        emulator.root_url(),
                        dir.display()
                    );
                    dir
                }
            };
            if args.flag("--emulator-quotas") {
                emulator.set_quotas(Quotas::classroom().user_burst(100).project_burst(100));
            }
            _emulator = Some(emulator);
            (classroom, dir)
        }
        _ => return Err(format!("give both --service-account and --subject\n\n{USAGE}").into()),
    };

    let roster = Roster::read(&dir)?;
    let sync = RosterSync::new(classroom).options(options);
    let plan = sync.plan(&roster).await?;
    let json = args.flag("--json");
    if command == "plan" {
        if json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            println!("{plan}");
            println!(
                "({} calls to read Classroom; nothing was written)",
                plan.read_calls
            );
        }
        return Ok(0);
    }
    if !json {
        println!("{plan}");
    }
    let terminal = std::io::stderr().is_terminal();
    let report = sync
        .apply_with_progress(&plan, |p: Progress| {
            if terminal {
                eprint!("\rapplying: {}/{} ({} failed)", p.done, p.total, p.failed);
                if p.done == p.total {
                    eprintln!();
                }
            }
        })
        .await;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if let Some(emulator) = &_emulator
        && args.flag("--emulator-quotas")
    {
        eprintln!(
            "emulator: {} API calls answered, {} refused for quota (429)",
            emulator.api_calls(),
            emulator.quota_rejections()
        );
    }
    Ok(if report.summary().failed > 0 { 2 } else { 0 })
}

/// Adds the roster's users to the emulator's domain, as the district's Google accounts.
fn add_users(emulator: &Emulator, roster: &Roster) {
    for user in &roster.users {
        let role = match user.role.as_str() {
            "teacher" | "administrator" | "aide" => Role::Teacher,
            _ => Role::Student,
        };
        if !user.email.is_empty() {
            emulator.add_user(&user.email, &user.given_name, &user.family_name, role);
        }
    }
}

/// The district as it was last night: one class had another title, three students had not
/// enrolled yet, two students were still in a class they have since left, and one class has
/// since been dropped.
fn last_night(today: &District) -> District {
    let mut d = today.clone();
    let title = d.classes.col("title");
    d.classes.rows[0][title].push_str(" (draft)");
    let e = &mut d.enrollments;
    let (role, class, user) = (
        e.col("role"),
        e.col("classSourcedId"),
        e.col("userSourcedId"),
    );
    let students: Vec<usize> = (0..e.rows.len())
        .filter(|&i| e.rows[i][role] == "student")
        .collect();
    // Three enrollments of today that were not there yet.
    for &i in students.iter().rev().take(3) {
        e.rows.remove(i);
    }
    // Two students who were in class-0002 and have left it since.
    for (n, &i) in students.iter().skip(40).take(2).enumerate() {
        let mut row = e.rows[i].clone();
        if row[class] == "class-0002" {
            continue;
        }
        row[class] = "class-0002".into();
        row[0] = format!("enr-left-{n}");
        let already = e
            .rows
            .iter()
            .any(|r| r[class] == "class-0002" && r[user] == row[user]);
        if !already {
            e.rows.push(row);
        }
    }
    // A class dropped since, with its teacher and a few students.
    let mut dropped = d.classes.rows[1].clone();
    dropped[0] = "class-dropped".into();
    dropped[title] = "Study Hall".into();
    d.classes.rows.push(dropped);
    for (n, &i) in students.iter().take(3).enumerate() {
        let mut row = d.enrollments.rows[i].clone();
        row[0] = format!("enr-dropped-{n}");
        row[class] = "class-dropped".into();
        d.enrollments.rows.push(row);
    }
    d
}
