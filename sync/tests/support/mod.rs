//! What the sync's tests share: a fresh directory, the domain admin's client, an emulator
//! whose domain holds a roster's users.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use classroom::{BearerToken, Classroom, RetryPolicy, Scope};
use classroom_emulator::{Emulator, Role};
use classroom_sync::{Roster, SCOPES};

/// A fresh directory under the system's temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "classroom-sync-{name}-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The domain admin with the sync's scopes; retries quick enough for tests.
pub fn admin(emulator: &Emulator) -> Classroom {
    admin_with(emulator, &SCOPES)
}

/// The domain admin holding `scopes`; retries quick enough for tests.
pub fn admin_with(emulator: &Emulator, scopes: &[Scope]) -> Classroom {
    let token = emulator.token_for("admin", scopes);
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(token, scopes.iter().map(|s| s.url())))
        .retry(
            RetryPolicy::default()
                .initial_backoff(Duration::from_millis(20))
                .max_attempts(6),
        )
        .build()
        .unwrap()
}

/// An empty emulator whose domain holds the roster's users, by the role the roster gives them.
pub fn emulator_for(roster: &Roster) -> Emulator {
    let emulator = Emulator::builder().empty().start().unwrap();
    add_users(&emulator, roster, |_| true);
    emulator
}

/// Adds the roster's users whose email `keep` accepts: teachers as teachers, everyone else as
/// students.
pub fn add_users(emulator: &Emulator, roster: &Roster, keep: impl Fn(&str) -> bool) {
    for user in &roster.users {
        if !keep(&user.email) {
            continue;
        }
        let role = if user.role == "teacher" {
            Role::Teacher
        } else {
            Role::Student
        };
        emulator.add_user(&user.email, &user.given_name, &user.family_name, role);
    }
}
