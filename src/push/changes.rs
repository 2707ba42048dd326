//! Reads of what changed: from an event (coalesced), and without push (the reconcile pass).

use chrono::{DateTime, Utc};
use futures::TryStreamExt;

use super::{Collection, Event, ResourceId};
use crate::Classroom;
use crate::models::{CourseWork, Student, StudentSubmission, Teacher};

/// The read that fetches what an event says changed. Several events may need one read: a
/// burst of submission changes of one coursework is one list of its submissions.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Read {
    /// `courses.students.get`.
    Student {
        /// The course.
        course_id: String,
        /// The student.
        user_id: String,
    },
    /// `courses.teachers.get`.
    Teacher {
        /// The course.
        course_id: String,
        /// The teacher.
        user_id: String,
    },
    /// `courses.courseWork.get`.
    CourseWork {
        /// The course.
        course_id: String,
        /// The coursework.
        course_work_id: String,
    },
    /// `courses.courseWork.studentSubmissions.list` of one coursework.
    Submissions {
        /// The course.
        course_id: String,
        /// The coursework.
        course_work_id: String,
    },
}

/// What a [`Read`] found.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
// One value per read, moved straight into the caller's copy: boxing would cost every caller a
// deref for nothing.
#[allow(clippy::large_enum_variant)]
pub enum Fetched {
    /// The student, or `None` if they are no longer in the course (or cannot be seen).
    Student {
        /// The course.
        course_id: String,
        /// The student.
        user_id: String,
        /// What `get` returned.
        student: Option<Student>,
    },
    /// The teacher, or `None` if they no longer teach the course (or cannot be seen).
    Teacher {
        /// The course.
        course_id: String,
        /// The teacher.
        user_id: String,
        /// What `get` returned.
        teacher: Option<Teacher>,
    },
    /// The coursework, or `None` if it was deleted (or cannot be seen).
    CourseWork {
        /// The course.
        course_id: String,
        /// The coursework.
        course_work_id: String,
        /// What `get` returned.
        course_work: Option<CourseWork>,
    },
    /// Every submission of the coursework, as it is now.
    Submissions {
        /// The course.
        course_id: String,
        /// The coursework.
        course_work_id: String,
        /// The submissions (empty if the coursework is gone).
        submissions: Vec<StudentSubmission>,
    },
}

impl Read {
    /// The read for an event, or `None` for a collection this SDK does not know.
    pub fn for_event(event: &Event) -> Option<Read> {
        Some(match (&event.collection, &event.resource) {
            (Collection::Students, ResourceId::Member { course_id, user_id }) => Read::Student {
                course_id: course_id.clone(),
                user_id: user_id.clone(),
            },
            (Collection::Teachers, ResourceId::Member { course_id, user_id }) => Read::Teacher {
                course_id: course_id.clone(),
                user_id: user_id.clone(),
            },
            (
                Collection::CourseWork,
                ResourceId::CourseWork {
                    course_id,
                    course_work_id,
                },
            ) => Read::CourseWork {
                course_id: course_id.clone(),
                course_work_id: course_work_id.clone(),
            },
            (
                Collection::StudentSubmissions,
                ResourceId::Submission {
                    course_id,
                    course_work_id,
                    ..
                },
            ) => Read::Submissions {
                course_id: course_id.clone(),
                course_work_id: course_work_id.clone(),
            },
            _ => return None,
        })
    }

    /// Fetches what changed. A resource that is gone (404, or 403 for a member the caller can
    /// no longer see) is `None`: the event was its removal, or a later one removed it.
    pub async fn fetch<S: crate::scope_check::ScopeSet>(
        &self,
        classroom: &Classroom<S>,
    ) -> crate::Result<Fetched> {
        fn gone<T>(result: crate::Result<T>) -> crate::Result<Option<T>> {
            match result {
                Ok(value) => Ok(Some(value)),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        }
        let dynamic = classroom.untyped();
        let c = &dynamic;
        Ok(match self {
            Read::Student { course_id, user_id } => Fetched::Student {
                student: gone(c.courses().students().get(course_id, user_id).send().await)?,
                course_id: course_id.clone(),
                user_id: user_id.clone(),
            },
            Read::Teacher { course_id, user_id } => Fetched::Teacher {
                teacher: gone(c.courses().teachers().get(course_id, user_id).send().await)?,
                course_id: course_id.clone(),
                user_id: user_id.clone(),
            },
            Read::CourseWork {
                course_id,
                course_work_id,
            } => Fetched::CourseWork {
                course_work: gone(
                    c.courses()
                        .course_work()
                        .get(course_id, course_work_id)
                        .send()
                        .await,
                )?,
                course_id: course_id.clone(),
                course_work_id: course_work_id.clone(),
            },
            Read::Submissions {
                course_id,
                course_work_id,
            } => {
                let listed = c
                    .courses()
                    .course_work()
                    .student_submissions()
                    .list(course_id, course_work_id)
                    .items()
                    .try_collect::<Vec<_>>()
                    .await;
                Fetched::Submissions {
                    submissions: gone(listed)?.unwrap_or_default(),
                    course_id: course_id.clone(),
                    course_work_id: course_work_id.clone(),
                }
            }
        })
    }
}

/// Collects the reads a burst of events needs, each once, in the order first asked for.
///
/// Add events as they arrive ([`add`](Coalescer::add)); after a short quiet spell, or before
/// answering a batch of pushes, [`take`](Coalescer::take) the reads and fetch them. Ten pushes
/// about submissions of one coursework become one list of its submissions; a student who
/// joined and left becomes one `get`, which finds them gone.
#[derive(Clone, Debug, Default)]
pub struct Coalescer {
    pending: Vec<Read>,
}

impl Coalescer {
    /// An empty coalescer.
    pub fn new() -> Self {
        Coalescer::default()
    }

    /// Adds an event's read; `true` if it was not already pending (`false` also for a
    /// collection with no read).
    pub fn add(&mut self, event: &Event) -> bool {
        match Read::for_event(event) {
            Some(read) if !self.pending.contains(&read) => {
                self.pending.push(read);
                true
            }
            _ => false,
        }
    }

    /// How many reads are pending.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether no read is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The pending reads, leaving none.
    pub fn take(&mut self) -> Vec<Read> {
        std::mem::take(&mut self.pending)
    }
}

/// The coursework of a course changed after `watermark` (all of it with `None`), newest first:
/// `courseWork.list` ordered `updateTime desc`, read page by page only down to the watermark.
///
/// With [`submissions_changed_since`] and the course's roster lists, this is the reconcile
/// pass: run it at start, after a registration had lapsed (its renewal failed, or it was
/// re-created), and every so often, for the notifications Pub/Sub could not deliver or that
/// were sent while nothing was registered. Keep the newest `update_time` seen as the next
/// watermark. A deletion leaves no item behind: compare the ids of a full list (`None`) to
/// find deleted coursework.
pub async fn coursework_changed_since<S: crate::scope_check::ScopeSet>(
    classroom: &Classroom<S>,
    course_id: &str,
    watermark: Option<DateTime<Utc>>,
) -> crate::Result<Vec<CourseWork>> {
    let dynamic = classroom.untyped();
    let mut items = dynamic
        .courses()
        .course_work()
        .list(course_id)
        .order_by("updateTime desc")
        .items();
    let mut changed = Vec::new();
    while let Some(work) = items.try_next().await? {
        if let (Some(mark), Some(updated)) = (watermark, work.update_time)
            && updated <= mark
        {
            break;
        }
        changed.push(work);
    }
    Ok(changed)
}

/// The submissions of a course changed after `watermark` (all with `None`): every
/// coursework's (`courseWorkId` `-`), keeping those updated after it. Submissions have no
/// server-side order, so the whole list is read; see [`coursework_changed_since`].
pub async fn submissions_changed_since<S: crate::scope_check::ScopeSet>(
    classroom: &Classroom<S>,
    course_id: &str,
    watermark: Option<DateTime<Utc>>,
) -> crate::Result<Vec<StudentSubmission>> {
    let dynamic = classroom.untyped();
    let all: Vec<StudentSubmission> = dynamic
        .courses()
        .course_work()
        .student_submissions()
        .list(course_id, "-")
        .items()
        .try_collect()
        .await?;
    Ok(all
        .into_iter()
        .filter(|s| match (watermark, s.update_time) {
            (Some(mark), Some(updated)) => updated > mark,
            _ => true,
        })
        .collect())
}
