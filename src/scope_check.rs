//! Scopes checked at compile time.
//!
//! A [`Classroom`](crate::Classroom) carries a scope set `S`. The default, [`Dynamic`], lets
//! every call compile and checks the token's scopes at run time, before sending. With the
//! `scope-check` feature, a client typed with a static set refuses to *compile* a call that no
//! scope in the set authorizes, naming the method and the scopes that would:
//!
//! ```compile_fail,E0277
//! use classroom::{BearerToken, Classroom, Scopes};
//!
//! let dynamic_client = Classroom::new(BearerToken::unchecked("token")).unwrap();
//! let client: Classroom<Scopes![CoursesReadonly]> = dynamic_client.typed();
//! let _ = client.courses().list(); // compiles: courses.readonly authorizes it
//! let _ = client.courses().create(Default::default());
//! // error[E0277]: this client's scope set does not authorize `classroom.courses.create`
//! ```
//!
//! The rules are the run-time ones: any one of a method's scopes suffices, and the additional
//! scopes `classroom.profile.emails` and `classroom.profile.photos` never authorize a call on
//! their own. [`ScopeSet::scopes`] lists a static set's scopes, so the scopes you request when
//! authorizing are the ones the code was checked against.

/// A type-level boolean.
pub trait Bool {
    /// Its value.
    const VALUE: bool;
    /// `Self || B`.
    type Or<B: Bool>: Bool;
}

/// Type-level `true`.
#[derive(Debug)]
pub struct True;

/// Type-level `false`.
#[derive(Debug)]
pub struct False;

impl Bool for True {
    const VALUE: bool = true;
    type Or<B: Bool> = True;
}

impl Bool for False {
    const VALUE: bool = false;
    type Or<B: Bool> = B;
}

/// The scope set of a client checked at run time only: every method compiles.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dynamic;

include!(concat!(env!("OUT_DIR"), "/scope_check.rs"));

/// Names a static scope set for a typed client (feature `scope-check`):
/// `Classroom<Scopes![CoursesReadonly, RostersReadonly]>`.
#[cfg(feature = "scope-check")]
#[cfg_attr(docsrs, doc(cfg(feature = "scope-check")))]
#[macro_export]
macro_rules! Scopes {
    () => { () };
    ($head:ident $(, $tail:ident)* $(,)?) => {
        ($crate::scope_check::scopes::$head, $crate::Scopes![$($tail),*])
    };
}
