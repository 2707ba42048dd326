//! The Google Classroom API v1 as data, generated at build time from Google's discovery
//! document: the OAuth scopes ([`Scope`]), every method's id, HTTP verb, path template and
//! scopes ([`METHODS`], [`MethodInfo`]), and the document itself ([`DISCOVERY_DOCUMENT`]).
//!
//! The [`classroom`](https://docs.rs/classroom) SDK is generated from the same document and
//! re-exports these items (`classroom::Scope`, `classroom::resources::METHODS`, ...); the
//! [`classroom-emulator`](https://docs.rs/classroom-emulator) routes and authorizes requests
//! with them. A program that needs the API's description but no client depends on this crate
//! alone.
//!
//! ```
//! use classroom_spec::{METHODS, Scope};
//!
//! let list = METHODS.iter().find(|m| m.id == "classroom.courses.list").unwrap();
//! assert_eq!(list.path, "v1/courses");
//! assert!(list.is_authorized_by(&[Scope::CoursesReadonly]));
//! ```

mod method;
mod scope;

pub use method::{HttpMethod, MethodInfo};
pub use scope::Scope;

include!(concat!(env!("OUT_DIR"), "/methods.rs"));

/// The discovery document (Classroom v1, JSON) this crate was generated from: every schema,
/// method, parameter and description, as Google publishes them. [`METHODS`] is the part of it
/// a client needs at run time; tools that need the rest, such as the `classroom-emulator`
/// crate (which routes and validates requests with it), read it here, so that they describe
/// exactly the API that the `classroom` SDK of the same `classroom-spec` calls.
pub const DISCOVERY_DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/discovery.json"));

/// The generator's shared part, for the `classroom` SDK's build script and tests: not a stable
/// API, and not built without the `codegen` feature.
#[cfg(feature = "codegen")]
#[doc(hidden)]
#[path = "../codegen/mod.rs"]
pub mod codegen;
