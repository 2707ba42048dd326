//! The API's resources, one module each, as the discovery document nests them; every method is
//! a request builder in its resource's module. Reach them from [`Classroom`](crate::Classroom):
//! `classroom.courses().course_work().list(course_id)`.
//!
//! The tables below, generated with the code, list every method with the scopes that authorize
//! it, and every scope with the methods it authorizes.
#![doc = include_str!(concat!(env!("OUT_DIR"), "/scope_table.md"))]

include!(concat!(env!("OUT_DIR"), "/resources.rs"));

// The discovery document the types and builders here were generated from, and the table of its
// methods: `classroom-spec`'s, which the `classroom-emulator` crate also serves.
pub use classroom_spec::{DISCOVERY_DOCUMENT, METHODS};
