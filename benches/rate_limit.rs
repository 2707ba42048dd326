//! The rate limiter's own cost per call: `RateLimit::acquire(1)` under limits too large to
//! ever wait, in-process (governor's GCRA) and shared through Redis on loopback (a script
//! round trip), from one task and from eight tasks at once.
//!
//! `cargo bench --bench rate_limit`. The Redis rows need `redis-server` (Debian:
//! `apt-get install -y redis-server`); without it they say SKIPPED. The bench starts its own
//! server on a free port of 127.0.0.1 and stops it afterwards. `LIMIT_CALLS` sets the calls
//! per row (20,000 by default).

use std::time::{Duration, Instant};

use classroom::{RateLimit, RedisLimit};

#[path = "../tests/peers/mod.rs"]
mod peers;

/// 60 million a minute: a call every microsecond, a burst of a second's worth; no call waits.
const HUGE: u32 = 60_000_000;

fn limits() -> RateLimit {
    RateLimit::new()
        .project_per_minute(HUGE)
        .user_per_minute(HUGE)
}

/// Mean time per `acquire(1)` over `calls`, spread over `tasks` tasks.
async fn per_call(limit: &RateLimit, calls: u32, tasks: u32) -> Duration {
    // Warm up (connects to Redis, loads the script).
    for _ in 0..100 {
        limit.acquire(1).await;
    }
    let started = Instant::now();
    let each = calls / tasks;
    let runs = (0..tasks).map(|_| {
        let limit = limit.clone();
        tokio::spawn(async move {
            for _ in 0..each {
                limit.acquire(1).await;
            }
        })
    });
    for run in futures::future::join_all(runs).await {
        run.unwrap();
    }
    started.elapsed() / (each * tasks)
}

fn main() {
    let calls: u32 = std::env::var("LIMIT_CALLS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(20_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let row = |name: &str, tasks: u32, took: Duration| {
            println!(
                "{name:<28} {tasks} task(s)  {:>9.2} µs a call",
                took.as_secs_f64() * 1e6
            );
        };
        for tasks in [1, 8] {
            row("in-process", tasks, per_call(&limits(), calls, tasks).await);
        }
        // Says SKIPPED, with how to install it, when there is no redis-server.
        let Some(redis) = peers::redis::RedisServer::start() else {
            return;
        };
        let url = redis.url();
        for tasks in [1, 8] {
            let shared =
                limits().shared(RedisLimit::new(&url, "bench", format!("u{tasks}")).unwrap());
            row(
                "Redis on loopback",
                tasks,
                per_call(&shared, calls, tasks).await,
            );
        }
    });
}
