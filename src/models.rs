//! The API's data types, one per discovery schema, and its enums.
//!
//! Structs derive `Default`, so a request body names only what it sets:
//!
//! ```
//! use classroom::models::{Course, CourseState};
//!
//! let course = Course {
//!     name: Some("Biology 101".into()),
//!     course_state: Some(CourseState::Provisioned),
//!     ..Default::default()
//! };
//! assert_eq!(
//!     serde_json::to_string(&course).unwrap(),
//!     r#"{"courseState":"PROVISIONED","name":"Biology 101"}"#
//! );
//! ```
//!
//! Fields whose absence means something are `Option`s and are left out of the JSON when
//! `None`; lists are plain `Vec`s, empty when absent. Enums keep values this version does not
//! know in an `Unknown` variant, so a newer server never breaks decoding.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};

include!(concat!(env!("OUT_DIR"), "/models.rs"));

impl Date {
    /// The full calendar date, or `None` when the date is partial (a zero year, month or day)
    /// or not a real date.
    pub fn to_naive_date(&self) -> Option<NaiveDate> {
        let month = u32::try_from(self.month?).ok()?;
        let day = u32::try_from(self.day?).ok()?;
        NaiveDate::from_ymd_opt(self.year?, month, day).filter(|_| self.year != Some(0))
    }
}

impl From<NaiveDate> for Date {
    fn from(date: NaiveDate) -> Self {
        Date {
            year: Some(date.year()),
            month: Some(date.month() as i32),
            day: Some(date.day() as i32),
        }
    }
}

impl TimeOfDay {
    /// The time, or `None` when a field is out of range (24:00 included, which `NaiveTime`
    /// cannot hold). Absent fields count as zero.
    pub fn to_naive_time(&self) -> Option<NaiveTime> {
        let part = |v: Option<i32>| u32::try_from(v.unwrap_or(0)).ok();
        NaiveTime::from_hms_nano_opt(
            part(self.hours)?,
            part(self.minutes)?,
            part(self.seconds)?,
            part(self.nanos)?,
        )
    }
}

impl From<NaiveTime> for TimeOfDay {
    fn from(time: NaiveTime) -> Self {
        TimeOfDay {
            hours: Some(time.hour() as i32),
            minutes: Some(time.minute() as i32),
            seconds: Some(time.second() as i32),
            nanos: Some(time.nanosecond() as i32),
        }
    }
}
