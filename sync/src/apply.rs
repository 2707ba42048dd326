//! Carrying a plan out: batches, one outcome per change, a summary.

use std::collections::HashSet;
use std::fmt;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use serde::ser::SerializeStruct;

use super::RosterSync;
use super::plan::{Change, ChangeKind};
use classroom::models::{Course, CourseState, Empty, GuardianInvitation, Student, Teacher};
use classroom::{BatchSlot, FieldMask, MAX_BATCH_CALLS};

/// What became of one change.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// Carried out.
    Done,
    /// Classroom was already so: the course existed under its alias (`ALREADY_EXISTS`), the
    /// member was already in the course (409), or no longer in it (404), the guardian was
    /// already invited (a pending invitation) or linked (`ALREADY_EXISTS`). Usual on a rerun
    /// after a failure, when the earlier attempt had acted.
    ///
    /// Classroom answers 409 too when the user is in the course in the other role (a student
    /// planned as a teacher); such an add shows up again in the next plan until the other
    /// membership is removed (`remove_members`, whose removals are applied before adds).
    AlreadySo,
    /// Not sent, because a change it depends on failed (the course's creation).
    Skipped(String),
    /// Not carried out in this run, for a reason that clears by itself; the next plan plans
    /// it again. The reason says which: an ownership transfer Classroom refuses with
    /// `FAILED_PRECONDITION` for now (the new owner is not yet a teacher of the course, say),
    /// so that a transfer in progress never loops as an error; the acting user's daily
    /// invitation quota spent (`@UserInvitationQuotaExhausted`), or the run's
    /// [`guardian_invitations_per_run`](super::SyncOptions::guardian_invitations_per_run)
    /// reached, so that a daily run sends the rest on the following days.
    Deferred(String),
    /// Failed. [`Error::is_retryable`](classroom::Error::is_retryable) tells a transient failure
    /// (apply again later) from one that will not clear by itself (a user not in the domain,
    /// a full course: [`ApiError::is_lasting`](classroom::ApiError::is_lasting), a 404 user, a
    /// `FAILED_PRECONDITION`).
    Failed(classroom::Error),
}

impl Outcome {
    /// Whether Classroom is as the change wanted (done or already so).
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Done | Outcome::AlreadySo)
    }

    fn label(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadySo => "already so",
            Outcome::Skipped(_) => "skipped",
            Outcome::Deferred(_) => "deferred",
            Outcome::Failed(_) => "failed",
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Outcome", 6)?;
        st.serialize_field(
            "result",
            match self {
                Outcome::Done => "done",
                Outcome::AlreadySo => "already_so",
                Outcome::Skipped(_) => "skipped",
                Outcome::Deferred(_) => "deferred",
                Outcome::Failed(_) => "failed",
            },
        )?;
        match self {
            Outcome::Skipped(why) | Outcome::Deferred(why) => st.serialize_field("reason", why)?,
            Outcome::Failed(e) => {
                st.serialize_field("error", &e.to_string())?;
                st.serialize_field("http_status", &e.http_status())?;
                st.serialize_field("code", &e.code().map(|c| c.to_string()))?;
                st.serialize_field("retryable", &e.is_retryable())?;
                st.serialize_field("lasting", &e.api().is_some_and(|a| a.is_lasting()))?;
            }
            _ => {}
        }
        st.end()
    }
}

/// A change and what became of it.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct ChangeOutcome {
    /// The change.
    pub change: Change,
    /// What became of it.
    pub outcome: Outcome,
}

impl fmt::Display for ChangeOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.change, self.outcome.label())?;
        match &self.outcome {
            Outcome::Failed(e) => write!(f, ": {e}"),
            Outcome::Skipped(why) | Outcome::Deferred(why) => write!(f, ": {why}"),
            _ => Ok(()),
        }
    }
}

/// How far an apply has got, handed to the progress callback after each batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Changes with an outcome so far.
    pub done: usize,
    /// Changes in the plan.
    pub total: usize,
    /// Of those done, how many failed.
    pub failed: usize,
}

/// Counts of outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Summary {
    /// Carried out.
    pub done: usize,
    /// Already so.
    pub already_so: usize,
    /// Skipped.
    pub skipped: usize,
    /// Failed.
    pub failed: usize,
    /// Deferred to the next run ([`Outcome::Deferred`]).
    pub deferred: usize,
}

impl fmt::Display for Summary {
    /// `3 done, 0 already so, 0 skipped, 0 failed`, then `, 2 deferred` when some were.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} done, {} already so, {} skipped, {} failed",
            self.done, self.already_so, self.skipped, self.failed
        )?;
        if self.deferred > 0 {
            write!(f, ", {} deferred", self.deferred)?;
        }
        Ok(())
    }
}

/// What an apply did: one outcome per change of the plan, in its order.
#[derive(Debug, Serialize)]
#[non_exhaustive]
pub struct ApplyReport {
    /// One per change.
    pub outcomes: Vec<ChangeOutcome>,
    /// Calls sent (each batch part counts one; the SDK's own retries are not counted).
    pub calls: u64,
    /// Batch requests sent (retries not counted).
    pub batch_requests: u64,
    /// How long it took.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The counts of outcomes.
    pub summary: Summary,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ApplyReport {
    /// The counts of outcomes.
    pub fn summary(&self) -> Summary {
        self.summary
    }

    /// The changes that failed, were skipped or were deferred: those the next plan holds
    /// again.
    pub fn failures(&self) -> Vec<&ChangeOutcome> {
        self.outcomes
            .iter()
            .filter(|o| !o.outcome.is_ok())
            .collect()
    }
}

impl fmt::Display for ApplyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for outcome in self.failures() {
            writeln!(f, "{outcome}")?;
        }
        write!(
            f,
            "Applied: {} ({} calls in {} batch requests, {:.1} s)",
            self.summary,
            self.calls,
            self.batch_requests,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Where a change's result waits in its batch.
enum Slot {
    Course(BatchSlot<Course>),
    Teacher(BatchSlot<Teacher>),
    Student(BatchSlot<Student>),
    Empty(BatchSlot<Empty>),
    Invitation(BatchSlot<GuardianInvitation>),
}

impl RosterSync {
    /// Carries out a plan; see [`RosterSync::apply_with_progress`].
    pub async fn apply(&self, plan: &super::Plan) -> ApplyReport {
        self.apply_with_progress(plan, |_| {}).await
    }

    /// Carries out a plan in batches (up to [`concurrency`](super::SyncOptions::concurrency)
    /// at once, paced by the client's rate limit), calling `progress` after each batch.
    ///
    /// Courses are created and updated first, then members removed, then added, then courses
    /// archived, then guardians invited. Each change gets its own outcome; a failure stops nothing but the changes
    /// that depend on it (the members of a course whose creation failed are skipped). Plan
    /// and apply again to finish what failed: reruns converge.
    pub async fn apply_with_progress(
        &self,
        plan: &super::Plan,
        mut progress: impl FnMut(Progress),
    ) -> ApplyReport {
        let started = Instant::now();
        let changes = &plan.changes;
        let mut outcomes: Vec<Option<Outcome>> = changes.iter().map(|_| None).collect();
        let mut calls = 0u64;
        let mut requests = 0u64;
        let mut done = 0usize;
        let mut failed = 0usize;
        let mut not_created: HashSet<&str> = HashSet::new();
        for phase in 0..=ChangeKind::LAST_PHASE {
            let mut send = Vec::new();
            for (i, change) in changes.iter().enumerate() {
                if change.kind().phase() != phase {
                    continue;
                }
                if phase > 0 && not_created.contains(change.alias()) {
                    outcomes[i] = Some(Outcome::Skipped(format!(
                        "the course {} could not be created",
                        change.alias()
                    )));
                    done += 1;
                    continue;
                }
                send.push(i);
            }
            calls += send.len() as u64;
            let chunks: Vec<&[usize]> = send.chunks(MAX_BATCH_CALLS).collect();
            requests += chunks.len() as u64;
            let mut results = futures::stream::iter(chunks)
                .map(|chunk| self.send_chunk(changes, chunk))
                .buffer_unordered(self.options.concurrency.max(1));
            while let Some(results) = results.next().await {
                for (i, outcome) in results {
                    if matches!(outcome, Outcome::Failed(_)) {
                        failed += 1;
                    }
                    outcomes[i] = Some(outcome);
                    done += 1;
                }
                progress(Progress {
                    done,
                    total: changes.len(),
                    failed,
                });
            }
            if phase == 0 {
                for (change, outcome) in changes.iter().zip(&outcomes) {
                    if change.kind() == ChangeKind::CreateCourse
                        && outcome.as_ref().is_some_and(|o| !o.is_ok())
                    {
                        not_created.insert(change.alias());
                    }
                }
            }
        }
        // Guardian invitations (the last phase): one batch at a time, to stop at the quota.
        let sent = super::guardians::apply(self, changes, &mut outcomes, |now_done, now_failed| {
            done += now_done;
            failed += now_failed;
            progress(Progress {
                done,
                total: changes.len(),
                failed,
            });
        })
        .await;
        calls += sent.calls;
        requests += sent.batch_requests;
        let outcomes: Vec<ChangeOutcome> = changes
            .iter()
            .cloned()
            .zip(outcomes)
            .map(|(change, outcome)| ChangeOutcome {
                change,
                outcome: outcome.unwrap_or(Outcome::Skipped("not reached".into())),
            })
            .collect();
        let mut summary = Summary::default();
        for o in &outcomes {
            match o.outcome {
                Outcome::Done => summary.done += 1,
                Outcome::AlreadySo => summary.already_so += 1,
                Outcome::Skipped(_) => summary.skipped += 1,
                Outcome::Deferred(_) => summary.deferred += 1,
                Outcome::Failed(_) => summary.failed += 1,
            }
        }
        ApplyReport {
            outcomes,
            calls,
            batch_requests: requests,
            elapsed: started.elapsed(),
            summary,
        }
    }

    /// Sends one batch of changes and reads each one's outcome.
    pub(crate) async fn send_chunk(
        &self,
        changes: &[Change],
        chunk: &[usize],
    ) -> Vec<(usize, Outcome)> {
        let courses = self.classroom.courses();
        let mut batch = self.classroom.batch();
        let mut slots = Vec::with_capacity(chunk.len());
        for &i in chunk {
            let slot = match &changes[i] {
                Change::CreateCourse {
                    alias,
                    fields,
                    owner,
                    state,
                    ..
                } => Slot::Course(
                    batch.add(
                        courses
                            .create(Course {
                                id: Some(alias.clone()),
                                name: Some(fields.name.clone()),
                                section: Some(fields.section.clone()),
                                room: Some(fields.room.clone()),
                                owner_id: Some(owner.clone()),
                                course_state: Some(state.course_state()),
                                ..Default::default()
                            })
                            // Under an alias a second create cannot duplicate: it answers
                            // ALREADY_EXISTS. So a create whose answer was lost may be resent.
                            .with_idempotency(true),
                    ),
                ),
                Change::UpdateCourse { alias, changes } => {
                    let mut course = Course::default();
                    let mut mask = FieldMask::default();
                    for change in changes {
                        let value = Some(change.to.clone());
                        match change.field.as_str() {
                            "name" => course.name = value,
                            "section" => course.section = value,
                            "room" => course.room = value,
                            "courseState" => {
                                course.course_state = Some(CourseState::from(change.to.as_str()))
                            }
                            _ => continue,
                        }
                        mask.push(change.field.clone());
                    }
                    // Setting fields to given values twice is setting them once.
                    Slot::Course(
                        batch.add(
                            courses
                                .patch(alias, course)
                                .update_mask(mask)
                                .with_idempotency(true),
                        ),
                    )
                }
                Change::AddTeacher { alias, email } => Slot::Teacher(
                    batch.add(
                        courses
                            .teachers()
                            .create(
                                alias,
                                Teacher {
                                    user_id: Some(email.clone()),
                                    ..Default::default()
                                },
                            )
                            // A second add answers 409, which counts as already so.
                            .with_idempotency(true),
                    ),
                ),
                Change::AddStudent { alias, email } => Slot::Student(
                    batch.add(
                        courses
                            .students()
                            .create(
                                alias,
                                Student {
                                    user_id: Some(email.clone()),
                                    ..Default::default()
                                },
                            )
                            .with_idempotency(true),
                    ),
                ),
                Change::RemoveTeacher { alias, user_id, .. } => {
                    Slot::Empty(batch.add(courses.teachers().delete(alias, user_id)))
                }
                Change::RemoveStudent { alias, user_id, .. } => {
                    Slot::Empty(batch.add(courses.students().delete(alias, user_id)))
                }
                Change::TransferOwnership { alias, to, .. } => Slot::Course(
                    batch.add(
                        courses
                            .patch(
                                alias,
                                Course {
                                    owner_id: Some(to.clone()),
                                    ..Default::default()
                                },
                            )
                            .update_mask(FieldMask::new(["ownerId"]))
                            .with_idempotency(true),
                    ),
                ),
                Change::DeleteCourse { course_id, .. } => {
                    Slot::Empty(batch.add(courses.delete(course_id)))
                }
                Change::ArchiveCourse { course_id, .. } => Slot::Course(
                    batch.add(
                        courses
                            .patch(
                                course_id,
                                Course {
                                    course_state: Some(CourseState::Archived),
                                    ..Default::default()
                                },
                            )
                            .update_mask(FieldMask::new(["courseState"]))
                            .with_idempotency(true),
                    ),
                ),
                Change::InviteGuardian {
                    student, guardian, ..
                } => Slot::Invitation(batch.add(super::guardians::invitation(
                    &self.classroom,
                    student,
                    guardian,
                ))),
            };
            slots.push((i, slot));
        }
        let mut results = batch.send().await;
        slots
            .into_iter()
            .map(|(i, slot)| {
                let result = match slot {
                    Slot::Course(s) => results.take(s).map(drop),
                    Slot::Teacher(s) => results.take(s).map(drop),
                    Slot::Student(s) => results.take(s).map(drop),
                    Slot::Empty(s) => results.take(s).map(drop),
                    Slot::Invitation(s) => results.take(s).map(drop),
                };
                (i, outcome(changes[i].kind(), result))
            })
            .collect()
    }
}

/// A call's result as the change's outcome.
fn outcome(kind: ChangeKind, result: classroom::Result<()>) -> Outcome {
    match result {
        Ok(()) => Outcome::Done,
        Err(e)
            if matches!(
                kind,
                ChangeKind::CreateCourse
                    | ChangeKind::AddTeacher
                    | ChangeKind::AddStudent
                    | ChangeKind::InviteGuardian
            ) && e.is_already_exists() =>
        {
            Outcome::AlreadySo
        }
        Err(e)
            if matches!(
                kind,
                ChangeKind::RemoveTeacher | ChangeKind::RemoveStudent | ChangeKind::DeleteCourse
            ) && e.is_not_found() =>
        {
            Outcome::AlreadySo
        }
        Err(e) if kind == ChangeKind::TransferOwnership && e.is_failed_precondition() => {
            Outcome::Deferred(format!(
                "Classroom cannot make them the owner yet ({e}); the next run tries again"
            ))
        }
        Err(e) => Outcome::Failed(e),
    }
}
