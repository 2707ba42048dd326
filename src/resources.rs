//! The API's resources, one module each, as the discovery document nests them; every method is
//! a request builder in its resource's module. Reach them from [`Classroom`](crate::Classroom):
//! `classroom.courses().course_work().list(course_id)`.
//!
//! The tables below, generated with the code, list every method with the scopes that authorize
//! it, and every scope with the methods it authorizes.
#![doc = include_str!(concat!(env!("OUT_DIR"), "/scope_table.md"))]

include!(concat!(env!("OUT_DIR"), "/resources.rs"));

/// The discovery document (Classroom v1, JSON) this crate was generated from: every schema,
/// method, parameter and description behind the types and builders here, as Google publishes
/// them. [`METHODS`] is the part of it the client needs at run time; tools that need the rest,
/// such as the `classroom-emulator` crate (which routes and validates requests with it), read
/// it here so that they describe exactly the API this version of the SDK calls.
pub const DISCOVERY_DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/discovery.json"));
