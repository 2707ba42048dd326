//! Lists courses: the README's first command.
//!
//! ```text
//! cargo run --example list_courses
//! cargo run --example list_courses -- --teacher ada.lovelace@school.example --format csv
//! cargo run --example list_courses -- --service-account key.json --subject admin@school.edu --state active
//! cargo run --example list_courses -- --client-secret client_secret.json --token token.json
//! cargo run --example list_courses -- --authorized-user ~/.config/gcloud/application_default_credentials.json
//! ```
//!
//! With no credentials it starts the local emulator (a demo school), signs in to it through
//! the real client-credentials flow, and lists the demo courses.

mod common;

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
use classroom::Scope;
use classroom::models::{Course, CourseState};
use common::{Auth, BoxError, text};
use futures::TryStreamExt;

/// Lists the Classroom courses the signed-in user can see, as a table, CSV or JSON.
///
/// With no credentials it lists the demo school of a local emulator. For a real domain, give
/// one of the credential options below: a service-account key with domain-wide delegation
/// and the user to act as, a user token stored by the installed_login example, or an
/// authorized-user file. Scopes used: classroom.courses.readonly.
#[derive(Parser, Debug)]
#[command(name = "list_courses", version, verbatim_doc_comment)]
struct Args {
    /// Only courses this user teaches (an email, a numeric id, or `me`)
    #[arg(long, value_name = "USER")]
    teacher: Option<String>,

    /// Only courses this user is enrolled in as a student (an email, a numeric id, or `me`)
    #[arg(long, value_name = "USER")]
    student: Option<String>,

    /// Only courses in this state; repeat for several (default: every state)
    #[arg(long, value_enum, ignore_case = true, value_name = "STATE")]
    state: Vec<State>,

    /// Output format
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Table)]
    format: Format,

    /// Write to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    #[command(flatten)]
    auth: Auth,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    /// Aligned columns for people
    Table,
    /// One row per course with a header, for spreadsheets
    Csv,
    /// The courses as the API returns them (camelCase), one JSON array
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum State {
    Active,
    Archived,
    Provisioned,
    Declined,
    Suspended,
}

impl From<State> for CourseState {
    fn from(state: State) -> CourseState {
        match state {
            State::Active => CourseState::Active,
            State::Archived => CourseState::Archived,
            State::Provisioned => CourseState::Provisioned,
            State::Declined => CourseState::Declined,
            State::Suspended => CourseState::Suspended,
        }
    }
}

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    // Kept until the end: dropping the target's emulator stops it.
    let target = args.auth.target(&[Scope::CoursesReadonly], |e| e)?;
    let classroom = target.builder.build()?;

    let mut list = classroom.courses().list().page_size(100);
    if let Some(teacher) = &args.teacher {
        list = list.teacher_id(teacher);
    }
    if let Some(student) = &args.student {
        list = list.student_id(student);
    }
    if !args.state.is_empty() {
        list = list.course_states(args.state.iter().map(|&s| CourseState::from(s)));
    }
    let courses: Vec<Course> = list.items().try_collect().await?;

    let mut out = common::output(args.out.as_deref())?;
    match args.format {
        Format::Table => print_table(&mut out, &courses)?,
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(&mut out);
            csv.write_record(["id", "name", "section", "room", "state", "owner_id"])?;
            for c in &courses {
                csv.write_record([
                    text(&c.id),
                    text(&c.name),
                    text(&c.section),
                    text(&c.room),
                    state(c),
                    text(&c.owner_id),
                ])?;
            }
            csv.flush()?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &courses)?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn state(course: &Course) -> &str {
    course
        .course_state
        .as_ref()
        .map(|s| s.as_str())
        .unwrap_or_default()
}

fn print_table(out: &mut dyn Write, courses: &[Course]) -> std::io::Result<()> {
    let rows: Vec<[&str; 4]> = courses
        .iter()
        .map(|c| [text(&c.id), text(&c.name), text(&c.section), state(c)])
        .collect();
    let header = ["ID", "NAME", "SECTION", "STATE"];
    let mut widths = header.map(|h| h.chars().count());
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
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    writeln!(out, "{} course(s)", courses.len())
}
