//! Grades back to the SIS: Classroom coursework and grades as a OneRoster gradebook.
//!
//! [`Gradebook::export`] reads the coursework and student submissions of the courses the
//! sync manages and returns them as OneRoster line items, results, categories and grading
//! periods ([`Export`]), which [`Export::write`] writes as OneRoster 1.1 or 1.2 CSV with its
//! manifest. [`Gradebook::write_grades`] sends grades computed elsewhere back into Classroom,
//! only to the coursework this project created.
//!
//! # The mapping
//!
//! | Classroom | OneRoster |
//! | --- | --- |
//! | a course the sync manages (alias `d:<prefix><class sourcedId>`) | the class: `classSourcedId` |
//! | published coursework with `maxPoints` | a line item (`lineItems.csv`), `sourcedId` `<id_prefix>cw-<course id>-<coursework id>` |
//! | `title`, `description` | `title`, `description` |
//! | `scheduledTime`, else `creationTime` | `assignDate` |
//! | `dueDate` and `dueTime` (UTC; 23:59 when no time) | `dueDate`; work with no due date is due when assigned |
//! | `maxPoints` | `resultValueMax`; `resultValueMin` is 0 |
//! | `gradeCategory` (id, name, weight) | a category (`categories.csv`) `<id_prefix>cat-<course id>-<category id>`; work without one has the course's `...-none`, "Uncategorized" (1.2: `weight` in percent) |
//! | `gradingPeriodId` | a grading period (`academicSessions.csv`, type `gradingPeriod`, parent the class's term) `<id_prefix>gp-<course id>-<period id>`; work without one is in the class's first term (the roster's `termSourcedIds`) |
//! | a student submission | a result (`results.csv`) `<id_prefix>sub-<course id>-<coursework id>-<submission id>`, `studentSourcedId` by the student's email in the roster |
//! | `assignedGrade` | `score`, `scoreStatus` `fully graded`; above `maxPoints` (extra credit) kept as is |
//! | `draftGrade` with no assigned grade, only with [`GradebookOptions::draft_grades`] (off by default) | `score`, `scoreStatus` `partially graded` |
//! | no grade, `TURNED_IN`, or `RETURNED` after a turn-in | `scoreStatus` `submitted` |
//! | no grade, not turned in, `late` (past due) | `scoreStatus` `not submitted`; 1.2 `missing` |
//! | no grade, not turned in, not yet due | no result: nothing to report yet |
//! | `late` | 1.2: `late` |
//! | the submission's `updateTime` | `scoreDate` (1.1: its date) |
//!
//! - `exempt` is never written: Classroom's API has no excused flag.
//! - Coursework without `maxPoints` (ungraded), draft and deleted coursework are left out.
//! - A result with no grade has score `0` in 1.1, which requires a score (its `scoreStatus`
//!   says it is none), and no score in 1.2.
//! - A bulk export leaves `status` and `dateLastModified` empty, as OneRoster asks; a delta
//!   export fills them (`active`, Classroom's `updateTime`).
//! - A submission whose student is not in the roster (no user with that email) has no
//!   result; it is counted in [`Export::unmatched`].
//!
//! The ids hold only Classroom's ids, which never change, so each record keeps its
//! `sourcedId` from run to run and a SIS can upsert.
//!
//! # Incremental
//!
//! Classroom has no "changed since" filter. A run reads each course's coursework newest first
//! (`orderBy=updateTime desc`) and stops at the course's watermark ([`GradesState`]): after
//! the first page holding older work, nothing more is read. Grading changes a submission's
//! `updateTime` but not its coursework's, so each course's submissions are read with the
//! course-work id `-` (every coursework of the course in one list, the largest pages) and
//! those updated after the watermark kept; `states` would not read fewer, since a grade
//! can change in any state. The results exported are the submissions updated since the
//! watermark, those of coursework new to the export, and those of coursework whose due time
//! passed since the last run (whose unsubmitted work became missing without an update).
//! Students are read (for their emails) only when a submission names one the state does not
//! know; grading period settings only for a course whose changed work names a period.
//!
//! A course with no watermark (first run, new class, lost or moved state file) is read in
//! full: a lost watermark costs a full read, never a gap. An export in which every course was
//! read in full is `bulk`; one with any course read from its watermark is `delta`.
//! Deleted coursework is not reported as `tobedeleted` in a delta; a bulk export leaves it
//! out.
//!
//! # Ownership
//!
//! Classroom lets only the Cloud project that created a piece of coursework change it or its
//! grades. Each [`LineItem`] says whether it is [ours](LineItem::owned)
//! (`associatedWithDeveloper`); [`Gradebook::write_grades`] sends a grade only to a
//! submission whose coursework is ours and reports every other one as
//! [`GradeOutcome::NotOurs`], unsent.

mod files;
mod state;
mod write;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use classroom::chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use classroom::models::{
    CourseWork, GradingPeriod, StateHistoryState, StudentSubmission, SubmissionState,
};
use classroom::{Classroom, Scope};
use futures::{StreamExt, TryStreamExt};

pub use files::Version;
pub use state::{CourseMark, GradesState, Watermark};
pub use write::{GradeOutcome, GradeWrite, WriteReport};

use crate::{FileMode, Roster, Status, alias_for};

/// The scopes an export needs: courses (grading periods), coursework and submissions (read),
/// rosters and emails (to match students to the roster). Writing grades back needs
/// `classroom.coursework.students` instead of its read-only form.
pub const GRADES_SCOPES: [Scope; 4] = [
    Scope::CoursesReadonly,
    Scope::CourseworkStudentsReadonly,
    Scope::RostersReadonly,
    Scope::ProfileEmails,
];

/// One class whose gradebook is exported: its Classroom course and its OneRoster ids.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GradebookClass {
    /// The class's `sourcedId`.
    pub class_sourced_id: String,
    /// The Classroom course: its id or alias (`d:sis-<class sourcedId>`).
    pub course: String,
    /// The academic session work without a Classroom grading period falls in: the class's
    /// first `termSourcedIds` entry.
    pub term_sourced_id: String,
}

impl GradebookClass {
    /// A class and its course.
    pub fn new(
        class_sourced_id: impl Into<String>,
        course: impl Into<String>,
        term_sourced_id: impl Into<String>,
    ) -> GradebookClass {
        GradebookClass {
            class_sourced_id: class_sourced_id.into(),
            course: course.into(),
            term_sourced_id: term_sourced_id.into(),
        }
    }

    /// The active classes of a roster, each with the course the sync made for it under
    /// `alias_prefix`.
    pub fn from_roster(roster: &Roster, alias_prefix: &str) -> Vec<GradebookClass> {
        roster
            .classes
            .iter()
            .filter(|c| c.status == Status::Active)
            .map(|c| GradebookClass {
                class_sourced_id: c.sourced_id.clone(),
                course: alias_for(alias_prefix, &c.sourced_id),
                term_sourced_id: c.term_sourced_ids.first().cloned().unwrap_or_default(),
            })
            .collect()
    }
}

/// Students' `sourcedId`s by email (lower case): how a submission's student is found in the
/// roster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Students(HashMap<String, String>);

impl Students {
    /// The roster's students.
    pub fn from_roster(roster: &Roster) -> Students {
        Students(
            roster
                .users
                .iter()
                .filter(|u| u.role == "student" && !u.email.is_empty())
                .map(|u| (u.email.to_lowercase(), u.sourced_id.clone()))
                .collect(),
        )
    }

    /// Adds a student.
    pub fn insert(&mut self, email: &str, sourced_id: impl Into<String>) {
        self.0.insert(email.to_lowercase(), sourced_id.into());
    }

    fn get(&self, email: &str) -> Option<&String> {
        self.0.get(&email.to_lowercase())
    }
}

/// How an export reads and what it writes.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GradebookOptions {
    /// Export a draft grade (a teacher's, not yet returned) as `partially graded` where a
    /// submission has no assigned grade (default off: only returned grades reach the SIS).
    pub draft_grades: bool,
    /// The start of every `sourcedId` the export makes (default `classroom-`).
    pub id_prefix: String,
    /// Page size of the lists (default 1000, so a course's submissions are few pages).
    pub page_size: i32,
    /// Courses read at once (default 4); the client's rate limit paces them all.
    pub concurrency: usize,
    /// Read every course in full and export what changed after this time (`--since`)
    /// instead of from the stored watermarks; the watermarks still advance.
    pub since: Option<DateTime<Utc>>,
    /// Read every course in full whatever the state holds: a `bulk` export.
    pub full: bool,
}

impl Default for GradebookOptions {
    fn default() -> Self {
        GradebookOptions {
            draft_grades: false,
            id_prefix: "classroom-".into(),
            page_size: 1000,
            concurrency: 4,
            since: None,
            full: false,
        }
    }
}

impl GradebookOptions {
    /// Sets [`GradebookOptions::draft_grades`].
    pub fn draft_grades(mut self, on: bool) -> Self {
        self.draft_grades = on;
        self
    }
    /// Sets [`GradebookOptions::id_prefix`].
    pub fn id_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.id_prefix = prefix.into();
        self
    }
    /// Sets [`GradebookOptions::page_size`].
    pub fn page_size(mut self, size: i32) -> Self {
        self.page_size = size;
        self
    }
    /// Sets [`GradebookOptions::concurrency`] (at least 1).
    pub fn concurrency(mut self, courses: usize) -> Self {
        self.concurrency = courses.max(1);
        self
    }
    /// Sets [`GradebookOptions::since`].
    pub fn since(mut self, since: impl Into<Option<DateTime<Utc>>>) -> Self {
        self.since = since.into();
        self
    }
    /// Sets [`GradebookOptions::full`].
    pub fn full(mut self, on: bool) -> Self {
        self.full = on;
        self
    }
}

/// A OneRoster `scoreStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScoreStatus {
    /// `fully graded`: an assigned grade.
    FullyGraded,
    /// `partially graded`: a draft grade (with [`GradebookOptions::draft_grades`]).
    PartiallyGraded,
    /// `submitted`: turned in, no grade yet.
    Submitted,
    /// `not submitted`: past due and not turned in.
    NotSubmitted,
    /// `exempt` (never produced from Classroom, which has no excused flag).
    Exempt,
}

impl ScoreStatus {
    /// The value as OneRoster writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ScoreStatus::FullyGraded => "fully graded",
            ScoreStatus::PartiallyGraded => "partially graded",
            ScoreStatus::Submitted => "submitted",
            ScoreStatus::NotSubmitted => "not submitted",
            ScoreStatus::Exempt => "exempt",
        }
    }
}

/// A category (`categories.csv`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Category {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `title`.
    pub title: String,
    /// Classroom's weight in percent (1.2's `weight`), if set.
    pub weight: Option<f64>,
    /// When the line item naming it last changed.
    pub modified: Option<DateTime<Utc>>,
}

/// A grading period (`academicSessions.csv`, type `gradingPeriod`).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GradingPeriodSession {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `title`.
    pub title: String,
    /// `startDate`.
    pub start: Option<NaiveDate>,
    /// `endDate`.
    pub end: Option<NaiveDate>,
    /// `parentSourcedId`: the class's term.
    pub parent: String,
}

/// A line item (`lineItems.csv`): one piece of graded coursework.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct LineItem {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `title`.
    pub title: String,
    /// `description`.
    pub description: String,
    /// `assignDate`.
    pub assign: DateTime<Utc>,
    /// `dueDate`.
    pub due: DateTime<Utc>,
    /// `classSourcedId`.
    pub class_sourced_id: String,
    /// `categorySourcedId`.
    pub category_sourced_id: String,
    /// `gradingPeriodSourcedId`.
    pub grading_period_sourced_id: String,
    /// `resultValueMax`: Classroom's `maxPoints`.
    pub max_points: f64,
    /// The coursework's `updateTime`.
    pub modified: Option<DateTime<Utc>>,
    /// The Classroom course id.
    pub course_id: String,
    /// The Classroom coursework id.
    pub course_work_id: String,
    /// Whether this project created the coursework, and so may change it and its grades.
    pub owned: bool,
}

/// A result (`results.csv`): one student's submission to a line item.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GradeResult {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `lineItemSourcedId`.
    pub line_item_sourced_id: String,
    /// `studentSourcedId`.
    pub student_sourced_id: String,
    /// `scoreStatus`.
    pub status: ScoreStatus,
    /// `score`: the grade, if there is one.
    pub score: Option<f64>,
    /// `scoreDate`: the submission's `updateTime`.
    pub score_date: DateTime<Utc>,
    /// Classroom's `late` (1.2's `late`).
    pub late: bool,
    /// The Classroom ids: course, coursework, submission, user.
    pub classroom: [String; 4],
}

/// One export: the records read, ready to write.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Export {
    /// `bulk` when every course was read in full, else `delta`.
    pub mode: FileMode,
    /// Categories of the line items.
    pub categories: Vec<Category>,
    /// Grading periods of the line items.
    pub grading_periods: Vec<GradingPeriodSession>,
    /// Line items: coursework new or changed (all, when bulk).
    pub line_items: Vec<LineItem>,
    /// Results: submissions new or changed (all, when bulk).
    pub results: Vec<GradeResult>,
    /// Submissions left out because their student's email is not in the roster.
    pub unmatched: usize,
    /// Calls made.
    pub calls: u64,
    /// How long the export took.
    pub elapsed: Duration,
    /// The state to save once the files are written.
    pub state: GradesState,
}

/// Reads Classroom gradebooks and writes grades back.
#[derive(Clone, Debug)]
pub struct Gradebook {
    classroom: Classroom,
    options: GradebookOptions,
}

/// What one course's read produced.
struct CourseRead {
    mark: CourseMark,
    full: bool,
    categories: Vec<Category>,
    periods: Vec<GradingPeriodSession>,
    line_items: Vec<LineItem>,
    results: Vec<GradeResult>,
    unmatched: usize,
    calls: u64,
}

impl Gradebook {
    /// A gradebook reading through `classroom` (a teacher of the courses, or an admin, with
    /// [`GRADES_SCOPES`]).
    pub fn new(classroom: Classroom) -> Gradebook {
        Gradebook {
            classroom,
            options: GradebookOptions::default(),
        }
    }

    /// Sets the options.
    pub fn options(mut self, options: GradebookOptions) -> Gradebook {
        self.options = options;
        self
    }

    /// Reads the classes' gradebooks: from each course's watermark in `state`, or in full.
    /// Nothing is written; save [`Export::state`] once [`Export::write`] succeeded, so a run
    /// that fails to write reads the same changes again.
    pub async fn export(
        &self,
        classes: &[GradebookClass],
        students: &Students,
        state: &GradesState,
    ) -> classroom::Result<Export> {
        let started = Instant::now();
        let now = Utc::now();
        let reads: Vec<CourseRead> = futures::stream::iter(classes)
            .map(|class| {
                let mark = if self.options.full || self.options.since.is_some() {
                    None
                } else {
                    state.courses.get(&class.class_sourced_id)
                };
                self.read_course(class, mark, students, now)
            })
            .buffered(self.options.concurrency.max(1))
            .try_collect()
            .await?;
        let mut next = state.clone();
        next.version = 1;
        let mut export = Export {
            mode: if reads.iter().all(|r| r.full) && self.options.since.is_none() {
                FileMode::Bulk
            } else {
                FileMode::Delta
            },
            categories: Vec::new(),
            grading_periods: Vec::new(),
            line_items: Vec::new(),
            results: Vec::new(),
            unmatched: 0,
            calls: 0,
            elapsed: Duration::ZERO,
            state: GradesState::new(),
        };
        let mut categories = BTreeSet::new();
        let mut periods = BTreeSet::new();
        for (class, read) in classes.iter().zip(reads) {
            next.courses
                .insert(class.class_sourced_id.clone(), read.mark);
            for c in read.categories {
                if categories.insert(c.sourced_id.clone()) {
                    export.categories.push(c);
                }
            }
            for p in read.periods {
                if periods.insert(p.sourced_id.clone()) {
                    export.grading_periods.push(p);
                }
            }
            export.line_items.extend(read.line_items);
            export.results.extend(read.results);
            export.unmatched += read.unmatched;
            export.calls += read.calls;
        }
        export.state = next;
        export.elapsed = started.elapsed();
        Ok(export)
    }

    async fn read_course(
        &self,
        class: &GradebookClass,
        mark: Option<&CourseMark>,
        students: &Students,
        now: DateTime<Utc>,
    ) -> classroom::Result<CourseRead> {
        let o = &self.options;
        let full = mark.is_none();
        let mut next = mark.cloned().unwrap_or_default();
        let mut calls = 0;
        let since = o.since.map(Watermark::at);
        // What counts as new: after the stored mark, after --since, or everything.
        let work_mark = since
            .clone()
            .or_else(|| mark.map(|m| m.course_work.clone()));
        let sub_mark = since.or_else(|| mark.map(|m| m.submissions.clone()));

        // Coursework, newest first, down to the watermark.
        let mut changed: Vec<CourseWork> = Vec::new();
        let mut pages = Box::pin(
            self.classroom
                .courses()
                .course_work()
                .list(&class.course)
                .order_by("updateTime desc")
                .page_size(o.page_size)
                .pages(),
        );
        let read_all = full;
        'pages: while let Some(page) = pages.try_next().await? {
            calls += 1;
            for work in page.course_work {
                let id = work.id.clone().unwrap_or_default();
                let time = work.update_time;
                let stop = mark.is_some_and(|m| m.course_work.is_before(time));
                if stop && !read_all {
                    break 'pages;
                }
                next.course_work.advance(time, &id);
                if let Some(cid) = &work.course_id {
                    next.course_id.clone_from(cid);
                }
                if work_mark.as_ref().is_none_or(|m| m.is_new(time, &id)) {
                    changed.push(work);
                } else if read_all {
                    // Read in full for --since: known, not exported.
                    self.remember(&mut next, &work);
                }
            }
        }
        drop(pages);

        let mut line_items = Vec::new();
        let mut categories = Vec::new();
        let mut new_to_export = BTreeSet::new();
        let mut needs_periods = false;
        for work in &changed {
            let id = work.id.clone().unwrap_or_default();
            let graded = self.remember(&mut next, work);
            if !graded {
                continue;
            }
            if !mark.is_some_and(|m| m.line_items.contains_key(&id)) {
                new_to_export.insert(id.clone());
            }
            needs_periods |= work
                .grading_period_id
                .as_deref()
                .is_some_and(|p| !p.is_empty());
            let (item, category) = self.line_item(class, &next.course_id, work);
            categories.push(category);
            line_items.push(item);
        }
        // Only --since exports unchanged work it read; a full read exported everything.
        if o.since.is_some() {
            new_to_export.clear();
        }

        // Grading periods named by the line items.
        let mut periods = Vec::new();
        if needs_periods {
            calls += 1;
            let settings = self
                .classroom
                .courses()
                .get_grading_period_settings(&class.course)
                .send()
                .await?;
            let named: BTreeSet<&str> = changed
                .iter()
                .filter_map(|w| w.grading_period_id.as_deref())
                .collect();
            for p in settings.grading_periods {
                if named.contains(p.id.as_deref().unwrap_or_default()) {
                    periods.push(self.period(class, &next.course_id, &p));
                }
            }
        }

        // Submissions of every coursework of the course, in one list.
        let due_passed: BTreeSet<String> = match mark.and_then(|m| m.read_at) {
            Some(last) => next
                .line_items
                .iter()
                .filter(|(_, due)| due.is_some_and(|d| d > last && d <= now))
                .map(|(id, _)| id.clone())
                .collect(),
            None => BTreeSet::new(),
        };
        let mut wanted: Vec<StudentSubmission> = Vec::new();
        let mut pages = Box::pin(
            self.classroom
                .courses()
                .course_work()
                .student_submissions()
                .list(&class.course, "-")
                .page_size(o.page_size)
                .pages(),
        );
        while let Some(page) = pages.try_next().await? {
            calls += 1;
            for sub in page.student_submissions {
                let id = sub.id.clone().unwrap_or_default();
                let work = sub.course_work_id.clone().unwrap_or_default();
                next.submissions.advance(sub.update_time, &id);
                if !next.line_items.contains_key(&work) {
                    continue;
                }
                let new = sub_mark
                    .as_ref()
                    .is_none_or(|m| m.is_new(sub.update_time, &id));
                if new || new_to_export.contains(&work) || due_passed.contains(&work) {
                    wanted.push(sub);
                }
            }
        }
        drop(pages);

        // Students the state cannot name yet: read the course's roster once.
        if wanted.iter().any(|s| {
            !next
                .students
                .contains_key(s.user_id.as_deref().unwrap_or_default())
        }) {
            let mut pages = Box::pin(
                self.classroom
                    .courses()
                    .students()
                    .list(&class.course)
                    .page_size(o.page_size)
                    .pages(),
            );
            while let Some(page) = pages.try_next().await? {
                calls += 1;
                for student in page.students {
                    let email = student
                        .profile
                        .as_ref()
                        .and_then(|p| p.email_address.as_deref())
                        .unwrap_or_default();
                    if let (Some(user), Some(sourced)) = (&student.user_id, students.get(email)) {
                        next.students.insert(user.clone(), sourced.clone());
                    }
                }
            }
        }

        let mut results = Vec::new();
        let mut unmatched = 0;
        for sub in &wanted {
            let Some((status, score)) = score_of(sub, o.draft_grades) else {
                continue;
            };
            let user = sub.user_id.clone().unwrap_or_default();
            let Some(student) = next.students.get(&user) else {
                unmatched += 1;
                continue;
            };
            let work = sub.course_work_id.clone().unwrap_or_default();
            let id = sub.id.clone().unwrap_or_default();
            let course = &next.course_id;
            results.push(GradeResult {
                sourced_id: format!("{}sub-{course}-{work}-{id}", o.id_prefix),
                line_item_sourced_id: format!("{}cw-{course}-{work}", o.id_prefix),
                student_sourced_id: student.clone(),
                status,
                score,
                score_date: sub.update_time.unwrap_or(now),
                late: sub.late == Some(true),
                classroom: [course.clone(), work, id, user],
            });
        }
        next.read_at = Some(now);
        Ok(CourseRead {
            mark: next,
            full,
            categories,
            periods,
            line_items,
            results,
            unmatched,
            calls,
        })
    }

    /// Records a coursework in the course's mark: whether it is a line item, and its due
    /// time. Returns whether it is one (published, with points).
    fn remember(&self, mark: &mut CourseMark, work: &CourseWork) -> bool {
        let id = work.id.clone().unwrap_or_default();
        let graded = work.max_points.is_some_and(|p| p > 0.0)
            && work
                .state
                .as_ref()
                .is_none_or(|s| s.as_str() == "PUBLISHED");
        if graded {
            mark.line_items.insert(id, due_of(work));
        } else {
            mark.line_items.remove(&id);
        }
        graded
    }

    fn line_item(
        &self,
        class: &GradebookClass,
        course: &str,
        work: &CourseWork,
    ) -> (LineItem, Category) {
        let p = &self.options.id_prefix;
        let id = work.id.clone().unwrap_or_default();
        let category = match &work.grade_category {
            Some(c) if c.id.as_deref().is_some_and(|i| !i.is_empty()) => Category {
                sourced_id: format!("{p}cat-{course}-{}", c.id.as_deref().unwrap_or_default()),
                title: c.name.clone().unwrap_or_else(|| "Uncategorized".into()),
                weight: c.weight.map(|w| f64::from(w) / 10_000.0),
                modified: work.update_time,
            },
            _ => Category {
                sourced_id: format!("{p}cat-{course}-none"),
                title: "Uncategorized".into(),
                weight: None,
                modified: work.update_time,
            },
        };
        let assign = work
            .scheduled_time
            .or(work.creation_time)
            .or(work.update_time)
            .unwrap_or_default();
        let period = match work.grading_period_id.as_deref() {
            Some(gp) if !gp.is_empty() => format!("{p}gp-{course}-{gp}"),
            _ => class.term_sourced_id.clone(),
        };
        let item = LineItem {
            sourced_id: format!("{p}cw-{course}-{id}"),
            title: work.title.clone().unwrap_or_default(),
            description: work.description.clone().unwrap_or_default(),
            assign,
            due: due_of(work).unwrap_or(assign),
            class_sourced_id: class.class_sourced_id.clone(),
            category_sourced_id: category.sourced_id.clone(),
            grading_period_sourced_id: period,
            max_points: work.max_points.unwrap_or_default(),
            modified: work.update_time,
            course_id: course.to_string(),
            course_work_id: id,
            owned: work.created_by_this_project(),
        };
        (item, category)
    }

    fn period(
        &self,
        class: &GradebookClass,
        course: &str,
        p: &GradingPeriod,
    ) -> GradingPeriodSession {
        GradingPeriodSession {
            sourced_id: format!(
                "{}gp-{course}-{}",
                self.options.id_prefix,
                p.id.as_deref().unwrap_or_default()
            ),
            title: p.title.clone().unwrap_or_default(),
            start: p.start_date.as_ref().and_then(|d| d.to_naive_date()),
            end: p.end_date.as_ref().and_then(|d| d.to_naive_date()),
            parent: class.term_sourced_id.clone(),
        }
    }
}

/// The due time of a coursework (UTC; 23:59 when it has a date and no time).
fn due_of(work: &CourseWork) -> Option<DateTime<Utc>> {
    let date = work.due_date.as_ref()?.to_naive_date()?;
    let time = work
        .due_time
        .as_ref()
        .and_then(|t| t.to_naive_time())
        .unwrap_or(NaiveTime::from_hms_opt(23, 59, 0)?);
    Some(date.and_time(time).and_utc())
}

/// A submission's `scoreStatus` and score, or none when there is nothing to report yet.
pub fn score_of(sub: &StudentSubmission, draft_grades: bool) -> Option<(ScoreStatus, Option<f64>)> {
    if let Some(grade) = sub.assigned_grade {
        return Some((ScoreStatus::FullyGraded, Some(grade)));
    }
    if draft_grades && let Some(grade) = sub.draft_grade {
        return Some((ScoreStatus::PartiallyGraded, Some(grade)));
    }
    let turned_in = sub.submission_history.iter().any(|h| {
        h.state_history
            .as_ref()
            .and_then(|s| s.state.as_ref())
            .is_some_and(|s| *s == StateHistoryState::TurnedIn)
    });
    match sub.state.as_ref() {
        Some(SubmissionState::TurnedIn) => Some((ScoreStatus::Submitted, None)),
        Some(SubmissionState::Returned) if turned_in => Some((ScoreStatus::Submitted, None)),
        _ if sub.late == Some(true) => Some((ScoreStatus::NotSubmitted, None)),
        _ => None,
    }
}
