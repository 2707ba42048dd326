//! A push notification receiver in a small HTTP service: it verifies each Pub/Sub push,
//! drops duplicates, decodes the Classroom event, reads what changed, and keeps a local copy
//! of rosters and coursework current.
//!
//! ```text
//! cargo run --example push_receiver                     # demo against the emulator
//! cargo run --example push_receiver -- --listen 127.0.0.1:8080 \
//!     --audience https://example.com/push --service-account push@my-project.iam.gserviceaccount.com
//! ```
//!
//! The demo starts the emulator with a push endpoint for its topic, serves this receiver on
//! 127.0.0.1, registers a course's roster and coursework feeds through a registration keeper,
//! then makes one change per feed type through the API (a student joins, a coursework is
//! posted, a submission is graded, delivered twice) and shows each arriving and applied.
//! Pushes are then dropped while another coursework is posted, and the reconcile pass brings
//! the copy back in step.

mod common;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use classroom::models::{CourseWork, CourseWorkState, CourseWorkType, Student, StudentSubmission};
use classroom::push::{
    Coalescer, FeedSpec, Fetched, PushError, PushReceiver, PushVerifier, RegistrationKeeper,
    coursework_changed_since,
};
use classroom::{BearerToken, Classroom, Scope};
use classroom_emulator::{Emulator, Role, demo};
use common::BoxError;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// Receives Classroom push notifications from a Pub/Sub push subscription: verifies the OIDC
/// token (Google's signature, the audience, the push service account), drops duplicates,
/// and prints each event.
///
/// With no arguments it runs against a local emulator and keeps a local copy of a course's
/// roster and coursework current from pushes, then repairs it with the reconcile pass after
/// pushes were lost.
#[derive(Parser, Debug)]
#[command(name = "push_receiver", version, verbatim_doc_comment)]
struct Args {
    /// Serve real pushes on this address (behind your HTTPS front end), e.g. 127.0.0.1:8080
    #[arg(long, value_name = "ADDR", requires_all = ["audience", "service_account"])]
    listen: Option<String>,

    /// The push subscription's audience (by default its endpoint URL)
    #[arg(long, value_name = "URL")]
    audience: Option<String>,

    /// The service account the push subscription authenticates as
    #[arg(long, value_name = "EMAIL")]
    service_account: Option<String>,
}

/// What the receiver keeps: a course's students and coursework, and each coursework's
/// submissions.
#[derive(Default)]
struct Copy {
    students: BTreeMap<String, Student>,
    coursework: BTreeMap<String, CourseWork>,
    submissions: BTreeMap<String, Vec<StudentSubmission>>,
}

impl Copy {
    fn apply(&mut self, fetched: Fetched) -> String {
        match fetched {
            Fetched::Student {
                user_id, student, ..
            } => match student {
                Some(s) => {
                    let name = s
                        .profile
                        .as_ref()
                        .and_then(|p| p.name.as_ref()?.full_name.clone())
                        .unwrap_or_default();
                    self.students.insert(user_id.clone(), s);
                    format!("student {user_id} ({name}) added to the copy")
                }
                None => {
                    self.students.remove(&user_id);
                    format!("student {user_id} removed from the copy")
                }
            },
            Fetched::CourseWork {
                course_work_id,
                course_work,
                ..
            } => match course_work {
                Some(w) => {
                    let title = w.title.clone().unwrap_or_default();
                    self.coursework.insert(course_work_id.clone(), w);
                    format!("coursework {course_work_id} ({title}) in the copy")
                }
                None => {
                    self.coursework.remove(&course_work_id);
                    format!("coursework {course_work_id} removed from the copy")
                }
            },
            Fetched::Submissions {
                course_work_id,
                submissions,
                ..
            } => {
                let graded = submissions
                    .iter()
                    .filter(|s| s.draft_grade.is_some() || s.assigned_grade.is_some())
                    .count();
                let n = submissions.len();
                self.submissions.insert(course_work_id.clone(), submissions);
                format!(
                    "{n} submission(s) of coursework {course_work_id} in the copy, {graded} graded"
                )
            }
            other => format!("{other:?}"),
        }
    }
}

struct App {
    receiver: PushReceiver,
    classroom: Option<Classroom>,
    copy: Mutex<Copy>,
    applied: tokio::sync::mpsc::UnboundedSender<String>,
}

/// Answers one push: 204 once applied (or a duplicate), the error's status otherwise.
async fn handle(
    app: Arc<App>,
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode| {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = status;
        Ok(response)
    };
    if request.method() != hyper::Method::POST {
        return reply(StatusCode::METHOD_NOT_ALLOWED);
    }
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, classroom::push::MAX_PUSH_BODY + 1)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return reply(StatusCode::PAYLOAD_TOO_LARGE),
    };
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let authorization = parts
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let received = match app.receiver.receive(authorization, headers, &body).await {
        Ok(received) => received,
        Err(e) => {
            eprintln!("refused: {e}");
            return reply(StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST));
        }
    };
    let message = received.message;
    let event = &message.event;
    if received.duplicate {
        let _ = app.applied.send(format!(
            "message {} delivered again: already applied, ignored",
            message.message_id
        ));
        return reply(StatusCode::NO_CONTENT);
    }
    let mut line = format!(
        "push {}: {} {} {}",
        message.message_id,
        event.collection,
        event.event_type,
        event.to_json()["resourceId"]
    );
    if let Some(classroom) = &app.classroom {
        let mut coalescer = Coalescer::new();
        coalescer.add(event);
        for read in coalescer.take() {
            match read.fetch(classroom).await {
                Ok(fetched) => {
                    let applied = app.copy.lock().unwrap().apply(fetched);
                    line.push_str(&format!("\n  applied: {applied}"));
                }
                Err(e) => {
                    // Not applied: let Pub/Sub deliver it again.
                    eprintln!("reading what changed failed: {e}");
                    let _ = app.receiver.forget(&message.message_id).await;
                    return reply(StatusCode::SERVICE_UNAVAILABLE);
                }
            }
        }
    }
    let _ = app.applied.send(line);
    reply(StatusCode::NO_CONTENT)
}

async fn serve(listener: tokio::net::TcpListener, app: Arc<App>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |r| handle(app.clone(), r));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn main() -> std::process::ExitCode {
    common::run(run(Args::parse()))
}

async fn run(args: Args) -> Result<(), BoxError> {
    if let Some(listen) = args.listen {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let app = Arc::new(App {
            receiver: PushReceiver::new(PushVerifier::new(
                args.audience.unwrap_or_default(),
                args.service_account.unwrap_or_default(),
            )),
            classroom: None,
            copy: Mutex::default(),
            applied: tx,
        });
        let listener = tokio::net::TcpListener::bind(&listen).await?;
        eprintln!("receiving pushes on http://{listen}/ (Ctrl-C to stop)");
        tokio::spawn(serve(listener, app));
        while let Some(line) = rx.recv().await {
            println!("{line}");
        }
        return Ok(());
    }
    demo().await
}

async fn next(rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>) -> Result<String, BoxError> {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .map_err(|_| "no push arrived within 10 s")?
        .ok_or_else(|| "the receiver stopped".into())
}

async fn demo() -> Result<(), BoxError> {
    const TOPIC: &str = "projects/emulator-demo/topics/classroom";
    let emulator = Emulator::start()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/push", listener.local_addr()?);
    emulator.set_push_endpoint(TOPIC, &url, classroom_emulator::PushFormat::Wrapped);

    let scopes = [
        Scope::PushNotifications,
        Scope::Rosters,
        Scope::CourseworkStudents,
        Scope::CoursesReadonly,
    ];
    let teacher = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(
            emulator.token_for(demo::TEACHER, &scopes),
            scopes.map(|s| s.url()),
        ))
        .build()?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let app = Arc::new(App {
        // Pub/Sub's default audience is the endpoint's URL.
        receiver: PushReceiver::new(
            PushVerifier::new(&url, emulator.push_service_account()).jwks_uri(emulator.jwks_url()),
        ),
        classroom: Some(teacher.clone()),
        copy: Mutex::default(),
        applied: tx,
    });
    tokio::spawn(serve(listener, app.clone()));
    println!(
        "receiver on {url}, verifying tokens of {}",
        emulator.push_service_account()
    );

    let course = teacher.courses().get(demo::COURSE_ALIAS).send().await?;
    let course_id = course.id.clone().unwrap_or_default();
    let keeper = RegistrationKeeper::new({
        let teacher = teacher.clone();
        move |_| Some(teacher.clone())
    });
    for feed in [
        FeedSpec::CourseRoster(course_id.clone()),
        FeedSpec::CourseWork(course_id.clone()),
    ] {
        let record = keeper.register(demo::TEACHER, feed, TOPIC).await?;
        println!(
            "registered {} ({}), expires {}",
            record.registration_id, record.feed_type, record.expiry
        );
    }
    // The first reconcile pass fills the copy; pushes keep it current from here.
    let mut watermark = None;
    for work in coursework_changed_since(&teacher, &course_id, None).await? {
        watermark = watermark.max(work.update_time);
        let id = work.id.clone().unwrap_or_default();
        app.copy.lock().unwrap().coursework.insert(id, work);
    }
    println!(
        "copy of {}: {} coursework",
        course.name.unwrap_or_default(),
        app.copy.lock().unwrap().coursework.len()
    );

    println!("-- roster: a student joins through the API");
    let pupil = emulator.add_user("new.pupil@school.example", "New", "Pupil", Role::Student);
    teacher
        .courses()
        .students()
        .create(
            &course_id,
            Student {
                user_id: Some(pupil),
                ..Default::default()
            },
        )
        .send()
        .await?;
    println!("{}", next(&mut rx).await?);

    println!("-- coursework: one is posted through the API");
    let work = teacher
        .courses()
        .course_work()
        .create(
            &course_id,
            CourseWork {
                title: Some("Read: the Analytical Engine".into()),
                work_type: Some(CourseWorkType::Assignment),
                state: Some(CourseWorkState::Published),
                max_points: Some(10.0),
                ..Default::default()
            },
        )
        .send()
        .await?;
    let work_id = work.id.clone().unwrap_or_default();
    watermark = watermark.max(work.update_time);
    println!("{}", next(&mut rx).await?);

    println!("-- submission: one is graded through the API (Pub/Sub delivers it twice)");
    let submissions = teacher
        .courses()
        .course_work()
        .student_submissions()
        .list(&course_id, &work_id)
        .send()
        .await?
        .student_submissions;
    let first = submissions
        .first()
        .and_then(|s| s.id.clone())
        .ok_or("the coursework has no submissions")?;
    emulator.deliver_next_twice();
    teacher
        .courses()
        .course_work()
        .student_submissions()
        .patch(
            &course_id,
            &work_id,
            &first,
            StudentSubmission {
                draft_grade: Some(9.0),
                ..Default::default()
            },
        )
        .update_mask("draftGrade")
        .send()
        .await?;
    println!("{}", next(&mut rx).await?);
    println!("{}", next(&mut rx).await?);

    println!("-- pushes lost for a while: a coursework is posted meanwhile");
    emulator.pause_pushes();
    teacher
        .courses()
        .course_work()
        .create(
            &course_id,
            CourseWork {
                title: Some("Posted while pushes were lost".into()),
                work_type: Some(CourseWorkType::Assignment),
                state: Some(CourseWorkState::Published),
                ..Default::default()
            },
        )
        .send()
        .await?;
    emulator.resume_pushes();
    println!("{} push(es) lost", emulator.pushes_dropped());
    let changed = coursework_changed_since(&teacher, &course_id, watermark).await?;
    for work in changed {
        println!(
            "reconcile pass: coursework {} ({}) changed since the watermark",
            work.id.clone().unwrap_or_default(),
            work.title.clone().unwrap_or_default()
        );
        let id = work.id.clone().unwrap_or_default();
        app.copy.lock().unwrap().coursework.insert(id, work);
    }
    let listed = teacher
        .courses()
        .course_work()
        .list(&course_id)
        .send()
        .await?
        .course_work
        .len();
    let held = app.copy.lock().unwrap().coursework.len();
    println!("copy in step: {held} coursework held, {listed} listed");
    if held != listed {
        return Err(PushError::Malformed {
            message: "the copy is not in step".into(),
        }
        .into());
    }
    for record in keeper.records() {
        keeper.delete(&record.registration_id).await?;
    }
    println!("registrations deleted");
    Ok(())
}
