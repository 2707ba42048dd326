//! The emulator as a server for clients in any language: what the `classroom-emulator` binary
//! (and the SDK's `emulator` example) runs.
//!
//! The contract, which tests in other languages depend on and which is kept across versions:
//!
//! - `--port P` listens on 127.0.0.1 port `P`; `--port 0` (the default) on any free port.
//! - `--empty` starts with no data instead of the [demo school](crate::demo) (the demo users
//!   and OAuth client are still there).
//! - `--accounts FILE` adds the users a JSON file lists, after the demo users (and school):
//!   `{"domain": "...", "users": [{"email", "givenName", "familyName", "role"}]}`, roles
//!   `admin`, `teacher`, `student`, `guardian` ([the format](crate::accounts)). May be given
//!   more than once; files are added in order.
//! - `--daily-invitations N` enforces Classroom's daily invitation quota: each user may create
//!   `N` course and guardian invitations a day, then gets 429 `RESOURCE_EXHAUSTED`
//!   (`@UserInvitationQuotaExhausted`); see [`Quotas`]. Unlimited by default.
//! - `--push TOPIC=URL` POSTs the push notifications of registrations on `TOPIC` to `URL`
//!   (`http://` only) as a Pub/Sub push subscription would, with an OIDC token signed by the
//!   emulator's key (its JWK set at `ROOT/oauth2/v3/certs`); `--push-unwrapped` sends them
//!   unwrapped. May be given for several topics. See [`crate::PushFormat`].
//! - The first line on stdout, printed once the server accepts connections, is
//!
//!   ```text
//!   root=http://127.0.0.1:PORT/ token_url=http://127.0.0.1:PORT/token client_id=ID client_secret=SECRET
//!   ```
//!
//!   four `key=value` fields separated by single spaces, in this order, values with no spaces
//!   ([`Emulator::standalone_line`]). Nothing else is written to stdout.
//! - Human-readable notes go to stderr. The server runs until the process is killed.
//! - `--help` prints the usage on stderr and exits 0. A bad argument exits 2, and so does an
//!   accounts file that cannot be read or is refused (the message names the file, the line and
//!   the entry: `district.json:14: users[3] (ada@district.example): role "Teacher" is not one
//!   of admin, teacher, student, guardian`); nothing is printed on stdout then. A port that
//!   cannot be bound exits 1. Each with a message on stderr.
//!
//! While it runs, the [admin endpoint](crate::admin) under `/emulator/v1/`, authenticated with
//! the line's `client_id` and `client_secret` (HTTP Basic), adds users, mints a token for any
//! user, and moves the quota day on:
//!
//! - `POST /emulator/v1/users`, body an accounts document as above: 200
//!   `{"users": [{"id", "email", "role"}]}`;
//! - `POST /emulator/v1/tokens`, body `{"user": EMAIL_OR_ID, "scopes": ["classroom.courses"]}`:
//!   200 `{"access_token", "expires_in", "scope", "token_type"}`;
//! - `POST /emulator/v1/quotas/day:advance`, body `{"days": N}`: 200 `{"quotaDay": "YYYY-MM-DD"}`.
//!
//! Errors are Google-shaped JSON (`{"error": {"code", "message", "status"}}`); without the
//! client's credentials, 401.

use std::io::Write;

use crate::{Accounts, Emulator, Quotas};

/// Runs the standalone server with the process's arguments, as the contract above says; never
/// returns.
pub fn main() -> ! {
    let mut args = std::env::args();
    let program = args
        .next()
        .as_deref()
        .and_then(|p| {
            std::path::Path::new(p)
                .file_stem()?
                .to_str()
                .map(String::from)
        })
        .unwrap_or_else(|| "classroom-emulator".to_string());
    let usage = |problem: &str| -> ! {
        if !problem.is_empty() {
            eprintln!("{problem}");
        }
        eprintln!(
            "usage: {program} [--port PORT] [--empty] [--accounts FILE]... [--daily-invitations N] [--push TOPIC=URL]... [--push-unwrapped]"
        );
        eprintln!();
        eprintln!("A local Classroom API and Google OAuth server on 127.0.0.1, for tests.");
        eprintln!("  --port PORT  the port to listen on; 0 (the default) for any free port");
        eprintln!("  --empty      no demo school: only the demo users, no courses or data");
        eprintln!("  --accounts FILE");
        eprintln!("               add the users of a JSON file:");
        eprintln!(
            "               {{\"domain\": \"...\", \"users\": [{{\"email\": \"...\", \"givenName\": \"...\","
        );
        eprintln!(
            "               \"familyName\": \"...\", \"role\": \"teacher|student|admin|guardian\"}}]}}"
        );
        eprintln!("  --daily-invitations N");
        eprintln!("               each user may create N invitations a day (default: no limit)");
        eprintln!("  --push TOPIC=URL");
        eprintln!("               POST the notifications of registrations on TOPIC to URL, as a");
        eprintln!("               Pub/Sub push subscription would, with a signed OIDC token");
        eprintln!("  --push-unwrapped");
        eprintln!("               push unwrapped payloads (metadata in x-goog-pubsub-* headers)");
        eprintln!();
        eprintln!("The first line on stdout is");
        eprintln!("  root=URL token_url=URL client_id=ID client_secret=SECRET");
        eprintln!("then it serves until killed. Admin routes (HTTP Basic with the client):");
        eprintln!(
            "  POST /emulator/v1/users, /emulator/v1/tokens, /emulator/v1/quotas/day:advance"
        );
        std::process::exit(if problem.is_empty() { 0 } else { 2 });
    };
    let mut port = 0u16;
    let mut empty = false;
    let mut files = Vec::new();
    let mut daily_invitations = None;
    let mut pushes = Vec::new();
    let mut unwrapped = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage("--port needs a number"));
            }
            "--empty" => empty = true,
            "--accounts" => files.push(
                args.next()
                    .unwrap_or_else(|| usage("--accounts needs a file")),
            ),
            "--daily-invitations" => {
                daily_invitations = Some(
                    args.next()
                        .and_then(|n| n.parse::<u32>().ok())
                        .unwrap_or_else(|| usage("--daily-invitations needs a whole number")),
                );
            }
            "--push" => {
                let spec = args
                    .next()
                    .unwrap_or_else(|| usage("--push needs TOPIC=URL"));
                let (topic, url) = spec
                    .split_once('=')
                    .filter(|(t, u)| !t.is_empty() && u.starts_with("http://"))
                    .unwrap_or_else(|| usage("--push needs TOPIC=URL, URL starting http://"));
                pushes.push((topic.to_string(), url.to_string()));
            }
            "--push-unwrapped" => unwrapped = true,
            "-h" | "--help" => usage(""),
            other => usage(&format!("unknown argument {other}")),
        }
    }
    // Every file is read and checked before the port is bound.
    let accounts: Vec<Accounts> = files
        .iter()
        .map(|file| {
            Accounts::read(file).unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(2);
            })
        })
        .collect();
    let mut builder = Emulator::builder()
        .port(port)
        .quotas(Quotas::none().daily_invitations_per_user(daily_invitations));
    if empty {
        builder = builder.empty();
    }
    let format = if unwrapped {
        crate::PushFormat::Unwrapped
    } else {
        crate::PushFormat::Wrapped
    };
    for (topic, url) in pushes {
        builder = builder.push_endpoint_as(topic, url, format);
    }
    let emulator = builder.start().unwrap_or_else(|e| {
        eprintln!("cannot start the emulator on 127.0.0.1:{port}: {e}");
        std::process::exit(1);
    });
    let mut added = 0;
    for set in &accounts {
        // An email the emulator already has (a demo user's, or one in an earlier file).
        added += emulator
            .add_accounts(set)
            .unwrap_or_else(|e| {
                eprintln!("{e}");
                std::process::exit(2);
            })
            .len();
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", emulator.standalone_line());
    let _ = out.flush();
    drop(out);
    eprintln!(
        "Classroom emulator{}{}{}; authorize at {}. Stop with Ctrl-C.",
        if empty {
            ", empty"
        } else {
            " with the demo school"
        },
        if files.is_empty() {
            String::new()
        } else {
            format!(", {added} users from {}", files.join(", "))
        },
        daily_invitations
            .map(|n| format!(", {n} invitations a day per user"))
            .unwrap_or_default(),
        emulator.auth_url()
    );
    loop {
        std::thread::park();
    }
}
