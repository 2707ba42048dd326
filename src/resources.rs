//! The API's resources, one module each, as the discovery document nests them; every method is
//! a request builder in its resource's module. Reach them from [`Classroom`](crate::Classroom):
//! `classroom.courses().course_work().list(course_id)`.

include!(concat!(env!("OUT_DIR"), "/resources.rs"));
