//! Creates courses so that a rerun, or a retry after a lost answer, never makes a duplicate:
//! each course is created under a domain alias built from the source system's id.
//!
//! ```text
//! cargo run --example create_courses                  # on the emulator, with lost answers
//! cargo run --example create_courses -- --service-account key.json --subject admin@school.edu
//! ```
//!
//! With no credentials it starts the local emulator and makes it lose over a quarter of the answers
//! to creates after carrying them out (the connection drops, or a 503 comes back), then runs
//! twice, as a nightly sync would. A create under an alias is idempotent: a second create of
//! `d:sis-…` answers `ALREADY_EXISTS` instead of making another course, so the call may be
//! retried (`with_idempotency(true)`) and `ALREADY_EXISTS` means "done".

use std::time::Duration;

use classroom::auth::{
    ClientCredentials, ClientSecret, OAuthClient, Provider, ServiceAccountCredentials,
    ServiceAccountKey,
};
use classroom::emulator::{Emulator, Fault};
use classroom::models::Course;
use classroom::{Classroom, RetryPolicy, Scope};
use futures::TryStreamExt;

const USAGE: &str = "usage: create_courses [--service-account KEY_JSON --subject EMAIL]\n\
    Creates five demo sections of Biology under the aliases d:sis-bio-1 .. d:sis-bio-5, twice.";

/// The source system's sections: (its id, the section name).
const SECTIONS: [(&str, &str); 5] = [
    ("bio-1", "Period 1"),
    ("bio-2", "Period 2"),
    ("bio-3", "Period 3"),
    ("bio-4", "Period 4"),
    ("bio-5", "Period 5"),
];

#[tokio::main]
async fn main() {
    // RUST_LOG=classroom=debug shows every call, retry and token fetch.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run().await {
        eprintln!("error: {e}");
        let mut source = std::error::Error::source(e.as_ref());
        while let Some(cause) = source {
            eprintln!("  caused by: {cause}");
            source = cause.source();
        }
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mut _emulator = None;
    let classroom = match (arg("--service-account"), arg("--subject")) {
        (Some(key), Some(subject)) => {
            let key = ServiceAccountKey::from_file(key)?;
            Classroom::new(ServiceAccountCredentials::new(key, [Scope::Courses]).subject(&subject))?
        }
        (None, None) if args.is_empty() => {
            let emulator = Emulator::builder().empty().start()?;
            for fault in [
                Fault::drop_after_commit(),
                Fault::unavailable_after_commit(),
            ] {
                emulator.inject(fault.on("classroom.courses.create").fraction(0.15));
            }
            eprintln!(
                "no credentials given: creating on a local emulator at {} that loses over a quarter of \
                 the answers to creates after carrying them out",
                emulator.root_url()
            );
            let client = OAuthClient::new(
                emulator.client_id(),
                Some(ClientSecret::new(emulator.client_secret())),
            )
            .with_provider(Provider::token_endpoint(emulator.token_url()));
            let classroom = Classroom::builder()
                .root_url(emulator.root_url())
                .credentials(ClientCredentials::new(client, [Scope::Courses.url()]))
                .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(50)))
                .build()?;
            _emulator = Some(emulator);
            classroom
        }
        _ => return Err(USAGE.into()),
    };

    for run in ["first run", "second run (a rerun changes nothing)"] {
        println!("{run}:");
        for (source_id, section) in SECTIONS {
            let alias = format!("d:sis-{source_id}");
            let course = Course {
                id: Some(alias.clone()),
                name: Some("Biology".into()),
                section: Some(section.into()),
                owner_id: Some("me".into()),
                ..Default::default()
            };
            let outcome = classroom
                .courses()
                .create(course)
                .with_idempotency(true)
                .send()
                .await;
            match outcome {
                Ok(created) => println!("  {alias}: created as {}", created.id.unwrap_or_default()),
                Err(e) if e.is_already_exists() => println!("  {alias}: already there"),
                Err(e) => println!("  {alias}: failed: {e}"),
            }
        }
    }
    let courses: Vec<Course> = classroom.courses().list().items().try_collect().await?;
    let ours = courses
        .iter()
        .filter(|c| c.name.as_deref() == Some("Biology"))
        .count();
    println!("{ours} Biology course(s) exist: one per section, however often the answer was lost");
    Ok(())
}
