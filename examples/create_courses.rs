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

mod common;

use std::time::Duration;

use clap::Parser;
use classroom::models::Course;
use classroom::{RetryPolicy, Scope};
use classroom_emulator::Fault;
use common::{Auth, BoxError};
use futures::TryStreamExt;

/// Creates five sections of Biology under the aliases d:sis-bio-1 .. d:sis-bio-5, twice, as a
/// nightly sync would: a create under an alias may be retried and rerun, since a second create
/// answers ALREADY_EXISTS instead of making a duplicate.
///
/// With no credentials it runs on a local emulator that loses over a quarter of the answers
/// to creates after carrying them out. For a real domain, act as an admin or a teacher (the
/// owner is `me`). Scope used: classroom.courses.
#[derive(Parser, Debug)]
#[command(name = "create_courses", version, verbatim_doc_comment)]
struct Args {
    #[command(flatten)]
    auth: Auth,
}

/// The source system's sections: (its id, the section name).
const SECTIONS: [(&str, &str); 5] = [
    ("bio-1", "Period 1"),
    ("bio-2", "Period 2"),
    ("bio-3", "Period 3"),
    ("bio-4", "Period 4"),
    ("bio-5", "Period 5"),
];

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let target = args.auth.target(&[Scope::Courses], |e| e.empty())?;
    let mut builder = target.builder;
    if let Some(emulator) = &target.emulator {
        for fault in [
            Fault::drop_after_commit(),
            Fault::unavailable_after_commit(),
        ] {
            emulator.inject(fault.on("classroom.courses.create").fraction(0.15));
        }
        eprintln!(
            "the emulator loses over a quarter of the answers to creates after carrying them out"
        );
        builder = builder.retry(RetryPolicy::default().initial_backoff(Duration::from_millis(50)));
    }
    let classroom = builder.build()?;

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
