//! The desired state a roster implies, and the plan: the changes that make Classroom match it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::naming::CourseNaming;
use super::roster::{InputError, Problems, Roster};
use super::state::Written;
use super::{CourseField, CreateAs};

/// The domain alias of a class: `d:` + `prefix` + the class's `sourcedId`, escaped so that any
/// `sourcedId` gives a valid alias and two different ones never give the same alias.
///
/// Classroom aliases allow only ASCII letters, digits, `-`, `_` and `.` after the `d:`. Those
/// characters stand for themselves except `_`, which escapes: `__` is a `_`, and `_` followed
/// by two upper-case hex digits is one byte of the UTF-8 encoding of any other character.
///
/// ```
/// use classroom_sync::alias_for;
///
/// assert_eq!(alias_for("sis-", "math-101"), "d:sis-math-101");
/// assert_eq!(alias_for("sis-", "2026/Math 101"), "d:sis-2026_2FMath_20101");
/// assert_eq!(alias_for("sis-", "a_b"), "d:sis-a__b");
/// ```
pub fn alias_for(prefix: &str, sourced_id: &str) -> String {
    let mut alias = format!("d:{prefix}");
    for byte in sourced_id.bytes() {
        match byte {
            b'_' => alias.push_str("__"),
            b if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' => alias.push(b as char),
            b => alias.push_str(&format!("_{b:02X}")),
        }
    }
    alias
}

/// Whether `prefix` may start an alias name: only the characters an alias allows.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The longest alias Classroom accepts, `d:` included.
pub(crate) const MAX_ALIAS: usize = 256;

/// The wanted courses' aliases are ones Classroom can hold and tell apart: none over
/// [`MAX_ALIAS`] characters, and no two the same but for case. Classroom does not document
/// whether aliases are case-sensitive, so two classes whose `sourcedId`s differ only in case
/// could become one course; each problem names both rows.
pub(crate) fn check_aliases(roster: &Roster, wanted: &[DesiredCourse]) -> Result<(), InputError> {
    let lines: HashMap<&str, u64> = roster
        .classes
        .iter()
        .map(|c| (c.sourced_id.as_str(), c.line))
        .collect();
    let line = |course: &DesiredCourse| lines.get(course.class.as_str()).copied();
    let mut problems = Problems::default();
    let mut seen: HashMap<String, &DesiredCourse> = HashMap::new();
    // In file order, so that each problem is on the later of the two rows.
    let mut in_file_order: Vec<&DesiredCourse> = wanted.iter().collect();
    in_file_order.sort_by_key(|c| line(c));
    for course in in_file_order {
        if course.alias.len() > MAX_ALIAS {
            problems.add(
                "classes.csv",
                line(course),
                Some("sourcedId"),
                format!(
                    "the class's alias {:?} is {} characters long, over Classroom's {MAX_ALIAS}; use a shorter sourcedId or alias prefix",
                    course.alias,
                    course.alias.len()
                ),
            );
        }
        match seen.get(&course.alias.to_ascii_lowercase()) {
            Some(first) => problems.add(
                "classes.csv",
                line(course),
                Some("sourcedId"),
                format!(
                    "classes {:?} (line {}) and {:?} (this line) differ only in case, and so do their aliases {:?} and {:?}, which Classroom may take for one course",
                    first.class,
                    line(first).unwrap_or_default(),
                    course.class,
                    first.alias,
                    course.alias
                ),
            ),
            None => {
                seen.insert(course.alias.to_ascii_lowercase(), course);
            }
        }
    }
    problems.into_result(&roster.dir)
}

/// A Classroom course as the roster wants it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DesiredCourse {
    pub(crate) alias: String,
    pub(crate) class: String,
    /// `None` for a class a delta export left out as unchanged, named only by enrollments:
    /// its fields are left as they are, and it is not created.
    pub(crate) fields: Option<CourseFields>,
    /// Who will own the course if it is created: the primary teacher, else the first teacher
    /// by enrollment order, else the acting user (`None`).
    pub(crate) owner: Option<String>,
    /// Teachers and students by lower-cased email.
    pub(crate) teachers: BTreeMap<String, ()>,
    pub(crate) students: BTreeMap<String, ()>,
    /// Whether the members above are all the course's (its enrollments file is bulk), so that
    /// any other member is to be removed. Otherwise only those in `gone` are.
    pub(crate) complete: bool,
    /// Teachers and students whose enrollment a delta export marks `tobedeleted`.
    pub(crate) gone_teachers: BTreeMap<String, ()>,
    pub(crate) gone_students: BTreeMap<String, ()>,
}

/// Every active, enabled teacher and student has an email in `domain`.
pub(crate) fn check_domain(roster: &Roster, domain: &str) -> Result<(), InputError> {
    let mut problems = Problems::default();
    for user in &roster.users {
        let member = matches!(user.role.as_str(), "teacher" | "student");
        if !member || !user.status.is_active() || !user.enabled {
            continue;
        }
        let theirs = user.email.rsplit_once('@').map(|(_, d)| d);
        if !theirs.is_some_and(|d| d.eq_ignore_ascii_case(domain)) {
            problems.add(
                "users.csv",
                Some(user.line),
                Some("email"),
                format!(
                    "{:?} is not in the domain {domain}: Classroom would refuse this {} in every class; correct the email, or the domain in the config",
                    user.email, user.role
                ),
            );
        }
    }
    problems.into_result(&roster.dir)
}

/// The course fields the sync manages, rendered from the roster by
/// [`SyncOptions::naming`](super::SyncOptions::naming).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CourseFields {
    /// `name`: by default the title of the class's course (courses.csv).
    pub name: String,
    /// `section`: by default the class's `title`, without the course's title.
    pub section: String,
    /// `room`: by default the class's `location`.
    pub room: String,
}

impl CourseFields {
    /// A field's value.
    pub fn get(&self, field: CourseField) -> &str {
        match field {
            CourseField::Name => &self.name,
            CourseField::Section => &self.section,
            CourseField::Room => &self.room,
        }
    }
}

/// The Classroom courses and memberships a roster asks for: every active class of an active
/// course, and every active enrollment of an active, enabled user as teacher or student.
pub(crate) fn desired(roster: &Roster, prefix: &str, naming: &CourseNaming) -> Vec<DesiredCourse> {
    let courses: HashMap<&str, _> = roster
        .courses
        .iter()
        .map(|c| (c.sourced_id.as_str(), c))
        .collect();
    let users: HashMap<&str, _> = roster
        .users
        .iter()
        .map(|u| (u.sourced_id.as_str(), u))
        .collect();
    let orgs: HashMap<&str, _> = roster
        .orgs
        .iter()
        .map(|o| (o.sourced_id.as_str(), o))
        .collect();
    let mut out: BTreeMap<String, DesiredCourse> = BTreeMap::new();
    let mut by_class: HashMap<&str, String> = HashMap::new();
    let complete = roster.manifest.mode("enrollments").is_bulk();
    let classes_bulk = roster.manifest.mode("classes").is_bulk();
    let listed: std::collections::HashSet<&str> = roster
        .classes
        .iter()
        .map(|c| c.sourced_id.as_str())
        .collect();
    let course_for = |alias: String, class: &str, fields| DesiredCourse {
        alias,
        class: class.to_string(),
        fields,
        owner: None,
        teachers: BTreeMap::new(),
        students: BTreeMap::new(),
        complete,
        gone_teachers: BTreeMap::new(),
        gone_students: BTreeMap::new(),
    };
    for class in &roster.classes {
        let course = courses.get(class.course_sourced_id.as_str());
        if !class.status.is_active() || !course.is_some_and(|c| c.status.is_active()) {
            continue;
        }
        let alias = alias_for(prefix, &class.sourced_id);
        by_class.insert(&class.sourced_id, alias.clone());
        let fields = naming.fields(
            class,
            course.copied(),
            orgs.get(class.school_sourced_id.as_str()).copied(),
        );
        out.insert(
            alias.clone(),
            course_for(alias, &class.sourced_id, Some(fields)),
        );
    }
    // A class a partial export leaves out is unchanged: its enrollments still name it.
    if !classes_bulk {
        for e in &roster.enrollments {
            let class = e.class_sourced_id.as_str();
            if !listed.contains(class) && !by_class.contains_key(class) {
                let alias = alias_for(prefix, class);
                by_class.insert(class, alias.clone());
                out.insert(alias.clone(), course_for(alias, class, None));
            }
        }
    }
    let mut primary: HashMap<String, String> = HashMap::new();
    for e in &roster.enrollments {
        let Some(alias) = by_class.get(e.class_sourced_id.as_str()) else {
            continue;
        };
        let Some(user) = users.get(e.user_sourced_id.as_str()) else {
            continue;
        };
        let email = user.email.to_ascii_lowercase();
        let Some(course) = out.get_mut(alias) else {
            continue;
        };
        if !complete && e.status == super::Status::ToBeDeleted {
            match e.role.as_str() {
                "teacher" => course.gone_teachers.insert(email, ()),
                "student" => course.gone_students.insert(email, ()),
                _ => None,
            };
            continue;
        }
        if !e.status.is_active() || !user.status.is_active() || !user.enabled {
            continue;
        }
        match e.role.as_str() {
            "teacher" => {
                if e.primary {
                    primary
                        .entry(alias.clone())
                        .or_insert_with(|| email.clone());
                }
                if course.owner.is_none() {
                    course.owner = Some(email.clone());
                }
                course.teachers.insert(email, ());
            }
            "student" => {
                course.students.insert(email, ());
            }
            _ => {}
        }
    }
    for (alias, email) in primary {
        if let Some(course) = out.get_mut(&alias) {
            course.owner = Some(email);
        }
    }
    out.into_values().collect()
}

/// One change to Classroom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// Create a course under its alias, owned by `owner` (an email, or `me`: the acting user).
    CreateCourse {
        /// The course's alias, `d:...`.
        alias: String,
        /// The class's `sourcedId`.
        class: String,
        /// Name, section and room.
        #[serde(flatten)]
        fields: CourseFields,
        /// The owner: the primary teacher's email, or `me`.
        owner: String,
        /// The state it is created in ([`SyncOptions::create_as`](super::SyncOptions::create_as)).
        #[serde(default)]
        state: CreateAs,
    },
    /// Change a course's name, section or room, or bring it back from the archive.
    UpdateCourse {
        /// The course's alias.
        alias: String,
        /// Each field that changes: its name (`name`, `section`, `room`, `courseState`), what
        /// it is, what it becomes.
        changes: Vec<FieldChange>,
    },
    /// Add a teacher (by email).
    AddTeacher {
        /// The course's alias.
        alias: String,
        /// The teacher's email.
        email: String,
    },
    /// Remove a teacher who is not in the roster.
    RemoveTeacher {
        /// The course's alias.
        alias: String,
        /// The teacher's email, as Classroom has it.
        email: String,
        /// The teacher's Classroom user id.
        user_id: String,
    },
    /// Add a student (by email).
    AddStudent {
        /// The course's alias.
        alias: String,
        /// The student's email.
        email: String,
    },
    /// Remove a student who is not in the roster.
    RemoveStudent {
        /// The course's alias.
        alias: String,
        /// The student's email, as Classroom has it.
        email: String,
        /// The student's Classroom user id.
        user_id: String,
    },
    /// Make the class's primary teacher the course's owner (an ownership transfer). The new
    /// owner is a teacher of the course first (an [`AddTeacher`](Change::AddTeacher) in the
    /// same plan, applied before); the old owner stays a teacher.
    TransferOwnership {
        /// The course's alias.
        alias: String,
        /// The owner now: their email, or their user id when Classroom lists no email.
        from: String,
        /// The new owner's email.
        to: String,
    },
    /// Archive a course whose class is no longer in the roster.
    ArchiveCourse {
        /// The course's alias.
        alias: String,
        /// The course's Classroom id.
        course_id: String,
        /// Its name, for the reader.
        name: String,
    },
    /// Delete a course that is archived and whose class is no longer in the roster
    /// ([`SyncOptions::delete_archived`](super::SyncOptions::delete_archived)).
    DeleteCourse {
        /// The course's alias.
        alias: String,
        /// The course's Classroom id.
        course_id: String,
        /// Its name, for the reader.
        name: String,
    },
    /// Invite a guardian of a student: Classroom emails the guardian an invitation, and links
    /// them to the student once they accept. Planned with
    /// [`SyncOptions::invite_guardians`](super::SyncOptions::invite_guardians) where the
    /// student has neither a guardian nor a pending invitation at this address. It concerns no
    /// course ([`Change::alias`] is empty).
    InviteGuardian {
        /// The student's email.
        student: String,
        /// The guardian's email, where the invitation goes.
        guardian: String,
        /// The student's `sourcedId`.
        student_sourced_id: String,
        /// The guardian's `sourcedId`, one of the student's `agentSourcedIds`.
        guardian_sourced_id: String,
    },
}

/// A field of a course that a plan changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldChange {
    /// The field's API name: `name`, `section`, `room` or `courseState`.
    pub field: String,
    /// Its value in Classroom.
    pub from: String,
    /// Its value after the change.
    pub to: String,
}

impl FieldChange {
    pub(crate) fn new(field: &str, from: &str, to: &str) -> FieldChange {
        FieldChange {
            field: field.to_string(),
            from: from.to_string(),
            to: to.to_string(),
        }
    }
}

/// What kind of change; the key of [`Counts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// [`Change::CreateCourse`].
    CreateCourse,
    /// [`Change::UpdateCourse`].
    UpdateCourse,
    /// [`Change::AddTeacher`].
    AddTeacher,
    /// [`Change::RemoveTeacher`].
    RemoveTeacher,
    /// [`Change::AddStudent`].
    AddStudent,
    /// [`Change::RemoveStudent`].
    RemoveStudent,
    /// [`Change::TransferOwnership`].
    TransferOwnership,
    /// [`Change::ArchiveCourse`].
    ArchiveCourse,
    /// [`Change::DeleteCourse`].
    DeleteCourse,
    /// [`Change::InviteGuardian`].
    InviteGuardian,
}

impl ChangeKind {
    /// Every kind, in the order a plan lists and applies them.
    pub const ALL: [ChangeKind; 10] = [
        ChangeKind::CreateCourse,
        ChangeKind::UpdateCourse,
        ChangeKind::RemoveTeacher,
        ChangeKind::RemoveStudent,
        ChangeKind::AddTeacher,
        ChangeKind::AddStudent,
        ChangeKind::TransferOwnership,
        ChangeKind::ArchiveCourse,
        ChangeKind::DeleteCourse,
        ChangeKind::InviteGuardian,
    ];

    /// A few words for a person: `create course`.
    pub fn label(self) -> &'static str {
        match self {
            ChangeKind::CreateCourse => "create course",
            ChangeKind::UpdateCourse => "update course",
            ChangeKind::AddTeacher => "add teacher",
            ChangeKind::RemoveTeacher => "remove teacher",
            ChangeKind::AddStudent => "add student",
            ChangeKind::RemoveStudent => "remove student",
            ChangeKind::TransferOwnership => "transfer ownership",
            ChangeKind::ArchiveCourse => "archive course",
            ChangeKind::DeleteCourse => "delete course",
            ChangeKind::InviteGuardian => "invite guardian",
        }
    }

    /// Where in an apply the kind goes: courses exist before members are added, members
    /// leave before others join (a full course has room), a new owner is a teacher before
    /// the transfer, archiving and deleting come after; guardian invitations, which no course
    /// depends on, last (see `guardians::apply`).
    pub(crate) fn phase(self) -> u8 {
        match self {
            ChangeKind::CreateCourse | ChangeKind::UpdateCourse => 0,
            ChangeKind::RemoveTeacher | ChangeKind::RemoveStudent => 1,
            ChangeKind::AddTeacher | ChangeKind::AddStudent => 2,
            ChangeKind::TransferOwnership => 3,
            ChangeKind::ArchiveCourse | ChangeKind::DeleteCourse => 4,
            ChangeKind::InviteGuardian => 5,
        }
    }

    /// The last phase of course changes; guardian invitations come after it.
    pub(crate) const LAST_PHASE: u8 = 4;
}

impl Change {
    /// What kind of change it is.
    pub fn kind(&self) -> ChangeKind {
        match self {
            Change::CreateCourse { .. } => ChangeKind::CreateCourse,
            Change::UpdateCourse { .. } => ChangeKind::UpdateCourse,
            Change::AddTeacher { .. } => ChangeKind::AddTeacher,
            Change::RemoveTeacher { .. } => ChangeKind::RemoveTeacher,
            Change::AddStudent { .. } => ChangeKind::AddStudent,
            Change::RemoveStudent { .. } => ChangeKind::RemoveStudent,
            Change::TransferOwnership { .. } => ChangeKind::TransferOwnership,
            Change::ArchiveCourse { .. } => ChangeKind::ArchiveCourse,
            Change::DeleteCourse { .. } => ChangeKind::DeleteCourse,
            Change::InviteGuardian { .. } => ChangeKind::InviteGuardian,
        }
    }

    /// The alias of the course it concerns; empty for a change that concerns none
    /// ([`Change::InviteGuardian`]).
    pub fn alias(&self) -> &str {
        match self {
            Change::CreateCourse { alias, .. }
            | Change::UpdateCourse { alias, .. }
            | Change::AddTeacher { alias, .. }
            | Change::RemoveTeacher { alias, .. }
            | Change::AddStudent { alias, .. }
            | Change::RemoveStudent { alias, .. }
            | Change::TransferOwnership { alias, .. }
            | Change::ArchiveCourse { alias, .. }
            | Change::DeleteCourse { alias, .. } => alias,
            Change::InviteGuardian { .. } => "",
        }
    }

    /// Whether it writes a course's name, section or room.
    pub(crate) fn writes_fields(&self) -> bool {
        matches!(
            self,
            Change::CreateCourse { .. } | Change::UpdateCourse { .. }
        )
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::CreateCourse {
                alias,
                fields,
                owner,
                state,
                ..
            } => {
                write!(
                    f,
                    "+ create course {alias}: name {:?}, section {:?}, room {:?}, owner {owner}",
                    fields.name, fields.section, fields.room
                )?;
                match state {
                    CreateAs::Active => Ok(()),
                    CreateAs::Provisioned => f.write_str(", provisioned"),
                }
            }
            Change::UpdateCourse { alias, changes } => {
                write!(f, "~ update course {alias}:")?;
                for (i, c) in changes.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{} {:?} -> {:?}", c.field, c.from, c.to)?;
                }
                Ok(())
            }
            Change::AddTeacher { alias, email } => write!(f, "+ add teacher {email} to {alias}"),
            Change::RemoveTeacher { alias, email, .. } => {
                write!(f, "- remove teacher {email} from {alias}")
            }
            Change::AddStudent { alias, email } => write!(f, "+ add student {email} to {alias}"),
            Change::RemoveStudent { alias, email, .. } => {
                write!(f, "- remove student {email} from {alias}")
            }
            Change::ArchiveCourse { alias, name, .. } => {
                write!(
                    f,
                    "- archive course {alias} ({name:?}): its class is not in the roster"
                )
            }
            Change::TransferOwnership { alias, from, to } => {
                write!(f, "~ transfer course {alias} from {from} to {to}")
            }
            Change::DeleteCourse { alias, name, .. } => write!(
                f,
                "- delete course {alias} ({name:?}): archived, and its class is not in the roster"
            ),
            Change::InviteGuardian {
                student, guardian, ..
            } => write!(f, "+ invite guardian {guardian} for student {student}"),
        }
    }
}

/// How many changes of each kind (kinds with none are left out).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Counts(pub BTreeMap<ChangeKind, usize>);

impl Counts {
    /// Counts the kinds of these changes.
    pub fn of<'a>(changes: impl IntoIterator<Item = &'a Change>) -> Counts {
        let mut counts = BTreeMap::new();
        for change in changes {
            *counts.entry(change.kind()).or_insert(0) += 1;
        }
        Counts(counts)
    }

    /// How many changes of a kind.
    pub fn get(&self, kind: ChangeKind) -> usize {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    /// How many changes in all.
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = ChangeKind::ALL
            .iter()
            .filter(|k| self.get(**k) > 0)
            .map(|k| format!("{} {}", self.get(*k), k.label()))
            .collect();
        if parts.is_empty() {
            f.write_str("no changes")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// The changes that make Classroom match a roster, made by
/// [`RosterSync::plan`](super::RosterSync::plan); nothing is written until
/// [`RosterSync::apply`](super::RosterSync::apply).
///
/// `Display` prints it for a person; it serializes (serde) to JSON for a machine, with its
/// counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// The changes, in the order they will be applied.
    pub changes: Vec<Change>,
    /// How many of each kind.
    pub counts: Counts,
    /// How many courses the roster asks for.
    pub courses_in_roster: usize,
    /// How many calls reading Classroom's state took (each batch part counts one).
    pub read_calls: u64,
    /// What each course's fields will hold once the plan is applied, as far as the sync
    /// wrote them or found them as the roster has them: [`SyncState::record`](super::SyncState::record) keeps it.
    #[serde(default)]
    pub written: BTreeMap<String, Written>,
}

impl Plan {
    pub(crate) fn new(mut changes: Vec<Change>, courses_in_roster: usize, read_calls: u64) -> Plan {
        changes.sort_by_key(|c| c.kind().phase());
        Plan {
            counts: Counts::of(&changes),
            changes,
            courses_in_roster,
            read_calls,
            written: BTreeMap::new(),
        }
    }

    /// Whether Classroom already matches the roster.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for change in &self.changes {
            writeln!(f, "{change}")?;
        }
        write!(
            f,
            "Plan: {} for {} course(s) in the roster",
            self.counts, self.courses_in_roster
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_whose_aliases_differ_only_in_case_or_are_too_long_are_refused() {
        use crate::roster::tests::{CLASSES_CSV, good, positions};
        let dir = good("alias-collisions");
        let long = "x".repeat(MAX_ALIAS);
        let mut classes = CLASSES_CSV.to_string();
        // Lines 4 and 5: K1 against k1 (line 2); a sourcedId whose alias is too long.
        classes.push_str(&format!(
            "K1,active,Biology P3,c1,scheduled,,sch,t1\n{long},active,Biology P4,c1,scheduled,,sch,t1\n"
        ));
        std::fs::write(dir.join("classes.csv"), classes).unwrap();
        let roster = Roster::read(&dir).unwrap();
        let wanted = desired(&roster, "sis-", &CourseNaming::default());
        let error = check_aliases(&roster, &wanted).unwrap_err();
        let at = positions(&error);
        assert_eq!(
            at,
            [(Some(4), Some("sourcedId")), (Some(5), Some("sourcedId"))],
            "{error}"
        );
        assert!(
            error.problems[0]
                .message
                .starts_with("classes \"k1\" (line 2) and \"K1\" (this line)"),
            "{error}"
        );
        assert!(
            error.problems[1].message.contains("262 characters long"),
            "{error}"
        );
        assert_eq!(error.dir, dir);

        // The longest alias Classroom takes is fine.
        let dir = good("alias-longest");
        let id = "y".repeat(MAX_ALIAS - "d:sis-".len());
        let mut classes = CLASSES_CSV.to_string();
        classes.push_str(&format!("{id},active,Biology P5,c1,scheduled,,sch,t1\n"));
        std::fs::write(dir.join("classes.csv"), classes).unwrap();
        let roster = Roster::read(&dir).unwrap();
        check_aliases(&roster, &desired(&roster, "sis-", &CourseNaming::default())).unwrap();
    }

    #[test]
    fn aliases_are_valid_and_never_collide() {
        let ids = ["a_b", "a__b", "a b", "a_20b", "a/b", "é", "A.b-c", ""];
        let aliases: Vec<String> = ids.iter().map(|id| alias_for("p-", id)).collect();
        for alias in &aliases {
            let name = alias.strip_prefix("d:").expect("a domain alias");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{alias} holds only allowed characters"
            );
        }
        let unique: std::collections::HashSet<_> = aliases.iter().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "no two sourcedIds share an alias: {aliases:?}"
        );
        assert_eq!(alias_for("p-", "é"), "d:p-_C3_A9");
    }
}

#[cfg(test)]
mod desired_tests {
    use super::*;
    use crate::roster::tests::good;

    #[test]
    fn only_active_records_count_and_the_primary_teacher_owns() {
        let roster = Roster::read(good("desired")).unwrap();
        let courses = desired(&roster, "sis-", &CourseNaming::default());
        assert_eq!(courses.len(), 1, "the class to be deleted is not wanted");
        let k1 = &courses[0];
        assert_eq!(k1.alias, "d:sis-k1");
        assert_eq!(
            k1.fields,
            Some(CourseFields {
                name: "Biology".into(),
                section: "P1".into(),
                room: "Lab 2".into(),
            }),
            "the default naming: the subject, then the class without it"
        );
        assert_eq!(
            k1.owner.as_deref(),
            Some("bo@school.example"),
            "the primary teacher, though listed second"
        );
        let teachers: Vec<_> = k1.teachers.keys().map(String::as_str).collect();
        assert_eq!(
            teachers,
            ["ann.lee@school.example", "bo@school.example"],
            "emails compare lower-cased"
        );
        let students: Vec<_> = k1.students.keys().map(String::as_str).collect();
        assert_eq!(
            students,
            ["cy@school.example"],
            "neither a user to be deleted, nor a disabled one, nor an enrollment to be deleted"
        );
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;

    #[test]
    fn a_prefix_may_hold_only_what_an_alias_allows() {
        for ok in ["sis-", "A.b_c-9", ""] {
            assert!(valid_prefix(ok), "{ok:?} is a valid prefix");
        }
        for bad in ["sis ", "d:sis-", "sis/", "é-", "sis\n"] {
            assert!(!valid_prefix(bad), "{bad:?} is refused");
        }
    }

    /// A change of each kind (two student adds), in no order.
    fn one_of_each() -> Vec<Change> {
        let (k1, k2) = ("d:sis-k1".to_string(), "d:sis-k2".to_string());
        vec![
            Change::DeleteCourse {
                alias: "d:sis-older".into(),
                course_id: "122".into(),
                name: "Physics".into(),
            },
            Change::ArchiveCourse {
                alias: "d:sis-old".into(),
                course_id: "123".into(),
                name: "Chemistry".into(),
            },
            Change::TransferOwnership {
                alias: "d:sis-k2".into(),
                from: "ed@school.example".into(),
                to: "ann.lee@school.example".into(),
            },
            Change::AddStudent {
                alias: k1.clone(),
                email: "cy@school.example".into(),
            },
            Change::RemoveStudent {
                alias: k2.clone(),
                email: "di@school.example".into(),
                user_id: "104".into(),
            },
            Change::AddTeacher {
                alias: k1.clone(),
                email: "ann.lee@school.example".into(),
            },
            Change::UpdateCourse {
                alias: k2.clone(),
                changes: vec![
                    FieldChange::new("name", "Old", "New"),
                    FieldChange::new("courseState", "ARCHIVED", "ACTIVE"),
                ],
            },
            Change::RemoveTeacher {
                alias: k2,
                email: "ed@school.example".into(),
                user_id: "105".into(),
            },
            Change::AddStudent {
                alias: k1.clone(),
                email: "fay@school.example".into(),
            },
            Change::CreateCourse {
                alias: k1,
                class: "k1".into(),
                fields: CourseFields {
                    name: "Biology P1".into(),
                    section: "Biology".into(),
                    room: "Lab 2".into(),
                },
                owner: "bo@school.example".into(),
                state: CreateAs::Active,
            },
        ]
    }

    #[test]
    fn every_change_names_its_course() {
        let changes = one_of_each();
        let aliases: Vec<&str> = changes.iter().map(Change::alias).collect();
        assert_eq!(
            aliases,
            [
                "d:sis-older",
                "d:sis-old",
                "d:sis-k2",
                "d:sis-k1",
                "d:sis-k2",
                "d:sis-k1",
                "d:sis-k2",
                "d:sis-k2",
                "d:sis-k1",
                "d:sis-k1"
            ],
            "apply skips the members of a course that failed to be created by this alias"
        );
    }

    #[test]
    fn a_plan_is_ordered_by_phase_counted_and_printed() {
        let plan = Plan::new(one_of_each(), 3, 9);
        assert_eq!(
            plan.to_string(),
            "~ update course d:sis-k2: name \"Old\" -> \"New\", courseState \"ARCHIVED\" -> \"ACTIVE\"\n\
             + create course d:sis-k1: name \"Biology P1\", section \"Biology\", room \"Lab 2\", owner bo@school.example\n\
             - remove student di@school.example from d:sis-k2\n\
             - remove teacher ed@school.example from d:sis-k2\n\
             + add student cy@school.example to d:sis-k1\n\
             + add teacher ann.lee@school.example to d:sis-k1\n\
             + add student fay@school.example to d:sis-k1\n\
             ~ transfer course d:sis-k2 from ed@school.example to ann.lee@school.example\n\
             - delete course d:sis-older (\"Physics\"): archived, and its class is not in the roster\n\
             - archive course d:sis-old (\"Chemistry\"): its class is not in the roster\n\
             Plan: 1 create course, 1 update course, 1 remove teacher, 1 remove student, \
             1 add teacher, 2 add student, 1 transfer ownership, 1 archive course, \
             1 delete course for 3 course(s) in the roster",
            "courses first, then removals, adds, transfers, archives and deletes, each phase \
             in planned order; the counts in the order of ChangeKind::ALL"
        );
        let counts: Vec<usize> = ChangeKind::ALL
            .iter()
            .map(|k| plan.counts.get(*k))
            .collect();
        assert_eq!(counts, [1, 1, 1, 1, 1, 2, 1, 1, 1, 0]);
        assert_eq!(plan.counts.total(), 10);
        assert!(!plan.is_empty());
        assert_eq!((plan.courses_in_roster, plan.read_calls), (3, 9));

        let students = Counts::of(
            plan.changes
                .iter()
                .filter(|c| c.kind() == ChangeKind::AddStudent),
        );
        assert_eq!(
            students.to_string(),
            "2 add student",
            "kinds without changes are left out"
        );
        assert_eq!(
            (
                students.get(ChangeKind::AddStudent),
                students.get(ChangeKind::CreateCourse)
            ),
            (2, 0)
        );
        assert_eq!(students.total(), 2);

        let none = Plan::new(Vec::new(), 0, 0);
        assert!(none.is_empty());
        assert_eq!(none.counts.total(), 0);
        assert_eq!(
            none.to_string(),
            "Plan: no changes for 0 course(s) in the roster"
        );
    }
}
