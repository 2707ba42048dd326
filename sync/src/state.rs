//! What the sync last wrote to each course, kept between runs in a JSON file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::CourseField;
use super::apply::ApplyReport;
use super::plan::Plan;

/// What the sync last wrote to each course's fields, by alias: how it tells a teacher's edit
/// (a field that no longer holds what the sync wrote) from a field the roster changed
/// ([`SyncOptions::teacher_fields`](super::SyncOptions::teacher_fields)).
///
/// Kept in a JSON file between runs ([`SyncState::load`], [`SyncState::save`]); it holds
/// no secret. After an apply, [`SyncState::record`] takes in what the apply wrote. A course
/// the state has no record of (made before the state was kept, or the file was lost) has its
/// teacher-editable fields left as they are until they match the roster, when they are
/// recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SyncState {
    /// The file format's version (1).
    pub version: u32,
    /// Each course's fields as the sync last wrote them (or found them as the roster has
    /// them), by alias.
    pub courses: BTreeMap<String, Written>,
}

/// What stopped reading or writing the state file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a state file this version can read.
    #[error(
        "{path}: not a classroom-sync state file ({why}); move it away to start afresh: the \
         next run then works as a first run does (a full grades export; teacher-editable \
         fields recorded again as they match the roster)"
    )]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong with it.
        why: String,
    },
}

/// A course's fields as the sync last wrote them; a field it has not written is not there.
pub type Written = BTreeMap<CourseField, String>;

impl SyncState {
    /// Reads the state from `path`; a file that does not exist is an empty state (the first
    /// run).
    pub fn load(path: impl AsRef<Path>) -> Result<SyncState, StateError> {
        let state = read_state(path.as_ref(), |state: &SyncState| state.version)?;
        Ok(state.unwrap_or_else(Self::new))
    }

    /// An empty state.
    pub fn new() -> SyncState {
        SyncState {
            version: 1,
            courses: BTreeMap::new(),
        }
    }

    /// Writes the state to `path` whole or not at all: to a temporary file beside it, then
    /// renamed over it.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StateError> {
        write_state(self, path.as_ref())
    }

    /// Takes in what an apply of `plan` wrote: each course of the plan whose creation and
    /// update (if any) came out done or already so gets the fields the plan recorded for it
    /// ([`Plan::written`]); a course whose write failed keeps its earlier record.
    pub fn record(&mut self, plan: &Plan, report: &ApplyReport) {
        let failed: std::collections::HashSet<&str> = report
            .outcomes
            .iter()
            .filter(|o| o.change.writes_fields() && !o.outcome.is_ok())
            .map(|o| o.change.alias())
            .collect();
        for (alias, fields) in &plan.written {
            if !failed.contains(alias.as_str()) {
                self.courses.insert(alias.clone(), fields.clone());
            }
        }
    }
}

/// Reads a state file of version 1 (`version` tells a decoded state's); `None` when the file
/// does not exist (the first run). The roster's and the gradebook's state files share it.
pub(crate) fn read_state<T: DeserializeOwned>(
    path: &Path,
    version: impl Fn(&T) -> u32,
) -> Result<Option<T>, StateError> {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Io {
                path: shown,
                source,
            });
        }
    };
    let state: T = serde_json::from_slice(&bytes).map_err(|e| StateError::Invalid {
        path: shown.clone(),
        why: e.to_string(),
    })?;
    if version(&state) != 1 {
        return Err(StateError::Invalid {
            path: shown,
            why: format!("version {} (this version reads 1)", version(&state)),
        });
    }
    Ok(Some(state))
}

/// Writes a state file whole or not at all: to a temporary file beside it, then renamed over
/// it.
pub(crate) fn write_state<T: Serialize>(state: &T, path: &Path) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let mut file = std::fs::File::create(&temp).map_err(io)?;
    let json = serde_json::to_vec_pretty(state).expect("the state serializes");
    file.write_all(&json).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&temp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::{ChangeOutcome, Outcome, Summary};
    use crate::plan::{Change, FieldChange};

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sync-state-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.json")
    }

    #[test]
    fn a_state_survives_a_save_and_a_missing_file_is_a_first_run() {
        let path = temp("round-trip");
        assert_eq!(SyncState::load(&path).unwrap(), SyncState::new());
        let mut state = SyncState::new();
        state.courses.insert(
            "d:sis-1".into(),
            [(CourseField::Name, "Biology".to_string())].into(),
        );
        state.save(&path).unwrap();
        assert_eq!(SyncState::load(&path).unwrap(), state);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"name\": \"Biology\""), "{text}");
        let mut temp = path.as_os_str().to_owned();
        temp.push(".tmp");
        assert!(
            !std::path::Path::new(&temp).exists(),
            "written through a renamed file"
        );
    }

    #[test]
    fn a_file_that_is_not_a_state_is_refused_with_what_to_do() {
        for (name, text, says) in [
            ("garbage", "not json", "expected"),
            ("version", r#"{"version": 2, "courses": {}}"#, "version 2"),
        ] {
            let path = temp(name);
            std::fs::write(&path, text).unwrap();
            let error = SyncState::load(&path).unwrap_err().to_string();
            assert!(
                error.contains(says) && error.contains("move it away"),
                "{error}"
            );
            assert!(error.starts_with(&path.display().to_string()), "{error}");
        }
        let dir = temp("a-directory");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(SyncState::load(&dir), Err(StateError::Io { .. })));
    }

    #[test]
    fn only_courses_whose_writes_came_out_well_are_recorded() {
        let update = |alias: &str| Change::UpdateCourse {
            alias: alias.into(),
            changes: vec![FieldChange::new("name", "a", "b")],
        };
        let add = |alias: &str| Change::AddStudent {
            alias: alias.into(),
            email: "cy@school.example".into(),
        };
        let mut plan = Plan::new(Vec::new(), 4, 0);
        for alias in ["d:1", "d:2", "d:3", "d:4"] {
            plan.written
                .insert(alias.into(), [(CourseField::Name, "b".to_string())].into());
        }
        let outcome = |change, outcome| ChangeOutcome { change, outcome };
        let report = ApplyReport {
            outcomes: vec![
                outcome(update("d:1"), Outcome::Done),
                outcome(update("d:2"), Outcome::Skipped("no".into())),
                outcome(add("d:3"), Outcome::Skipped("no".into())),
                outcome(update("d:4"), Outcome::AlreadySo),
            ],
            calls: 0,
            batch_requests: 0,
            elapsed: std::time::Duration::ZERO,
            summary: Summary::default(),
        };
        let mut state = SyncState::new();
        state
            .courses
            .insert("d:2".into(), [(CourseField::Name, "a".to_string())].into());
        state.record(&plan, &report);
        let names: Vec<(&str, &str)> = state
            .courses
            .iter()
            .map(|(alias, w)| (alias.as_str(), w[&CourseField::Name].as_str()))
            .collect();
        assert_eq!(
            names,
            [("d:1", "b"), ("d:2", "a"), ("d:3", "b"), ("d:4", "b")]
        );
    }
}
