//! A PostgreSQL server of Debian's for tests and benches: initdb in a temporary directory,
//! started with pg_ctl on a free loopback port, stopped (and removed) when dropped. As root
//! (CI), the server runs as the `postgres` system user Debian's package creates, since
//! postgres refuses to run as root.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// A PostgreSQL server of Debian's in a temporary directory on a free loopback port; stopped
/// (and its directory removed) when dropped.
pub struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_user: Option<String>,
}

fn postgres_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    dirs.sort();
    dirs.into_iter().rev().find(|d| d.join("initdb").exists())
}

impl Postgres {
    /// Starts one, or says SKIPPED (fails under CI) when PostgreSQL is not installed.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = postgres_bin() else {
            super::skip_or_fail(
                "PostgreSQL is not installed",
                "install it with `apt-get install -y postgresql`",
            );
            return None;
        };
        let dir = super::temp_dir("pg-server");
        // postgres refuses to run as root: as root (CI), run it as the `postgres` system user
        // that Debian's package creates, owning the directory.
        let as_user = is_root().then(|| "postgres".to_string());
        if as_user.is_some() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "chown the PostgreSQL directory to the postgres user");
        }
        let mut pg = Postgres {
            dir,
            bin,
            port: free_port(),
            as_user,
        };
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        // A free port is found by binding and releasing it, so a test starting beside this
        // one may be handed the same port before the server binds it: then another.
        for attempt in 1.. {
            let opts = format!(
                "-k {} -p {} -h 127.0.0.1 -c fsync=on -c max_connections=50",
                pg.dir.display(),
                pg.port
            );
            let log = pg.dir.join("log");
            let started = pg.try_run(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-o",
                    &opts,
                    "-l",
                    log.to_str().unwrap(),
                    "-w",
                    "start",
                ],
            );
            match started {
                Ok(()) => break,
                Err(e) if attempt < 5 && in_use(&log) => {
                    eprintln!(
                        "PostgreSQL's port {} was taken ({e}); trying another",
                        pg.port
                    );
                    pg.port = free_port();
                }
                Err(e) => panic!("{e}"),
            }
        }
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        self.try_run(tool, args).unwrap_or_else(|e| panic!("{e}"));
    }

    fn try_run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let out = match &self.as_user {
            Some(user) => Command::new("runuser")
                .args(["-u", user, "--"])
                .arg(&exe)
                .args(args)
                .output(),
            None => Command::new(&exe).args(args).output(),
        }
        .map_err(|e| format!("running {tool}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{tool} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    /// The libpq configuration to connect as the superuser.
    pub fn config(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the server's log says its port was in use.
fn in_use(log: &std::path::Path) -> bool {
    std::fs::read_to_string(log).is_ok_and(|text| text.contains("already in use"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}
