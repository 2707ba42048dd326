//! The export as OneRoster CSV files: `manifest.csv`, `categories.csv`, `lineItems.csv`,
//! `results.csv` and `academicSessions.csv`, as 1.1 or 1.2.

use std::path::Path;

use classroom::chrono::{DateTime, SecondsFormat, Utc};

use super::Export;
use crate::FileMode;

/// The OneRoster version the files are written as.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Version {
    /// 1.1: dates as `YYYY-MM-DD`, a score on every result.
    #[default]
    V1_1,
    /// 1.2: line item dates as date-times, `weight` on categories, results with no grade
    /// without a score, and `late` and `missing` on results.
    V1_2,
}

impl Version {
    /// As `oneroster.version` writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_1 => "1.1",
            Version::V1_2 => "1.2",
        }
    }
}

/// The data files a manifest lists for each version; those the export does not write are
/// `absent`.
const FILES_1_1: &[&str] = &[
    "academicSessions",
    "categories",
    "classResources",
    "classes",
    "courseResources",
    "courses",
    "demographics",
    "enrollments",
    "lineItems",
    "orgs",
    "resources",
    "results",
    "users",
];
const FILES_1_2: &[&str] = &[
    "academicSessions",
    "categories",
    "classResources",
    "classes",
    "courseResources",
    "courses",
    "demographics",
    "enrollments",
    "lineItemLearningObjectiveIds",
    "lineItems",
    "lineItemScoreScales",
    "orgs",
    "resources",
    "resultLearningObjectiveIds",
    "results",
    "resultScoreScales",
    "roles",
    "scoreScales",
    "userProfiles",
    "userResources",
    "users",
];
/// The files an export writes.
const WRITTEN: &[&str] = &["academicSessions", "categories", "lineItems", "results"];

fn writer(dir: &Path, name: &str) -> std::io::Result<csv::Writer<std::fs::File>> {
    let file = std::fs::File::create(dir.join(format!("{name}.csv")))?;
    Ok(csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(file))
}

fn number(v: f64) -> String {
    // Grades keep two decimals in Classroom; no trailing ".0" for whole numbers.
    let s = format!("{v}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Export {
    /// Writes the export into `dir` (made if missing) as OneRoster `version` CSV: lines end
    /// in CRLF, UTF-8, a header on every file, and a manifest saying `bulk` or `delta` for
    /// the files written and `absent` for the rest.
    pub fn write(&self, dir: impl AsRef<Path>, version: Version) -> std::io::Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir)?;
        let delta = self.mode == FileMode::Delta;
        let status = |_: Option<DateTime<Utc>>| -> String {
            if delta {
                "active".into()
            } else {
                String::new()
            }
        };
        let modified = |t: Option<DateTime<Utc>>| -> String {
            if delta {
                t.map(stamp).unwrap_or_default()
            } else {
                String::new()
            }
        };
        let v12 = version == Version::V1_2;
        let date = |t: DateTime<Utc>| {
            if v12 {
                stamp(t)
            } else {
                t.date_naive().to_string()
            }
        };

        let mut w = writer(dir, "categories")?;
        let mut header = vec!["sourcedId", "status", "dateLastModified", "title"];
        if v12 {
            header.push("weight");
        }
        w.write_record(&header)?;
        for c in &self.categories {
            let mut row = vec![
                c.sourced_id.clone(),
                status(c.modified),
                modified(c.modified),
            ];
            row.push(c.title.clone());
            if v12 {
                row.push(c.weight.map(number).unwrap_or_default());
            }
            w.write_record(&row)?;
        }
        w.flush()?;

        let mut w = writer(dir, "academicSessions")?;
        w.write_record([
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "type",
            "startDate",
            "endDate",
            "parentSourcedId",
            "schoolYear",
        ])?;
        for p in &self.grading_periods {
            let year = p.end.or(p.start).map(|d| d.format("%Y").to_string());
            w.write_record([
                p.sourced_id.as_str(),
                &status(None),
                &modified(None),
                &p.title,
                "gradingPeriod",
                &p.start.map(|d| d.to_string()).unwrap_or_default(),
                &p.end.map(|d| d.to_string()).unwrap_or_default(),
                &p.parent,
                &year.unwrap_or_default(),
            ])?;
        }
        w.flush()?;

        let mut w = writer(dir, "lineItems")?;
        w.write_record([
            "sourcedId",
            "status",
            "dateLastModified",
            "title",
            "description",
            "assignDate",
            "dueDate",
            "classSourcedId",
            "categorySourcedId",
            "gradingPeriodSourcedId",
            "resultValueMin",
            "resultValueMax",
        ])?;
        for l in &self.line_items {
            w.write_record([
                l.sourced_id.as_str(),
                &status(l.modified),
                &modified(l.modified),
                &l.title,
                &l.description,
                &date(l.assign),
                &date(l.due),
                &l.class_sourced_id,
                &l.category_sourced_id,
                &l.grading_period_sourced_id,
                "0",
                &number(l.max_points),
            ])?;
        }
        w.flush()?;

        let mut w = writer(dir, "results")?;
        let mut header = vec![
            "sourcedId",
            "status",
            "dateLastModified",
            "lineItemSourcedId",
            "studentSourcedId",
            "scoreStatus",
            "score",
            "scoreDate",
            "comment",
        ];
        if v12 {
            header.extend(["late", "missing"]);
        }
        w.write_record(&header)?;
        for r in &self.results {
            let score = match (r.score, v12) {
                (Some(s), _) => number(s),
                (None, true) => String::new(),
                (None, false) => "0".into(),
            };
            let mut row = vec![
                r.sourced_id.clone(),
                status(Some(r.score_date)),
                modified(Some(r.score_date)),
                r.line_item_sourced_id.clone(),
                r.student_sourced_id.clone(),
                r.status.as_str().to_string(),
                score,
                date(r.score_date),
                String::new(),
            ];
            if v12 {
                let missing = r.status == super::ScoreStatus::NotSubmitted;
                row.push(r.late.to_string());
                row.push(missing.to_string());
            }
            w.write_record(&row)?;
        }
        w.flush()?;

        let mut w = writer(dir, "manifest")?;
        w.write_record(["propertyName", "value"])?;
        w.write_record(["manifest.version", "1.0"])?;
        w.write_record(["oneroster.version", version.as_str()])?;
        let mode = if delta { "delta" } else { "bulk" };
        for file in if v12 { FILES_1_2 } else { FILES_1_1 } {
            let value = if WRITTEN.contains(file) {
                mode
            } else {
                "absent"
            };
            w.write_record([format!("file.{file}").as_str(), value])?;
        }
        w.write_record(["source.systemName", "Google Classroom"])?;
        w.write_record(["source.systemCode", "classroom-sync"])?;
        w.flush()?;
        Ok(())
    }
}
