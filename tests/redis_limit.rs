//! The rate limiter shared through Redis (`RateLimit::shared`, feature `redis`), on a real
//! `redis-server` and the emulator enforcing a scaled-down Classroom quota.
//!
//! The workers are separate processes: this test binary runs itself again with only the
//! `worker` test selected and its orders in the environment (`CLASSROOM_LIMIT_WORKER`), so
//! that the processes share nothing but Redis and the emulator.
//!
//! Without `redis-server` the tests that need it say SKIPPED (and fail under `CI=true`).

mod peers;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use classroom::{BearerToken, Classroom, RateLimit, RedisLimit, Scope};
use classroom_emulator::{Emulator, Fault, Quotas, demo};
use peers::redis::RedisServer;

/// The scaled-down quota: 600 a minute per user (10 a second, a burst of 10).
const USER_PER_MINUTE: u32 = 600;
const WORKERS: usize = 4;
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn limit(redis: Option<&str>, project: &str) -> RateLimit {
    let limit = RateLimit::classroom().user_per_minute(USER_PER_MINUTE);
    match redis {
        Some(url) => limit.shared(
            RedisLimit::new(url, project, demo::ADMIN)
                .unwrap()
                .workers(WORKERS as u32),
        ),
        None => limit,
    }
}

/// What a worker process reports.
#[derive(Debug, Default)]
struct Report {
    calls: u64,
    errors: u64,
    slowest_ms: u64,
}

/// Not a test of its own: a worker process's body when this binary runs itself as one.
/// Sends `courses.get` from two tasks until the deadline, then prints its report.
#[test]
fn worker() {
    let Ok(orders) = std::env::var("CLASSROOM_LIMIT_WORKER") else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter("classroom=info")
        .with_writer(std::io::stderr)
        .try_init();
    let mut orders = orders.split(' ');
    let mut next = || orders.next().unwrap().to_string();
    let (root, token, redis, project, deadline) = (next(), next(), next(), next(), next());
    let deadline: u64 = deadline.parse().unwrap();
    let redis = (redis != "none").then_some(redis);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(async {
        let classroom = Classroom::builder()
            .root_url(root)
            .credentials(BearerToken::unchecked(token))
            .rate_limit(limit(redis.as_deref(), &project))
            .build()
            .unwrap();
        let task = |classroom: Classroom| async move {
            let mut report = Report::default();
            while now_ms() < deadline {
                let started = Instant::now();
                let result = classroom.courses().get(demo::COURSE_ALIAS).send().await;
                report.slowest_ms = report.slowest_ms.max(started.elapsed().as_millis() as u64);
                report.calls += 1;
                if let Err(e) = result {
                    eprintln!("call failed: {e}");
                    report.errors += 1;
                }
            }
            report
        };
        let (a, b) = tokio::join!(task(classroom.clone()), task(classroom));
        Report {
            calls: a.calls + b.calls,
            errors: a.errors + b.errors,
            slowest_ms: a.slowest_ms.max(b.slowest_ms),
        }
    });
    println!(
        "REPORT calls={} errors={} slowest_ms={}",
        report.calls, report.errors, report.slowest_ms
    );
}

/// `WORKERS` processes of this binary, each running `worker` until `deadline` (ms since the
/// epoch).
fn spawn_workers(
    emulator: &Emulator,
    redis: Option<&str>,
    project: &str,
    deadline: u64,
) -> Vec<Child> {
    let token = emulator.token_for(demo::ADMIN, &[Scope::CoursesReadonly]);
    let orders = format!(
        "{} {token} {} {project} {deadline}",
        emulator.root_url(),
        redis.unwrap_or("none")
    );
    (0..WORKERS)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args(["worker", "--exact", "--nocapture", "--test-threads=1"])
                .env("CLASSROOM_LIMIT_WORKER", &orders)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a worker process starts")
        })
        .collect()
}

/// Waits for the workers: their reports and what they logged.
fn reports(workers: Vec<Child>) -> (Vec<Report>, String) {
    let mut reports = Vec::new();
    let mut logs = String::new();
    for worker in workers {
        let output = worker.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        logs.push_str(&stderr);
        assert!(
            output.status.success(),
            "a worker crashed: {stdout}\n{stderr}"
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("REPORT ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("a worker reports: {stdout}\n{stderr}"));
        let field = |name: &str| -> u64 {
            line.split(' ')
                .find_map(|f| f.strip_prefix(&format!("{name}=")))
                .unwrap()
                .parse()
                .unwrap()
        };
        reports.push(Report {
            calls: field("calls"),
            errors: field("errors"),
            slowest_ms: field("slowest_ms"),
        });
    }
    (reports, logs)
}

fn emulator() -> Emulator {
    Emulator::builder()
        .quotas(Quotas::classroom().per_user_per_minute(USER_PER_MINUTE))
        .start()
        .unwrap()
}

/// The aggregate rate of the emulator's calls over `window` as a share of the user quota.
fn share_of_quota(calls: u64, window: Duration) -> f64 {
    calls as f64 / window.as_secs_f64() / (f64::from(USER_PER_MINUTE) / 60.0)
}

#[test]
fn four_processes_sharing_redis_stay_under_the_quota_and_near_it() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let emulator = emulator();
    let window = Duration::from_secs(6);
    let started = Instant::now();
    let workers = spawn_workers(
        &emulator,
        Some(&redis.url()),
        "shared",
        now_ms() + window.as_millis() as u64,
    );
    let (reports, _) = reports(workers);
    let window = started.elapsed();
    let calls = emulator.api_calls();
    let share = share_of_quota(calls, window);
    eprintln!(
        "shared through Redis: {calls} calls in {window:?}, {share:.3} of the quota, {} 429s",
        emulator.quota_rejections()
    );
    assert_eq!(
        emulator.quota_rejections(),
        0,
        "workers sharing the limit through Redis never exceed the quota"
    );
    assert!(
        share >= 0.9,
        "the shared limit lets the quota be used: {share:.3}"
    );
    assert!(reports.iter().all(|r| r.errors == 0), "{reports:?}");
}

#[test]
fn four_processes_with_in_process_limiters_get_429s() {
    // The control: the same run, each worker with its own in-process limiter, runs at four
    // times the quota; were this to pass without 429s, the shared run's zero would say nothing.
    let emulator = emulator();
    let workers = spawn_workers(&emulator, None, "local", now_ms() + 3_000);
    let (reports, _) = reports(workers);
    eprintln!(
        "in-process limiters: {} calls, {} 429s",
        emulator.api_calls(),
        emulator.quota_rejections()
    );
    assert!(
        emulator.quota_rejections() > 0,
        "four unshared limiters overrun the quota: {reports:?}"
    );
}

#[test]
fn redis_stopped_mid_run_falls_back_to_a_share_and_the_shared_limit_resumes() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let emulator = emulator();
    let started = Instant::now();
    let workers = spawn_workers(&emulator, Some(&redis.url()), "outage", now_ms() + 9_000);
    std::thread::sleep(Duration::from_secs(3));
    redis.stop();
    std::thread::sleep(Duration::from_secs(3));
    redis.resume();
    let resumed_at = emulator.api_calls();
    std::thread::sleep(Duration::from_secs(2));
    // The workers use Redis again: the user's bucket is back, with calls reserved ahead.
    let key = format!("classroom:limit:outage:user:{}", demo::ADMIN);
    assert_eq!(
        redis.command(&format!("EXISTS {key}")),
        ":1",
        "the shared bucket is back in Redis"
    );
    let (reports, logs) = reports(workers);
    let window = started.elapsed();
    let calls = emulator.api_calls();
    eprintln!(
        "Redis stopped for 3 s of 9: {calls} calls ({} after it came back), {:.3} of the quota, {} 429s, slowest call {} ms",
        calls - resumed_at,
        share_of_quota(calls, window),
        emulator.quota_rejections(),
        reports.iter().map(|r| r.slowest_ms).max().unwrap_or(0)
    );
    assert!(
        reports.iter().all(|r| r.errors == 0),
        "no call fails for the outage: {reports:?}"
    );
    assert!(
        logs.contains("Redis is unreachable"),
        "the fallback is logged as a warning: {logs}"
    );
    assert!(logs.contains("shared again"), "so is the return: {logs}");
    for report in &reports {
        // A call waits at most the Redis timeout (250 ms) before falling back, then its turn
        // at a quarter of the quota behind the other task of its process (2 × 400 ms).
        assert!(
            report.slowest_ms < 2_000,
            "no call waits past its budget: {reports:?}"
        );
    }
    assert_eq!(
        emulator.quota_rejections(),
        0,
        "the fallback share and the empty buckets after a restart stay under the quota"
    );
    let share = share_of_quota(calls, window);
    assert!(
        share >= 0.8,
        "the quota stays in use through the outage: {share:.3}"
    );
}

/// Two clients of the emulator's admin with separate limiters, as in two processes: only
/// Redis joins them, on `key`.
fn two_workers(redis: &RedisServer, emulator: &Emulator, key: &str) -> (Classroom, Classroom) {
    let token = emulator.token_for(demo::ADMIN, &[Scope::CoursesReadonly]);
    let client = || {
        let limit = RateLimit::new()
            .user_per_minute(60_000)
            .shared(RedisLimit::new(&redis.url(), key, demo::ADMIN).unwrap());
        Classroom::builder()
            .root_url(emulator.root_url())
            .credentials(BearerToken::unchecked(token.clone()))
            .rate_limit(limit)
            .build()
            .unwrap()
    };
    (client(), client())
}

/// How long the other worker's call waits, sent 300 ms after the limited one set off.
async fn other_workers_wait(b: &Classroom) -> Duration {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    b.courses().get(demo::COURSE_ALIAS).send().await.unwrap();
    started.elapsed()
}

#[tokio::test]
async fn a_429_pauses_every_worker_on_the_key() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let emulator = Emulator::start().unwrap();
    let (a, b) = two_workers(&redis, &emulator, "pause");
    b.courses().get(demo::COURSE_ALIAS).send().await.unwrap();
    emulator.inject(Fault::rate_limited(Duration::from_secs(2)).times(1));
    let limited = tokio::spawn(async move { a.courses().get(demo::COURSE_ALIAS).send().await });
    let waited = other_workers_wait(&b).await;
    assert!(
        waited >= Duration::from_millis(1_400),
        "the other worker waits out the Retry-After of 2 s: {waited:?}"
    );
    limited.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_429_on_a_batched_call_pauses_every_worker_on_the_key() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let emulator = Emulator::start().unwrap();
    let (a, b) = two_workers(&redis, &emulator, "batch-pause");
    b.courses().get(demo::COURSE_ALIAS).send().await.unwrap();
    // The first part of the next batch is answered 429, Retry-After 2 s; the rest as usual.
    emulator.inject(Fault::rate_limited(Duration::from_secs(2)).part(0).times(1));
    let batch = tokio::spawn(async move {
        let calls = vec![
            a.courses().get(demo::COURSE_ALIAS),
            a.courses().get("d:history"),
        ];
        a.send_batched(calls).await
    });
    let waited = other_workers_wait(&b).await;
    assert!(
        waited >= Duration::from_millis(1_400),
        "the other worker waits out the batched call's Retry-After of 2 s: {waited:?}"
    );
    for result in batch.await.unwrap() {
        result.unwrap();
    }
}

#[tokio::test]
async fn unreachable_redis_paces_at_the_share_without_hanging() {
    // Nothing listens on the port: every call falls back at once to a half share.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}/");
    // 6,000 a minute; half of it is 50 a second, from an empty bucket.
    let limit = RateLimit::new()
        .user_per_minute(6_000)
        .shared(RedisLimit::new(&url, "down", "u").unwrap().workers(2));
    let emulator = Emulator::start().unwrap();
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::unchecked(
            emulator.token_for(demo::ADMIN, &[Scope::CoursesReadonly]),
        ))
        .rate_limit(limit)
        .build()
        .unwrap();
    let started = Instant::now();
    for _ in 0..25 {
        classroom
            .courses()
            .get(demo::COURSE_ALIAS)
            .send()
            .await
            .unwrap();
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "the limit stays on while Redis is down (25 calls at 50 a second): {took:?}"
    );
    assert!(took < Duration::from_secs(3), "and nothing hangs: {took:?}");
}
