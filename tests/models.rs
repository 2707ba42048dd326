//! Decoding rules of the generated types: forward-compatible enums, ignored unknown fields,
//! chrono conversions.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use classroom::models::{Course, CourseState, Date, StudentSubmission, SubmissionState, TimeOfDay};
use serde_json::json;

#[test]
fn an_unknown_enum_value_decodes_and_is_sent_back_unchanged() {
    let course: Course =
        serde_json::from_value(json!({"id": "1", "courseState": "HIBERNATING"})).unwrap();
    assert_eq!(
        course.course_state,
        Some(CourseState::Unknown("HIBERNATING".into()))
    );
    assert_eq!(
        serde_json::to_value(&course).unwrap(),
        json!({"id": "1", "courseState": "HIBERNATING"})
    );
    assert_eq!(CourseState::from("ACTIVE"), CourseState::Active);
    assert_eq!(
        CourseState::Unspecified.as_str(),
        "COURSE_STATE_UNSPECIFIED"
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let submission: StudentSubmission = serde_json::from_value(json!({
        "id": "s", "state": "TURNED_IN", "aFieldFromTheFuture": {"nested": [1, 2]}
    }))
    .unwrap();
    assert_eq!(submission.state, Some(SubmissionState::TurnedIn));
}

#[test]
fn nulls_read_as_absent_and_empty_lists_are_not_sent() {
    let course: Course =
        serde_json::from_value(json!({"name": null, "courseMaterialSets": null})).unwrap();
    assert_eq!(course, Course::default());
    assert_eq!(serde_json::to_string(&course).unwrap(), "{}");
}

#[test]
fn timestamps_are_chrono_values() {
    let course: Course =
        serde_json::from_value(json!({"creationTime": "2014-10-02T15:01:23.045123456Z"})).unwrap();
    let expected = Utc.with_ymd_and_hms(2014, 10, 2, 15, 1, 23).unwrap()
        + chrono::Duration::nanoseconds(45_123_456);
    assert_eq!(course.creation_time, Some(expected));
    assert!(serde_json::from_value::<Course>(json!({"creationTime": "yesterday"})).is_err());
}

#[test]
fn dates_and_times_convert_to_chrono() {
    let date = Date::from(NaiveDate::from_ymd_opt(2026, 11, 24).unwrap());
    assert_eq!(
        (date.year, date.month, date.day),
        (Some(2026), Some(11), Some(24))
    );
    assert_eq!(date.to_naive_date(), NaiveDate::from_ymd_opt(2026, 11, 24));
    let partial = Date {
        year: Some(0),
        month: Some(12),
        day: Some(25),
    };
    assert_eq!(
        partial.to_naive_date(),
        None,
        "a date without a year is not a calendar date"
    );
    let invalid = Date {
        year: Some(2026),
        month: Some(2),
        day: Some(30),
    };
    assert_eq!(invalid.to_naive_date(), None);

    let time = TimeOfDay::from(NaiveTime::from_hms_opt(23, 59, 0).unwrap());
    assert_eq!(time.to_naive_time(), NaiveTime::from_hms_opt(23, 59, 0));
    let due = TimeOfDay {
        hours: Some(9),
        ..Default::default()
    };
    assert_eq!(
        due.to_naive_time(),
        NaiveTime::from_hms_opt(9, 0, 0),
        "absent fields are zero"
    );
    assert_eq!(
        TimeOfDay {
            hours: Some(24),
            ..Default::default()
        }
        .to_naive_time(),
        None
    );
}
