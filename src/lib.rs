//! A typed client for the [Google Classroom API](https://developers.google.com/workspace/classroom).
//!
//! The whole API surface (every schema and method of Classroom v1) is generated at build time
//! from Google's discovery document. Calls follow the API's resource path, take their required
//! parameters as arguments and optional ones as builder methods, and return typed responses:
//!
//! ```no_run
//! use classroom::models::CourseState;
//! use classroom::{BearerToken, Classroom, Scope};
//! use futures::TryStreamExt;
//!
//! # async fn run() -> classroom::Result<()> {
//! let token = BearerToken::new(std::env::var("ACCESS_TOKEN").unwrap(), [Scope::CoursesReadonly]);
//! let classroom = Classroom::new(token)?;
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
//! // The token holds no scope that authorizes creating a course: refused before sending.
//! let refused = classroom.courses().create(Default::default()).send().await;
//! assert!(refused.unwrap_err().is_missing_scope());
//! # Ok(()) }
//! ```
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
//! - `sync` (feature `sync`): roster sync from OneRoster CSV files, planned, then applied.
//! - [`Error`]: what can go wrong, with predicates such as [`Error::is_missing_scope`],
//!   [`Error::is_already_exists`] and [`ApiError::is_scope_insufficient`].
//! - [`RetryPolicy`] and [`RequestOptions`]: what is retried (never a write the server may have
//!   carried out, unless you declare it idempotent), for how long, and per-call settings.

mod batch;
mod client;
mod error;
mod field_mask;
mod limit;
mod method;
mod net;
mod reason;
mod request;
mod retry;
mod wire;

pub mod auth;
pub mod models;
pub mod paging;
pub mod resources;
pub mod scope_check;

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
pub use client::{
    Classroom, ClassroomBuilder, DEFAULT_MAX_EMPTY_PAGES, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_ROOT_URL,
};
pub use error::{ApiError, Code, Error, PageLoop, Result, TransportKind};
pub use field_mask::FieldMask;
pub use limit::{CLASSROOM_PROJECT_PER_MINUTE, CLASSROOM_USER_PER_MINUTE, RateLimit};
pub use method::{HttpMethod, MethodInfo};
pub use reason::ClassroomReason;
pub use request::RequestOptions;
pub use retry::{RetryBudget, RetryPolicy};

#[cfg(feature = "sync")]
#[cfg_attr(docsrs, doc(cfg(feature = "sync")))]
pub mod sync;
