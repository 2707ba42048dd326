//! Reading a OneRoster v1.1 or v1.2 CSV directory: every row checked, every reference
//! resolved, and every problem named by file, line and column before anything else happens.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::lines::{CsvFile, not_utf8};
use super::manifest::{self, FileMode, Manifest, Version};
use super::v12;

/// A record's `status` (OneRoster's `StatusType`). An empty status (usual in bulk exports)
/// reads as active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// `active`, or no status.
    Active,
    /// `inactive` (OneRoster 1.0; 1.1 readers accept it).
    Inactive,
    /// `tobedeleted`.
    ToBeDeleted,
}

impl Status {
    /// Whether the record counts: only active records become Classroom state.
    pub fn is_active(self) -> bool {
        self == Status::Active
    }
}

/// A row of `orgs.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Org {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `status`.
    pub status: Status,
    /// `name`.
    pub name: String,
    /// `type` (school, district, ...).
    pub org_type: String,
    /// Every column of the row by its header name, trimmed (see [`Columns`]).
    pub columns: Columns,
    /// The line of the row in its file.
    pub line: u64,
}

/// A row of `users.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct User {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `status`.
    pub status: Status,
    /// `enabledUser`.
    pub enabled: bool,
    /// `role`: in OneRoster 1.1 users.csv's (teacher, student, administrator, aide, guardian,
    /// parent, proctor, relative); in 1.2 the role of the user's primary role in `roles.csv`
    /// (1.2 adds counselor, districtAdministrator, principal, siteAdministrator and
    /// systemAdministrator, drops administrator, and allows `ext:` extensions), in the
    /// standard's spelling. Empty only in a 1.2 delta export whose `roles.csv` does not list
    /// the user (their roles are unchanged).
    pub role: String,
    /// `username`.
    pub username: String,
    /// `givenName`.
    pub given_name: String,
    /// `familyName`.
    pub family_name: String,
    /// `email`: how the user is matched to a Google account.
    pub email: String,
    /// `agentSourcedIds`, split on commas: for a student, the users (parents, guardians,
    /// relatives) the sync may invite as Classroom guardians (see
    /// [`SyncOptions::invite_guardians`](crate::SyncOptions::invite_guardians)); for a parent,
    /// their children.
    pub agent_sourced_ids: Vec<String>,
    /// The line of the row in its file.
    pub line: u64,
}

/// A row of `courses.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Course {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `status`.
    pub status: Status,
    /// `title`.
    pub title: String,
    /// `courseCode`.
    pub course_code: String,
    /// `orgSourcedId`.
    pub org_sourced_id: String,
    /// Every column of the row by its header name, trimmed (see [`Columns`]).
    pub columns: Columns,
    /// The line of the row in its file.
    pub line: u64,
}

/// A row of `classes.csv`: one section of a course, which becomes one Classroom course.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Class {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `status`.
    pub status: Status,
    /// `title`.
    pub title: String,
    /// `courseSourcedId`.
    pub course_sourced_id: String,
    /// `classCode`.
    pub class_code: String,
    /// `classType` (homeroom or scheduled).
    pub class_type: String,
    /// `location`.
    pub location: String,
    /// `schoolSourcedId`.
    pub school_sourced_id: String,
    /// `termSourcedIds`, split on commas.
    pub term_sourced_ids: Vec<String>,
    /// Every column of the row by its header name, trimmed (see [`Columns`]).
    pub columns: Columns,
    /// The line of the row in its file.
    pub line: u64,
}

/// Every column of a row (of `orgs.csv`, `courses.csv` or `classes.csv`) by its header name,
/// with its trimmed value: the standard's columns the file has, empty or not, and its
/// `metadata.*` extensions. A column the file's header lacks is not there. The sync's course
/// naming (`CourseNaming`) renders names, sections and rooms from these.
pub type Columns = BTreeMap<String, String>;

/// A row of `enrollments.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enrollment {
    /// `sourcedId`.
    pub sourced_id: String,
    /// `status`.
    pub status: Status,
    /// `classSourcedId`.
    pub class_sourced_id: String,
    /// `schoolSourcedId`.
    pub school_sourced_id: String,
    /// `userSourcedId`.
    pub user_sourced_id: String,
    /// `role` (teacher, student, administrator, proctor).
    pub role: String,
    /// `primary`: the class's primary teacher, who will own its Classroom course.
    pub primary: bool,
    /// The line of the row in its file.
    pub line: u64,
}

/// A OneRoster v1.1 or v1.2 CSV export, read and checked by [`Roster::read`].
///
/// Read: `manifest.csv` (required, as OneRoster requires it), then `orgs.csv`, `users.csv`,
/// `courses.csv`, `classes.csv` and `enrollments.csv` as the manifest says: a `bulk` file
/// holds every record, a `delta` file the records changed since the last export (one gone is
/// marked `tobedeleted`), and an `absent` file is not read even if present (see
/// [`Manifest`]). Other files, such as `academicSessions.csv`, are not read.
///
/// The manifest's `oneroster.version` (`1.1` or `1.2`) says how. A 1.2 export is read into
/// the same values as its 1.1 twin, so the plan cannot tell them apart:
///
/// - `orgs.csv`, `courses.csv`, `classes.csv` and `enrollments.csv` have 1.1's columns in
///   1.2 too, and are read alike;
/// - `users.csv` has 1.2's columns: no `role` nor `orgSourcedIds` (a header with them is
///   refused, saying where 1.2 keeps them), and `userMasterIdentifier`,
///   `resourceSourcedIds`, `preferredGivenName`, `preferredMiddleName`,
///   `preferredFamilyName`, `primaryOrgSourcedId` and `pronouns` allowed. Of those, only
///   `primaryOrgSourcedId` is used (it must name an org);
/// - `roles.csv` (required with a bulk `users.csv`, and in the manifest as `file.roles`)
///   gives each [`User::role`]: the `role` of the user's `primary` role (`roleType`), the one
///   at their `primaryOrgSourcedId` if they have primary roles at several orgs, else the
///   first; active roles before those to be deleted. Its rows are checked like the others':
///   `roleType` primary or secondary, `role` one of 1.2's roles (or `ext:...`), the user, the
///   org and the user profile resolved; in a bulk `roles.csv`, every active user has an active
///   role, and one of each user's roles is primary;
/// - `userProfiles.csv`, when the manifest says the export has it, is checked (its header,
///   required values, unique ids, its users), for the references of `roles.csv`; nothing of
///   it is kept.
///
/// Checked, with every problem reported at once:
///
/// - the manifest: its header, `oneroster.version` 1.1 or 1.2, and a `bulk`, `delta` or
///   `absent` entry for each file the sync reads (the five, and `roles` in 1.2);
/// - every file's encoding: UTF-8, as OneRoster requires. A file in UTF-16 or UTF-32 is one
///   problem saying so; bytes that are not UTF-8 (Latin-1 text, say) are named by line,
///   column and byte, and their row is skipped;
/// - each file's header: every column is one of the standard's for that file in the
///   export's version (or an extension, `metadata.*`), none twice, and the columns the sync
///   needs are present;
/// - each row: as many fields as the header; required values present; `status`, `role`,
///   `roleType`, `classType`, `enabledUser` and `primary` hold values the standard allows;
/// - `sourcedId`s unique within each file;
/// - references resolve: a class's course and school, a course's org, an enrollment's class,
///   school and user, a user's agents (`agentSourcedIds`). A reference into a file that is not bulk may be to a record left out
///   as unchanged, and is fine unless the sync needs the record: an active class's course,
///   and an enrolled teacher's or student's user;
/// - a user with an active enrollment has an email, the key that matches them to a Google
///   account, and no two active users share one (they would be one account).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Roster {
    /// `orgs.csv`, in file order.
    pub orgs: Vec<Org>,
    /// `users.csv`, in file order.
    pub users: Vec<User>,
    /// `courses.csv`, in file order.
    pub courses: Vec<Course>,
    /// `classes.csv`, in file order.
    pub classes: Vec<Class>,
    /// `enrollments.csv`, in file order.
    pub enrollments: Vec<Enrollment>,
    /// The directory read, for errors found later (see [`InputError`]).
    pub dir: PathBuf,
    /// `manifest.csv`: whether each file is bulk, delta or absent.
    pub manifest: Manifest,
}

/// One thing wrong with the input, where it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct InputProblem {
    /// The file, e.g. `enrollments.csv`.
    pub file: String,
    /// The line (1 is the header), when the problem is in one.
    pub line: Option<u64>,
    /// The column's header name, when the problem is in one.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for InputProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, " line {line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, ", column {column}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The OneRoster files could not be used: every problem found, in file order. Nothing was
/// planned or applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct InputError {
    /// The directory read.
    pub dir: PathBuf,
    /// What is wrong, at least one: the first 100 problems found.
    pub problems: Vec<InputProblem>,
    /// How many problems were found in all, more than `problems` holds when there were over
    /// 100.
    pub found: usize,
}

/// At most this many problems are listed; a file that is wholly wrong says so soon enough.
const MAX_PROBLEMS: usize = 100;

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "the OneRoster files in {} cannot be used ({} problem{}{}); nothing was changed",
            self.dir.display(),
            self.found,
            if self.found == 1 { "" } else { "s" },
            if self.found > n {
                format!(", the first {n} listed")
            } else {
                String::new()
            }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// A file's columns as the standard defines them, and which of them the sync needs.
pub(crate) struct Table {
    pub(crate) file: &'static str,
    pub(crate) columns: &'static [&'static str],
    pub(crate) required: &'static [&'static str],
    /// Why the file is needed, said when it is missing.
    pub(crate) needed_for: &'static str,
    /// Columns of another version of the standard, each with where that version keeps what
    /// the column held: said when a header has one.
    pub(crate) moved: &'static [(&'static str, &'static str)],
}

/// Why each of the five files is needed, said when one is missing.
pub(crate) const FIVE: &str =
    " (a OneRoster export has orgs.csv, users.csv, courses.csv, classes.csv and enrollments.csv)";

const ORGS: Table = Table {
    file: "orgs.csv",
    columns: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "name",
        "type",
        "identifier",
        "parentSourcedId",
    ],
    required: &["sourcedId", "name", "type"],
    needed_for: FIVE,
    moved: &[],
};

const USERS: Table = Table {
    file: "users.csv",
    columns: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
        "orgSourcedIds",
        "role",
        "username",
        "userIds",
        "givenName",
        "familyName",
        "middleName",
        "identifier",
        "email",
        "sms",
        "phone",
        "agentSourcedIds",
        "grades",
        "password",
    ],
    required: &[
        "sourcedId",
        "enabledUser",
        "role",
        "username",
        "givenName",
        "familyName",
        "email",
    ],
    needed_for: FIVE,
    moved: &[],
};

const COURSES: Table = Table {
    file: "courses.csv",
    columns: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "schoolYearSourcedId",
        "title",
        "courseCode",
        "grades",
        "orgSourcedId",
        "subjects",
        "subjectCodes",
    ],
    required: &["sourcedId", "title", "orgSourcedId"],
    needed_for: FIVE,
    moved: &[],
};

const CLASSES: Table = Table {
    file: "classes.csv",
    columns: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "title",
        "grades",
        "courseSourcedId",
        "classCode",
        "classType",
        "location",
        "schoolSourcedId",
        "termSourcedIds",
        "subjects",
        "subjectCodes",
        "periods",
    ],
    required: &[
        "sourcedId",
        "title",
        "courseSourcedId",
        "classType",
        "schoolSourcedId",
        "termSourcedIds",
    ],
    needed_for: FIVE,
    moved: &[],
};

const ENROLLMENTS: Table = Table {
    file: "enrollments.csv",
    columns: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
        "primary",
        "beginDate",
        "endDate",
    ],
    required: &[
        "sourcedId",
        "classSourcedId",
        "schoolSourcedId",
        "userSourcedId",
        "role",
    ],
    needed_for: FIVE,
    moved: &[],
};

/// The OneRoster 1.1 column names of each file, in its order (what the synthetic district
/// writes).
pub(crate) fn columns(file: &str) -> &'static [&'static str] {
    [ORGS, USERS, COURSES, CLASSES, ENROLLMENTS]
        .into_iter()
        .find(|t| t.file == file)
        .map_or(&[], |t| t.columns)
}

/// The files of a version, in the order they are read: the five, and `users.csv` as that
/// version defines it.
fn tables(version: Version) -> [&'static Table; 5] {
    let users = match version {
        Version::V1_1 => &USERS,
        Version::V1_2 => &v12::USERS,
    };
    [&ORGS, users, &COURSES, &CLASSES, &ENROLLMENTS]
}

/// Collects problems, up to [`MAX_PROBLEMS`], and counts them all.
#[derive(Default)]
pub(crate) struct Problems {
    list: Vec<InputProblem>,
    found: usize,
}

impl Problems {
    /// None found: `Ok`; else the error listing them, for the files in `dir`.
    pub(crate) fn into_result(self, dir: &Path) -> Result<(), InputError> {
        if self.found == 0 {
            return Ok(());
        }
        Err(InputError {
            dir: dir.to_path_buf(),
            problems: self.list,
            found: self.found,
        })
    }

    pub(crate) fn add(
        &mut self,
        file: &str,
        line: Option<u64>,
        column: Option<&str>,
        message: String,
    ) {
        self.found += 1;
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(InputProblem {
                file: file.to_string(),
                line,
                column: column.map(str::to_string),
                message,
            });
        }
    }
}

/// One data row of a file, with where it is.
pub(crate) struct Row<'a> {
    table: &'a Table,
    version: Version,
    index: &'a HashMap<&'static str, usize>,
    /// The header's names, without a byte-order mark, trimmed.
    names: &'a [String],
    record: csv::StringRecord,
    pub(crate) line: u64,
}

impl Row<'_> {
    /// The trimmed value of a column; empty when the header lacks it.
    pub(crate) fn get(&self, column: &str) -> &str {
        self.index
            .get(column)
            .and_then(|&i| self.record.get(i))
            .map_or("", str::trim)
    }

    /// Every column of the row by its header name.
    fn columns(&self) -> Columns {
        self.names
            .iter()
            .zip(self.record.iter())
            .map(|(name, value)| (name.clone(), value.trim().to_string()))
            .collect()
    }

    pub(crate) fn required(&self, column: &str, problems: &mut Problems) -> String {
        let value = self.get(column);
        if value.is_empty() && self.index.contains_key(column) {
            problems.add(
                self.table.file,
                Some(self.line),
                Some(column),
                "a value is required".into(),
            );
        }
        value.to_string()
    }

    pub(crate) fn status(&self, problems: &mut Problems) -> Status {
        match self.get("status").to_ascii_lowercase().as_str() {
            "" | "active" => Status::Active,
            "inactive" => Status::Inactive,
            "tobedeleted" => Status::ToBeDeleted,
            other => {
                self.bad(
                    "status",
                    format!("{other:?} is not a status (active, tobedeleted)"),
                    problems,
                );
                Status::Active
            }
        }
    }

    /// The value of a column that holds one of `allowed`, in the standard's spelling (case
    /// is not held against it). OneRoster 1.2 lets an enumeration be extended with values
    /// that start with `ext:`; those are kept as written.
    pub(crate) fn one_of(&self, column: &str, allowed: &[&str], problems: &mut Problems) -> String {
        let value = self.get(column);
        if let Some(known) = allowed.iter().find(|a| a.eq_ignore_ascii_case(value)) {
            return known.to_string();
        }
        let extension = self.version == Version::V1_2 && value.starts_with("ext:");
        if !value.is_empty() && !extension {
            let extensions = match self.version {
                Version::V1_1 => "",
                Version::V1_2 => ", or an extension starting with ext:",
            };
            self.bad(
                column,
                format!("{value:?} is not one of {}{extensions}", allowed.join(", ")),
                problems,
            );
        }
        value.to_string()
    }

    fn boolean(&self, column: &str, default: bool, problems: &mut Problems) -> bool {
        match self.get(column).to_ascii_lowercase().as_str() {
            "" => default,
            "true" => true,
            "false" => false,
            other => {
                self.bad(column, format!("{other:?} is not true or false"), problems);
                default
            }
        }
    }

    pub(crate) fn bad(&self, column: &str, message: String, problems: &mut Problems) {
        problems.add(self.table.file, Some(self.line), Some(column), message);
    }
}

/// Reads one file: its header checked, then each row handed to `each` (rows with the wrong
/// number of fields or not in UTF-8 are reported and skipped). A missing or unreadable file is
/// one problem, without a line.
pub(crate) fn read_table(
    dir: &Path,
    table: &Table,
    version: Version,
    mode: FileMode,
    problems: &mut Problems,
    mut each: impl FnMut(&Row<'_>, &mut Problems),
) -> Option<HashSet<String>> {
    if mode == FileMode::Absent {
        // The export says it has no such file: one left in the directory is not read.
        return None;
    }
    let file = CsvFile::read(dir, table.file, table.needed_for, problems)?;
    let mut reader = file.reader();
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            match e.kind() {
                csv::ErrorKind::Utf8 { err, .. } => problems.add(
                    table.file,
                    Some(1),
                    None,
                    format!(
                        "the header is not UTF-8 text (column {}); OneRoster files are UTF-8: save the file as UTF-8",
                        err.field() + 1
                    ),
                ),
                _ => problems.add(
                    table.file,
                    Some(1),
                    None,
                    format!("the header cannot be read: {e}"),
                ),
            }
            return None;
        }
    };
    if header.is_empty() || header.iter().all(|h| h.trim().is_empty()) {
        problems.add(
            table.file,
            Some(1),
            None,
            "the file is empty: a header row is required".into(),
        );
        return None;
    }
    let mut index: HashMap<&'static str, usize> = HashMap::new();
    let mut header_ok = true;
    for (i, name) in header.iter().enumerate() {
        // A byte-order mark before the first name is common in exports from spreadsheets.
        let name = name.trim_start_matches('\u{feff}').trim();
        match table.columns.iter().find(|c| **c == name) {
            Some(known) => {
                if index.insert(known, i).is_some() {
                    problems.add(
                        table.file,
                        Some(1),
                        Some(name),
                        format!("column {name} appears twice in the header"),
                    );
                    header_ok = false;
                }
            }
            None if name.starts_with("metadata.") => {}
            None => {
                let hint = table
                    .columns
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(name))
                    .map(|c| format!(" (did you mean {c}? names are case-sensitive)"))
                    .or_else(|| {
                        table
                            .moved
                            .iter()
                            .find(|(column, _)| *column == name)
                            .map(|(_, place)| format!(" ({place})"))
                    })
                    .unwrap_or_default();
                problems.add(
                    table.file,
                    Some(1),
                    Some(name),
                    format!(
                        "unknown column {name:?} (column {}){hint}; OneRoster v{version} defines {}, and extensions start with metadata.",
                        i + 1,
                        table.columns.join(", ")
                    ),
                );
                header_ok = false;
            }
        }
    }
    for required in table.required {
        if !index.contains_key(required) {
            problems.add(
                table.file,
                Some(1),
                Some(required),
                format!("the header lacks the required column {required}"),
            );
            header_ok = false;
        }
    }
    if !header_ok {
        return None;
    }
    let width = header.len();
    let names: Vec<String> = header
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    // The ids of rows skipped (their width, text not UTF-8): references to them are not
    // reported again.
    let mut broken = HashSet::new();
    for result in reader.byte_records() {
        let raw = match result {
            Ok(r) => r,
            Err(e) => {
                problems.add(
                    table.file,
                    file.line_of(e.position()),
                    None,
                    format!("the row cannot be read: {e}"),
                );
                continue;
            }
        };
        let line = file.line_of(raw.position()).unwrap_or(0);
        let record = match csv::StringRecord::from_byte_record(raw) {
            Ok(r) => r,
            Err(e) => {
                let (field, valid) = (e.utf8_error().field(), e.utf8_error().valid_up_to());
                let raw = e.into_byte_record();
                // Skipped like a row of the wrong width: references to it are not reported.
                if let Some(id) = index.get("sourcedId").and_then(|&i| raw.get(i)) {
                    broken.insert(String::from_utf8_lossy(id).trim().to_string());
                }
                problems.add(
                    table.file,
                    Some(line),
                    header
                        .get(field)
                        .map(|h| h.trim_start_matches('\u{feff}').trim()),
                    not_utf8(raw.get(field).unwrap_or_default(), valid),
                );
                continue;
            }
        };
        if record.len() != width {
            let last = header.get(record.len().min(width)).unwrap_or("").trim();
            let message = if record.len() < width {
                format!(
                    "the row has {} fields but the header has {width}: the values from column {} ({last}) on are missing",
                    record.len(),
                    record.len() + 1
                )
            } else {
                format!(
                    "the row has {} fields but the header has {width}",
                    record.len()
                )
            };
            let column = (record.len() < width).then_some(last);
            if let Some(id) = index.get("sourcedId").and_then(|&i| record.get(i)) {
                broken.insert(id.trim().to_string());
            }
            problems.add(table.file, Some(line), column, message);
            continue;
        }
        let row = Row {
            table,
            version,
            index: &index,
            names: &names,
            record,
            line,
        };
        each(&row, problems);
    }
    Some(broken)
}

/// Records each `sourcedId` of a file; a second one is a problem naming both lines.
pub(crate) fn unique(
    seen: &mut HashMap<String, u64>,
    row: &Row<'_>,
    id: &str,
    problems: &mut Problems,
) {
    if id.is_empty() {
        return;
    }
    if let Some(first) = seen.insert(id.to_string(), row.line) {
        seen.insert(id.to_string(), first);
        row.bad(
            "sourcedId",
            format!("sourcedId {id:?} is already used on line {first}"),
            problems,
        );
    }
}

impl Roster {
    /// Reads and checks the OneRoster CSV files in `dir`. Any problem, anywhere, makes this an
    /// error listing every problem found, so a bad export never becomes a partial sync.
    pub fn read(dir: impl AsRef<Path>) -> Result<Roster, InputError> {
        let dir = dir.as_ref();
        let mut problems = Problems::default();
        // Without a usable manifest, the files are still checked (as bulk) for the report: as
        // 1.2 if there is a roles.csv, which only 1.2 has, else as 1.1.
        let manifest = manifest::read(dir, &mut problems).unwrap_or_default();
        let version = match manifest.oneroster_version.as_str() {
            "1.1" | "1.2" => manifest.version(),
            _ if dir.join(v12::ROLES.file).is_file() => Version::V1_2,
            _ => Version::V1_1,
        };
        let [orgs, users, courses, classes, enrollments] = tables(version);
        let mode = |name: &str| manifest.mode(name);
        let mut roster = Roster {
            dir: dir.to_path_buf(),
            ..Roster::default()
        };

        let mut seen = HashMap::new();
        let orgs_ok = read_table(dir, orgs, version, mode("orgs"), &mut problems, |row, p| {
            let org = Org {
                sourced_id: row.required("sourcedId", p),
                status: row.status(p),
                name: row.required("name", p),
                org_type: row.required("type", p),
                columns: row.columns(),
                line: row.line,
            };
            unique(&mut seen, row, &org.sourced_id, p);
            roster.orgs.push(org);
        });

        let mut seen = HashMap::new();
        // OneRoster 1.2's users.csv names each user's primary org, where its primary role is.
        let mut primary_orgs = HashMap::new();
        let users_ok = read_table(
            dir,
            users,
            version,
            mode("users"),
            &mut problems,
            |row, p| {
                row.required("enabledUser", p);
                row.required("role", p);
                let user = User {
                    sourced_id: row.required("sourcedId", p),
                    status: row.status(p),
                    enabled: row.boolean("enabledUser", true, p),
                    role: row.one_of(
                        "role",
                        &[
                            "administrator",
                            "aide",
                            "guardian",
                            "parent",
                            "proctor",
                            "relative",
                            "student",
                            "teacher",
                        ],
                        p,
                    ),
                    username: row.required("username", p),
                    given_name: row.get("givenName").to_string(),
                    family_name: row.get("familyName").to_string(),
                    email: row.get("email").to_string(),
                    agent_sourced_ids: split_ids(row.get("agentSourcedIds")),
                    line: row.line,
                };
                if !user.email.is_empty() && !plausible_email(&user.email) {
                    row.bad(
                        "email",
                        format!("{:?} is not an email address", user.email),
                        p,
                    );
                }
                unique(&mut seen, row, &user.sourced_id, p);
                primary_orgs.insert(
                    user.sourced_id.clone(),
                    row.get("primaryOrgSourcedId").to_string(),
                );
                roster.users.push(user);
            },
        );
        if version == Version::V1_2 {
            // Each user's role, from roles.csv.
            v12::read(
                dir,
                &manifest,
                &mut roster,
                v12::Usable {
                    orgs: orgs_ok.as_ref().filter(|_| mode("orgs").is_bulk()),
                    users: users_ok.as_ref().filter(|_| mode("users").is_bulk()),
                    users_read: users_ok.is_some(),
                },
                &primary_orgs,
                &mut problems,
            );
        }

        let mut seen = HashMap::new();
        let courses_ok = read_table(
            dir,
            courses,
            version,
            mode("courses"),
            &mut problems,
            |row, p| {
                let course = Course {
                    sourced_id: row.required("sourcedId", p),
                    status: row.status(p),
                    title: row.required("title", p),
                    course_code: row.get("courseCode").to_string(),
                    org_sourced_id: row.required("orgSourcedId", p),
                    columns: row.columns(),
                    line: row.line,
                };
                unique(&mut seen, row, &course.sourced_id, p);
                roster.courses.push(course);
            },
        );

        let mut seen = HashMap::new();
        let classes_ok = read_table(
            dir,
            classes,
            version,
            mode("classes"),
            &mut problems,
            |row, p| {
                row.required("classType", p);
                let class = Class {
                    sourced_id: row.required("sourcedId", p),
                    status: row.status(p),
                    title: row.required("title", p),
                    course_sourced_id: row.required("courseSourcedId", p),
                    class_code: row.get("classCode").to_string(),
                    class_type: row.one_of("classType", &["homeroom", "scheduled"], p),
                    location: row.get("location").to_string(),
                    school_sourced_id: row.required("schoolSourcedId", p),
                    term_sourced_ids: split_ids(&row.required("termSourcedIds", p)),
                    columns: row.columns(),
                    line: row.line,
                };
                unique(&mut seen, row, &class.sourced_id, p);
                roster.classes.push(class);
            },
        );

        let mut seen = HashMap::new();
        read_table(
            dir,
            enrollments,
            version,
            mode("enrollments"),
            &mut problems,
            |row, p| {
                row.required("role", p);
                let enrollment = Enrollment {
                    sourced_id: row.required("sourcedId", p),
                    status: row.status(p),
                    class_sourced_id: row.required("classSourcedId", p),
                    school_sourced_id: row.required("schoolSourcedId", p),
                    user_sourced_id: row.required("userSourcedId", p),
                    role: row.one_of(
                        "role",
                        &["administrator", "proctor", "student", "teacher"],
                        p,
                    ),
                    primary: row.boolean("primary", false, p),
                    line: row.line,
                };
                unique(&mut seen, row, &enrollment.sourced_id, p);
                roster.enrollments.push(enrollment);
            },
        );

        // References into a file whose header was unusable would all look broken, and those
        // into a file that is not bulk may be to records left out as unchanged: skip them.
        let bulk = |ok: Option<HashSet<String>>, name| ok.filter(|_| mode(name).is_bulk());
        let usable = Usable {
            orgs: bulk(orgs_ok, "orgs"),
            users: bulk(users_ok, "users"),
            courses: bulk(courses_ok, "courses"),
            classes: bulk(classes_ok, "classes"),
        };
        roster.check_references(&usable, &mut problems);
        super::guardians::check_agents(&roster, usable.users.as_ref(), &mut problems);
        roster.check_identities(&mut problems);
        roster.manifest = manifest;
        roster.check_partial(&mut problems);
        problems.into_result(dir)?;
        Ok(roster)
    }

    /// Every reference between files resolves, and every user the sync must match has an email.
    fn check_references(&self, usable: &Usable, problems: &mut Problems) {
        let orgs: HashMap<&str, &Org> = self
            .orgs
            .iter()
            .map(|o| (o.sourced_id.as_str(), o))
            .collect();
        let users: HashMap<&str, &User> = self
            .users
            .iter()
            .map(|u| (u.sourced_id.as_str(), u))
            .collect();
        let courses: HashMap<&str, &Course> = self
            .courses
            .iter()
            .map(|c| (c.sourced_id.as_str(), c))
            .collect();
        let classes: HashMap<&str, &Class> = self
            .classes
            .iter()
            .map(|c| (c.sourced_id.as_str(), c))
            .collect();
        let missing = |problems: &mut Problems,
                       file: &str,
                       line: u64,
                       column: &str,
                       what: &str,
                       id: &str,
                       in_file: &str| {
            problems.add(
                file,
                Some(line),
                Some(column),
                format!("{what} {id:?} is not in {in_file}"),
            );
        };
        for course in &self.courses {
            if unresolved(usable.orgs.as_ref(), &orgs, &course.org_sourced_id) {
                missing(
                    problems,
                    "courses.csv",
                    course.line,
                    "orgSourcedId",
                    "org",
                    &course.org_sourced_id,
                    "orgs.csv",
                );
            }
        }
        for class in &self.classes {
            if unresolved(usable.courses.as_ref(), &courses, &class.course_sourced_id) {
                missing(
                    problems,
                    "classes.csv",
                    class.line,
                    "courseSourcedId",
                    "course",
                    &class.course_sourced_id,
                    "courses.csv",
                );
            }
            if unresolved(usable.orgs.as_ref(), &orgs, &class.school_sourced_id) {
                missing(
                    problems,
                    "classes.csv",
                    class.line,
                    "schoolSourcedId",
                    "school",
                    &class.school_sourced_id,
                    "orgs.csv",
                );
            }
        }
        let mut reported_no_email = std::collections::HashSet::new();
        for e in &self.enrollments {
            if unresolved(usable.classes.as_ref(), &classes, &e.class_sourced_id) {
                missing(
                    problems,
                    "enrollments.csv",
                    e.line,
                    "classSourcedId",
                    "class",
                    &e.class_sourced_id,
                    "classes.csv",
                );
            }
            if unresolved(usable.orgs.as_ref(), &orgs, &e.school_sourced_id) {
                missing(
                    problems,
                    "enrollments.csv",
                    e.line,
                    "schoolSourcedId",
                    "school",
                    &e.school_sourced_id,
                    "orgs.csv",
                );
            }
            match users.get(e.user_sourced_id.as_str()) {
                None if unresolved(usable.users.as_ref(), &users, &e.user_sourced_id) => {
                    missing(
                        problems,
                        "enrollments.csv",
                        e.line,
                        "userSourcedId",
                        "user",
                        &e.user_sourced_id,
                        "users.csv",
                    );
                }
                Some(user)
                    if e.status.is_active()
                        && user.status.is_active()
                        && user.email.is_empty()
                        && matches!(e.role.as_str(), "teacher" | "student")
                        && reported_no_email.insert(user.sourced_id.as_str()) =>
                {
                    problems.add(
                        "users.csv",
                        Some(user.line),
                        Some("email"),
                        format!(
                            "user {:?} has an active enrollment (enrollments.csv line {}) but no email, which is how users are matched to Google accounts",
                            user.sourced_id, e.line
                        ),
                    );
                }
                _ => {}
            }
        }
    }

    /// In an export whose courses or users are not bulk, a record left out is unchanged, not
    /// gone; a reference to one is fine unless the sync needs what it holds: a class's course
    /// (to name the Classroom course and tell whether it is active) and an enrolled teacher's
    /// or student's user (the email that matches them to a Google account).
    fn check_partial(&self, problems: &mut Problems) {
        let needed = |name: &str,
                      mode: FileMode,
                      problems: &mut Problems,
                      file: &str,
                      line,
                      column,
                      id: &str| {
            let how = match mode {
                FileMode::Absent => "the export has no",
                _ => "it is not in this delta",
            };
            problems.add(
                file,
                Some(line),
                Some(column),
                format!("{name} {id:?}: {how} {name}s.csv, and the sync needs the {name}'s record; include it, or export {name}s.csv in bulk"),
            );
        };
        let courses_mode = self.manifest.mode("courses");
        if !courses_mode.is_bulk() {
            let courses: HashSet<&str> =
                self.courses.iter().map(|c| c.sourced_id.as_str()).collect();
            for class in &self.classes {
                if class.status.is_active() && !courses.contains(class.course_sourced_id.as_str()) {
                    needed(
                        "course",
                        courses_mode,
                        problems,
                        "classes.csv",
                        class.line,
                        "courseSourcedId",
                        &class.course_sourced_id,
                    );
                }
            }
        }
        let users_mode = self.manifest.mode("users");
        if !users_mode.is_bulk() {
            let users: HashSet<&str> = self.users.iter().map(|u| u.sourced_id.as_str()).collect();
            for e in &self.enrollments {
                if matches!(e.role.as_str(), "teacher" | "student")
                    && !users.contains(e.user_sourced_id.as_str())
                {
                    needed(
                        "user",
                        users_mode,
                        problems,
                        "enrollments.csv",
                        e.line,
                        "userSourcedId",
                        &e.user_sourced_id,
                    );
                }
            }
        }
    }

    /// No two people the sync may enroll share an email: they would be one Google account,
    /// enrolled in each other's classes and removed from their own.
    fn check_identities(&self, problems: &mut Problems) {
        let mut by_email: HashMap<String, &User> = HashMap::new();
        for user in &self.users {
            if !user.status.is_active() || !user.enabled || user.email.is_empty() {
                continue;
            }
            let key = user.email.trim().to_lowercase();
            match by_email.get(&key) {
                Some(first) => problems.add(
                    "users.csv",
                    Some(user.line),
                    Some("email"),
                    format!(
                        "users {:?} (line {}) and {:?} (this line) have the same email {:?}: both would be one Google account, enrolled in each other's classes; give each person their own email",
                        first.sourced_id, first.line, user.sourced_id, user.email
                    ),
                ),
                None => {
                    by_email.insert(key, user);
                }
            }
        }
    }
}

/// Which files could be read, so that references into them can be checked.
struct Usable {
    orgs: Option<HashSet<String>>,
    users: Option<HashSet<String>>,
    courses: Option<HashSet<String>>,
    classes: Option<HashSet<String>>,
}

/// Whether a reference to `id` is to be reported: its file was usable, and `id` is neither
/// in it nor on a row already reported.
pub(crate) fn unresolved<T>(
    usable: Option<&HashSet<String>>,
    rows: &HashMap<&str, T>,
    id: &str,
) -> bool {
    usable.is_some_and(|broken| !id.is_empty() && !rows.contains_key(id) && !broken.contains(id))
}

/// A list of `sourcedId`s as OneRoster writes them in one field: comma-separated, blanks
/// around each ignored.
fn split_ids(field: &str) -> Vec<String> {
    field
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Something `@` something: Classroom decides the rest.
fn plausible_email(email: &str) -> bool {
    email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !email.contains(char::is_whitespace)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Writes the five files (header and rows as CSV text) into a fresh directory.
    pub(crate) fn write_dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("classroom-roster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        dir
    }

    pub(crate) const ORGS_CSV: &str = "sourcedId,name,type\nsch,School,school\n";
    pub(crate) const USERS_CSV: &str = "\u{feff}sourcedId,status,enabledUser,role,username,givenName,familyName,email,metadata.house\n\
        t1,active,true,teacher,t1,Ann,Lee,Ann.Lee@school.example,red\n\
        t2,,true,teacher,t2,Bo,Ng,bo@school.example,\n\
        s1,active,true,student,s1,Cy,Ho,cy@school.example,blue\n\
        s2,tobedeleted,true,student,s2,Di,Oz,di@school.example,\n\
        s3,active,false,student,s3,Ed,Po,ed@school.example,\n";
    pub(crate) const COURSES_CSV: &str = "sourcedId,title,orgSourcedId\nc1,Biology,sch\n";
    pub(crate) const CLASSES_CSV: &str = "sourcedId,status,title,courseSourcedId,classType,location,schoolSourcedId,termSourcedIds\n\
        k1,active,Biology P1,c1,scheduled,Lab 2,sch,\"t1,t2\"\n\
        k2,tobedeleted,Biology P2,c1,scheduled,,sch,t1\n";
    pub(crate) const ENROLLMENTS_CSV: &str = "sourcedId,status,classSourcedId,schoolSourcedId,userSourcedId,role,primary\n\
        e1,active,k1,sch,t1,teacher,false\n\
        e2,active,k1,sch,t2,teacher,true\n\
        e3,active,k1,sch,s1,student,\n\
        e4,active,k1,sch,s2,student,\n\
        e5,active,k1,sch,s3,student,\n\
        e6,tobedeleted,k1,sch,s1,teacher,\n\
        e7,active,k2,sch,s1,student,\n";

    /// A bulk export's manifest, as OneRoster 1.1 requires one.
    pub(crate) const MANIFEST_CSV: &str = "propertyName,value\n\
        manifest.version,1.0\n\
        oneroster.version,1.1\n\
        file.orgs,bulk\n\
        file.users,bulk\n\
        file.courses,bulk\n\
        file.classes,bulk\n\
        file.enrollments,bulk\n\
        file.academicSessions,absent\n";

    /// Where each problem is: its line and column.
    pub(crate) fn positions(error: &InputError) -> Vec<(Option<u64>, Option<&str>)> {
        error
            .problems
            .iter()
            .map(|p| (p.line, p.column.as_deref()))
            .collect()
    }

    pub(crate) fn good(name: &str) -> PathBuf {
        write_dir(
            name,
            &[
                ("manifest.csv", MANIFEST_CSV),
                ("orgs.csv", ORGS_CSV),
                ("users.csv", USERS_CSV),
                ("courses.csv", COURSES_CSV),
                ("classes.csv", CLASSES_CSV),
                ("enrollments.csv", ENROLLMENTS_CSV),
            ],
        )
    }

    #[test]
    fn a_byte_order_mark_extension_columns_and_optional_columns_are_accepted() {
        let roster = Roster::read(good("accepted")).unwrap();
        assert_eq!(roster.users.len(), 5);
        assert_eq!(
            roster.users[0].sourced_id, "t1",
            "the BOM is not part of the name"
        );
        assert_eq!(
            roster.users[1].status,
            Status::Active,
            "an empty status is active"
        );
        assert_eq!(roster.users[3].status, Status::ToBeDeleted);
        assert!(!roster.users[4].enabled);
        assert_eq!(roster.classes[0].term_sourced_ids, ["t1", "t2"]);
        assert_eq!(roster.enrollments[1].line, 3, "lines count the header as 1");
    }

    #[test]
    fn positions_are_lines_as_an_editor_shows_them_whatever_the_line_ends() {
        // Line 2 holds a title with a line break inside quotes: the row spans lines 2 and 3.
        let lines = [
            "sourcedId,status,title,courseSourcedId,classType,location,schoolSourcedId,termSourcedIds",
            "k1,active,\"Biology",
            "Period 1\",c1,scheduled,Lab 2,sch,t1",
            "k2,active,Biology P2,c1,lecture,,sch,t1",
            "k1,active,Biology P3,c1,scheduled,,sch,t1",
            "k3,active,Biology P4,c1,scheduled,,sch",
        ];
        for (variant, end, bom) in [
            ("lf", "\n", ""),
            ("crlf", "\r\n", ""),
            ("bom-crlf", "\r\n", "\u{feff}"),
            ("cr", "\r", ""),
        ] {
            let dir = good(&format!("lines-{variant}"));
            let text = format!("{bom}{}{end}", lines.join(end));
            std::fs::write(dir.join("classes.csv"), text).unwrap();
            let error = Roster::read(&dir).unwrap_err();
            let at: Vec<(Option<u64>, Option<&str>)> = error
                .problems
                .iter()
                .filter(|p| p.file == "classes.csv")
                .map(|p| (p.line, p.column.as_deref()))
                .collect();
            assert_eq!(
                at,
                [
                    (Some(4), Some("classType")),
                    (Some(5), Some("sourcedId")),
                    (Some(6), Some("termSourcedIds")),
                ],
                "{variant}: {error}"
            );
            assert!(
                error.to_string().contains("already used on line 2"),
                "{variant}: {error}"
            );
        }
    }

    #[test]
    fn two_people_with_one_email_are_refused_naming_both_rows() {
        let dir = good("one-email");
        let mut users = USERS_CSV.to_string();
        // Lines 7 to 10: the same email as t1 (line 2) in another case, as s1 (line 4) but
        // disabled, as s2 (line 5, tobedeleted), and as bo (line 3) with spaces around it.
        users.push_str(
            "s4,active,true,student,s4,Al,Lee,ann.lee@SCHOOL.example,\n\
             s5,active,false,student,s5,Cy,Ho,cy@school.example,\n\
             s6,active,true,student,s6,Di,Oz,di@school.example,\n\
             s7,active,true,student,s7,Bo,Ng, bo@school.example ,\n",
        );
        std::fs::write(dir.join("users.csv"), users).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        let at = positions(&error);
        assert_eq!(
            at,
            [(Some(7), Some("email")), (Some(10), Some("email"))],
            "only people the sync may enroll collide: {error}"
        );
        let text = error.to_string();
        assert!(
            text.contains("users \"t1\" (line 2) and \"s4\" (this line) have the same email"),
            "{text}"
        );
        assert!(text.contains("users \"t2\" (line 3) and \"s7\""), "{text}");
    }

    #[test]
    fn the_manifest_is_required_and_read_as_the_standard_means_it() {
        let problems = |name: &str, manifest: Option<&str>| {
            let dir = good(name);
            match manifest {
                Some(text) => std::fs::write(dir.join("manifest.csv"), text).unwrap(),
                None => std::fs::remove_file(dir.join("manifest.csv")).unwrap(),
            }
            let error = Roster::read(&dir).unwrap_err();
            error
                .problems
                .iter()
                .map(|p| (p.line, p.message.clone()))
                .collect::<Vec<_>>()
        };
        let missing = problems("no-manifest", None);
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].1.starts_with("the file is missing from")
                && missing[0]
                    .1
                    .contains("delta export would be read as the whole roster"),
            "{missing:?}"
        );

        let dir = good("manifest-unreadable");
        std::fs::remove_file(dir.join("manifest.csv")).unwrap();
        std::fs::create_dir(dir.join("manifest.csv")).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert!(
            error.problems[0].message.starts_with("cannot be read"),
            "a directory in its place is not a missing file: {error}"
        );

        let header = problems("manifest-header", Some("name,value\r\n"));
        assert_eq!(header.len(), 1, "{header:?}");
        assert_eq!(header[0].0, Some(1));

        let full = MANIFEST_CSV.replace('\n', "\r\n");
        let wrong = full
            .replace("file.users,bulk", "file.users,partial")
            .replace("file.classes,bulk\r\n", "")
            .replace("oneroster.version,1.1", "oneroster.version,1.3")
            + "file.orgs,delta\r\n";
        let found = problems("manifest-values", Some(&wrong));
        let lines: Vec<Option<u64>> = found.iter().map(|p| p.0).collect();
        assert_eq!(lines, [Some(5), Some(9), Some(3), None], "{found:?}");
        assert!(
            found[0].1.contains("it must be bulk, delta or absent"),
            "{found:?}"
        );
        assert!(
            found[1].1.contains("file.orgs is already given on line 4"),
            "{found:?}"
        );
        assert!(
            found[2].1.contains("\"1.3\"") && found[2].1.contains("reads OneRoster 1.1 and 1.2"),
            "a version other than 1.1 and 1.2 is refused: {found:?}"
        );
        assert!(found[3].1.contains("lacks file.classes"), "{found:?}");

        let roster = Roster::read(good("manifest-good")).unwrap();
        assert_eq!(roster.manifest.oneroster_version, "1.1");
        assert_eq!(roster.manifest.mode("users"), FileMode::Bulk);
        assert_eq!(roster.manifest.mode("academicSessions"), FileMode::Absent);
    }

    #[test]
    fn a_header_in_the_wrong_case_is_named_with_the_right_one() {
        let dir = good("case");
        std::fs::write(
            dir.join("courses.csv"),
            "sourcedId,Title,orgSourcedId\nc1,Biology,sch\n",
        )
        .unwrap();
        let error = Roster::read(&dir).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("courses.csv line 1, column Title: unknown column")
                && text.contains("did you mean title?"),
            "{text}"
        );
    }

    #[test]
    fn bad_values_are_named_by_line_and_column() {
        let dir = good("values");
        std::fs::write(
            dir.join("enrollments.csv"),
            "sourcedId,status,classSourcedId,schoolSourcedId,userSourcedId,role,primary\n\
             e1,gone,k1,sch,t1,teacher,maybe\n\
             e2,active,k1,sch,,guardian,\n",
        )
        .unwrap();
        let error = Roster::read(&dir).unwrap_err();
        let at = positions(&error);
        assert_eq!(
            at,
            [
                (Some(2), Some("status")),
                (Some(2), Some("primary")),
                (Some(3), Some("userSourcedId")),
                (Some(3), Some("role")),
            ],
            "{error}"
        );
    }

    #[test]
    fn a_row_too_short_names_the_first_missing_column_and_one_too_long_does_not() {
        let dir = good("widths");
        let mut classes = CLASSES_CSV.to_string();
        classes.push_str("k3,active,Biology P3\nk4,active,Biology P4,c1,scheduled,,sch,t1,extra\n");
        std::fs::write(dir.join("classes.csv"), classes).unwrap();
        let mut enrollments = ENROLLMENTS_CSV.to_string();
        enrollments.push_str("e8,active,k3,sch,s1,student,\ne9,active,k4,sch,s1,student,\n");
        std::fs::write(dir.join("enrollments.csv"), enrollments).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        let got: Vec<(&str, Option<u64>, Option<&str>, &str)> = error
            .problems
            .iter()
            .map(|p| {
                (
                    p.file.as_str(),
                    p.line,
                    p.column.as_deref(),
                    p.message.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "classes.csv",
                    Some(4),
                    Some("courseSourcedId"),
                    "the row has 3 fields but the header has 8: the values from column 4 \
                     (courseSourcedId) on are missing"
                ),
                (
                    "classes.csv",
                    Some(5),
                    None,
                    "the row has 9 fields but the header has 8"
                ),
            ],
            "and the enrollments in the skipped classes are not reported again: {error}"
        );
    }

    #[test]
    fn an_enrolled_user_without_an_email_cannot_be_matched() {
        let dir = good("no-email");
        std::fs::write(
            dir.join("users.csv"),
            USERS_CSV.replace("cy@school.example", ""),
        )
        .unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(error.problems.len(), 1, "{error}");
        let p = &error.problems[0];
        assert_eq!(
            (p.file.as_str(), p.line, p.column.as_deref()),
            ("users.csv", Some(4), Some("email"))
        );
    }

    /// Reads the good files with `n` more users in users.csv, each with one bad status.
    fn with_bad_statuses(n: usize) -> InputError {
        let dir = good(&format!("bad-statuses-{n}"));
        let mut users = USERS_CSV.to_string();
        for i in 0..n {
            users.push_str(&format!(
                "x{i},gone,true,student,x{i},X,Y,x{i}@school.example,\n"
            ));
        }
        std::fs::write(dir.join("users.csv"), users).unwrap();
        Roster::read(&dir).unwrap_err()
    }

    #[test]
    fn the_first_hundred_problems_are_listed_and_all_are_counted() {
        let error = with_bad_statuses(100);
        assert_eq!(error.problems.len(), 100, "exactly 100 are all listed");
        assert_eq!(error.found, 100);
        assert!(
            error.to_string().starts_with(&format!(
                "the OneRoster files in {} cannot be used (100 problems); nothing was changed\n",
                error.dir.display()
            )),
            "100 problems are not said to be more: {error}"
        );
        assert_eq!(
            error.problems[99].line,
            Some(106),
            "the last listed is the 100th bad row (after the header and 5 good rows)"
        );

        let error = with_bad_statuses(101);
        assert_eq!(error.problems.len(), 100, "one past the cap is not listed");
        assert_eq!(error.found, 101, "but it is counted");
        let text = error.to_string();
        assert!(
            text.contains("(101 problems, the first 100 listed)"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 101, "a summary line and 100 problems");

        let error = with_bad_statuses(1);
        assert!(
            error.to_string().contains("(1 problem);"),
            "one problem is singular: {error}"
        );
    }

    /// The problems of users.csv, read after `spoil` has had the good directory.
    fn users_problems(name: &str, spoil: impl FnOnce(&Path)) -> Vec<InputProblem> {
        let dir = good(name);
        spoil(&dir);
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            error.found, 1,
            "{name}: one problem, nothing cascades: {error}"
        );
        assert_eq!(error.problems[0].file, "users.csv", "{error}");
        error.problems
    }

    #[test]
    fn a_missing_file_and_one_that_cannot_be_read_are_told_apart() {
        let missing = users_problems("missing-file", |dir| {
            std::fs::remove_file(dir.join("users.csv")).unwrap();
        });
        assert_eq!(
            (missing[0].line, missing[0].column.as_deref()),
            (None, None)
        );
        assert!(
            missing[0].message.starts_with("the file is missing from "),
            "{missing:?}"
        );

        let directory = users_problems("directory-file", |dir| {
            std::fs::remove_file(dir.join("users.csv")).unwrap();
            std::fs::create_dir(dir.join("users.csv")).unwrap();
        });
        assert_eq!(
            (directory[0].line, directory[0].column.as_deref()),
            (None, None),
            "the file is at fault, not its header line: {directory:?}"
        );
        assert!(
            directory[0].message.starts_with("cannot be read: "),
            "a directory is there, not missing: {directory:?}"
        );

        #[cfg(unix)]
        {
            // A link to itself: it exists, and opening it fails with something other than
            // "not found".
            let looped = users_problems("looped-file", |dir| {
                std::fs::remove_file(dir.join("users.csv")).unwrap();
                std::os::unix::fs::symlink("users.csv", dir.join("users.csv")).unwrap();
            });
            assert_eq!((looped[0].line, looped[0].column.as_deref()), (None, None));
            assert!(
                looped[0].message.starts_with("cannot be read: "),
                "{looped:?}"
            );
        }
    }

    #[test]
    fn text_that_is_not_utf8_is_named_by_line_and_column_and_cascades_nowhere() {
        // Ann's given name in Latin-1, as a spreadsheet might save it; Ann is enrolled, and
        // her enrollment is not reported as naming an unknown user.
        let row = users_problems("latin1-row", |dir| {
            let mut bytes = USERS_CSV.as_bytes().to_vec();
            let at = USERS_CSV.find(",Ann,").unwrap() + ",Ann".len();
            bytes.insert(at, 0xE9);
            std::fs::write(dir.join("users.csv"), bytes).unwrap();
        });
        assert_eq!(
            (row[0].line, row[0].column.as_deref()),
            (Some(2), Some("givenName")),
            "{row:?}"
        );
        assert!(
            row[0].message.contains("not UTF-8") && row[0].message.contains("byte 4"),
            "{row:?}"
        );

        let bom_column = users_problems("latin1-first-column", |dir| {
            let mut bytes = USERS_CSV.as_bytes().to_vec();
            bytes.extend_from_slice(b"\xFFz,active,true,student,z,Zo,Ma,z@school.example,\n");
            std::fs::write(dir.join("users.csv"), bytes).unwrap();
        });
        assert_eq!(
            bom_column[0].column.as_deref(),
            Some("sourcedId"),
            "the first column is named without its byte-order mark: {bom_column:?}"
        );

        let header = users_problems("latin1-header", |dir| {
            let mut bytes = USERS_CSV.as_bytes().to_vec();
            let at = USERS_CSV.find(",role").unwrap() + ",ro".len();
            bytes[at] = 0xFC;
            std::fs::write(dir.join("users.csv"), bytes).unwrap();
        });
        assert_eq!(
            (header[0].line, header[0].column.as_deref()),
            (Some(1), None)
        );
        assert!(
            header[0].message.contains("not UTF-8") && header[0].message.contains("column 4"),
            "{header:?}"
        );
    }

    #[test]
    fn an_email_needs_something_before_and_after_its_at_sign_and_no_space() {
        // Users with no enrollment: only the format of their email is checked.
        let emails = [
            ("ok", "a@b", true),
            ("none", "", true),
            ("no-local", "@school.example", false),
            ("no-domain", "dee@", false),
            ("space", "dee lee@school.example", false),
            ("no-at", "dee.school.example", false),
        ];
        let dir = good("emails");
        let mut users = USERS_CSV.to_string();
        for (id, email, _) in emails {
            users.push_str(&format!("{id},active,true,student,{id},Dee,Lee,{email},\n"));
        }
        std::fs::write(dir.join("users.csv"), users).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        let flagged: Vec<(Option<u64>, Option<String>, String)> = error
            .problems
            .iter()
            .map(|p| (p.line, p.column.clone(), p.message.clone()))
            .collect();
        let want: Vec<(Option<u64>, Option<String>, String)> = emails
            .iter()
            .zip(7..)
            .filter(|((_, _, ok), _)| !ok)
            .map(|((_, email, _), line)| {
                let message = format!("{email:?} is not an email address");
                (Some(line), Some("email".to_string()), message)
            })
            .collect();
        assert_eq!(
            flagged, want,
            "each half of the check refuses on its own; an empty email is not malformed"
        );
    }

    #[test]
    fn only_a_user_the_sync_must_match_needs_an_email_and_is_named_once() {
        let dir = good("who-needs-an-email");
        let mut users = USERS_CSV.to_string();
        users.push_str(
            "u1,active,true,student,u1,Ul,Ma,,\n\
             u2,tobedeleted,true,student,u2,Uv,Ma,,\n\
             u3,active,true,administrator,u3,Uw,Ma,,\n\
             u4,active,true,student,u4,Ux,Ma,,\n",
        );
        let mut enrollments = ENROLLMENTS_CSV.to_string();
        enrollments.push_str(
            "f1,tobedeleted,k1,sch,u1,student,\n\
             f2,active,k1,sch,u2,student,\n\
             f3,active,k1,sch,u3,administrator,\n\
             f4,active,k1,sch,u4,student,\n\
             f5,active,k2,sch,u4,student,\n",
        );
        std::fs::write(dir.join("users.csv"), users).unwrap();
        std::fs::write(dir.join("enrollments.csv"), enrollments).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        let at: Vec<(&str, Option<u64>, Option<&str>)> = error
            .problems
            .iter()
            .map(|p| (p.file.as_str(), p.line, p.column.as_deref()))
            .collect();
        assert_eq!(
            at,
            [("users.csv", Some(10), Some("email"))],
            "not a user whose enrollment is to be deleted, nor one to be deleted, nor an \
             administrator; the user enrolled twice once: {error}"
        );
        assert!(
            error.problems[0]
                .message
                .contains("(enrollments.csv line 12)"),
            "the first active enrollment is named: {error}"
        );
    }

    #[test]
    fn a_file_without_a_header_is_one_problem() {
        for (name, text) in [("no-bytes", ""), ("blank-header", " \n")] {
            let dir = good(name);
            std::fs::write(dir.join("classes.csv"), text).unwrap();
            let error = Roster::read(&dir).unwrap_err();
            let at: Vec<(&str, Option<u64>, &str)> = error
                .problems
                .iter()
                .map(|p| (p.file.as_str(), p.line, p.message.as_str()))
                .collect();
            assert_eq!(
                at,
                [(
                    "classes.csv",
                    Some(1),
                    "the file is empty: a header row is required"
                )],
                "{name:?}: not a blank column name, nor missing columns: {error}"
            );
        }
    }
}
