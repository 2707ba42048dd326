//! Roster sync as a school administrator runs it: a service account with domain-wide
//! delegation acting as a user of the domain.
//!
//! ```text
//! cargo run --example service_account -- service-account.json admin@school.example.edu
//! ```
//!
//! The Workspace admin must have granted the service account's client id the Classroom
//! scopes below (Admin console > Security > API controls > Domain-wide delegation).

use classroom::auth::{ServiceAccountCredentials, ServiceAccountKey};
use classroom::{Classroom, Scope};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // RUST_LOG=classroom=debug shows every call, retry and token fetch.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let usage = "usage: service_account KEY_JSON SUBJECT_EMAIL";
    let key = ServiceAccountKey::from_file(args.next().ok_or(usage)?)?;
    let subject = args.next().ok_or(usage)?;

    let credentials =
        ServiceAccountCredentials::new(key, [Scope::CoursesReadonly, Scope::RostersReadonly])
            .subject(&subject);
    let classroom = Classroom::new(credentials)?;

    let courses: Vec<_> = classroom.courses().list().items().try_collect().await?;
    println!("{subject} sees {} courses", courses.len());
    for course in &courses {
        println!(
            "{}\t{}",
            course.id.as_deref().unwrap_or("?"),
            course.name.as_deref().unwrap_or("")
        );
    }
    Ok(())
}
