//! A `redis-server` of Debian's for tests and benches, on a free loopback port in a temporary
//! directory, stopped when dropped.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str = "install it with `apt-get install -y redis-server`";

/// A `redis-server` on a free port of 127.0.0.1 in a temporary directory, without
/// persistence; stopped when dropped.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    process: Option<Child>,
}

impl RedisServer {
    /// Starts one, or says SKIPPED (fails under CI) and gives `None` without `redis-server`.
    pub fn start() -> Option<RedisServer> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            super::skip_or_fail("redis-server is not installed", INSTALL);
            return None;
        }
        // A free port is found by binding and releasing it, so a server starting beside this
        // one may be handed the same port first: then another.
        for attempt in 1.. {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut server = RedisServer {
                port,
                dir: super::temp_dir(&format!("redis-{port}")),
                process: None,
            };
            if server.try_resume() {
                return Some(server);
            }
            assert!(attempt < 5, "redis-server found no free port in 5 tries");
        }
        unreachable!()
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts the server (again) on its port and waits until it answers.
    pub fn resume(&mut self) {
        assert!(
            self.try_resume(),
            "redis-server restarts on port {}",
            self.port
        );
    }

    /// Starts the server on its port and waits until it answers; false if another process
    /// holds the port (this one then exits, or another server answers in its place).
    fn try_resume(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.command("PING") != "+PONG" {
            if child.try_wait().is_ok_and(|status| status.is_some()) {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server answers within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.process_id() != Some(child.id()) {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        self.process = Some(child);
        true
    }

    /// The process id of the server that answers on the port (from `INFO server`).
    fn process_id(&self) -> Option<u32> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        stream.write_all(b"INFO server\r\n").ok()?;
        let mut reply = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&reply);
            let line = text
                .split("process_id:")
                .nth(1)
                .and_then(|rest| rest.split_once("\r\n"));
            if let Some((pid, _)) = line {
                return pid.trim().parse().ok();
            }
            let n = stream.read(&mut chunk).ok().filter(|&n| n > 0)?;
            reply.extend_from_slice(&chunk[..n]);
        }
    }

    /// Stops the server, by its own process id.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// One inline command's first reply line (empty if the server does not answer).
    pub fn command(&self, command: &str) -> String {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.write_all(format!("{command}\r\n").as_bytes());
        let mut reply = [0u8; 256];
        let n = stream.read(&mut reply).unwrap_or(0);
        String::from_utf8_lossy(&reply[..n])
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
