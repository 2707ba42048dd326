//! `classroom-sync`: OneRoster CSV exports to Google Classroom, run by hand or from a
//! scheduler. See `classroom-sync --help` and the crate's README.

mod config;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use classroom::auth::{
    ClientCredentials, ClientSecret, Credentials, OAuthClient, Provider, ServiceAccountCredentials,
    ServiceAccountKey, UserCredentials, default_credentials,
};
use classroom::{Classroom, RateLimit};
use classroom_sync::{ApplyReport, Plan, Roster, RosterSync, SyncError, SyncOptions, SyncState};
use serde_json::json;

use config::{Config, CredentialsConfig, RateLimitSetting};

/// The exit codes, as the help text lists them.
mod exit {
    /// Done: the input is valid (check), the plan was made (plan), every change came out
    /// done, already so or deferred to the next run (apply).
    pub const OK: u8 = 0;
    /// Apply: some changes failed (the rest were made); run again to finish.
    pub const CHANGES_FAILED: u8 = 1;
    /// The command line, the config file or the state file is wrong.
    pub const USAGE: u8 = 2;
    /// The roster is invalid; nothing was written.
    pub const INPUT: u8 = 3;
    /// Classroom could not be read, or signing in failed; nothing was written.
    pub const CLASSROOM: u8 = 4;
    /// `plan --detailed-exitcode`: the plan has changes.
    pub const CHANGES_PLANNED: u8 = 5;
}

const AFTER_HELP: &str = "\
Exit status:
  0  done: valid input (check), a plan (plan), every change done, already so or deferred (apply)
  1  apply: some changes failed, the rest were made; run again to finish
  2  bad command line, config file or state file
  3  the roster is invalid (each problem with its file, line and column); nothing written
  4  Classroom could not be read, or signing in failed; nothing written
  5  plan --detailed-exitcode: the plan has changes

Output: with --log json (the default when stdout is not a terminal) one JSON object a line:
{\"event\":\"planned\",\"change\":{...}} per planned change, {\"event\":\"change\",\"change\":{...},
\"outcome\":{...}} per change applied, then {\"event\":\"plan\",...} or {\"event\":\"summary\",...};
problems as {\"event\":\"error\",...}.";

/// Syncs a OneRoster CSV export into Google Classroom: check the files, plan the changes,
/// apply them.
#[derive(Debug, Parser)]
#[command(name = "classroom-sync", version, after_help = AFTER_HELP)]
struct Cli {
    /// The config file (TOML).
    #[arg(long, short, env = "CLASSROOM_SYNC_CONFIG", value_name = "FILE")]
    config: PathBuf,
    /// Sync this Classroom-compatible server instead (an emulator's `root=`); overrides
    /// `root_url` in the config.
    #[arg(long, value_name = "URL", global = true)]
    root_url: Option<String>,
    /// `json`: a JSON object a line, for schedulers; `text`: for a person. Default: text on
    /// a terminal, json otherwise.
    #[arg(long, value_enum, global = true)]
    log: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Read and check the OneRoster files; no call to Classroom.
    Check,
    /// Read the files and Classroom, and print the changes that would make Classroom match;
    /// writes nothing.
    Plan {
        /// Exit with 5 when the plan has changes (0 when Classroom already matches).
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Plan, then carry the plan out, and record what was written in the state file.
    Apply,
    /// Export the managed courses' coursework and grades as a OneRoster gradebook (line
    /// items, results, categories, grading periods and the manifest) into a directory:
    /// what changed since the stored watermark (`delta`), or everything (`bulk`) on the
    /// first run, with `--full`, or when the grades state file is lost.
    Grades {
        /// The directory the CSV files are written to (made if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Export what changed after this time (RFC 3339, e.g. 2025-09-01T00:00:00Z)
        /// instead of since the stored watermark.
        #[arg(long, value_name = "TIME")]
        since: Option<classroom::chrono::DateTime<classroom::chrono::Utc>>,
        /// Read every course in full: a bulk export.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

/// A failure that ends the run, with its exit code.
struct Fatal {
    code: u8,
    json: serde_json::Value,
    text: String,
}

impl Fatal {
    fn usage(message: impl Into<String>) -> Fatal {
        let message = message.into();
        Fatal {
            code: exit::USAGE,
            json: json!({ "event": "error", "kind": "usage", "message": message }),
            text: message,
        }
    }

    fn sync(error: SyncError) -> Fatal {
        match error {
            SyncError::Input(input) => Fatal {
                code: exit::INPUT,
                json: json!({
                    "event": "error",
                    "kind": "input",
                    "message": input.to_string(),
                    "problems": input.problems,
                }),
                text: input.to_string(),
            },
            other => {
                let mut text = other.to_string();
                let mut source = std::error::Error::source(&other);
                while let Some(cause) = source {
                    text.push_str(&format!("\n  caused by: {cause}"));
                    source = cause.source();
                }
                Fatal {
                    code: exit::CLASSROOM,
                    json: json!({ "event": "error", "kind": "classroom", "message": text }),
                    text,
                }
            }
        }
    }
}

/// Where the run's lines go.
struct Log {
    format: LogFormat,
}

impl Log {
    fn json(&self, value: serde_json::Value) {
        if self.format == LogFormat::Json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{value}");
        }
    }

    fn text(&self, text: impl std::fmt::Display) {
        if self.format == LogFormat::Text {
            println!("{text}");
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.log.unwrap_or(if std::io::stdout().is_terminal() {
        LogFormat::Text
    } else {
        LogFormat::Json
    });
    let log = Log { format };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("classroom-sync: cannot start: {e}");
            return ExitCode::from(exit::CLASSROOM);
        }
    };
    match runtime.block_on(run(cli, &log)) {
        Ok(code) => ExitCode::from(code),
        Err(fatal) => {
            match log.format {
                LogFormat::Json => log.json(fatal.json),
                LogFormat::Text => eprintln!("classroom-sync: {}", fatal.text),
            }
            ExitCode::from(fatal.code)
        }
    }
}

async fn run(cli: Cli, log: &Log) -> Result<u8, Fatal> {
    let config = Config::load(&cli.config).map_err(Fatal::usage)?;
    let options = config.options().map_err(Fatal::usage)?;
    let roster = Roster::read(&config.roster).map_err(|e| Fatal::sync(e.into()))?;
    if let Command::Check = cli.command {
        // No client: the checks a plan makes before it reads Classroom.
        sync_for(offline_client(), options)
            .check(&roster)
            .map_err(Fatal::sync)?;
        log.json(json!({ "event": "check", "valid": true, "dir": config.roster }));
        log.text(format!(
            "{}: valid ({} users, {} classes, {} enrollments)",
            config.roster.display(),
            roster.users.len(),
            roster.classes.len(),
            roster.enrollments.len()
        ));
        return Ok(exit::OK);
    }
    if let Command::Grades { out, since, full } = &cli.command {
        return grades(&cli, &config, &roster, out, *since, *full, log).await;
    }
    let state = match &config.state_file {
        Some(path) => SyncState::load(path).map_err(|e| Fatal::usage(e.to_string()))?,
        None => SyncState::new(),
    };
    let root_url = cli.root_url.clone().or(config.root_url.clone());
    let classroom = client(&config, &options.scopes(), root_url.as_deref()).await?;
    let sync = sync_for(classroom, options);
    let plan = sync.plan_with(&roster, &state).await.map_err(Fatal::sync)?;
    report_plan(&plan, log);
    match cli.command {
        Command::Plan { detailed_exitcode } if detailed_exitcode && !plan.is_empty() => {
            Ok(exit::CHANGES_PLANNED)
        }
        Command::Plan { .. } | Command::Check | Command::Grades { .. } => Ok(exit::OK),
        Command::Apply => {
            let report = sync.apply(&plan).await;
            report_apply(&report, log);
            let mut code = if report.summary().failed > 0 {
                exit::CHANGES_FAILED
            } else {
                exit::OK
            };
            if let Some(path) = &config.state_file {
                let mut state = state;
                state.record(&plan, &report);
                if let Err(e) = state.save(path) {
                    let fatal = Fatal::usage(format!(
                        "the changes were applied, but the state could not be saved: {e}"
                    ));
                    log.json(fatal.json);
                    eprintln!("classroom-sync: {}", fatal.text);
                    code = exit::CHANGES_FAILED;
                }
            }
            Ok(code)
        }
    }
}

fn sync_for(classroom: Classroom, options: SyncOptions) -> RosterSync {
    RosterSync::new(classroom).options(options)
}

/// A client that is never called: `check` needs a `RosterSync` but sends nothing.
fn offline_client() -> Classroom {
    Classroom::builder()
        .root_url("http://127.0.0.1:9/")
        .credentials(classroom::BearerToken::unchecked("unused"))
        .build()
        .expect("a loopback URL and a token make a client")
}

/// `grades`: reads the gradebooks of the roster's classes and writes them to `out`; the
/// watermarks are saved only once the files are written.
async fn grades(
    cli: &Cli,
    config: &Config,
    roster: &Roster,
    out: &std::path::Path,
    since: Option<classroom::chrono::DateTime<classroom::chrono::Utc>>,
    full: bool,
    log: &Log,
) -> Result<u8, Fatal> {
    use classroom_sync::gradebook::{
        GRADES_SCOPES, Gradebook, GradebookClass, GradebookOptions, GradesState, Students, Version,
    };
    let g = &config.grades;
    let state = match &g.state_file {
        Some(path) => GradesState::load(path).map_err(|e| Fatal::usage(e.to_string()))?,
        None => GradesState::new(),
    };
    let root_url = cli.root_url.clone().or(config.root_url.clone());
    let classroom = client(config, &GRADES_SCOPES, root_url.as_deref()).await?;
    let mut options = GradebookOptions::default()
        .draft_grades(g.draft_grades)
        .since(since)
        .full(full);
    if let Some(prefix) = &g.id_prefix {
        options = options.id_prefix(prefix.clone());
    }
    if let Some(n) = config.concurrency {
        options = options.concurrency(n);
    }
    let classes = GradebookClass::from_roster(roster, &config.alias_prefix);
    let export = Gradebook::new(classroom)
        .options(options)
        .export(&classes, &Students::from_roster(roster), &state)
        .await
        .map_err(|e| Fatal {
            code: exit::CLASSROOM,
            json: json!({ "event": "error", "kind": "classroom", "message": e.to_string() }),
            text: format!("reading the gradebooks: {e}"),
        })?;
    let version = match g.oneroster_version.as_deref() {
        Some("1.2") => Version::V1_2,
        _ => Version::V1_1,
    };
    export
        .write(out, version)
        .map_err(|e| Fatal::usage(format!("cannot write the export to {}: {e}", out.display())))?;
    if let Some(path) = &g.state_file {
        export.state.save(path).map_err(|e| {
            Fatal::usage(format!(
                "the export was written, but the grades state could not be saved (the next \
                 run exports the same changes again): {e}"
            ))
        })?;
    }
    let mode = if export.mode.is_bulk() {
        "bulk"
    } else {
        "delta"
    };
    log.json(json!({
        "event": "grades",
        "mode": mode,
        "dir": out,
        "oneroster_version": version.as_str(),
        "line_items": export.line_items.len(),
        "results": export.results.len(),
        "categories": export.categories.len(),
        "grading_periods": export.grading_periods.len(),
        "unmatched": export.unmatched,
        "calls": export.calls,
        "elapsed_ms": export.elapsed.as_millis() as u64,
    }));
    log.text(format!(
        "{}: {mode} export of {} line item(s) and {} result(s) from {} course(s), {} call(s); \
         {} submission(s) of students not in the roster left out",
        out.display(),
        export.line_items.len(),
        export.results.len(),
        classes.len(),
        export.calls,
        export.unmatched
    ));
    Ok(exit::OK)
}

async fn client(
    config: &Config,
    scopes: &[classroom::Scope],
    root_url: Option<&str>,
) -> Result<Classroom, Fatal> {
    let scopes: Vec<&str> = scopes.iter().map(|s| s.url()).collect();
    let signing_in = |e: &dyn std::fmt::Display| Fatal {
        code: exit::CLASSROOM,
        json: json!({ "event": "error", "kind": "credentials", "message": e.to_string() }),
        text: format!("cannot sign in: {e}"),
    };
    let credentials: Arc<dyn Credentials> = match &config.credentials {
        CredentialsConfig::ServiceAccount { key_file, subject } => {
            let key = ServiceAccountKey::from_file(key_file).map_err(|e| signing_in(&e))?;
            Arc::new(ServiceAccountCredentials::new(key, scopes).subject(subject.clone()))
        }
        CredentialsConfig::AuthorizedUser { file } => Arc::new(
            UserCredentials::from_authorized_user_file(file)
                .map_err(|e| signing_in(&e))?
                .with_scopes(scopes.iter().map(|s| s.to_string())),
        ),
        CredentialsConfig::ClientCredentials {
            client_id,
            client_secret,
            token_url,
        } => {
            let secret = match client_secret {
                Some(secret) => secret.clone(),
                None => ClientSecret::new(std::env::var("CLASSROOM_SYNC_CLIENT_SECRET").map_err(
                    |_| {
                        Fatal::usage(
                            "credentials.client_secret is not in the config and \
                             CLASSROOM_SYNC_CLIENT_SECRET is not set",
                        )
                    },
                )?),
            };
            let client = OAuthClient::new(client_id.clone(), Some(secret))
                .with_provider(Provider::token_endpoint(token_url.clone()));
            Arc::new(ClientCredentials::new(client, scopes))
        }
        CredentialsConfig::ApplicationDefault => Arc::new(
            default_credentials(scopes)
                .await
                .map_err(|e| signing_in(&e))?,
        ),
    };
    let mut builder = Classroom::builder()
        .user_agent(concat!("classroom-sync/", env!("CARGO_PKG_VERSION")))
        .shared_credentials(credentials);
    if let Some(root) = root_url {
        builder = builder.root_url(root);
    }
    builder = match config.rate_limit {
        RateLimitSetting::Classroom => builder.rate_limit(RateLimit::classroom()),
        RateLimitSetting::None => builder,
        RateLimitSetting::PerMinute(n) => {
            builder.rate_limit(RateLimit::classroom().user_per_minute(n))
        }
    };
    builder.build().map_err(|e| Fatal::usage(e.to_string()))
}

fn report_plan(plan: &Plan, log: &Log) {
    for change in &plan.changes {
        log.json(json!({ "event": "planned", "change": change }));
    }
    log.json(json!({
        "event": "plan",
        "changes": plan.changes.len(),
        "counts": plan.counts,
        "courses_in_roster": plan.courses_in_roster,
        "read_calls": plan.read_calls,
    }));
    log.text(plan);
}

fn report_apply(report: &ApplyReport, log: &Log) {
    for outcome in &report.outcomes {
        log.json(
            json!({ "event": "change", "change": outcome.change, "outcome": outcome.outcome }),
        );
    }
    let summary = report.summary();
    log.json(json!({
        "event": "summary",
        "summary": summary,
        "calls": report.calls,
        "batch_requests": report.batch_requests,
        "seconds": report.elapsed.as_secs_f64(),
    }));
    for failure in report.failures() {
        log.text(failure);
    }
    log.text(format!(
        "Applied: {summary} ({} calls in {} batch requests, {:.1} s)",
        report.calls,
        report.batch_requests,
        report.elapsed.as_secs_f64()
    ));
}
