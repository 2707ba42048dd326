//! Roster sync from OneRoster files to Google Classroom: plan, then apply.
//!
//! A student information system exports the district's classes, users and enrollments as
//! OneRoster v1.1 or v1.2 CSV files; this crate makes Classroom match them, the way
//! `terraform plan` and `terraform apply` make infrastructure match its description:
//!
//! 1. [`Roster::read`] reads and checks the files. Any bad row is an [`InputError`] naming its
//!    file, line and column, and nothing goes further.
//! 2. [`RosterSync::plan`] reads Classroom's state through the SDK (each class's course by its
//!    alias, its teachers and students; in batches, paced by the client's
//!    [`RateLimit`](classroom::RateLimit) when it has one) and returns a [`Plan`]: the list of
//!    [`Change`]s, printable for a person and serializable as JSON. Nothing is written.
//! 3. [`RosterSync::apply`] carries the plan out in batches and returns one [`Outcome`] per
//!    change: done, already so, skipped, deferred to the next run (guardian invitations past
//!    the daily quota), or failed with the typed [`Error`](classroom::Error).
//!    Failures that will not clear (a user outside the domain, a full course) are reported
//!    and the rest goes on.
//!
//! ```no_run
//! use classroom_sync::{Roster, RosterSync, SyncOptions};
//!
//! # async fn run(classroom: classroom::Classroom) -> Result<(), Box<dyn std::error::Error>> {
//! let roster = Roster::read("/data/oneroster")?;
//! let sync = RosterSync::new(classroom).options(SyncOptions::default().remove_members(true));
//! let plan = sync.plan(&roster).await?;
//! println!("{plan}");
//! let report = sync.apply(&plan).await;
//! println!("{}", report.summary());
//! assert!(sync.plan(&roster).await?.is_empty() || !report.failures().is_empty());
//! # Ok(()) }
//! ```
//!
//! # How the roster maps to Classroom
//!
//! - Each active class (of an active course) is one Classroom course, identified by the domain
//!   alias [`alias_for`]`(prefix, class sourcedId)`, `d:sis-...` by default. A new course is
//!   created `ACTIVE`, or `PROVISIONED` for its owner to accept ([`SyncOptions::create_as`]),
//!   owned by the class's primary teacher (the first teacher if none is primary, the acting
//!   user if it has none). When the primary teacher changes, ownership moves to them only with
//!   [`transfer_ownership`](SyncOptions::transfer_ownership): they are added as a teacher,
//!   then made the owner; a transfer Classroom refuses for now is
//!   [deferred](Outcome::Deferred) to the next run, never retried in a loop.
//! - Its name, section and room follow Classroom's convention, the subject as the name and
//!   the period as the section: the name is the course's `title` (`10th Grade Biology`), the
//!   section the class's `title` without the course's title it may start with (`Period 3`
//!   from `10th Grade Biology - Period 3`; the class's `classCode` if nothing is left), the
//!   room the class's `location`. [`SyncOptions::naming`] changes that with a
//!   [`CourseNaming`]: a [`Template`] for each field over any column of the class, its
//!   course and its school (`{course.title} ({school.name})`, `{class.periods}`,
//!   `{class.metadata.NAME}`); see [its docs](CourseNaming) for the syntax and its rules for
//!   empty values and Classroom's length limits.
//! - Each active enrollment of an active, enabled user with role `teacher` or `student` is a
//!   membership, by the user's `email`. Other roles (`administrator`, `proctor`) are left out.
//! - A course's owner is never removed, and courses without the sync's alias prefix are never
//!   touched. Declined and suspended courses are left as they are: Classroom lets only their
//!   state change, and that is a person's choice.
//! - Name, section and room follow the roster, unless a field is one a teacher may edit
//!   ([`SyncOptions::teacher_fields`]): then it is updated only while it still holds what the
//!   sync last wrote, which the sync keeps in a JSON state file ([`SyncState`]; pass it to
//!   [`RosterSync::plan_with`], and [`SyncState::record`] what an apply wrote).
//! - With [`SyncOptions::invite_guardians`], each active, enabled student's active, enabled
//!   agents (`agentSourcedIds`: parents, guardians, relatives) are invited as the student's
//!   Classroom guardians, by email; see [Guardians](#guardians).
//!
//! # Guardians
//!
//! A student's `agentSourcedIds` in `users.csv` name their parents, guardians and relatives.
//! With [`invite_guardians`](SyncOptions::invite_guardians) (off by default) the sync makes
//! each of them the student's Classroom guardian, the one way Classroom allows: an
//! invitation, emailed to the guardian, which links them once they accept.
//!
//! - Checked before anything is read: each agent named is in a bulk `users.csv` (always), and,
//!   with the option, each active agent of an active student has role `parent`, `guardian` or
//!   `relative` and an email, the student has an email, and an agent a delta `users.csv`
//!   names is in it (an unchanged guardian it leaves out has no email to invite); each
//!   problem at its file, line and column.
//! - Planned: the plan reads each such student's guardians and pending invitations
//!   (`userProfiles.guardians.list`, `userProfiles.guardianInvitations.list` with
//!   `states=PENDING`, in batches) and plans a [`Change::InviteGuardian`] for each guardian
//!   who is neither linked (by the email they were invited at, or their profile's) nor
//!   invited and pending. So a run never sends a second invitation where one is pending. An
//!   invitation declined or expired (no longer pending, no guardian) is planned again. A
//!   student Classroom does not know (404) has nothing to read; their invitations are planned
//!   and fail at apply, each with its own outcome, as an unknown member's add does.
//! - Applied last, one batch at a time. `ALREADY_EXISTS` (invited or linked meanwhile) is
//!   already so. Classroom limits the invitations a user may send a day; once a reply says the
//!   acting user's quota is spent (`@UserInvitationQuotaExhausted`), that invitation and every
//!   one not yet sent is [`Outcome::Deferred`], one outcome each, and nothing more is sent.
//!   [`guardian_invitations_per_run`](SyncOptions::guardian_invitations_per_run) defers the
//!   rest past a cap of its own. The next plan plans whatever is still missing, so a daily
//!   run sends the rest on the following days. With a delta `users.csv`, only the students it
//!   holds are planned: the deferred invitations of a student it leaves out wait for the next
//!   bulk export.
//! - Guardians are never removed, whether or not the roster names them.
//! - It needs [`GUARDIAN_SCOPE`] besides [`SCOPES`] ([`SyncOptions::scopes`]), and a domain
//!   administrator: Classroom shows the email a guardian was invited at only to them.
//!
//! # OneRoster 1.1 and 1.2
//!
//! `manifest.csv`'s `oneroster.version` says which; any other version is refused. A 1.2
//! export reads into the same [`Roster`] as the same district's 1.1 export, so it plans the
//! same changes: 1.2 moved a user's role from `users.csv` to `roles.csv`, where each
//! [`User::role`] is read from the user's primary role (at their `primaryOrgSourcedId` when
//! they have several), and added columns that are checked but not used. The other files the
//! sync reads kept their columns. [`Roster`] tells what is read and checked in each version.
//! Either way every file must be UTF-8, as OneRoster requires: one in UTF-16 or Latin-1 is an
//! [`InputError`] naming it, its line and its column.
//!
//! # Bulk and delta exports
//!
//! `manifest.csv` says of each file whether it is `bulk` (every record), `delta` (the records
//! changed since the last export) or `absent` ([`Manifest`], [`FileMode`]); an export without
//! one is refused. Nothing is ever removed on the strength of a file that cannot say what is
//! gone:
//!
//! - members not in `enrollments.csv` are removed (with
//!   [`remove_members`](SyncOptions::remove_members)) only when it is bulk; from a delta, only
//!   the members whose enrollment it marks `tobedeleted` are; from an absent file, none;
//! - courses are archived for want of their class
//!   ([`archive_missing`](SyncOptions::archive_missing)) when `classes.csv` and
//!   `courses.csv` are bulk, or when a delta marks their class `tobedeleted`; a course
//!   already archived is deleted only with [`delete_archived`](SyncOptions::delete_archived),
//!   so a course is never archived and deleted in one run;
//! - a class a delta leaves out (unchanged) but whose enrollments it lists keeps its fields,
//!   and must already be in Classroom; the users of a delta's teacher and student enrollments
//!   must be in its `users.csv`, as the sync matches members by email.
//!
//! # Reruns converge
//!
//! Courses are created under their alias with
//! [`with_idempotency(true)`](classroom::RequestOptions::with_idempotency): a create whose answer
//! was lost is retried, and a second create of the same alias answers `ALREADY_EXISTS`, which
//! counts as already so; a member added twice answers 409 the same way, a member removed twice
//! 404. So an apply that failed or was cut off at any point, planned and applied again, ends
//! in the roster's state with no duplicate course or membership.
//!
//! # Credentials
//!
//! A domain administrator (a service account acting as one) with the scopes
//! [`SCOPES`]: `classroom.courses`, `classroom.rosters` and `classroom.profile.emails` (to
//! match members by email); to invite guardians, [`GUARDIAN_SCOPE`] too
//! (`classroom.guardianlinks.students`). [`SyncOptions::scopes`] gives the list for a sync's
//! options.

mod apply;
mod diff;
pub mod gradebook;
mod guardians;
mod lines;
mod manifest;
mod naming;
mod plan;
mod roster;
mod state;
pub mod synthetic;
mod v12;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use futures::{StreamExt, TryStreamExt};

use classroom::models::{Course, CourseState};
use classroom::paging::{Page, PageGuard, Paginate};
use classroom::{BatchCall, Classroom, MAX_BATCH_CALLS, Scope};

pub use apply::{ApplyReport, ChangeOutcome, Outcome, Progress, Summary};
pub use manifest::{FileMode, Manifest};
pub use naming::{CourseNaming, Template, TemplateError};
pub use plan::{Change, ChangeKind, Counts, CourseFields, FieldChange, Plan, alias_for};
pub use roster::{
    Class, Columns, Course as RosterCourse, Enrollment, InputError, InputProblem, Org, Roster,
    Status, User,
};

pub use state::{StateError, SyncState, Written};

use diff::{Current, CurrentCourse, GoneCourse};
use plan::{DesiredCourse, desired};

/// The scopes a sync needs: courses (create, update, archive), rosters (teachers and
/// students), and members' emails (to match them to the roster). A sync that
/// [invites guardians](SyncOptions::invite_guardians) needs [`GUARDIAN_SCOPE`] as well; see
/// [`SyncOptions::scopes`].
pub const SCOPES: [Scope; 3] = [Scope::Courses, Scope::Rosters, Scope::ProfileEmails];

/// The scope a sync that [invites guardians](SyncOptions::invite_guardians) needs besides
/// [`SCOPES`]: `classroom.guardianlinks.students`, to list students' guardians and guardian
/// invitations and to send invitations.
pub const GUARDIAN_SCOPE: Scope = Scope::GuardianlinksStudents;

/// What a sync plans, and how it reads and writes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SyncOptions {
    /// The start of every alias name after `d:` (default `sis-`): the sync's namespace.
    pub alias_prefix: String,
    /// Plan courses that are missing (default on).
    pub create_courses: bool,
    /// Plan changes of name, section and room, and bring archived courses back (default on).
    pub update_courses: bool,
    /// Plan teachers and students to add (default on).
    pub add_members: bool,
    /// Plan teachers and students not in the roster to be removed (default off).
    pub remove_members: bool,
    /// Plan courses under the alias prefix whose class is not in the roster to be archived
    /// (default off). Finding them lists every active and provisioned course the user sees,
    /// and the aliases of those not in the roster: about one call per such course.
    pub archive_missing: bool,
    /// How many batch requests may be in flight at once (default 4). The client's rate limit,
    /// if any, paces them all.
    pub concurrency: usize,
    /// Page size for listing teachers, students and courses (default 100).
    pub page_size: i32,
    /// How a class's course is named: templates for `name`, `section` and `room` (default:
    /// the course's title, the class's title without the course's, the class's location).
    /// Changing it plans an update of every course whose fields change (with
    /// `update_courses`).
    pub naming: CourseNaming,
    /// The state a new course is created in (default [`CreateAs::Active`]).
    pub create_as: CreateAs,
    /// Fields a teacher may edit (default none: the roster's values always win). Such a field
    /// is updated only while it still holds what the sync last wrote, as its [`SyncState`]
    /// records; a teacher's rename then survives every later run.
    pub teacher_fields: BTreeSet<CourseField>,
    /// When a class's primary teacher changes, transfer the course's ownership to them: add
    /// them as a teacher, then make them the owner (default off: the owner stays who it was).
    pub transfer_ownership: bool,
    /// Plan courses under the alias prefix whose class is gone and that are already archived
    /// to be deleted (default off). A course is archived first (`archive_missing`) and deleted
    /// by a later run, never both at once.
    pub delete_archived: bool,
    /// The Google Workspace domain (`district.example`): when set, an active teacher or
    /// student whose email is in another domain is an input error, since Classroom would
    /// refuse them one call at a time (default none).
    pub domain: Option<String>,
    /// Plan and send guardian invitations for the parents, guardians and relatives that
    /// students' `agentSourcedIds` name (default off: it needs [`GUARDIAN_SCOPE`], and
    /// Classroom emails each one). The plan reads two lists for each student with guardians
    /// to invite (their guardians, their pending invitations): about two calls each, in
    /// batches. See "Guardians" in the [crate docs](crate).
    pub invite_guardians: bool,
    /// The most guardian invitations one apply sends (default `None`: as many as the acting
    /// user's daily invitation quota allows). The rest are [deferred](Outcome::Deferred) to the
    /// next run. A district's first run may plan an invitation for every parent at once; a cap
    /// leaves part of the acting user's daily quota for other invitations sent as that user,
    /// and spreads the emails to families (and their questions to schools) over days.
    pub guardian_invitations_per_run: Option<usize>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            alias_prefix: "sis-".into(),
            create_courses: true,
            update_courses: true,
            add_members: true,
            remove_members: false,
            archive_missing: false,
            concurrency: 4,
            page_size: 100,
            naming: CourseNaming::default(),
            create_as: CreateAs::Active,
            teacher_fields: BTreeSet::new(),
            transfer_ownership: false,
            delete_archived: false,
            domain: None,
            invite_guardians: false,
            guardian_invitations_per_run: None,
        }
    }
}

impl SyncOptions {
    /// Sets [`SyncOptions::alias_prefix`].
    pub fn alias_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.alias_prefix = prefix.into();
        self
    }

    /// Sets [`SyncOptions::create_courses`].
    pub fn create_courses(mut self, on: bool) -> Self {
        self.create_courses = on;
        self
    }

    /// Sets [`SyncOptions::update_courses`].
    pub fn update_courses(mut self, on: bool) -> Self {
        self.update_courses = on;
        self
    }

    /// Sets [`SyncOptions::add_members`].
    pub fn add_members(mut self, on: bool) -> Self {
        self.add_members = on;
        self
    }

    /// Sets [`SyncOptions::remove_members`].
    pub fn remove_members(mut self, on: bool) -> Self {
        self.remove_members = on;
        self
    }

    /// Sets [`SyncOptions::archive_missing`].
    pub fn archive_missing(mut self, on: bool) -> Self {
        self.archive_missing = on;
        self
    }

    /// Sets [`SyncOptions::concurrency`] (at least 1).
    pub fn concurrency(mut self, batches: usize) -> Self {
        self.concurrency = batches.max(1);
        self
    }

    /// Sets [`SyncOptions::page_size`].
    pub fn page_size(mut self, size: i32) -> Self {
        self.page_size = size;
        self
    }

    /// Sets [`SyncOptions::naming`].
    pub fn naming(mut self, naming: CourseNaming) -> Self {
        self.naming = naming;
        self
    }

    /// Sets [`SyncOptions::create_as`].
    pub fn create_as(mut self, state: CreateAs) -> Self {
        self.create_as = state;
        self
    }

    /// Sets [`SyncOptions::teacher_fields`].
    pub fn teacher_fields(mut self, fields: impl IntoIterator<Item = CourseField>) -> Self {
        self.teacher_fields = fields.into_iter().collect();
        self
    }

    /// Sets [`SyncOptions::transfer_ownership`].
    pub fn transfer_ownership(mut self, on: bool) -> Self {
        self.transfer_ownership = on;
        self
    }

    /// Sets [`SyncOptions::domain`].
    pub fn domain(mut self, domain: impl Into<Option<String>>) -> Self {
        self.domain = domain.into();
        self
    }

    /// Sets [`SyncOptions::delete_archived`].
    pub fn delete_archived(mut self, on: bool) -> Self {
        self.delete_archived = on;
        self
    }

    /// Sets [`SyncOptions::invite_guardians`].
    pub fn invite_guardians(mut self, on: bool) -> Self {
        self.invite_guardians = on;
        self
    }

    /// Sets [`SyncOptions::guardian_invitations_per_run`].
    pub fn guardian_invitations_per_run(mut self, cap: impl Into<Option<usize>>) -> Self {
        self.guardian_invitations_per_run = cap.into();
        self
    }

    /// The scopes a sync with these options needs: [`SCOPES`], and [`GUARDIAN_SCOPE`] when it
    /// invites guardians.
    pub fn scopes(&self) -> Vec<Scope> {
        let mut scopes = SCOPES.to_vec();
        if self.invite_guardians {
            scopes.push(GUARDIAN_SCOPE);
        }
        scopes
    }
}

/// The state a new course is created in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CreateAs {
    /// `ACTIVE`: teachers and students see it at once.
    #[default]
    Active,
    /// `PROVISIONED`: its owner accepts it first, as with Google's own roster import; until
    /// then students do not see it.
    Provisioned,
}

impl CreateAs {
    pub(crate) fn course_state(self) -> CourseState {
        match self {
            CreateAs::Active => CourseState::Active,
            CreateAs::Provisioned => CourseState::Provisioned,
        }
    }
}

/// A course field the sync manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CourseField {
    /// `name`.
    Name,
    /// `section`.
    Section,
    /// `room`.
    Room,
}

impl CourseField {
    /// Every field.
    pub const ALL: [CourseField; 3] = [CourseField::Name, CourseField::Section, CourseField::Room];

    /// The field's API name: `name`, `section`, `room`.
    pub fn as_str(self) -> &'static str {
        match self {
            CourseField::Name => "name",
            CourseField::Section => "section",
            CourseField::Room => "room",
        }
    }
}

/// What stopped a plan. Nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The OneRoster files are invalid.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Reading Classroom's state failed.
    #[error("reading {what} failed: {source}")]
    #[non_exhaustive]
    Read {
        /// What was being read, e.g. `course d:sis-101`.
        what: String,
        /// The SDK's error.
        #[source]
        source: Box<classroom::Error>,
    },
    /// Classroom did not give a member's email, so members cannot be matched to the roster.
    #[error(
        "{alias}: Classroom gave no email for member {user_id}; authorize with the \
         classroom.profile.emails scope (see classroom_sync::SCOPES)"
    )]
    #[non_exhaustive]
    NoEmail {
        /// The course's alias.
        alias: String,
        /// The member's user id.
        user_id: String,
    },
    /// Classroom did not give the email a student's guardian (or guardian invitation) was
    /// invited at, so guardians cannot be matched to the roster's.
    #[error(
        "Classroom gave no email for {what} of student {student}; Classroom shows guardians' \
         invited emails only to domain administrators: run a sync that invites guardians as one"
    )]
    #[non_exhaustive]
    NoGuardianEmail {
        /// The student's email.
        student: String,
        /// The guardian or invitation, with its id.
        what: String,
    },
    /// The alias prefix holds a character aliases do not allow.
    #[error(
        "the alias prefix {0:?} may hold only ASCII letters, digits, '-', '_' and '.', as Classroom aliases do"
    )]
    InvalidPrefix(String),
}

/// Makes Classroom match a [`Roster`]: [`plan`](RosterSync::plan), then
/// [`apply`](RosterSync::apply). See the [module docs](self).
///
/// The client decides how calls are paced and retried: give it a
/// [`RateLimit`](classroom::RateLimit) (`RateLimit::classroom()` for Classroom's documented quotas)
/// to keep the sync under the quota rather than bouncing off it.
#[derive(Clone, Debug)]
pub struct RosterSync {
    classroom: Classroom,
    options: SyncOptions,
}

impl RosterSync {
    /// A sync through this client, with default [`SyncOptions`].
    pub fn new(classroom: Classroom) -> Self {
        RosterSync {
            classroom,
            options: SyncOptions::default(),
        }
    }

    /// Sets the options.
    pub fn options(mut self, options: SyncOptions) -> Self {
        self.options = options;
        self
    }

    /// The options in force.
    pub fn sync_options(&self) -> &SyncOptions {
        &self.options
    }

    /// Checks `roster` as a plan would before reading Classroom: the alias prefix, the
    /// aliases and course fields its classes make, and (with [`SyncOptions::domain`]) its
    /// members' domain. Reads and writes nothing.
    pub fn check(&self, roster: &Roster) -> Result<(), SyncError> {
        self.wanted(roster).map(drop)
    }

    /// The courses and the guardians the roster asks for, checked.
    fn wanted(
        &self,
        roster: &Roster,
    ) -> Result<(Vec<DesiredCourse>, Vec<guardians::WantedGuardians>), SyncError> {
        let prefix = &self.options.alias_prefix;
        if !plan::valid_prefix(prefix) {
            return Err(SyncError::InvalidPrefix(prefix.clone()));
        }
        let wanted = desired(roster, prefix, &self.options.naming);
        plan::check_aliases(roster, &wanted)?;
        naming::check(roster, &wanted, &self.options.naming)?;
        if let Some(domain) = &self.options.domain {
            plan::check_domain(roster, domain)?;
        }
        let guardians = guardians::wanted(roster, &self.options)?;
        Ok((wanted, guardians))
    }

    /// Reads Classroom's state and returns the changes that would make it match `roster`,
    /// with no record of what the sync wrote before: see [`RosterSync::plan_with`]. Writes
    /// nothing.
    pub async fn plan(&self, roster: &Roster) -> Result<Plan, SyncError> {
        self.plan_with(roster, &SyncState::new()).await
    }

    /// Reads Classroom's state and returns the changes that would make it match `roster`,
    /// leaving alone the [teacher-editable fields](SyncOptions::teacher_fields) that no
    /// longer hold what `state` says the sync wrote. Writes nothing.
    pub async fn plan_with(&self, roster: &Roster, state: &SyncState) -> Result<Plan, SyncError> {
        let (wanted, guardians) = self.wanted(roster)?;
        let mut calls = 0u64;
        let mut current = Current {
            courses: self.read_current(&wanted, &mut calls).await?,
            gone: Vec::new(),
        };
        let (archive, delete) = (self.options.archive_missing, self.options.delete_archived);
        // Only files that hold every record say which courses are gone; a delta says which
        // classes it deleted.
        let whole = |name| roster.manifest.mode(name).is_bulk();
        if (archive || delete) && whole("classes") && whole("courses") {
            let known: HashSet<&str> = current.courses.values().map(|c| c.id.as_str()).collect();
            current.gone = self.read_gone(&known, &mut calls).await?;
        } else if archive || delete {
            current.gone = self.read_deleted(roster, &mut calls).await?;
        }
        let mut problems = roster::Problems::default();
        let diff = diff::diff(&wanted, &current, state, &self.options, &mut problems);
        problems.into_result(&roster.dir)?;
        let mut changes = diff.changes;
        guardians::plan(self, &guardians, &mut changes, &mut calls).await?;
        let mut plan = Plan::new(changes, wanted.len(), calls);
        plan.written = diff.written;
        Ok(plan)
    }

    /// Sends calls of one method in batches, up to `concurrency` batch requests at once, and
    /// returns their results in order.
    async fn batched<C: BatchCall>(
        &self,
        calls: Vec<C>,
        count: &mut u64,
    ) -> Vec<classroom::Result<C::Response>> {
        *count += calls.len() as u64;
        let mut chunks: Vec<Vec<C>> = Vec::new();
        for call in calls {
            match chunks.last_mut() {
                Some(chunk) if chunk.len() < MAX_BATCH_CALLS => chunk.push(call),
                _ => chunks.push(vec![call]),
            }
        }
        futures::stream::iter(chunks)
            .map(|chunk| self.classroom.send_batched(chunk))
            .buffered(self.options.concurrency.max(1))
            .flat_map(futures::stream::iter)
            .collect()
            .await
    }

    /// Every page of a list method for each key, in batches: round after round, each
    /// asking for the next page of the lists that have one. Each list is guarded as the SDK's
    /// streams are ([`PageGuard`]): a repeated page token, or a run of empty pages naming a
    /// next one, ends the read with [`Error::PageLoop`](classroom::Error::PageLoop).
    pub(crate) async fn list_all<C>(
        &self,
        keys: &[String],
        what: &str,
        make: impl Fn(&str) -> C,
        not_found: NotFound,
        count: &mut u64,
    ) -> Result<Vec<Vec<<C::Page as Page>::Item>>, SyncError>
    where
        C: BatchCall<Response = C::Page> + Paginate,
    {
        let mut out: Vec<Vec<_>> = keys.iter().map(|_| Vec::new()).collect();
        let mut pending: Vec<(usize, C)> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| (i, make(key)))
            .collect();
        let mut guards: Vec<PageGuard> = pending
            .iter()
            .map(|(_, call)| PageGuard::for_call(call))
            .collect();
        while !pending.is_empty() {
            let batch = pending.iter().map(|(_, call)| call.clone()).collect();
            let results = self.batched(batch, count).await;
            let mut next = Vec::new();
            for ((i, mut call), result) in pending.into_iter().zip(results) {
                let read = |source| SyncError::Read {
                    what: format!("the {what} of {}", keys[i]),
                    source: Box::new(source),
                };
                let page = match result {
                    Err(e) if e.is_not_found() && not_found == NotFound::IsEmpty => continue,
                    result => result.map_err(read)?,
                };
                if let Some(token) = guards[i].next_page::<C>(&page).map_err(read)? {
                    call.set_page_token(token.to_string());
                    next.push((i, call));
                }
                out[i].extend(page.into_items());
            }
            pending = next;
        }
        Ok(out)
    }

    /// Each wanted course as Classroom has it (by alias), with its members.
    async fn read_current(
        &self,
        wanted: &[DesiredCourse],
        calls: &mut u64,
    ) -> Result<HashMap<String, CurrentCourse>, SyncError> {
        let wanted: Vec<String> = wanted.iter().map(|c| c.alias.clone()).collect();
        let found = self.courses_by_alias(&wanted, calls).await?;
        let aliases: Vec<String> = found.iter().map(|(a, _)| a.clone()).collect();
        let page_size = self.options.page_size;
        let teachers = self
            .list_all(
                &aliases,
                "teachers",
                |alias| {
                    self.classroom
                        .courses()
                        .teachers()
                        .list(alias)
                        .page_size(page_size)
                },
                NotFound::Fails,
                calls,
            )
            .await?
            .into_iter()
            .map(|teachers| {
                teachers
                    .into_iter()
                    .map(|t| (t.user_id, t.profile))
                    .collect::<Vec<_>>()
            });
        let students = self
            .list_all(
                &aliases,
                "students",
                |alias| {
                    self.classroom
                        .courses()
                        .students()
                        .list(alias)
                        .page_size(page_size)
                },
                NotFound::Fails,
                calls,
            )
            .await?
            .into_iter()
            .map(|students| {
                students
                    .into_iter()
                    .map(|s| (s.user_id, s.profile))
                    .collect::<Vec<_>>()
            });
        let mut current = HashMap::new();
        for (((alias, course), teachers), students) in found.into_iter().zip(teachers).zip(students)
        {
            let no_email = |user_id| SyncError::NoEmail {
                alias: alias.clone(),
                user_id,
            };
            let now = CurrentCourse {
                id: course.id.clone().unwrap_or_default(),
                fields: CourseFields {
                    name: course.name.clone().unwrap_or_default(),
                    section: course.section.clone().unwrap_or_default(),
                    room: course.room.clone().unwrap_or_default(),
                },
                state: course.course_state.clone(),
                owner_id: course.owner_id.clone().unwrap_or_default(),
                teachers: by_email(teachers).map_err(no_email)?,
                students: by_email(students).map_err(no_email)?,
            };
            current.insert(alias, now);
        }
        Ok(current)
    }

    /// Courses under the alias prefix whose class the roster no longer has, in the states a
    /// plan may change: active and provisioned (to archive), archived (to delete).
    async fn read_gone(
        &self,
        known: &HashSet<&str>,
        calls: &mut u64,
    ) -> Result<Vec<GoneCourse>, SyncError> {
        let listing = |source| SyncError::Read {
            what: "the list of courses".into(),
            source: Box::new(source),
        };
        let mut states = vec![CourseState::Active, CourseState::Provisioned];
        if self.options.delete_archived {
            states.push(CourseState::Archived);
        }
        let pages: Vec<_> = self
            .classroom
            .courses()
            .list()
            .course_states(states)
            .page_size(self.options.page_size)
            .pages()
            .try_collect()
            .await
            .map_err(listing)?;
        *calls += pages.len() as u64;
        let others: Vec<Course> = pages
            .into_iter()
            .flat_map(|p| p.courses)
            .filter(|c| c.id.as_deref().is_some_and(|id| !known.contains(id)))
            .collect();
        let ids: Vec<String> = others
            .iter()
            .map(|c| c.id.clone().unwrap_or_default())
            .collect();
        let aliases = self
            .list_all(
                &ids,
                "aliases",
                |id| {
                    self.classroom
                        .courses()
                        .aliases()
                        .list(id)
                        .page_size(self.options.page_size)
                },
                NotFound::Fails,
                calls,
            )
            .await?;
        let ours = format!("d:{}", self.options.alias_prefix);
        let mut gone = Vec::new();
        for (course, aliases) in others.into_iter().zip(aliases) {
            let mut aliases = aliases.into_iter().filter_map(|a| a.alias);
            if let Some(alias) = aliases.find(|a| a.starts_with(&ours)) {
                gone.push(GoneCourse {
                    alias,
                    id: course.id.unwrap_or_default(),
                    name: course.name.unwrap_or_default(),
                    state: course.course_state,
                });
            }
        }
        Ok(gone)
    }

    /// The courses of the classes a delta export marks `tobedeleted`, those Classroom has.
    async fn read_deleted(
        &self,
        roster: &Roster,
        calls: &mut u64,
    ) -> Result<Vec<GoneCourse>, SyncError> {
        let aliases: Vec<String> = roster
            .classes
            .iter()
            .filter(|c| c.status == Status::ToBeDeleted)
            .map(|c| alias_for(&self.options.alias_prefix, &c.sourced_id))
            .collect();
        let gone = self
            .courses_by_alias(&aliases, calls)
            .await?
            .into_iter()
            .map(|(alias, course)| GoneCourse {
                alias,
                id: course.id.unwrap_or_default(),
                name: course.name.unwrap_or_default(),
                state: course.course_state,
            })
            .collect();
        Ok(gone)
    }

    /// The courses Classroom has under `aliases`, in batches; an alias it does not know is
    /// left out.
    async fn courses_by_alias(
        &self,
        aliases: &[String],
        calls: &mut u64,
    ) -> Result<Vec<(String, Course)>, SyncError> {
        let gets = aliases
            .iter()
            .map(|alias| self.classroom.courses().get(alias))
            .collect();
        let mut found = Vec::new();
        for (alias, result) in aliases.iter().zip(self.batched(gets, calls).await) {
            match result {
                Ok(course) => found.push((alias.clone(), course)),
                Err(e) if e.is_not_found() => {}
                Err(source) => {
                    return Err(SyncError::Read {
                        what: format!("course {alias}"),
                        source: Box::new(source),
                    });
                }
            }
        }
        Ok(found)
    }
}

/// What a list whose parent is not found (404) reads as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotFound {
    /// An error: the parent was there a moment ago.
    Fails,
    /// An empty list.
    IsEmpty,
}

/// Members by lower-cased email, with their user ids; the id of a member without an email as
/// the error.
fn by_email(
    members: Vec<(Option<String>, Option<classroom::models::UserProfile>)>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (user_id, profile) in members {
        let user_id = user_id
            .or_else(|| profile.as_ref().and_then(|p| p.id.clone()))
            .unwrap_or_default();
        match profile.and_then(|p| p.email_address) {
            Some(email) => {
                out.insert(email.to_ascii_lowercase(), user_id);
            }
            None => return Err(user_id),
        }
    }
    Ok(out)
}
