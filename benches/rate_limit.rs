//! The rate limiter's own cost per call: `RateLimit::acquire(1)` under limits too large to
//! ever wait, in-process (governor's GCRA) and shared through Redis on loopback (a script
//! round trip), from one task and from eight tasks at once.
//!
//! `cargo bench --bench rate_limit`. The Redis rows need `redis-server` (Debian:
//! `apt-get install -y redis-server`); without it they say SKIPPED. The bench starts its own
//! server on a free port of 127.0.0.1 and stops it afterwards. `LIMIT_CALLS` sets the calls
//! per row (20,000 by default).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use classroom::{RateLimit, RedisLimit};

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

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server() -> Option<(Server, u16, tempdir::Dir)> {
    let port = TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let dir = tempdir::Dir::new(port);
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
        .arg(&dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some((server, port, dir))
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Dir {
        pub fn new(port: u16) -> Dir {
            let path = std::env::temp_dir().join(format!("classroom-bench-redis-{port}"));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
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
        let Some((_server, port, _dir)) = redis_server() else {
            println!("SKIPPED the Redis rows: no redis-server; apt-get install -y redis-server");
            return;
        };
        let url = format!("redis://127.0.0.1:{port}/");
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
