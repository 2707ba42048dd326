//! Exports every course's teachers and students to CSV, reading the rosters in batches under
//! Classroom's quotas.
//!
//! ```text
//! cargo run --example roster_export
//! cargo run --example roster_export -- --emulator-courses 300 --out rosters.csv
//! cargo run --example roster_export -- --service-account key.json --subject admin@school.edu --out rosters.csv
//! ```

mod common;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use classroom::models::{Course, Student, Teacher, UserProfile};
use classroom::{BatchSlot, BearerToken, Classroom, MAX_BATCH_CALLS, RateLimit, Scope};
use common::{Auth, BoxError, text};
use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};

/// Exports the teachers and students of every course the signed-in user can see, one CSV row
/// per member: course_id, course_name, section, role, user_id, email, name.
///
/// Rosters are read in batches (50 calls to an HTTP request, a course's teachers and students
/// and any further pages) and paced under Classroom's per-user and per-project quotas
/// (RateLimit::classroom), so a district-sized export runs at the quota without 429s. On a
/// terminal, a progress bar on stderr shows the courses done.
///
/// With no credentials it exports the demo school of a local emulator. Scopes used:
/// classroom.courses.readonly, classroom.rosters.readonly, classroom.profile.emails (for the
/// email column; without it the column is empty).
#[derive(Parser, Debug)]
#[command(name = "roster_export", version, verbatim_doc_comment)]
struct Args {
    /// Write the CSV to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    /// Only courses in the active state (default: every course)
    #[arg(long)]
    active_only: bool,

    /// With no credentials: add this many generated courses to the demo school first, to watch
    /// the batches, the limiter and the progress bar on a long run
    #[arg(long, value_name = "N", default_value_t = 0)]
    emulator_courses: usize,

    #[command(flatten)]
    auth: Auth,
}

/// Courses whose rosters go in one round of batches: two calls each fill one batch request.
const COURSES_PER_ROUND: usize = MAX_BATCH_CALLS / 2;

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let scopes = [
        Scope::CoursesReadonly,
        Scope::RostersReadonly,
        Scope::ProfileEmails,
    ];
    let target = args.auth.target(&scopes, |e| e)?;
    if let Some(emulator) = &target.emulator {
        seed(emulator, args.emulator_courses).await?;
    }
    // Every call, batch parts included, waits its turn under Classroom's quotas.
    let classroom = target.builder.rate_limit(RateLimit::classroom()).build()?;
    let started = Instant::now();

    let mut list = classroom.courses().list().page_size(100);
    if args.active_only {
        list = list.course_states([classroom::models::CourseState::Active]);
    }
    let courses: Vec<Course> = list.items().try_collect().await?;

    let progress = if std::io::stderr().is_terminal() {
        ProgressBar::new(courses.len() as u64).with_style(ProgressStyle::with_template(
            "{bar:40} {pos}/{len} courses, {elapsed} (eta {eta})",
        )?)
    } else {
        ProgressBar::hidden()
    };
    let mut out = csv::Writer::from_writer(common::output(args.out.as_deref())?);
    out.write_record([
        "course_id",
        "course_name",
        "section",
        "role",
        "user_id",
        "email",
        "name",
    ])?;
    let (mut rows, mut failed) = (0usize, Vec::new());
    for round in courses.chunks(COURSES_PER_ROUND) {
        for (course, roster) in round.iter().zip(read_rosters(&classroom, round).await) {
            let roster = match roster {
                Ok(roster) => roster,
                Err(e) => {
                    progress.suspend(|| eprintln!("{}: {e}", text(&course.id)));
                    failed.push(text(&course.id).to_string());
                    continue;
                }
            };
            for (role, member) in roster {
                out.write_record([
                    text(&course.id),
                    text(&course.name),
                    text(&course.section),
                    role,
                    text(&member.id),
                    text(&member.email_address),
                    member
                        .name
                        .as_ref()
                        .and_then(|n| n.full_name.as_deref())
                        .unwrap_or_default(),
                ])?;
                rows += 1;
            }
        }
        progress.inc(round.len() as u64);
    }
    out.flush()?;
    progress.finish_and_clear();
    eprintln!(
        "exported {rows} members of {} course(s) in {:.1} s",
        courses.len() - failed.len(),
        started.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        return Err(format!(
            "{} course(s) could not be read and are missing from the export: {}",
            failed.len(),
            failed.join(", ")
        )
        .into());
    }
    Ok(())
}

/// A course's members with their role, teachers first.
type Roster = Vec<(&'static str, UserProfile)>;

/// Reads the teachers and students of `courses`: the first page of each in one batch, then
/// further pages of those that have them in the next, until none is left.
async fn read_rosters(
    classroom: &Classroom,
    courses: &[Course],
) -> Vec<Result<Roster, classroom::Error>> {
    let mut rosters: Vec<Result<Roster, classroom::Error>> =
        courses.iter().map(|_| Ok(Vec::new())).collect();
    // (course index, teachers?, page token)
    let mut pending: Vec<(usize, bool, Option<String>)> = (0..courses.len())
        .flat_map(|i| [(i, true, None), (i, false, None)])
        .collect();
    while !pending.is_empty() {
        enum Slot {
            Teachers(BatchSlot<classroom::models::ListTeachersResponse>),
            Students(BatchSlot<classroom::models::ListStudentsResponse>),
        }
        let mut batch = classroom.batch();
        let mut slots = Vec::new();
        for (i, teachers, token) in pending.drain(..) {
            let course = text(&courses[i].id);
            let slot = if teachers {
                let mut call = classroom.courses().teachers().list(course).page_size(100);
                if let Some(token) = &token {
                    call = call.page_token(token);
                }
                Slot::Teachers(batch.add(call))
            } else {
                let mut call = classroom.courses().students().list(course).page_size(100);
                if let Some(token) = &token {
                    call = call.page_token(token);
                }
                Slot::Students(batch.add(call))
            };
            slots.push((i, slot));
        }
        let mut results = batch.send().await;
        for (i, slot) in slots {
            let page = match slot {
                Slot::Teachers(slot) => results.take(slot).map(|page| {
                    let members = page.teachers.into_iter().map(|t: Teacher| t.profile);
                    (true, members.collect::<Vec<_>>(), page.next_page_token)
                }),
                Slot::Students(slot) => results.take(slot).map(|page| {
                    let members = page.students.into_iter().map(|s: Student| s.profile);
                    (false, members.collect::<Vec<_>>(), page.next_page_token)
                }),
            };
            match (page, &mut rosters[i]) {
                (Ok((teachers, members, next)), Ok(roster)) => {
                    let role = if teachers { "teacher" } else { "student" };
                    roster.extend(members.into_iter().flatten().map(|m| (role, m)));
                    if let Some(next) = next.filter(|t| !t.is_empty()) {
                        pending.push((i, teachers, Some(next)));
                    }
                }
                (Err(e), roster @ Ok(_)) => *roster = Err(e),
                (_, Err(_)) => {} // the course failed already
            }
        }
    }
    // Teachers first within each course.
    for roster in rosters.iter_mut().flatten() {
        roster.sort_by_key(|(role, _)| *role != "teacher");
    }
    rosters
}

/// Adds `count` generated courses, each with the demo students, to the emulator's school.
async fn seed(emulator: &classroom_emulator::Emulator, count: usize) -> Result<(), BoxError> {
    use classroom::models::Course;
    use classroom_emulator::demo;
    if count == 0 {
        return Ok(());
    }
    let scopes = [Scope::Courses, Scope::Rosters];
    let token = emulator.token_for("admin", &scopes);
    let admin = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(token, scopes.map(|s| s.url())))
        .build()?;
    let creates = (1..=count).map(|n| {
        admin.courses().create(Course {
            id: Some(format!("d:generated-{n}")),
            name: Some(format!("Generated course {n}")),
            section: Some(format!("Section {}", n % 7 + 1)),
            owner_id: Some(demo::TEACHER.into()),
            course_state: Some(classroom::models::CourseState::Active),
            ..Default::default()
        })
    });
    let mut ids = Vec::new();
    for course in admin.send_batched(creates).await {
        ids.push(course?.id.unwrap_or_default());
    }
    let enrolments = ids.iter().flat_map(|id| {
        demo::STUDENTS.iter().map(|student| {
            admin.courses().students().create(
                id.as_str(),
                Student {
                    user_id: Some(student.to_string()),
                    ..Default::default()
                },
            )
        })
    });
    for enrolment in admin.send_batched(enrolments.collect::<Vec<_>>()).await {
        enrolment?;
    }
    eprintln!("added {count} generated course(s) to the demo school");
    Ok(())
}
