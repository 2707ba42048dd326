//! A typed client for the [Google Classroom API](https://developers.google.com/workspace/classroom).
//!
//! The whole API surface (every schema and method of Classroom v1) is generated at build time
//! from Google's discovery document. Calls follow the API's resource path, take their required
//! parameters as arguments and optional ones as builder methods, and return typed responses:
//!
//! Most integrations run as a service account acting as a domain administrator
//! (domain-wide delegation), paced to Classroom's quotas:
//!
//! ```no_run
//! use classroom::auth::{ServiceAccountCredentials, ServiceAccountKey};
//! use classroom::models::CourseState;
//! use classroom::{Classroom, RateLimit, Scope};
//! use futures::TryStreamExt;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let key = ServiceAccountKey::from_file("service-account.json")?;
//! let credentials = ServiceAccountCredentials::new(key, [Scope::CoursesReadonly])
//!     .subject("admin@school.example.edu");
//! let classroom = Classroom::builder()
//!     .credentials(credentials)
//!     .rate_limit(RateLimit::classroom())
//!     .build()?;
//!
//! // Every active course, page by page as the stream is read.
//! let courses: Vec<_> = classroom
//!     .courses()
//!     .list()
//!     .course_states([CourseState::Active])
//!     .items()
//!     .try_collect()
//!     .await?;
//! for course in &courses {
//!     println!("{} {}", course.id.as_deref().unwrap_or(""), course.name.as_deref().unwrap_or(""));
//! }
//!
//! // The credentials hold no scope that authorizes creating a course: refused before sending.
//! let refused = classroom.courses().create(Default::default()).send().await;
//! assert!(refused.unwrap_err().is_missing_scope());
//! # Ok(()) }
//! ```
//!
//! [`auth`] has the other credentials (web and installed sign-in, keyless service accounts,
//! Application Default Credentials, client credentials for other providers).
//!
//! # The daily tasks
//!
//! What a school integration does every day, each in a few lines. The snippets take a client
//! built as above, or as [`auth`] describes for your deployment (a service account acting as
//! an admin, for most of them), and holding the scopes each names; the
//! [method table](resources#methods-and-the-scopes-that-authorize-them) lists the scopes of
//! every call. `examples/` has each as a complete program that runs on the emulator.
//!
//! ## List courses and their rosters
//!
//! Scopes: [`CoursesReadonly`](Scope::CoursesReadonly) and
//! [`RostersReadonly`](Scope::RostersReadonly). A district has hundreds of courses: read their
//! rosters in [batches](Classroom::send_batched) (50 calls to an HTTP request, each paced by
//! the client's rate limit), round after round, asking only for the next page of the lists
//! that have one; a [`PageGuard`](paging::PageGuard) per list ends a list that would not.
//! `examples/roster_export.rs` does the same for teachers and students, with a progress bar.
//!
//! ```no_run
//! use classroom::models::CourseState;
//! use classroom::paging::{PageGuard, Paginate};
//! use classroom::Classroom;
//! use futures::TryStreamExt;
//!
//! /// Asks `call` for the page after `page`, if there is one.
//! fn turn<C: Paginate>(guard: &mut PageGuard, call: &mut C, page: &C::Page) -> classroom::Result<bool> {
//!     Ok(match guard.next_page::<C>(page)? {
//!         Some(token) => {
//!             call.set_page_token(token.to_string());
//!             true
//!         }
//!         None => false,
//!     })
//! }
//!
//! async fn rosters(classroom: &Classroom) -> classroom::Result<()> {
//!     let courses: Vec<_> =
//!         classroom.courses().list().course_states([CourseState::Active]).items().try_collect().await?;
//!     let mut students = vec![0; courses.len()];
//!     let mut pending: Vec<_> = courses
//!         .iter()
//!         .enumerate()
//!         .map(|(i, course)| {
//!             let call = classroom.courses().students().list(course.id.as_deref().unwrap_or_default());
//!             (i, PageGuard::for_call(&call), call)
//!         })
//!         .collect();
//!     while !pending.is_empty() {
//!         let calls: Vec<_> = pending.iter().map(|(_, _, call)| call.clone()).collect();
//!         let pages = classroom.send_batched(calls).await;
//!         let mut next = Vec::new();
//!         for ((i, mut guard, mut call), page) in pending.into_iter().zip(pages) {
//!             let page = page?;
//!             students[i] += page.students.len();
//!             if turn(&mut guard, &mut call, &page)? {
//!                 next.push((i, guard, call));
//!             }
//!         }
//!         pending = next;
//!     }
//!     for (course, count) in courses.iter().zip(students) {
//!         println!("{}: {count} students", course.name.as_deref().unwrap_or_default());
//!     }
//!     Ok(())
//! }
//! ```
//!
//! ## Export grades
//!
//! Scope: [`CourseworkStudentsReadonly`](Scope::CourseworkStudentsReadonly). A course-work id
//! of `-` lists the submissions of every course work item of the course in one stream, instead
//! of one list per item.
//!
//! ```no_run
//! use std::collections::HashMap;
//!
//! use classroom::Classroom;
//! use futures::TryStreamExt;
//!
//! async fn grades(classroom: &Classroom, course_id: &str) -> classroom::Result<()> {
//!     let work: Vec<_> =
//!         classroom.courses().course_work().list(course_id).items().try_collect().await?;
//!     let titles: HashMap<_, _> = work.into_iter().map(|w| (w.id, w.title)).collect();
//!     let all_work = "-";
//!     let submissions =
//!         classroom.courses().course_work().student_submissions().list(course_id, all_work);
//!     let mut submissions = submissions.items();
//!     while let Some(s) = submissions.try_next().await? {
//!         let title = titles.get(&s.course_work_id).cloned().flatten().unwrap_or_default();
//!         let state = s.state.as_ref().map(|s| s.as_str()).unwrap_or_default();
//!         println!(
//!             "{title},{},{state},late={},assigned={:?},draft={:?}",
//!             s.user_id.unwrap_or_default(),
//!             s.late.unwrap_or(false),
//!             s.assigned_grade,
//!             s.draft_grade,
//!         );
//!     }
//!     Ok(())
//! }
//! ```
//!
//! ## Post coursework
//!
//! Scope: [`CourseworkStudents`](Scope::CourseworkStudents). Only the Google Cloud project
//! whose OAuth client created a course work item may change it later (others get
//! [`ProjectPermissionDenied`](ClassroomReason::ProjectPermissionDenied)), so post from the
//! project that will grade and edit it. Due dates and times are in UTC.
//!
//! ```no_run
//! use chrono::{NaiveDate, NaiveTime};
//! use classroom::models::{CourseWork, CourseWorkState, CourseWorkType, Link, Material};
//! use classroom::Classroom;
//!
//! async fn post(classroom: &Classroom, course_id: &str) -> classroom::Result<CourseWork> {
//!     let work = CourseWork {
//!         title: Some("Lab report: photosynthesis".into()),
//!         description: Some("Two pages, with your measurements.".into()),
//!         work_type: Some(CourseWorkType::Assignment),
//!         state: Some(CourseWorkState::Published),
//!         max_points: Some(20.0),
//!         due_date: NaiveDate::from_ymd_opt(2026, 10, 2).map(Into::into),
//!         due_time: NaiveTime::from_hms_opt(21, 0, 0).map(Into::into),
//!         materials: vec![Material {
//!             link: Some(Link {
//!                 url: Some("https://example.edu/labs/photosynthesis".into()),
//!                 ..Link::default()
//!             }),
//!             ..Material::default()
//!         }],
//!         ..CourseWork::default()
//!     };
//!     classroom.courses().course_work().create(course_id, work).send().await
//! }
//! ```
//!
//! ## Invite guardians
//!
//! Scope: [`GuardianlinksStudents`](Scope::GuardianlinksStudents). Each user may send a
//! limited number of invitations a day; when they are spent the error is lasting
//! ([`ApiError::is_lasting`]: the SDK does not retry it), so stop and send the rest tomorrow.
//!
//! ```no_run
//! use classroom::models::GuardianInvitation;
//! use classroom::Classroom;
//!
//! async fn invite(classroom: &Classroom, pairs: &[(&str, &str)]) -> classroom::Result<()> {
//!     for &(student, guardian) in pairs {
//!         let invitation = GuardianInvitation {
//!             student_id: Some(student.into()),
//!             invited_email_address: Some(guardian.into()),
//!             ..GuardianInvitation::default()
//!         };
//!         let sent = classroom.user_profiles().guardian_invitations().create(student, invitation);
//!         match sent.send().await {
//!             Ok(_) => println!("{student},{guardian},invited"),
//!             // A pending invitation, or the guardian is linked already.
//!             Err(e) if e.is_already_exists() => println!("{student},{guardian},already"),
//!             Err(e) if e.api().is_some_and(|a| a.http_status == 429 && a.is_lasting()) => {
//!                 println!("daily invitation quota spent; resume at {student}");
//!                 break;
//!             }
//!             Err(e) => println!("{student},{guardian},failed: {e}"),
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! ## Sync a roster safely
//!
//! Scopes: [`Courses`](Scope::Courses), [`Rosters`](Scope::Rosters). Create each course under
//! an alias (`d:` for the domain, `p:` for your project) made from your system's id. A second
//! create under the same alias fails with `ALREADY_EXISTS` instead of making a duplicate, so
//! the create can be declared idempotent ([`with_idempotency`](RequestOptions::with_idempotency)):
//! the SDK then retries it after a timeout or a 503, and a rerun of the whole sync converges.
//! Adding a member twice is refused the same way. For a district, send the adds in
//! [batches](Classroom::batch) under [`RateLimit::classroom`].
//!
//! ```no_run
//! use classroom::models::{Course, Student};
//! use classroom::Classroom;
//!
//! async fn sync_section(
//!     classroom: &Classroom,
//!     sis_id: &str,
//!     name: &str,
//!     students: &[&str],
//! ) -> classroom::Result<()> {
//!     let alias = format!("d:{sis_id}");
//!     let course = Course {
//!         id: Some(alias.clone()),
//!         name: Some(name.into()),
//!         owner_id: Some("me".into()),
//!         ..Course::default()
//!     };
//!     match classroom.courses().create(course).with_idempotency(true).send().await {
//!         Ok(_) => {}
//!         Err(e) if e.is_already_exists() => {} // an earlier run, or an earlier attempt, made it
//!         Err(e) => return Err(e),
//!     }
//!     for &email in students {
//!         let student = Student { user_id: Some(email.into()), ..Student::default() };
//!         let add = classroom.courses().students().create(&alias, student).with_idempotency(true);
//!         match add.send().await {
//!             Ok(_) => {}
//!             Err(e) if e.is_already_exists() => {}
//!             Err(e) => return Err(e),
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! # Feature flags
//!
//! - `scope-check`: clients typed with a static scope set ([`scope_check`]); a call the set
//!   cannot authorize does not compile. Adds API only.
//!
//! - `test-support`: `classroom::testing`, a mock transport below the executor (scope checks, retries
//!   and decoding still run) and error constructors, for unit tests of your own code.
//!
//! Neither is on by default; on docs.rs their items are shown, marked with the feature they
//! need.
//!
//! Each builder knows its method ([`MethodInfo`]: id, verb, path, scopes) as its `METHOD`
//! constant; [`resources::METHODS`] lists them all.
//!
//! Where to go next:
//!
//! - [`auth`]: OAuth 2.0 flows (web server with PKCE, installed app, refresh tokens, service
//!   accounts with domain-wide delegation, client credentials), token caching and stores.
//! - [`scope_check`]: with the `scope-check` feature, clients whose calls are checked against
//!   their scopes at compile time.
//! - [`classroom-emulator`](https://docs.rs/classroom-emulator), a crate of its own: a local
//!   Classroom and OAuth server, as a library for tests and a binary for any language.
//! - [`classroom-sync`](https://docs.rs/classroom-sync), a crate of its own: roster sync from
//!   OneRoster CSV files, planned, then applied, as a library and the `classroom-sync` tool.
//! - [`Error`]: what can go wrong, with predicates such as [`Error::is_missing_scope`],
//!   [`Error::is_already_exists`] and [`ApiError::is_scope_insufficient`].
//! - [`RetryPolicy`] and [`RequestOptions`]: what is retried (never a write the server may have
//!   carried out, unless you declare it idempotent), for how long, and per-call settings.

// docs.rs builds with `--cfg docsrs` on nightly (see `[package.metadata.docs.rs]`): every
// feature's items appear, each marked with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod client;
mod deadline;
mod error;
mod field_mask;
mod limit;
mod net;
mod ownership;
mod reason;
mod request;
mod retry;
mod wire;

pub mod auth;
pub mod models;
pub mod paging;
pub mod push;
pub mod resources;
pub mod scope_check;
#[cfg(feature = "test-support")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-support")))]
pub mod testing;

pub use auth::{AccessToken, BearerToken, Credentials, Scope};
/// The date and time crate the models use (`DateTime<Utc>`, `NaiveDate`), re-exported so that
/// your code uses the same version.
pub use chrono;
/// The futures crate whose `Stream` the list methods' `pages()` and `items()` return,
/// re-exported so that your code uses the same version.
pub use futures;

/// What reading the SDK's streams takes: `use classroom::prelude::*;` brings `StreamExt` and
/// `TryStreamExt` (for `items().try_next()`, `.try_collect()`, ...) into scope.
pub mod prelude {
    pub use futures::{Stream, StreamExt, TryStreamExt};
}
pub use batch::{Batch, BatchCall, BatchResults, BatchSlot, MAX_BATCH_CALLS};
pub use classroom_spec::{HttpMethod, MethodInfo};
pub use client::{
    Classroom, ClassroomBuilder, DEFAULT_MAX_EMPTY_PAGES, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_ROOT_URL,
};
pub use error::{ApiError, Code, Error, PageLoop, Result, TransportKind, Unmatched};
pub use field_mask::FieldMask;
pub use limit::{CLASSROOM_PROJECT_PER_MINUTE, CLASSROOM_USER_PER_MINUTE, RateLimit};
#[cfg(feature = "redis")]
pub use limit::{RedisLimit, RedisUrlError};
pub use reason::ClassroomReason;
pub use request::RequestOptions;
pub use retry::{RetryBudget, RetryPolicy};

/// The README's Rust snippets, compiled as doctests so they cannot drift from the API; never
/// part of the crate.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
