//! Exports coursework and student submissions (state, late, assigned and draft grade) to CSV.
//!
//! ```text
//! cargo run --example grades_export
//! cargo run --example grades_export -- --service-account key.json --subject teacher@school.edu --course 123456 --out grades.csv
//! ```

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use clap::Parser;
use classroom::models::{Course, CourseWork, Student, StudentSubmission};
use classroom::{Classroom, Scope};
use common::{Auth, BoxError, InputError, text};
use futures::TryStreamExt;

/// Exports the grades of courses: one CSV row per student submission, with its coursework.
///
/// Columns: course_id, course_name, coursework_id, coursework_title, max_points, due_utc,
/// student_id, student_email, state, late, assigned_grade, draft_grade. A draft grade is the
/// teacher's, not yet returned to the student; the assigned grade is the one returned.
///
/// Submissions of every coursework of a course are read with one list
/// (courses.courseWork.studentSubmissions.list with the course-work id `-`), not one per
/// coursework.
///
/// With no credentials it exports the demo school of a local emulator. For a real domain, act
/// as a teacher of the courses or an admin. Scopes used: classroom.courses.readonly,
/// classroom.coursework.students.readonly, classroom.rosters.readonly and
/// classroom.profile.emails (the student_email column).
#[derive(Parser, Debug)]
#[command(name = "grades_export", version, verbatim_doc_comment)]
struct Args {
    /// Only this course (its id or alias, e.g. d:math-101); repeat for several (default:
    /// every course the user can see)
    #[arg(long, value_name = "COURSE_ID")]
    course: Vec<String>,

    /// Write the CSV to this file instead of stdout
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,

    #[command(flatten)]
    auth: Auth,
}

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    let scopes = [
        Scope::CoursesReadonly,
        Scope::CourseworkStudentsReadonly,
        Scope::RostersReadonly,
        Scope::ProfileEmails,
    ];
    let target = args.auth.target(&scopes, |e| e)?;
    let classroom = target.builder.build()?;

    let courses: Vec<Course> = if args.course.is_empty() {
        classroom.courses().list().items().try_collect().await?
    } else {
        let mut courses = Vec::new();
        for id in &args.course {
            let course = classroom.courses().get(id).send().await;
            courses.push(
                course.map_err(|e| InputError::boxed(format!("--course {id}"), &args.auth, e))?,
            );
        }
        courses
    };

    let mut out = csv::Writer::from_writer(common::output(args.out.as_deref())?);
    out.write_record([
        "course_id",
        "course_name",
        "coursework_id",
        "coursework_title",
        "max_points",
        "due_utc",
        "student_id",
        "student_email",
        "state",
        "late",
        "assigned_grade",
        "draft_grade",
    ])?;
    let mut rows = 0;
    for course in &courses {
        let course_id = text(&course.id);
        let (work, submissions, students) = read_course(&classroom, course_id)
            .await
            .map_err(|e| format!("reading course {course_id} ({}): {e}", text(&course.name)))?;
        let work: HashMap<&str, &CourseWork> = work.iter().map(|w| (text(&w.id), w)).collect();
        let emails: HashMap<&str, &str> = students
            .iter()
            .map(|s| {
                let email = s.profile.as_ref().map(|p| text(&p.email_address));
                (text(&s.user_id), email.unwrap_or_default())
            })
            .collect();
        for s in &submissions {
            let w = work.get(text(&s.course_work_id)).copied();
            let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
            out.write_record([
                course_id,
                text(&course.name),
                text(&s.course_work_id),
                w.map(|w| text(&w.title)).unwrap_or_default(),
                &number(w.and_then(|w| w.max_points)),
                &w.map(due).unwrap_or_default(),
                text(&s.user_id),
                emails.get(text(&s.user_id)).copied().unwrap_or_default(),
                s.state.as_ref().map(|s| s.as_str()).unwrap_or_default(),
                if s.late == Some(true) {
                    "true"
                } else {
                    "false"
                },
                &number(s.assigned_grade),
                &number(s.draft_grade),
            ])?;
            rows += 1;
        }
    }
    out.flush()?;
    eprintln!(
        "exported {rows} submission(s) of {} course(s)",
        courses.len()
    );
    Ok(())
}

/// A course's coursework, all its submissions and its students, read at the same time.
async fn read_course(
    classroom: &Classroom,
    course_id: &str,
) -> classroom::Result<(Vec<CourseWork>, Vec<StudentSubmission>, Vec<Student>)> {
    let work = classroom.courses().course_work().list(course_id).items();
    // `-`: the submissions of every coursework of the course, in one list.
    let submissions = classroom
        .courses()
        .course_work()
        .student_submissions()
        .list(course_id, "-")
        .page_size(500)
        .items();
    let students = classroom.courses().students().list(course_id).items();
    futures::try_join!(
        work.try_collect(),
        submissions.try_collect(),
        students.try_collect()
    )
}

/// The due date and time as `YYYY-MM-DD HH:MM` (Classroom keeps them in UTC), or the date
/// alone, or nothing.
fn due(work: &CourseWork) -> String {
    let Some(date) = work.due_date.as_ref().and_then(|d| d.to_naive_date()) else {
        return String::new();
    };
    match work.due_time.as_ref().and_then(|t| t.to_naive_time()) {
        Some(time) => format!("{date} {}", time.format("%H:%M")),
        None => date.to_string(),
    }
}
