//! Roster sync from OneRoster CSV files: `plan` shows what would change, `apply` changes it.
//!
//! ```text
//! cargo run --example roster_sync                              # plan a generated district, on the emulator
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

mod common;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use classroom::{BearerToken, Classroom, RateLimit, RetryPolicy};
use classroom_emulator::{Emulator, Quotas, Role, demo};
use classroom_sync::synthetic::{District, DistrictSpec};
use classroom_sync::{CourseNaming, Progress, Roster, RosterSync, SCOPES, SyncOptions, Template};
use common::{Auth, BoxError};

/// Syncs Classroom with a district's OneRoster CSV files (orgs, users, courses, classes,
/// enrollments .csv): `plan` prints the changes that would make Classroom match the files,
/// `apply` carries them out, `generate` writes a synthetic district. With no command: `plan`.
///
/// With no credentials it runs on a local emulator, on a generated district (or --dir) whose
/// users it adds to the emulator's domain; without --dir it first syncs last night's version
/// of the district, so that the plan shows what changed since. For a real domain, act as a
/// domain admin and give --dir. Scopes used: classroom.courses, classroom.rosters,
/// classroom.profile.emails.
///
/// Exit status: 0 when everything is as the files say (or was planned), 1 on an error before
/// anything was written (invalid files, Classroom unreadable), 2 on a mistake in the command
/// line, 3 when some changes failed (the report says which).
#[derive(Parser, Debug)]
#[command(
    name = "roster_sync",
    version,
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    #[command(flatten)]
    sync: SyncArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read the OneRoster files, read Classroom, print the changes that would make Classroom
    /// match the files; writes nothing
    Plan(SyncArgs),
    /// Plan, then carry the plan out, with a progress counter and a summary
    Apply(SyncArgs),
    /// Write a synthetic district's OneRoster files into --dir
    Generate {
        /// The directory to write the CSV files into
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,

        /// The synthetic district's seed
        #[arg(long, value_name = "N", default_value_t = 2026)]
        seed: u64,
    },
}

#[derive(clap::Args, Debug, Clone)]
struct SyncArgs {
    /// The OneRoster CSV directory (default with no credentials: a generated district, in a
    /// temporary directory removed at exit; required otherwise)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Print the plan (and apply's report) as JSON
    #[arg(long)]
    json: bool,

    /// Alias prefix: courses are d:PREFIX<class sourcedId>
    #[arg(long, value_name = "PREFIX", default_value = "sis-")]
    prefix: String,

    /// Plan removing teachers and students the files do not list
    #[arg(long)]
    remove_members: bool,

    /// Plan archiving courses under the prefix whose class is gone
    #[arg(long)]
    archive_missing: bool,

    /// Leave out creating courses
    #[arg(long)]
    no_create: bool,

    /// Leave out updating courses' fields
    #[arg(long)]
    no_update: bool,

    /// Leave out adding members
    #[arg(long)]
    no_add: bool,

    /// How courses are named from the columns of the class, its course and its school, e.g.
    /// '{course.title}' (the default)
    #[arg(long, value_name = "TEMPLATE", value_parser = template)]
    name: Option<Template>,

    /// The section, e.g. '{class.periods} · {school.name}' (default: {class.title|class.classCode}
    /// without the name it repeats)
    #[arg(long, value_name = "TEMPLATE", value_parser = template)]
    section: Option<Template>,

    /// The room (default: {class.location})
    #[arg(long, value_name = "TEMPLATE", value_parser = template)]
    room: Option<Template>,

    /// Batch requests in flight at once
    #[arg(long, value_name = "N", default_value_t = 4)]
    concurrency: usize,

    /// `classroom` (Classroom's quotas: 1,200 calls a minute per user, 3,000 per project),
    /// `none`, or calls a minute for the user (default: `classroom` with credentials or
    /// --emulator-quotas, `none` on the emulator)
    #[arg(long, value_name = "LIMIT", value_parser = limit)]
    rate_limit: Option<Limit>,

    /// The synthetic district's seed, with no --dir
    #[arg(long, value_name = "N", default_value_t = 2026)]
    seed: u64,

    /// On the local emulator, enforce Classroom's quotas while planning and applying (1,200
    /// calls a minute per user, 3,000 per project, a bucket of 100), pace the run to them, and
    /// report its calls and 429 replies
    #[arg(long)]
    emulator_quotas: bool,

    #[command(flatten)]
    auth: Auth,
}

/// A `--rate-limit`.
#[derive(Clone, Copy, Debug)]
enum Limit {
    Classroom,
    None,
    PerMinute(u32),
}

impl Limit {
    /// The rate limit, and the calls a minute a user may make under it.
    fn rate(self) -> Option<(RateLimit, u32)> {
        match self {
            Limit::Classroom => Some((RateLimit::classroom(), 1_200)),
            Limit::None => None,
            Limit::PerMinute(n) => Some((RateLimit::new().user_per_minute(n), n)),
        }
    }
}

fn limit(value: &str) -> Result<Limit, String> {
    match value.to_ascii_lowercase().as_str() {
        "classroom" => Ok(Limit::Classroom),
        "none" => Ok(Limit::None),
        n => match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(Limit::PerMinute(n)),
            _ => Err("expected `classroom`, `none` or a number of calls a minute".into()),
        },
    }
}

fn template(value: &str) -> Result<Template, String> {
    Template::parse(value).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    common::run(run(Args::parse()))
}

/// A directory removed when dropped, at the end of the run whether it succeeds or not.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        TempDir(std::env::temp_dir().join(format!("roster_sync-{name}-{}", std::process::id())))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The exit status when some changes failed.
const SOME_CHANGES_FAILED: u8 = 3;

async fn run(args: Args) -> Result<ExitCode, BoxError> {
    let (apply, args) = match args.command {
        Some(Command::Generate { dir, seed }) => {
            let spec = DistrictSpec {
                seed,
                ..DistrictSpec::default()
            };
            District::generate(&spec).write(&dir)?;
            eprintln!(
                "wrote a synthetic district (seed {seed}) to {}",
                dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Plan(sync)) => (false, sync),
        Some(Command::Apply(sync)) => (true, sync),
        None => (false, args.sync),
    };
    let spec = DistrictSpec {
        seed: args.seed,
        ..DistrictSpec::default()
    };
    let mut naming = CourseNaming::default();
    if let Some(template) = args.name.clone() {
        naming = naming.name(template);
    }
    if let Some(template) = args.section.clone() {
        naming = naming.section(template);
    }
    if let Some(template) = args.room.clone() {
        naming = naming.room(template);
    }
    let options = SyncOptions::default()
        .naming(naming)
        .alias_prefix(args.prefix.clone())
        .remove_members(args.remove_members)
        .archive_missing(args.archive_missing)
        .create_courses(!args.no_create)
        .update_courses(!args.no_update)
        .add_members(!args.no_add)
        .concurrency(args.concurrency);

    let target = args.auth.target(&SCOPES, |e| e.empty())?;
    if args.emulator_quotas && target.emulator.is_none() {
        return Err(
            "--emulator-quotas applies to the emulator this example starts: leave out \
                    the credentials and --root-url"
                .into(),
        );
    }
    // A run that enforces Classroom's quotas paces itself to them.
    let limit = args
        .rate_limit
        .unwrap_or(if args.auth.has_credentials() || args.emulator_quotas {
            Limit::Classroom
        } else {
            Limit::None
        });
    let mut builder = target.builder;
    let rate = limit.rate();
    if let Some((limit, _)) = &rate {
        builder = builder.rate_limit(limit.clone());
    }
    if target.emulator.is_some() {
        builder = builder.retry(RetryPolicy::default().initial_backoff(Duration::from_millis(50)));
    }
    let classroom = builder.build()?;

    // Today's files, and where they live: --dir, or a generated district in a temporary
    // directory removed at the end of the run.
    let mut _generated = None;
    let dir = match (&args.dir, &target.emulator) {
        (Some(dir), Some(emulator)) => {
            add_users(emulator, &Roster::read(dir)?);
            eprintln!(
                "no credentials given: syncing {} to a local emulator at {} whose domain holds its users",
                dir.display(),
                emulator.root_url()
            );
            dir.clone()
        }
        (Some(dir), None) => dir.clone(),
        (None, None) => {
            return Err(
                "give the OneRoster directory with --dir DIR (a generated district is \
                        used only on the emulator this example starts)"
                    .into(),
            );
        }
        (None, Some(emulator)) => {
            let today = TempDir::new("district");
            let district = District::generate(&spec);
            district.write(&today.0)?;
            add_users(emulator, &Roster::read(&today.0)?);
            let yesterday = TempDir::new("yesterday");
            last_night(&district).write(&yesterday.0)?;
            // Last night's sync is the scene, not the run: it goes unpaced.
            let setup = Classroom::builder()
                .root_url(emulator.root_url())
                .credentials(BearerToken::new(
                    emulator.token_for(demo::ADMIN, &SCOPES),
                    SCOPES.map(|s| s.url()),
                ))
                .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(50)))
                .build()?;
            let before = RosterSync::new(setup).options(options.clone().remove_members(true));
            let plan = before.plan(&Roster::read(&yesterday.0)?).await?;
            before.apply(&plan).await;
            eprintln!(
                "no credentials given: a local emulator at {} holds last night's sync of a synthetic \
                 district (seed {}); today's files are generated in {} for this run (`roster_sync \
                 generate --dir DIR` writes them to keep)",
                emulator.root_url(),
                args.seed,
                today.0.display()
            );
            let dir = today.0.clone();
            _generated = Some(today);
            dir
        }
    };
    if let Some(emulator) = &target.emulator
        && args.emulator_quotas
    {
        emulator.set_quotas(Quotas::classroom().user_burst(100).project_burst(100));
    }

    if let Some((_, per_minute)) = rate {
        eprintln!(
            "pacing every call to at most {per_minute} a minute ({} a second after a burst)",
            (per_minute / 60).max(1)
        );
    }
    let roster = Roster::read(&dir)?;
    let sync = RosterSync::new(classroom).options(options);
    let plan = sync.plan(&roster).await?;
    if !apply {
        if args.json {
            println!("{}", serde_json::to_string_pretty(&plan)?);
        } else {
            println!("{plan}");
            println!(
                "({} calls to read Classroom; nothing was written)",
                plan.read_calls
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.json {
        println!("{plan}");
    }
    if let Some((_, per_minute)) = rate {
        let calls = plan.changes.len() as u64;
        let seconds = calls.saturating_sub(u64::from(per_minute / 60)) * 60 / u64::from(per_minute);
        eprintln!(
            "applying {calls} change(s) at {per_minute} calls a minute at most: about {} to write",
            if seconds < 1 {
                "a second".to_string()
            } else {
                format!("{seconds} s")
            }
        );
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if let Some(emulator) = &target.emulator
        && args.emulator_quotas
    {
        eprintln!(
            "emulator: {} API calls answered, {} refused for quota (429)",
            emulator.api_calls(),
            emulator.quota_rejections()
        );
    }
    Ok(if report.summary().failed > 0 {
        ExitCode::from(SOME_CHANGES_FAILED)
    } else {
        ExitCode::SUCCESS
    })
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
