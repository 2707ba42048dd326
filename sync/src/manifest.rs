//! `manifest.csv`: what an export holds, and whether each file is the whole truth.
//!
//! OneRoster 1.1 and 1.2 require the manifest. Its rows are `propertyName,value` pairs; those
//! the sync reads are `oneroster.version` (`1.1` or `1.2`, which says how the other files are
//! read) and one `file.<name>` per file, saying `bulk` (the file holds every record: one it
//! lacks is gone), `delta` (the file holds the records changed since the last export: one it
//! lacks is unchanged, one gone is marked `tobedeleted`) or `absent` (the export has no such
//! file).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::lines::{CsvFile, not_utf8};
use super::roster::Problems;

/// The file's name in the export.
pub(crate) const FILE: &str = "manifest.csv";

/// How an export holds one of its files, as its manifest says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FileMode {
    /// `bulk`: every record; one the file lacks is gone.
    #[default]
    Bulk,
    /// `delta`: the records changed since the last export; one the file lacks is unchanged,
    /// and one gone is there with status `tobedeleted`.
    Delta,
    /// `absent`: the export has no such file; nothing is known of its records.
    Absent,
}

impl FileMode {
    /// Whether a record the file lacks is gone: only a `bulk` file says so.
    pub fn is_bulk(self) -> bool {
        self == FileMode::Bulk
    }
}

/// The versions of OneRoster whose CSV exports the sync reads, as `oneroster.version` names
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Version {
    /// `1.1`; also how files are checked when the manifest cannot say.
    #[default]
    V1_1,
    /// `1.2`: users' roles in `roles.csv`, and new columns in `users.csv`.
    V1_2,
}

impl Version {
    /// The files the manifest must give an entry for: those the sync reads.
    fn needed(self) -> &'static [&'static str] {
        match self {
            Version::V1_1 => &["orgs", "users", "courses", "classes", "enrollments"],
            Version::V1_2 => &[
                "orgs",
                "users",
                "courses",
                "classes",
                "enrollments",
                "roles",
            ],
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        })
    }
}

/// `manifest.csv`, read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Manifest {
    /// `oneroster.version`: `1.1` or `1.2`.
    pub oneroster_version: String,
    /// Each `file.<name>` entry by name (`enrollments`, not `enrollments.csv`).
    pub files: BTreeMap<String, FileMode>,
    /// The line of each `file.<name>` entry, by name, for problems found later.
    pub(crate) lines: BTreeMap<String, u64>,
}

impl Manifest {
    /// The version the files are read as: 1.2 when the manifest says so, else 1.1.
    pub(crate) fn version(&self) -> Version {
        if self.oneroster_version == "1.2" {
            Version::V1_2
        } else {
            Version::V1_1
        }
    }

    /// How the export holds `name` (`enrollments`, say); a file the manifest does not name
    /// reads as `bulk`, which only a manifest made by hand can lead to: [`Roster::read`](crate::Roster::read) requires an
    /// entry for every file the sync reads.
    pub fn mode(&self, name: &str) -> FileMode {
        self.files.get(name).copied().unwrap_or_default()
    }
}

/// Reads `manifest.csv` from `dir`, requiring an entry for each file its version's sync
/// reads; problems go to `problems`, and `None` means no manifest could be had.
pub(crate) fn read(dir: &Path, problems: &mut Problems) -> Option<Manifest> {
    let file = CsvFile::read(
        dir,
        FILE,
        ": OneRoster 1.1 and 1.2 require it, and it says whether each file is the whole roster (bulk) or the changes since the last export (delta); without it a delta export would be read as the whole roster and every member it does not mention removed",
        problems,
    )?;
    let mut reader = file.reader();
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|n| n.trim_start_matches('\u{feff}').trim().to_string())
            .collect(),
        Err(e) => {
            if let csv::ErrorKind::Utf8 { err, .. } = e.kind() {
                problems.add(
                    FILE,
                    Some(1),
                    None,
                    format!(
                        "the header is not UTF-8 text (column {}); OneRoster files are UTF-8: save the file as UTF-8",
                        err.field() + 1
                    ),
                );
                return None;
            }
            problems.add(
                FILE,
                Some(1),
                None,
                format!("the header cannot be read: {e}"),
            );
            return None;
        }
    };
    if header != ["propertyName", "value"] {
        problems.add(
            FILE,
            Some(1),
            None,
            format!(
                "the header is {:?}; a OneRoster manifest's is propertyName,value",
                header.join(",")
            ),
        );
        return None;
    }
    let mut manifest = Manifest::default();
    let mut version_line = None;
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for record in reader.byte_records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = file.line_of(e.position());
                problems.add(FILE, line, None, format!("the row cannot be read: {e}"));
                continue;
            }
        };
        let line = file.line_of(record.position()).unwrap_or(0);
        let record = match csv::StringRecord::from_byte_record(record) {
            Ok(r) => r,
            Err(e) => {
                let (field, valid) = (e.utf8_error().field(), e.utf8_error().valid_up_to());
                let raw = e.into_byte_record();
                problems.add(
                    FILE,
                    Some(line),
                    header.get(field).map(String::as_str),
                    not_utf8(raw.get(field).unwrap_or_default(), valid),
                );
                continue;
            }
        };
        let (Some(name), Some(value), 2) = (record.get(0), record.get(1), record.len()) else {
            problems.add(
                FILE,
                Some(line),
                None,
                format!(
                    "the row has {} fields; a manifest's rows are propertyName,value",
                    record.len()
                ),
            );
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if let Some(first) = seen.insert(name.to_string(), line) {
            seen.insert(name.to_string(), first);
            problems.add(
                FILE,
                Some(line),
                Some("propertyName"),
                format!("{name} is already given on line {first}"),
            );
            continue;
        }
        if name == "oneroster.version" {
            manifest.oneroster_version = value.to_string();
            version_line = Some(line);
        } else if let Some(file) = name.strip_prefix("file.") {
            let mode = match value.to_ascii_lowercase().as_str() {
                "bulk" => FileMode::Bulk,
                "delta" => FileMode::Delta,
                "absent" => FileMode::Absent,
                _ => {
                    problems.add(
                        FILE,
                        Some(line),
                        Some("value"),
                        format!("{name} is {value:?}; it must be bulk, delta or absent"),
                    );
                    // Named, if wrongly: the files are still checked (as bulk) for the report.
                    FileMode::Bulk
                }
            };
            manifest.files.insert(file.to_string(), mode);
            manifest.lines.insert(file.to_string(), line);
        }
    }
    match version_line {
        None => problems.add(
            FILE,
            None,
            None,
            "it lacks oneroster.version (1.1 or 1.2, the versions whose files this sync reads)"
                .into(),
        ),
        Some(line) if !matches!(manifest.oneroster_version.as_str(), "1.1" | "1.2") => problems
            .add(
                FILE,
                Some(line),
                Some("value"),
                format!(
                    "oneroster.version is {:?}; this sync reads OneRoster 1.1 and 1.2 exports",
                    manifest.oneroster_version
                ),
            ),
        Some(_) => {}
    }
    for name in manifest.version().needed() {
        if !manifest.files.contains_key(*name) {
            problems.add(
                FILE,
                None,
                None,
                format!("it lacks file.{name}: say whether {name}.csv is bulk, delta or absent"),
            );
        }
    }
    Some(manifest)
}
