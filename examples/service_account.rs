//! Roster sync as a school administrator runs it: a service account with domain-wide
//! delegation acting as a user of the domain.
//!
//! ```text
//! cargo run --example service_account                       # on the emulator
//! cargo run --example service_account -- --service-account key.json --subject admin@school.example.edu
//! ```

mod common;

use std::path::PathBuf;

use clap::Parser;
use classroom::auth::{ServiceAccountCredentials, ServiceAccountKey};
use classroom::{Classroom, Scope};
use classroom_emulator::{Emulator, demo};
use common::{BoxError, FileKind};
use futures::TryStreamExt;

/// Lists the courses a user of your domain sees, signed in as a service account acting as
/// that user (domain-wide delegation), and their student counts.
///
/// The Workspace admin must have granted the service account's client id the scopes
/// classroom.courses.readonly and classroom.rosters.readonly (Admin console > Security > API
/// controls > Domain-wide delegation); otherwise the token request fails with
/// unauthorized_client.
///
/// With no arguments it uses a local emulator's demo service account, acting as a demo
/// teacher.
#[derive(Parser, Debug)]
#[command(name = "service_account", version, verbatim_doc_comment)]
struct Args {
    /// The service-account key file (JSON, "type": "service_account"); acts as --subject
    /// through domain-wide delegation
    #[arg(long, value_name = "KEY_JSON", requires = "subject")]
    service_account: Option<PathBuf>,

    /// The user of your domain the service account acts as (an admin or a teacher)
    #[arg(long, value_name = "EMAIL", requires = "service_account")]
    subject: Option<String>,

    /// The API's root URL (default: Google's)
    #[arg(long, value_name = "URL", requires = "service_account")]
    root_url: Option<String>,
}

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let mut _emulator = None;
    let mut builder = Classroom::builder();
    if let Some(root) = &args.root_url {
        builder = builder.root_url(root);
    }
    let (key, subject) = match (args.service_account, args.subject) {
        (Some(key), Some(subject)) => (key, subject),
        _ => {
            let emulator = Emulator::start()?;
            eprintln!(
                "no key given: using a local emulator's demo service account at {}, acting as {} \
                 (--help shows how to use your own)",
                emulator.root_url(),
                demo::TEACHER
            );
            // Written to a file, as a downloaded key would be.
            let dir = std::env::temp_dir().join(format!("service_account-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            let key = dir.join("key.json");
            std::fs::write(&key, emulator.service_account_key())?;
            builder = builder.root_url(emulator.root_url());
            _emulator = Some((emulator, dir));
            (key, demo::TEACHER.to_string())
        }
    };
    match common::file_kind(&key) {
        Some(kind) if kind != FileKind::ServiceAccount => {
            return Err(format!(
                "{} is {}, not a service-account key, which this example needs; the other \
                 examples (list_courses, say) take it: {}",
                key.display(),
                kind.describe(),
                kind.how_to_use(&key)
            )
            .into());
        }
        _ => {}
    }
    let key = ServiceAccountKey::from_file(&key)?;
    if let Some((_, dir)) = &_emulator {
        let _ = std::fs::remove_dir_all(dir);
    }
    println!(
        "service account {} (client id {}) acting as {subject}",
        key.client_email(),
        key.client_id().unwrap_or("?")
    );
    let credentials =
        ServiceAccountCredentials::new(key, [Scope::CoursesReadonly, Scope::RostersReadonly])
            .subject(&subject);
    let classroom = builder.credentials(credentials).build()?;

    let courses: Vec<_> = classroom.courses().list().items().try_collect().await?;
    println!("{subject} sees {} course(s)", courses.len());
    for course in &courses {
        let id = course.id.as_deref().unwrap_or_default();
        let students: Vec<_> = classroom
            .courses()
            .students()
            .list(id)
            .items()
            .try_collect()
            .await?;
        println!(
            "{id}\t{}\t{} student(s)",
            course.name.as_deref().unwrap_or_default(),
            students.len()
        );
    }
    Ok(())
}
