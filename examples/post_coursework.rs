//! Posts an assignment with a topic, a due date and time, and a link.
//!
//! ```text
//! cargo run --example post_coursework
//! cargo run --example post_coursework -- --service-account key.json --subject teacher@school.edu \
//!     --course 123456 --title "Lab report" --topic "Week 3" --due 2027-03-01T17:00+01:00 \
//!     --link https://example.edu/lab.pdf
//! ```

mod common;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use clap::Parser;
use classroom::models::{
    CourseWork, CourseWorkState, CourseWorkType, Date, Link, Material, TimeOfDay, Topic,
};
use classroom::{Classroom, Scope};
use common::{Auth, BoxError, InputError, text};
use futures::TryStreamExt;

/// Posts an assignment to a course: a title and description, a topic (reused by name or
/// created), a due date and time, points, and a link material.
///
/// Only the Cloud project whose OAuth client created a coursework may modify it later (or
/// grade its submissions through the API): another project's client gets
/// @ProjectPermissionDenied, and so does this one for coursework made in the Classroom web
/// page. Post coursework that your integration will manage with the client it will manage it
/// with.
///
/// With no credentials it posts to the demo school's Mathematics 101 on a local emulator,
/// due a week from now. For a real domain, act as a teacher of the course. Scopes used:
/// classroom.coursework.students, classroom.topics.
#[derive(Parser, Debug)]
#[command(name = "post_coursework", version, verbatim_doc_comment)]
struct Args {
    /// The course (its id or an alias such as d:math-101); required with credentials
    #[arg(long, value_name = "COURSE_ID")]
    course: Option<String>,

    /// The assignment's title; required with credentials
    #[arg(long)]
    title: Option<String>,

    /// What the students should do
    #[arg(long)]
    description: Option<String>,

    /// The topic to file it under, by name: an existing topic of the course, or a new one
    #[arg(long, value_name = "NAME")]
    topic: Option<String>,

    /// When it is due: 2027-03-01T17:00+01:00, or without an offset (2027-03-01T17:00) in UTC.
    /// Classroom stores due dates and times in UTC
    #[arg(long, value_name = "DATE_TIME", value_parser = parse_due)]
    due: Option<DateTime<Utc>>,

    /// The most points a submission can earn (default: ungraded)
    #[arg(long, value_name = "POINTS")]
    max_points: Option<f64>,

    /// A link for the students (a web page, a document)
    #[arg(long, value_name = "URL")]
    link: Option<String>,

    /// Save it as a draft that students do not see yet (default: published)
    #[arg(long)]
    draft: bool,

    #[command(flatten)]
    auth: Auth,
}

fn parse_due(value: &str) -> Result<DateTime<Utc>, String> {
    for format in ["%Y-%m-%dT%H:%M%:z", "%Y-%m-%dT%H:%M:%S%:z"] {
        if let Ok(at) = DateTime::parse_from_str(value, format) {
            return Ok(at.with_timezone(&Utc));
        }
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(at.and_utc());
        }
    }
    Err("expected a date and time such as 2027-03-01T17:00+01:00 or 2027-03-01T17:00 (UTC)".into())
}

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(mut args: Args) -> Result<(), BoxError> {
    let target = args
        .auth
        .target(&[Scope::CourseworkStudents, Scope::Topics], |e| e)?;
    if target.is_emulator(&args.auth) {
        // The demo school's course and title, which a post needs.
        args.course.get_or_insert_with(|| "d:math-101".into());
        args.title
            .get_or_insert_with(|| "Read: the Analytical Engine".into());
        // The rest of the demo only for a run with none of its own: an option left out stays
        // out (`--draft` alone posts a draft with no topic, due date or link).
        let chosen = args.description.is_some()
            || args.topic.is_some()
            || args.due.is_some()
            || args.max_points.is_some()
            || args.link.is_some()
            || args.draft;
        if !chosen {
            args.description =
                Some("Read the article and note two ideas that computers still use.".into());
            args.topic = Some("Week 1".into());
            let next_week = (Utc::now() + Duration::days(7)).date_naive();
            args.due = next_week.and_hms_opt(17, 0, 0).map(|at| at.and_utc());
            args.max_points = Some(20.0);
            args.link = Some("https://en.wikipedia.org/wiki/Analytical_engine".into());
        }
    }
    let course = args.course.ok_or("--course is required with credentials")?;
    let title = args.title.ok_or("--title is required with credentials")?;
    let classroom = target.builder.build()?;

    // Any refusal concerns the course the user named, whichever call met it first.
    let about =
        |e: classroom::Error| InputError::boxed(format!("--course {course}"), &args.auth, e);
    let topic = match &args.topic {
        Some(name) => Some(
            topic_named(&classroom, &course, name)
                .await
                .map_err(about)?,
        ),
        None => None,
    };
    let work = CourseWork {
        title: Some(title),
        description: args.description,
        work_type: Some(CourseWorkType::Assignment),
        state: Some(if args.draft {
            CourseWorkState::Draft
        } else {
            CourseWorkState::Published
        }),
        topic_id: topic.as_ref().and_then(|t| t.topic_id.clone()),
        due_date: args.due.map(|at| Date::from(at.date_naive())),
        due_time: args.due.map(|at| TimeOfDay::from(at.time())),
        max_points: args.max_points,
        materials: args
            .link
            .iter()
            .map(|url| Material {
                link: Some(Link {
                    url: Some(url.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    // Not retried where the server may have created it: a create is not idempotent, and a
    // second one would post a second assignment.
    let created = classroom
        .courses()
        .course_work()
        .create(&course, work)
        .send()
        .await
        .map_err(about)?;

    println!(
        "posted coursework {} \"{}\" ({}) in course {course}",
        text(&created.id),
        text(&created.title),
        created.state.as_ref().map(|s| s.as_str()).unwrap_or("?"),
    );
    if let Some(topic) = &topic {
        println!("  topic: {} ({})", text(&topic.name), text(&topic.topic_id));
    }
    if let Some(due) = args.due {
        println!("  due: {} UTC", due.format("%Y-%m-%d %H:%M"));
    }
    for link in created.materials.iter().filter_map(|m| m.link.as_ref()) {
        println!("  link: {}", text(&link.url));
    }
    if let Some(link) = &created.alternate_link {
        println!("  open in Classroom: {link}");
    }
    println!(
        "  only this Cloud project's OAuth client may modify it or its submissions from now on"
    );
    Ok(())
}

/// The course's topic with this name, created if there is none.
async fn topic_named(classroom: &Classroom, course: &str, name: &str) -> classroom::Result<Topic> {
    let topics: Vec<Topic> = classroom
        .courses()
        .topics()
        .list(course)
        .items()
        .try_collect()
        .await?;
    if let Some(topic) = topics.into_iter().find(|t| t.name.as_deref() == Some(name)) {
        return Ok(topic);
    }
    let topic = Topic {
        name: Some(name.to_string()),
        ..Default::default()
    };
    classroom
        .courses()
        .topics()
        .create(course, topic)
        .send()
        .await
}
