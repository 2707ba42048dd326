//! What the last grades export read, kept between runs in a JSON file: the watermarks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use classroom::chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::StateError;
use crate::state::{read_state, write_state};

/// Where each course's last grades export stopped, by class `sourcedId`: kept in a JSON file
/// (`grades_state` in the tool's config, beside the roster sync's state file), holding no
/// secret and no grade.
///
/// A course with no entry (the first run, a new class, or a file lost or moved away) is read
/// in full: a lost watermark costs a full read, never a silent gap.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GradesState {
    /// The file format's version (1).
    pub version: u32,
    /// Each course's marks, by class `sourcedId`.
    pub courses: BTreeMap<String, CourseMark>,
}

/// How far one course has been read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CourseMark {
    /// The course's Classroom id.
    pub course_id: String,
    /// When the run that last exported the course started (the exporting machine's clock):
    /// a due date passed since then makes the unsubmitted work of that coursework missing.
    pub read_at: Option<DateTime<Utc>>,
    /// The newest coursework read.
    pub course_work: Watermark,
    /// The newest student submission read.
    pub submissions: Watermark,
    /// The coursework exported as line items (graded, published), by id, with its due time.
    pub line_items: BTreeMap<String, Option<DateTime<Utc>>>,
    /// Students' OneRoster `sourcedId`s by Classroom user id, as matched by email.
    pub students: BTreeMap<String, String>,
}

/// The newest `updateTime` read from a list, and the ids of the items that had exactly it:
/// an item is new when it was updated later, or at that same millisecond but is not one of
/// them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Watermark {
    /// The newest `updateTime` read; none before anything was read.
    pub time: Option<DateTime<Utc>>,
    /// The ids of the items updated at `time`.
    pub ids: BTreeSet<String>,
}

impl Watermark {
    /// A watermark at `time` with no item read at it: everything updated from `time` on is
    /// new (`--since`).
    pub fn at(time: DateTime<Utc>) -> Watermark {
        Watermark {
            time: Some(time),
            ids: BTreeSet::new(),
        }
    }

    /// Whether an item updated at `time` is newer than the mark. An item without a time
    /// counts as new, so it is never missed.
    pub fn is_new(&self, time: Option<DateTime<Utc>>, id: &str) -> bool {
        match (self.time, time) {
            (Some(mark), Some(t)) => t > mark || (t == mark && !self.ids.contains(id)),
            _ => true,
        }
    }

    /// Whether an item updated at `time` is older than the mark: with items read newest
    /// first, the list can stop there.
    pub fn is_before(&self, time: Option<DateTime<Utc>>) -> bool {
        matches!((self.time, time), (Some(mark), Some(t)) if t < mark)
    }

    /// Takes in an item read.
    pub fn advance(&mut self, time: Option<DateTime<Utc>>, id: &str) {
        let Some(t) = time else { return };
        match self.time {
            Some(mark) if t < mark => {}
            Some(mark) if t == mark => {
                self.ids.insert(id.to_string());
            }
            _ => {
                self.time = Some(t);
                self.ids = [id.to_string()].into();
            }
        }
    }
}

impl GradesState {
    /// An empty state: every course is read in full.
    pub fn new() -> GradesState {
        GradesState {
            version: 1,
            courses: BTreeMap::new(),
        }
    }

    /// Reads the state from `path`; a file that does not exist is an empty state.
    pub fn load(path: impl AsRef<Path>) -> Result<GradesState, StateError> {
        let state = read_state(path.as_ref(), |state: &GradesState| state.version)?;
        Ok(state.unwrap_or_else(Self::new))
    }

    /// Writes the state to `path` whole or not at all (a temporary file renamed over it).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StateError> {
        write_state(self, path.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Option<DateTime<Utc>> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_item_at_the_marks_millisecond_is_new_unless_it_was_read_there() {
        let mut mark = Watermark::default();
        assert!(
            mark.is_new(t("2025-01-01T00:00:00Z"), "a"),
            "no mark: all new"
        );
        mark.advance(t("2025-01-01T00:00:01Z"), "a");
        mark.advance(t("2025-01-01T00:00:01Z"), "b");
        mark.advance(t("2025-01-01T00:00:00Z"), "c");
        assert_eq!(mark.ids, ["a".to_string(), "b".to_string()].into());
        assert!(!mark.is_new(t("2025-01-01T00:00:01Z"), "a"));
        assert!(
            mark.is_new(t("2025-01-01T00:00:01Z"), "d"),
            "a tie not read"
        );
        assert!(!mark.is_new(t("2025-01-01T00:00:00Z"), "c"));
        assert!(mark.is_new(t("2025-01-01T00:00:02Z"), "a"));
        assert!(mark.is_new(None, "x"), "no time: never skipped");
        assert!(mark.is_before(t("2025-01-01T00:00:00Z")));
        assert!(!mark.is_before(t("2025-01-01T00:00:01Z")), "ties are read");
    }

    #[test]
    fn a_lost_file_is_an_empty_state_and_a_saved_one_reads_back() {
        let dir = std::env::temp_dir().join(format!("grades-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("grades.json");
        let _ = std::fs::remove_file(&path);
        assert_eq!(GradesState::load(&path).unwrap(), GradesState::new());
        let mut state = GradesState::new();
        let mut mark = CourseMark::default();
        mark.course_work.advance(t("2025-01-01T00:00:01Z"), "w1");
        state.courses.insert("class-1".into(), mark);
        state.save(&path).unwrap();
        assert_eq!(GradesState::load(&path).unwrap(), state);
        std::fs::write(&path, r#"{"version": 9, "courses": {}}"#).unwrap();
        let error = GradesState::load(&path).unwrap_err().to_string();
        assert!(error.contains("version 9"), "{error}");
    }
}
