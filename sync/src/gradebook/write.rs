//! Grades written back into Classroom, only where this project may write them.

use std::collections::HashMap;
use std::sync::Arc;

use classroom::models::{CourseWork, StudentSubmission};
use classroom::{FieldMask, MAX_BATCH_CALLS};

use super::Gradebook;

/// A grade to write: the submission and the grade.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GradeWrite {
    /// The course (id or alias).
    pub course: String,
    /// The coursework.
    pub course_work_id: String,
    /// The submission.
    pub submission_id: String,
    /// The grade, set as the submission's `assignedGrade` (returned to the student) or, with
    /// `draft`, its `draftGrade`.
    pub grade: f64,
    /// Write the draft grade instead of the assigned one.
    pub draft: bool,
}

impl GradeWrite {
    /// An assigned grade for a submission.
    pub fn assigned(
        course: impl Into<String>,
        course_work_id: impl Into<String>,
        submission_id: impl Into<String>,
        grade: f64,
    ) -> GradeWrite {
        GradeWrite {
            course: course.into(),
            course_work_id: course_work_id.into(),
            submission_id: submission_id.into(),
            grade,
            draft: false,
        }
    }

    /// A draft grade for a submission.
    pub fn draft(mut self) -> GradeWrite {
        self.draft = true;
        self
    }
}

/// What came of one grade write.
#[derive(Debug)]
#[non_exhaustive]
pub enum GradeOutcome {
    /// Written.
    Written,
    /// Not sent: another developer project created the coursework, so Classroom would
    /// refuse it (`@ProjectPermissionDenied`).
    NotOurs,
    /// Sent and refused, or the coursework could not be read (the same error for each of
    /// its grades).
    Failed(Arc<classroom::Error>),
}

/// Each write with its outcome, in the order given.
#[derive(Debug)]
#[non_exhaustive]
pub struct WriteReport {
    /// The writes and what came of them.
    pub outcomes: Vec<(GradeWrite, GradeOutcome)>,
    /// Calls made: one coursework read per coursework named, one patch per grade sent.
    pub calls: u64,
}

impl WriteReport {
    /// How many were written.
    pub fn written(&self) -> usize {
        self.count(|o| matches!(o, GradeOutcome::Written))
    }
    /// How many were left unsent because another project owns the coursework.
    pub fn not_ours(&self) -> usize {
        self.count(|o| matches!(o, GradeOutcome::NotOurs))
    }
    /// How many failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, GradeOutcome::Failed(_)))
    }
    fn count(&self, f: impl Fn(&GradeOutcome) -> bool) -> usize {
        self.outcomes.iter().filter(|(_, o)| f(o)).count()
    }
}

impl Gradebook {
    /// Writes grades into Classroom, only to coursework this project created.
    ///
    /// Each coursework named is read first (`courseWork.get`, in batches) for its
    /// `associatedWithDeveloper`; a grade for coursework another project created is
    /// [`GradeOutcome::NotOurs`] and never sent. The rest are patched (`assignedGrade` or
    /// `draftGrade`, in batches). Needs `classroom.coursework.students`.
    pub async fn write_grades(&self, grades: &[GradeWrite]) -> WriteReport {
        let mut calls = 0u64;
        let mut works: Vec<(String, String)> = grades
            .iter()
            .map(|g| (g.course.clone(), g.course_work_id.clone()))
            .collect();
        works.sort();
        works.dedup();
        let mut owned: HashMap<(String, String), Result<bool, Arc<classroom::Error>>> =
            HashMap::new();
        for chunk in works.chunks(MAX_BATCH_CALLS) {
            let calls_here = chunk
                .iter()
                .map(|(course, work)| self.classroom.courses().course_work().get(course, work));
            let results = self.classroom.send_batched(calls_here).await;
            calls += chunk.len() as u64;
            for (key, result) in chunk.iter().zip(results) {
                owned.insert(
                    key.clone(),
                    result
                        .map(|w: CourseWork| w.created_by_this_project())
                        .map_err(Arc::new),
                );
            }
        }
        let mut outcomes: Vec<Option<GradeOutcome>> = Vec::with_capacity(grades.len());
        let mut send = Vec::new();
        for (i, g) in grades.iter().enumerate() {
            match owned.get(&(g.course.clone(), g.course_work_id.clone())) {
                Some(Ok(true)) => {
                    send.push(i);
                    outcomes.push(None);
                }
                Some(Ok(false)) => outcomes.push(Some(GradeOutcome::NotOurs)),
                Some(Err(e)) => outcomes.push(Some(GradeOutcome::Failed(e.clone()))),
                None => unreachable!("every coursework named was read"),
            }
        }
        for chunk in send.chunks(MAX_BATCH_CALLS) {
            let patches = chunk.iter().map(|&i| {
                let g = &grades[i];
                let (body, field) = if g.draft {
                    (
                        StudentSubmission {
                            draft_grade: Some(g.grade),
                            ..Default::default()
                        },
                        "draftGrade",
                    )
                } else {
                    (
                        StudentSubmission {
                            assigned_grade: Some(g.grade),
                            ..Default::default()
                        },
                        "assignedGrade",
                    )
                };
                self.classroom
                    .courses()
                    .course_work()
                    .student_submissions()
                    .patch(&g.course, &g.course_work_id, &g.submission_id, body)
                    .update_mask(FieldMask::from(field))
            });
            let results = self.classroom.send_batched(patches).await;
            calls += chunk.len() as u64;
            for (&i, result) in chunk.iter().zip(results) {
                outcomes[i] = Some(match result {
                    Ok(_) => GradeOutcome::Written,
                    // Ownership can change between the read and the write (an add-on
                    // removed): reported the same way, once Classroom said so.
                    Err(e) if e.is_project_permission_denied() => GradeOutcome::NotOurs,
                    Err(e) => GradeOutcome::Failed(Arc::new(e)),
                });
            }
        }
        WriteReport {
            outcomes: grades
                .iter()
                .cloned()
                .zip(
                    outcomes
                        .into_iter()
                        .map(|o| o.expect("every write has an outcome")),
                )
                .collect(),
            calls,
        }
    }
}
