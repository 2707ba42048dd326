//! Lists courses as a table: the README's first command.
//!
//! ```text
//! cargo run --example list_courses
//! cargo run --example list_courses -- --service-account key.json --subject admin@school.edu
//! cargo run --example list_courses -- --client-secret client_secret.json --token token.json
//! cargo run --example list_courses -- --authorized-user ~/.config/gcloud/application_default_credentials.json
//! ```
//!
//! With no credentials it starts the local emulator (a demo school), signs in to it through
//! the real client-credentials flow, and lists the demo courses. With a service-account key and
//! the user to act as (domain-wide delegation), a user token stored by the `installed_login`
//! example, or an `authorized_user` file, it lists the real ones.

use std::sync::Arc;

use classroom::auth::{
    ClientCredentials, ClientSecret, FileStore, OAuthClient, Provider, ServiceAccountCredentials,
    ServiceAccountKey, UserCredentials,
};
use classroom::emulator::Emulator;
use classroom::models::Course;
use classroom::{Classroom, Scope};
use futures::TryStreamExt;

const USAGE: &str = "usage: list_courses [--service-account KEY_JSON --subject EMAIL \
                     | --client-secret CLIENT_SECRET_JSON --token TOKEN_JSON \
                     | --authorized-user AUTHORIZED_USER_JSON]";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // RUST_LOG=classroom=debug shows every call, retry and token fetch.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let scopes = [Scope::CoursesReadonly];

    // Kept alive until the end of main: dropping it stops the emulator.
    let mut _emulator = None;
    let classroom = if let Some(key) = arg("--service-account") {
        let subject = arg("--subject").ok_or(USAGE)?;
        let credentials =
            ServiceAccountCredentials::new(ServiceAccountKey::from_file(key)?, scopes)
                .subject(&subject);
        Classroom::new(credentials)?
    } else if let Some(secret) = arg("--client-secret") {
        let token = arg("--token").ok_or(USAGE)?;
        let client = OAuthClient::from_client_secret_file(secret)?;
        let credentials = UserCredentials::from_store(client, Arc::new(FileStore::new(&token)))?
            .ok_or("no token stored there yet: sign in first with `cargo run --example installed_login`")?;
        Classroom::new(credentials)?
    } else if let Some(file) = arg("--authorized-user") {
        Classroom::new(
            UserCredentials::from_authorized_user_file(file)?.with_scopes(scopes.map(|s| s.url())),
        )?
    } else if args.is_empty() {
        let emulator = Emulator::start()?;
        eprintln!(
            "no credentials given: listing the demo school of a local emulator at {}",
            emulator.root_url()
        );
        let client = OAuthClient::new(
            emulator.client_id(),
            Some(ClientSecret::new(emulator.client_secret())),
        )
        .with_provider(Provider::token_endpoint(emulator.token_url()));
        let credentials = ClientCredentials::new(client, scopes.map(|s| s.url()));
        let classroom = Classroom::builder()
            .root_url(emulator.root_url())
            .credentials(credentials)
            .build()?;
        _emulator = Some(emulator);
        classroom
    } else {
        return Err(USAGE.into());
    };

    let courses: Vec<Course> = classroom
        .courses()
        .list()
        .page_size(100)
        .items()
        .try_collect()
        .await?;
    print_table(&courses);
    Ok(())
}

fn print_table(courses: &[Course]) {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let rows: Vec<[String; 4]> = courses
        .iter()
        .map(|c| {
            let state = c
                .course_state
                .as_ref()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            [text(&c.id), text(&c.name), text(&c.section), state]
        })
        .collect();
    let header = ["ID", "NAME", "SECTION", "STATE"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    println!("{} course(s)", courses.len());
}
