//! The plan's diff: what the roster wants against what Classroom has, under the options'
//! policies and the sync's record of what it wrote. A pure function of those (no client, no
//! I/O), so every policy is pinned by tables of cases (below).

use std::collections::{BTreeMap, HashMap};

use classroom::models::CourseState;

use super::plan::{Change, CourseFields, DesiredCourse, FieldChange};
use super::roster::Problems;
use super::state::{SyncState, Written};
use super::{CourseField, SyncOptions};

/// A course of the roster as Classroom has it.
#[derive(Clone, Debug, Default)]
pub(crate) struct CurrentCourse {
    pub(crate) id: String,
    pub(crate) fields: CourseFields,
    pub(crate) state: Option<CourseState>,
    pub(crate) owner_id: String,
    /// Members by lower-cased email: their user ids.
    pub(crate) teachers: BTreeMap<String, String>,
    pub(crate) students: BTreeMap<String, String>,
}

/// A course under the sync's alias prefix whose class the roster no longer has.
#[derive(Clone, Debug)]
pub(crate) struct GoneCourse {
    pub(crate) alias: String,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) state: Option<CourseState>,
}

/// What a plan read of Classroom.
#[derive(Debug, Default)]
pub(crate) struct Current {
    /// The roster's courses that Classroom has, by alias.
    pub(crate) courses: HashMap<String, CurrentCourse>,
    /// Courses whose class is gone; read only when the roster can say which are
    /// (`classes.csv` and `courses.csv` bulk, or classes a delta marks `tobedeleted`).
    pub(crate) gone: Vec<GoneCourse>,
}

/// The changes, and what each course's fields will hold once they are applied.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Diff {
    pub(crate) changes: Vec<Change>,
    pub(crate) written: BTreeMap<String, Written>,
}

/// The changes that make `current` match `wanted`. A class that only a delta's enrollments
/// name, with no course in Classroom, is a problem: there is nothing to enroll into.
pub(crate) fn diff(
    wanted: &[DesiredCourse],
    current: &Current,
    state: &SyncState,
    options: &SyncOptions,
    problems: &mut Problems,
) -> Diff {
    let mut out = Diff::default();
    for course in wanted {
        match current.courses.get(&course.alias) {
            None if course.fields.is_none() => problems.add(
                "enrollments.csv",
                None,
                Some("classSourcedId"),
                format!(
                    "class {:?} is not in this export's classes.csv, and Classroom has no course {}: there is nothing to enroll into; include the class, or export classes.csv in bulk",
                    course.class, course.alias
                ),
            ),
            None => new_course(course, options, &mut out),
            Some(now) => existing(course, now, state.courses.get(&course.alias), options, &mut out),
        }
    }
    for gone in &current.gone {
        let (alias, course_id, name) = (gone.alias.clone(), gone.id.clone(), gone.name.clone());
        match gone.state {
            Some(CourseState::Active | CourseState::Provisioned) if options.archive_missing => {
                out.changes.push(Change::ArchiveCourse {
                    alias,
                    course_id,
                    name,
                });
            }
            Some(CourseState::Archived) if options.delete_archived => {
                out.changes.push(Change::DeleteCourse {
                    alias,
                    course_id,
                    name,
                });
            }
            // Declined and suspended courses cannot be changed but to other states a person
            // chooses; they are left as they are.
            _ => {}
        }
    }
    out
}

fn new_course(course: &DesiredCourse, options: &SyncOptions, out: &mut Diff) {
    let Some(fields) = &course.fields else { return };
    if !options.create_courses {
        return;
    }
    let alias = &course.alias;
    out.changes.push(Change::CreateCourse {
        alias: alias.clone(),
        class: course.class.clone(),
        fields: fields.clone(),
        owner: course.owner.clone().unwrap_or_else(|| "me".into()),
        state: options.create_as,
    });
    out.written.insert(
        alias.clone(),
        CourseField::ALL
            .into_iter()
            .map(|f| (f, fields.get(f).to_string()))
            .collect(),
    );
    if options.add_members {
        for email in course.teachers.keys() {
            // The owner is a teacher from the moment the course exists.
            if course.owner.as_ref() != Some(email) {
                out.changes.push(Change::AddTeacher {
                    alias: alias.clone(),
                    email: email.clone(),
                });
            }
        }
        for email in course.students.keys() {
            out.changes.push(Change::AddStudent {
                alias: alias.clone(),
                email: email.clone(),
            });
        }
    }
}

fn existing(
    course: &DesiredCourse,
    now: &CurrentCourse,
    record: Option<&Written>,
    options: &SyncOptions,
    out: &mut Diff,
) {
    let alias = &course.alias;
    // Declined and suspended courses can change only state, which is a person's choice.
    if matches!(
        now.state,
        Some(CourseState::Declined | CourseState::Suspended)
    ) {
        return;
    }
    if let (true, Some(want)) = (options.update_courses, &course.fields) {
        let mut diff = Vec::new();
        let mut written = Written::new();
        for field in CourseField::ALL {
            let (want, have) = (want.get(field), now.fields.get(field));
            let last = record.and_then(|r| r.get(&field));
            if want == have {
                written.insert(field, want.to_string());
            } else if options.teacher_fields.contains(&field)
                && last.map(String::as_str) != Some(have)
            {
                // Someone else wrote it since the sync did (or the sync never did): theirs.
                if let Some(last) = last {
                    written.insert(field, last.clone());
                }
            } else {
                diff.push(FieldChange::new(field.as_str(), have, want));
                written.insert(field, want.to_string());
            }
        }
        if now.state == Some(CourseState::Archived) {
            diff.push(FieldChange::new("courseState", "ARCHIVED", "ACTIVE"));
        }
        if !diff.is_empty() {
            out.changes.push(Change::UpdateCourse {
                alias: alias.clone(),
                changes: diff,
            });
        }
        out.written.insert(alias.clone(), written);
    }
    let new_owner = course.owner.as_ref().filter(|owner| {
        options.transfer_ownership && now.teachers.get(*owner) != Some(&now.owner_id)
    });
    if options.add_members || new_owner.is_some() {
        for email in course.teachers.keys() {
            let wanted = options.add_members || new_owner == Some(email);
            if wanted && !now.teachers.contains_key(email) {
                out.changes.push(Change::AddTeacher {
                    alias: alias.clone(),
                    email: email.clone(),
                });
            }
        }
    }
    if options.add_members {
        for email in course.students.keys() {
            if !now.students.contains_key(email) {
                out.changes.push(Change::AddStudent {
                    alias: alias.clone(),
                    email: email.clone(),
                });
            }
        }
    }
    if let Some(to) = new_owner {
        let from = now
            .teachers
            .iter()
            .find(|(_, id)| **id == now.owner_id)
            .map_or(&now.owner_id, |(email, _)| email);
        out.changes.push(Change::TransferOwnership {
            alias: alias.clone(),
            from: from.clone(),
            to: to.clone(),
        });
    }
    if options.remove_members {
        // A member is gone when a bulk file leaves them out, or a delta marks them so.
        let gone = |want: &BTreeMap<String, ()>, gone: &BTreeMap<String, ()>, email| {
            !want.contains_key(email) && (course.complete || gone.contains_key(email))
        };
        for (email, user_id) in &now.teachers {
            if gone(&course.teachers, &course.gone_teachers, email) && *user_id != now.owner_id {
                out.changes.push(Change::RemoveTeacher {
                    alias: alias.clone(),
                    email: email.clone(),
                    user_id: user_id.clone(),
                });
            }
        }
        for (email, user_id) in &now.students {
            if gone(&course.students, &course.gone_students, email) {
                out.changes.push(Change::RemoveStudent {
                    alias: alias.clone(),
                    email: email.clone(),
                    user_id: user_id.clone(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CreateAs;

    const ANN: &str = "ann@school.example";
    const BO: &str = "bo@school.example";
    const CY: &str = "cy@school.example";

    fn fields(name: &str, section: &str, room: &str) -> CourseFields {
        CourseFields {
            name: name.into(),
            section: section.into(),
            room: room.into(),
        }
    }

    fn set(emails: &[&str]) -> BTreeMap<String, ()> {
        emails.iter().map(|e| (e.to_string(), ())).collect()
    }

    /// Class k1: "Biology" / "Period 1" / "Lab", owned by Ann, Ann and Bo teach, Cy studies.
    fn wanted() -> DesiredCourse {
        DesiredCourse {
            alias: "d:sis-k1".into(),
            class: "k1".into(),
            fields: Some(fields("Biology", "Period 1", "Lab")),
            owner: Some(ANN.into()),
            teachers: set(&[ANN, BO]),
            students: set(&[CY]),
            complete: true,
            gone_teachers: BTreeMap::new(),
            gone_students: BTreeMap::new(),
        }
    }

    /// Classroom's copy of k1 as the roster has it.
    fn matching() -> CurrentCourse {
        CurrentCourse {
            id: "101".into(),
            fields: fields("Biology", "Period 1", "Lab"),
            state: Some(CourseState::Active),
            owner_id: "1".into(),
            teachers: [(ANN, "1"), (BO, "2")]
                .map(|(e, id)| (e.to_string(), id.to_string()))
                .into(),
            students: [(CY.to_string(), "3".to_string())].into(),
        }
    }

    fn run(
        wanted: &[DesiredCourse],
        current: Current,
        state: &SyncState,
        options: &SyncOptions,
    ) -> (Vec<String>, BTreeMap<String, Written>) {
        let mut problems = Problems::default();
        let diff = diff(wanted, &current, state, options, &mut problems);
        assert!(
            problems.into_result(std::path::Path::new("x")).is_ok(),
            "no problem expected"
        );
        (
            diff.changes.iter().map(ToString::to_string).collect(),
            diff.written,
        )
    }

    fn with(course: CurrentCourse) -> Current {
        Current {
            courses: [("d:sis-k1".to_string(), course)].into(),
            gone: Vec::new(),
        }
    }

    fn written(pairs: &[(CourseField, &str)]) -> Written {
        pairs.iter().map(|(f, v)| (*f, v.to_string())).collect()
    }

    #[test]
    fn a_missing_course_is_created_in_the_chosen_state_with_its_members() {
        let cases = [
            (
                SyncOptions::default(),
                vec![
                    "+ create course d:sis-k1: name \"Biology\", section \"Period 1\", room \"Lab\", owner ann@school.example",
                    "+ add teacher bo@school.example to d:sis-k1",
                    "+ add student cy@school.example to d:sis-k1",
                ],
            ),
            (
                SyncOptions::default()
                    .create_as(CreateAs::Provisioned)
                    .add_members(false),
                vec![
                    "+ create course d:sis-k1: name \"Biology\", section \"Period 1\", room \"Lab\", owner ann@school.example, provisioned",
                ],
            ),
            (SyncOptions::default().create_courses(false), vec![]),
        ];
        for (options, expected) in cases {
            let (changes, written_after) =
                run(&[wanted()], Current::default(), &SyncState::new(), &options);
            assert_eq!(changes, expected, "{options:?}");
            assert_eq!(
                written_after.contains_key("d:sis-k1"),
                options.create_courses,
                "a created course's fields are recorded as written"
            );
        }
    }

    #[test]
    fn fields_are_updated_unless_a_teacher_may_edit_them_and_did() {
        use CourseField::{Name, Room, Section};
        let renamed = || CurrentCourse {
            fields: fields("Bio (Ms. Ann)", "Period 1", "Lab 9"),
            ..matching()
        };
        let we_wrote = |name: &str| {
            let mut state = SyncState::new();
            state.courses.insert(
                "d:sis-k1".into(),
                written(&[(Name, name), (Section, "Period 1"), (Room, "Lab 9")]),
            );
            state
        };
        let owned = SyncOptions::default();
        let editable = SyncOptions::default().teacher_fields([Name, Room]);
        // (options, what the sync last wrote, the plan, what is recorded after it)
        let cases = [
            (
                &owned,
                SyncState::new(),
                vec![
                    "~ update course d:sis-k1: name \"Bio (Ms. Ann)\" -> \"Biology\", room \"Lab 9\" -> \"Lab\"",
                ],
                written(&[(Name, "Biology"), (Section, "Period 1"), (Room, "Lab")]),
            ),
            // The teacher renamed it after the sync wrote "Biology"; the room moved in the
            // roster from what the sync wrote: the rename stays, the room follows.
            (
                &editable,
                we_wrote("Biology"),
                vec!["~ update course d:sis-k1: room \"Lab 9\" -> \"Lab\""],
                written(&[(Name, "Biology"), (Section, "Period 1"), (Room, "Lab")]),
            ),
            // Still what the sync wrote, so the roster's new name is applied.
            (
                &editable,
                we_wrote("Bio (Ms. Ann)"),
                vec![
                    "~ update course d:sis-k1: name \"Bio (Ms. Ann)\" -> \"Biology\", room \"Lab 9\" -> \"Lab\"",
                ],
                written(&[(Name, "Biology"), (Section, "Period 1"), (Room, "Lab")]),
            ),
            // No record: neither editable field is the sync's to change; only the matching
            // one is recorded.
            (
                &editable,
                SyncState::new(),
                vec![],
                written(&[(Section, "Period 1")]),
            ),
        ];
        for (i, (options, state, expected, after)) in cases.into_iter().enumerate() {
            let (changes, written_after) = run(&[wanted()], with(renamed()), &state, options);
            assert_eq!(changes, expected, "case {i}");
            assert_eq!(written_after["d:sis-k1"], after, "case {i}");
        }
        let (changes, _) = run(
            &[wanted()],
            with(renamed()),
            &SyncState::new(),
            &SyncOptions::default().update_courses(false),
        );
        assert!(changes.is_empty(), "{changes:?}");
    }

    #[test]
    fn course_states_decide_what_may_change() {
        let cases = [
            (
                CourseState::Archived,
                vec!["~ update course d:sis-k1: courseState \"ARCHIVED\" -> \"ACTIVE\""],
            ),
            (CourseState::Provisioned, vec![]),
            (CourseState::Declined, vec![]),
            (CourseState::Suspended, vec![]),
        ];
        for (state, expected) in cases {
            let mut course = matching();
            course.state = Some(state.clone());
            if matches!(state, CourseState::Declined | CourseState::Suspended) {
                // Even with every field and member different, nothing is planned.
                course.fields = fields("x", "y", "z");
                course.students.clear();
            }
            let (changes, _) = run(
                &[wanted()],
                with(course),
                &SyncState::new(),
                &SyncOptions::default(),
            );
            assert_eq!(changes, expected, "{state:?}");
        }
    }

    #[test]
    fn a_new_primary_teacher_becomes_a_teacher_then_the_owner() {
        let bo_owns = || CurrentCourse {
            owner_id: "2".into(),
            ..matching()
        };
        let transfer = SyncOptions::default().transfer_ownership(true);
        let cases = [
            (SyncOptions::default(), bo_owns(), vec![]),
            (
                transfer.clone(),
                bo_owns(),
                vec!["~ transfer course d:sis-k1 from bo@school.example to ann@school.example"],
            ),
            // Ann is not a teacher yet: added first even with adds off; Bo's id names him
            // when Classroom lists no teacher with it.
            (
                transfer.clone().add_members(false),
                CurrentCourse {
                    owner_id: "9".into(),
                    teachers: [(BO.to_string(), "2".to_string())].into(),
                    ..matching()
                },
                vec![
                    "+ add teacher ann@school.example to d:sis-k1",
                    "~ transfer course d:sis-k1 from 9 to ann@school.example",
                ],
            ),
            (transfer.clone(), matching(), vec![]),
        ];
        for (i, (options, course, expected)) in cases.into_iter().enumerate() {
            let (changes, _) = run(&[wanted()], with(course), &SyncState::new(), &options);
            assert_eq!(changes, expected, "case {i}");
        }
    }

    #[test]
    fn members_are_removed_only_when_the_roster_says_they_are_gone() {
        let extra = || {
            let mut course = matching();
            course
                .teachers
                .insert("dee@school.example".into(), "4".into());
            course
                .students
                .insert("eve@school.example".into(), "5".into());
            course
                .students
                .insert("fay@school.example".into(), "6".into());
            course
        };
        let remove = SyncOptions::default().remove_members(true);
        let bulk = run(&[wanted()], with(extra()), &SyncState::new(), &remove).0;
        assert_eq!(
            bulk,
            [
                "- remove teacher dee@school.example from d:sis-k1",
                "- remove student eve@school.example from d:sis-k1",
                "- remove student fay@school.example from d:sis-k1",
            ]
        );
        let mut delta = wanted();
        delta.complete = false;
        delta.gone_students = set(&["eve@school.example"]);
        let changes = run(&[delta], with(extra()), &SyncState::new(), &remove).0;
        assert_eq!(
            changes,
            ["- remove student eve@school.example from d:sis-k1"]
        );
        // The owner is never removed, even when the roster drops them.
        let mut no_ann = wanted();
        no_ann.teachers.remove(ANN);
        no_ann.owner = Some(BO.into());
        let changes = run(&[no_ann], with(matching()), &SyncState::new(), &remove).0;
        assert!(changes.is_empty(), "{changes:?}");
        assert!(
            run(
                &[wanted()],
                with(extra()),
                &SyncState::new(),
                &SyncOptions::default()
            )
            .0
            .is_empty()
        );
    }

    #[test]
    fn gone_courses_are_archived_and_archived_ones_deleted_only_when_asked() {
        let gone = |state: CourseState| GoneCourse {
            alias: "d:sis-old".into(),
            id: "7".into(),
            name: "Chemistry".into(),
            state: Some(state),
        };
        let archive = "- archive course d:sis-old (\"Chemistry\"): its class is not in the roster";
        let delete = "- delete course d:sis-old (\"Chemistry\"): archived, and its class is not in the roster";
        let both = SyncOptions::default()
            .archive_missing(true)
            .delete_archived(true);
        let cases = [
            (CourseState::Active, SyncOptions::default(), None),
            (
                CourseState::Active,
                SyncOptions::default().archive_missing(true),
                Some(archive),
            ),
            (CourseState::Provisioned, both.clone(), Some(archive)),
            (
                CourseState::Active,
                SyncOptions::default().delete_archived(true),
                None,
            ),
            (
                CourseState::Archived,
                SyncOptions::default().archive_missing(true),
                None,
            ),
            (CourseState::Archived, both.clone(), Some(delete)),
            (CourseState::Declined, both.clone(), None),
            (CourseState::Suspended, both.clone(), None),
        ];
        for (state, options, expected) in cases {
            let current = Current {
                courses: HashMap::new(),
                gone: vec![gone(state.clone())],
            };
            let (changes, _) = run(&[], current, &SyncState::new(), &options);
            assert_eq!(changes, Vec::from_iter(expected), "{state:?} {options:?}");
        }
    }

    #[test]
    fn a_class_only_a_delta_names_must_exist_in_classroom() {
        let mut course = wanted();
        course.fields = None;
        let mut problems = Problems::default();
        let out = diff(
            &[course],
            &Current::default(),
            &SyncState::new(),
            &SyncOptions::default(),
            &mut problems,
        );
        assert!(out.changes.is_empty());
        let error = problems
            .into_result(std::path::Path::new("export"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("Classroom has no course d:sis-k1"),
            "{error}"
        );
    }
}
