//! Several worker processes read a district's classes as its teachers, sharing one Classroom
//! quota through one Redis limiter and one database of the teachers' tokens.
//!
//! ```text
//! cargo run --example fleet_sync                 # 4 workers on the emulator, quotas enforced
//! cargo run --example fleet_sync -- --workers 8
//! ```
//!
//! With no arguments it starts the emulator (enforcing Classroom's per-user and per-project
//! quotas), a `redis-server` on a free loopback port (Debian: `apt-get install redis-server`),
//! and an SQLite file holding each teacher's refresh token; then it starts the workers, each
//! a process of this program, and reports what the fleet did: calls, 429s (none: the limiter
//! is shared) and token refreshes (one per teacher, whichever worker needed it first).

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use classroom::auth::users::{SqliteUserStore, UserKey, UserTokens};
use classroom::auth::{ClientSecret, OAuthClient, Provider, RefreshToken, StoredToken};
use classroom::models::{Course, Student};
use classroom::prelude::*;
use classroom::{BearerToken, Classroom, RateLimit, RedisLimit, Scope};
use classroom_emulator::{Emulator, Quotas, Role};
use common::BoxError;

/// Reads a district's classes with several worker processes that share one Classroom quota
/// (through Redis) and one database of the teachers' tokens (SQLite).
#[derive(Parser, Debug)]
#[command(name = "fleet_sync", version)]
struct Args {
    /// Worker processes to start
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=32))]
    workers: u32,

    /// Teachers in the generated district (each with two classes of ten students)
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=200))]
    teachers: u32,

    #[command(flatten)]
    worker: WorkerArgs,
}

/// What a worker process is told (set by the coordinator, not by hand).
#[derive(clap::Args, Debug)]
struct WorkerArgs {
    /// Run as worker N (internal)
    #[arg(long, hide = true)]
    worker: Option<u32>,
    #[arg(long, hide = true)]
    root_url: Option<String>,
    #[arg(long, hide = true)]
    token_url: Option<String>,
    #[arg(long, hide = true)]
    client_secret: Option<String>,
    #[arg(long, hide = true)]
    redis: Option<String>,
    #[arg(long, hide = true)]
    db: Option<PathBuf>,
    /// The teachers this worker reads for, comma-separated emails
    #[arg(long, hide = true)]
    teachers_of_worker: Option<String>,
}

const CLIENT_ID: &str = classroom_emulator::demo::CLIENT_ID;
const PROJECT: &str = "emulator-demo";
const SCOPES: [Scope; 2] = [Scope::CoursesReadonly, Scope::RostersReadonly];

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    if let Some(index) = args.worker.worker {
        return common::run(worker(index, args.workers, args.worker));
    }
    common::run(coordinate(args))
}

/// One worker: for each of its teachers, that teacher's token from the shared database and a
/// limiter shared through Redis; then every class of theirs with its roster.
async fn worker(index: u32, workers: u32, args: WorkerArgs) -> Result<(), BoxError> {
    let missing = |what: &str| format!("worker {index}: --{what} is required");
    let root = args.root_url.ok_or_else(|| missing("root-url"))?;
    let token_url = args.token_url.ok_or_else(|| missing("token-url"))?;
    let secret = args.client_secret.ok_or_else(|| missing("client-secret"))?;
    let redis = args.redis.ok_or_else(|| missing("redis"))?;
    let db = args.db.ok_or_else(|| missing("db"))?;
    let client = OAuthClient::new(CLIENT_ID, Some(ClientSecret::new(secret)))
        .with_provider(Provider::token_endpoint(token_url));
    let tokens = UserTokens::new(client, Arc::new(SqliteUserStore::open(&db, None)?));
    let teachers = args.teachers_of_worker.unwrap_or_default();
    for teacher in teachers.split(',').filter(|t| !t.is_empty()) {
        let limit = RateLimit::classroom()
            .shared(RedisLimit::new(&redis, PROJECT, teacher)?.workers(workers));
        let classroom = Classroom::builder()
            .root_url(&root)
            .shared_credentials(Arc::new(
                tokens.credentials(UserKey::new("district", teacher)),
            ))
            .rate_limit(limit)
            .build()?;
        let courses: Vec<Course> = classroom
            .courses()
            .list()
            .teacher_id("me")
            .items()
            .try_collect()
            .await?;
        let mut students = 0;
        for course in &courses {
            let id = course.id.as_deref().unwrap_or_default();
            let roster: Vec<Student> = classroom
                .courses()
                .students()
                .list(id)
                .items()
                .try_collect()
                .await?;
            students += roster.len();
        }
        println!(
            "worker {index}: {teacher}: {} class(es), {students} student(s)",
            courses.len()
        );
    }
    Ok(())
}

async fn coordinate(args: Args) -> Result<(), BoxError> {
    let started = Instant::now();
    let emulator = Emulator::builder().start()?;
    let teachers = district(&emulator, args.teachers).await?;
    // From here on, Classroom's quotas, with a small burst so that a fleet without a shared
    // limit meets them quickly.
    emulator.set_quotas(Quotas::classroom().user_burst(5).project_burst(10));
    let dir = std::env::temp_dir().join(format!("fleet-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let redis = Redis::start(&dir)?;
    let db = dir.join("tokens.sqlite");

    // Each teacher signed in once; the database holds their refresh tokens, not yet an
    // access token: the first worker to need one refreshes it, the others wait and use it.
    let client = OAuthClient::new(CLIENT_ID, Some(ClientSecret::new(emulator.client_secret())))
        .with_provider(Provider::token_endpoint(emulator.token_url()));
    let tokens = UserTokens::new(client, Arc::new(SqliteUserStore::open(&db, None)?));
    for teacher in &teachers {
        let refresh = emulator.refresh_token_for(teacher, &SCOPES);
        let token = StoredToken {
            refresh_token: Some(RefreshToken::new(refresh)),
            access_token: None,
            expires_at: None,
            scopes: Some(SCOPES.iter().map(|s| s.url().to_string()).collect()),
        };
        tokens
            .save(
                &UserKey::new("district", teacher.as_str()),
                token,
                Some(teacher.clone()),
            )
            .await?;
    }
    let calls_before = emulator.api_calls();
    println!(
        "{} teachers, {} workers, one Redis limiter at {}, tokens in {}",
        teachers.len(),
        args.workers,
        redis.url,
        db.display()
    );

    // Every teacher goes to two workers, so that workers contend for the same tokens.
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for index in 0..args.workers {
        let mine: Vec<&str> = teachers
            .iter()
            .enumerate()
            .filter(|(i, _)| {
                let i = *i as u32;
                i % args.workers == index || (i + 1) % args.workers == index
            })
            .map(|(_, t)| t.as_str())
            .collect();
        let child = Command::new(&exe)
            .args(["--workers", &args.workers.to_string()])
            .args(["--worker", &index.to_string()])
            .args(["--root-url", &emulator.root_url()])
            .args(["--token-url", &emulator.token_url()])
            .args(["--client-secret", emulator.client_secret()])
            .args(["--redis", &redis.url])
            .arg("--db")
            .arg(&db)
            .args(["--teachers-of-worker", &mine.join(",")])
            .env_remove("RUST_LOG")
            .stdout(Stdio::inherit())
            .spawn()?;
        children.push(child);
    }
    let mut failed = 0;
    for mut child in children {
        if !child.wait()?.success() {
            failed += 1;
        }
    }
    let refreshes = emulator.refreshes();
    let refreshed: u64 = teachers
        .iter()
        .map(|t| {
            emulator
                .user_id(t)
                .and_then(|id| refreshes.get(&id).or_else(|| refreshes.get(t)).copied())
                .unwrap_or(0)
        })
        .sum();
    println!(
        "fleet: {} calls, {} refused for quota (429), {refreshed} token refresh(es) for {} \
         teachers, {failed} worker(s) failed, {:.1} s",
        emulator.api_calls() - calls_before,
        emulator.quota_rejections(),
        teachers.len(),
        started.elapsed().as_secs_f64()
    );
    drop(redis);
    let _ = std::fs::remove_dir_all(&dir);
    if failed > 0 {
        return Err(format!("{failed} worker(s) failed").into());
    }
    Ok(())
}

/// Adds `count` teachers, each with two classes of ten students; returns their emails.
async fn district(emulator: &Emulator, count: u32) -> Result<Vec<String>, BoxError> {
    let scopes = [Scope::Courses, Scope::Rosters];
    let admin = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(
            emulator.token_for("admin", &scopes),
            scopes.map(|s| s.url()),
        ))
        .build()?;
    let mut teachers = Vec::new();
    for t in 0..count {
        let teacher = format!("teacher{t}@school.example");
        emulator.add_user(&teacher, "Teacher", &t.to_string(), Role::Teacher);
        for c in 0..2 {
            let course = admin
                .courses()
                .create(Course {
                    name: Some(format!("Class {t}-{c}")),
                    owner_id: Some(teacher.clone()),
                    course_state: Some(classroom::models::CourseState::Active),
                    ..Course::default()
                })
                .send()
                .await?;
            let id = course.id.unwrap_or_default();
            let adds: Vec<_> = (0..10)
                .map(|s| {
                    let student = format!("student{t}-{c}-{s}@school.example");
                    emulator.add_user(&student, "Student", &s.to_string(), Role::Student);
                    admin.courses().students().create(
                        &id,
                        Student {
                            user_id: Some(student),
                            ..Student::default()
                        },
                    )
                })
                .collect();
            for added in admin.send_batched(adds).await {
                added?;
            }
        }
        teachers.push(teacher);
    }
    Ok(teachers)
}

/// A `redis-server` on a free loopback port in `dir`, stopped when dropped.
struct Redis {
    child: std::process::Child,
    url: String,
}

impl Redis {
    fn start(dir: &std::path::Path) -> Result<Redis, BoxError> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "cannot start redis-server ({e}): install it (Debian: apt-get install \
                     redis-server)"
                )
            })?;
        let url = format!("redis://127.0.0.1:{port}/");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("redis-server did not start within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Redis { child, url })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
