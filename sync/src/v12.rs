//! OneRoster 1.2 CSV: what changed from 1.1 in the files the sync reads, and how it is read
//! into the same [`Roster`] as a 1.1 export.
//!
//! Of the five files, only `users.csv` changed its columns: it lost `role` and
//! `orgSourcedIds`, which became rows of `roles.csv` (one per role a user holds at an org,
//! `primary` or `secondary`), and gained `userMasterIdentifier`, `resourceSourcedIds`,
//! `preferredGivenName`, `preferredMiddleName`, `preferredFamilyName`, `primaryOrgSourcedId`
//! and `pronouns`. `orgs.csv`, `courses.csv`, `classes.csv` and `enrollments.csv` keep their
//! 1.1 columns. `userProfiles.csv` (a user's accounts with other systems) is new, and
//! enumerations may be extended with values starting with `ext:`.
//!
//! A user's [`role`](crate::User::role) is the role of their primary role in `roles.csv`:
//! the one at their `primaryOrgSourcedId` when they have primary roles at several orgs, else
//! the first. Everything downstream (the plan, course naming) sees the same values as from
//! 1.1.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::manifest::{FileMode, Manifest, Version};
use super::roster::{FIVE, Problems, Roster, Status, Table, read_table, unique, unresolved};

/// `users.csv` as OneRoster 1.2 defines it.
pub(crate) const USERS: Table = Table {
    file: "users.csv",
    columns: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "enabledUser",
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
        "userMasterIdentifier",
        "resourceSourcedIds",
        "preferredGivenName",
        "preferredMiddleName",
        "preferredFamilyName",
        "primaryOrgSourcedId",
        "pronouns",
    ],
    required: &[
        "sourcedId",
        "enabledUser",
        "username",
        "givenName",
        "familyName",
        "email",
    ],
    needed_for: FIVE,
    moved: &[
        (
            "role",
            "OneRoster 1.2 gives a user's roles in roles.csv, not in users.csv",
        ),
        (
            "orgSourcedIds",
            "OneRoster 1.2 gives a user's orgs in roles.csv (orgSourcedId), not in users.csv",
        ),
    ],
};

/// `roles.csv`: each role a user holds at an org.
pub(crate) const ROLES: Table = Table {
    file: "roles.csv",
    columns: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "userSourcedId",
        "roleType",
        "role",
        "beginDate",
        "endDate",
        "orgSourcedId",
        "userProfileSourcedId",
    ],
    required: &[
        "sourcedId",
        "userSourcedId",
        "roleType",
        "role",
        "orgSourcedId",
    ],
    needed_for: " (a OneRoster 1.2 export gives users' roles in roles.csv, as its users.csv has no role column)",
    moved: &[],
};

/// `userProfiles.csv`: a user's accounts with other systems. Checked when the export has it,
/// for the references of `roles.csv`; nothing of it is used.
pub(crate) const USER_PROFILES: Table = Table {
    file: "userProfiles.csv",
    columns: &[
        "sourcedId",
        "status",
        "dateLastModified",
        "userSourcedId",
        "profileType",
        "vendorId",
        "applicationId",
        "description",
        "credentialType",
        "username",
        "password",
    ],
    required: &[
        "sourcedId",
        "userSourcedId",
        "profileType",
        "vendorId",
        "credentialType",
        "username",
    ],
    needed_for: " (the manifest says the export has it)",
    moved: &[],
};

/// The roles of OneRoster 1.2's `RoleEnum`.
const ROLE_VALUES: &[&str] = &[
    "aide",
    "counselor",
    "districtAdministrator",
    "guardian",
    "parent",
    "principal",
    "proctor",
    "relative",
    "siteAdministrator",
    "student",
    "systemAdministrator",
    "teacher",
];

/// Which files could be read, for the references of `roles.csv` (see `roster::Usable`): the
/// ids of rows skipped, or `None` when a reference into the file cannot be checked.
pub(crate) struct Usable<'a> {
    pub(crate) orgs: Option<&'a HashSet<String>>,
    pub(crate) users: Option<&'a HashSet<String>>,
    /// Whether `users.csv` could be read at all: if not, its users have no roles to find.
    pub(crate) users_read: bool,
}

/// A row of `roles.csv`.
struct Role {
    status: Status,
    user: String,
    primary: bool,
    role: String,
    org: String,
    line: u64,
}

/// Reads `userProfiles.csv` (when the export has it) and `roles.csv`, checks them, and gives
/// each user of `roster` their primary role. `primary_orgs` holds each user's
/// `primaryOrgSourcedId`.
pub(crate) fn read(
    dir: &Path,
    manifest: &Manifest,
    roster: &mut Roster,
    usable: Usable<'_>,
    primary_orgs: &HashMap<String, String>,
    problems: &mut Problems,
) {
    let users: HashMap<&str, u64> = roster
        .users
        .iter()
        .map(|u| (u.sourced_id.as_str(), u.line))
        .collect();
    let orgs: HashMap<&str, ()> = roster
        .orgs
        .iter()
        .map(|o| (o.sourced_id.as_str(), ()))
        .collect();

    // userProfiles.csv: read only when the manifest names it (the sync needs nothing of it).
    let profiles_mode = manifest
        .files
        .get("userProfiles")
        .copied()
        .unwrap_or(FileMode::Absent);
    let mut profiles: HashMap<String, String> = HashMap::new();
    let mut seen = HashMap::new();
    let profiles_ok = read_table(
        dir,
        &USER_PROFILES,
        Version::V1_2,
        profiles_mode,
        problems,
        |row, p| {
            let id = row.required("sourcedId", p);
            row.status(p);
            let user = row.required("userSourcedId", p);
            for column in ["profileType", "vendorId", "credentialType", "username"] {
                row.required(column, p);
            }
            if unresolved(usable.users, &users, &user) {
                row.bad(
                    "userSourcedId",
                    format!("user {user:?} is not in users.csv"),
                    p,
                );
            }
            unique(&mut seen, row, &id, p);
            profiles.insert(id, user);
        },
    );
    let profiles_ok = profiles_ok.filter(|_| profiles_mode.is_bulk());

    // roles.csv: needed whenever users.csv is the whole truth, as every user has a role.
    let mode = manifest.mode("roles");
    let users_mode = manifest.mode("users");
    if mode == FileMode::Absent && users_mode.is_bulk() && manifest.files.contains_key("roles") {
        problems.add(
            "manifest.csv",
            manifest.lines.get("roles").copied(),
            Some("value"),
            "file.roles is absent, but users.csv is bulk: OneRoster 1.2 gives users' roles only in roles.csv, so it must be bulk too (or delta, with users.csv)".into(),
        );
    }
    let mut roles: Vec<Role> = Vec::new();
    let mut seen = HashMap::new();
    let roles_ok = read_table(dir, &ROLES, Version::V1_2, mode, problems, |row, p| {
        let id = row.required("sourcedId", p);
        let role = Role {
            status: row.status(p),
            user: row.required("userSourcedId", p),
            primary: {
                row.required("roleType", p);
                row.one_of("roleType", &["primary", "secondary"], p) == "primary"
            },
            role: {
                row.required("role", p);
                row.one_of("role", ROLE_VALUES, p)
            },
            org: row.required("orgSourcedId", p),
            line: row.line,
        };
        if unresolved(usable.users, &users, &role.user) {
            row.bad(
                "userSourcedId",
                format!("user {:?} is not in users.csv", role.user),
                p,
            );
        }
        if unresolved(usable.orgs, &orgs, &role.org) {
            row.bad(
                "orgSourcedId",
                format!("org {:?} is not in orgs.csv", role.org),
                p,
            );
        }
        let profile = row.get("userProfileSourcedId");
        if let (Some(_), false) = (&profiles_ok, profile.is_empty()) {
            match profiles.get(profile) {
                None => row.bad(
                    "userProfileSourcedId",
                    format!("user profile {profile:?} is not in userProfiles.csv"),
                    p,
                ),
                Some(owner) if *owner != role.user && !role.user.is_empty() => row.bad(
                    "userProfileSourcedId",
                    format!(
                        "user profile {profile:?} is user {owner:?}'s, not user {:?}'s",
                        role.user
                    ),
                    p,
                ),
                Some(_) => {}
            }
        }
        unique(&mut seen, row, &id, p);
        roles.push(role);
    });

    // Each user's primary org, when users.csv names one, is an org.
    if let Some(broken) = usable.orgs {
        for user in &roster.users {
            let org = primary_orgs
                .get(&user.sourced_id)
                .map_or("", String::as_str);
            if !org.is_empty() && !orgs.contains_key(org) && !broken.contains(org) {
                problems.add(
                    "users.csv",
                    Some(user.line),
                    Some("primaryOrgSourcedId"),
                    format!("org {org:?} is not in orgs.csv"),
                );
            }
        }
    }

    // A row skipped (its width, text not UTF-8) may be any user's role: rather than report
    // users as without one, they are checked once the file reads whole.
    let Some(skipped) = roles_ok else {
        return;
    };
    if !usable.users_read || !skipped.is_empty() {
        return;
    }
    let mut by_user: HashMap<&str, Vec<&Role>> = HashMap::new();
    for role in &roles {
        by_user.entry(role.user.as_str()).or_default().push(role);
    }
    let roles_bulk = mode.is_bulk();
    let mut assigned = Vec::new();
    for (i, user) in roster.users.iter().enumerate() {
        let held = by_user
            .get(user.sourced_id.as_str())
            .map_or(&[][..], Vec::as_slice);
        let active = held.iter().any(|r| r.status.is_active());
        if !active {
            // A bulk roles.csv is every role: an active user without one has none, which 1.2
            // forbids. A delta lists only the roles changed: this user's are not known here.
            if roles_bulk && user.status.is_active() && !user.sourced_id.is_empty() {
                problems.add(
                    "users.csv",
                    Some(user.line),
                    Some("sourcedId"),
                    format!(
                        "user {:?} has no active role in roles.csv; OneRoster 1.2 gives every user a primary role there",
                        user.sourced_id
                    ),
                );
                continue;
            }
        }
        let primary_org = primary_orgs
            .get(&user.sourced_id)
            .map_or("", String::as_str);
        // Active roles first, then the one at the user's primary org, then file order: a user
        // to be deleted keeps the role they had.
        let chosen = held.iter().filter(|r| r.primary).min_by_key(|r| {
            (
                !r.status.is_active(),
                primary_org.is_empty() || r.org != primary_org,
                r.line,
            )
        });
        match chosen {
            Some(role) => assigned.push((i, role.role.clone())),
            // In a delta, the user's primary role may be unchanged, so not listed.
            None if held.is_empty() || !roles_bulk || !user.status.is_active() => {}
            None => {
                let lines: Vec<String> = held.iter().map(|r| r.line.to_string()).collect();
                problems.add(
                    "roles.csv",
                    Some(held[0].line),
                    Some("roleType"),
                    format!(
                        "none of user {:?}'s roles (line{} {}) is primary; OneRoster 1.2 marks one role of each user primary",
                        user.sourced_id,
                        if lines.len() == 1 { "" } else { "s" },
                        lines.join(", ")
                    ),
                );
            }
        }
    }
    for (i, role) in assigned {
        roster.users[i].role = role;
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::naming::CourseNaming;
    use super::super::plan::desired;
    use super::super::roster::tests::{
        CLASSES_CSV, COURSES_CSV, ENROLLMENTS_CSV, ORGS_CSV, good, write_dir,
    };
    use super::super::roster::{InputError, Roster};

    /// The users of `roster::tests::USERS_CSV` as OneRoster 1.2 writes them: no role column,
    /// a primary org, and a 1.2 column the sync does not use.
    const USERS_CSV: &str = "\u{feff}sourcedId,status,enabledUser,username,givenName,familyName,email,primaryOrgSourcedId,preferredGivenName,metadata.house\n\
        t1,active,true,t1,Ann,Lee,Ann.Lee@school.example,sch,Annie,red\n\
        t2,,true,t2,Bo,Ng,bo@school.example,,,\n\
        s1,active,true,s1,Cy,Ho,cy@school.example,sch,,blue\n\
        s2,tobedeleted,true,s2,Di,Oz,di@school.example,sch,,\n\
        s3,active,false,s3,Ed,Po,ed@school.example,sch,,\n";

    /// Their roles: the same as the 1.1 users'.
    const ROLES_CSV: &str = "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId\n\
        r1,active,,t1,primary,teacher,,,sch,\n\
        r2,,,t2,primary,teacher,,,sch,\n\
        r3,active,,s1,primary,student,,,sch,\n\
        r4,tobedeleted,,s2,primary,student,,,sch,\n\
        r5,active,,s3,primary,student,,,sch,\n";

    const MANIFEST_CSV: &str = "propertyName,value\n\
        manifest.version,1.0\n\
        oneroster.version,1.2\n\
        file.orgs,bulk\n\
        file.users,bulk\n\
        file.courses,bulk\n\
        file.classes,bulk\n\
        file.enrollments,bulk\n\
        file.roles,bulk\n\
        file.userProfiles,absent\n";

    /// The 1.2 twin of `roster::tests::good`: the same records.
    fn good_v12(name: &str) -> PathBuf {
        write_dir(
            &format!("v12-{name}"),
            &[
                ("manifest.csv", MANIFEST_CSV),
                ("orgs.csv", ORGS_CSV),
                ("users.csv", USERS_CSV),
                ("roles.csv", ROLES_CSV),
                ("courses.csv", COURSES_CSV),
                ("classes.csv", CLASSES_CSV),
                ("enrollments.csv", ENROLLMENTS_CSV),
            ],
        )
    }

    /// Every problem as (file, line, column).
    fn places(error: &InputError) -> Vec<(&str, Option<u64>, Option<&str>)> {
        error
            .problems
            .iter()
            .map(|p| (p.file.as_str(), p.line, p.column.as_deref()))
            .collect()
    }

    #[test]
    fn a_12_export_reads_into_the_roster_its_11_twin_does() {
        let v11 = Roster::read(good("v11-twin")).unwrap();
        let v12 = Roster::read(good_v12("twin")).unwrap();
        assert_eq!(v12.manifest.oneroster_version, "1.2");
        let roles: Vec<&str> = v12.users.iter().map(|u| u.role.as_str()).collect();
        assert_eq!(
            roles,
            ["teacher", "teacher", "student", "student", "student"],
            "each user's role is their primary role in roles.csv, a deleted one's too"
        );
        assert_eq!(
            v12.users, v11.users,
            "the same users, roles, emails and lines"
        );
        assert_eq!(v12.orgs, v11.orgs);
        assert_eq!(v12.courses, v11.courses);
        assert_eq!(v12.classes, v11.classes);
        assert_eq!(v12.enrollments, v11.enrollments);
        let naming = CourseNaming::default();
        assert_eq!(
            desired(&v12, "sis-", &naming),
            desired(&v11, "sis-", &naming),
            "the same desired Classroom state"
        );
    }

    #[test]
    fn a_users_role_is_their_primary_role_at_their_primary_org() {
        let dir = good_v12("primary");
        std::fs::write(
            dir.join("orgs.csv"),
            "sourcedId,name,type\nsch,School,school\nsch2,Annex,school\n",
        )
        .unwrap();
        let mut users = USERS_CSV.to_string();
        users.push_str(
            "m1,active,true,m1,Mo,Ra,mo@school.example,sch2,,\n\
             m2,active,true,m2,Ny,Ra,ny@school.example,,,\n\
             m3,active,true,m3,Ol,Ra,ol@school.example,,,\n\
             m4,active,true,m4,Pa,Ra,pa@school.example,,,\n",
        );
        std::fs::write(dir.join("users.csv"), users).unwrap();
        let mut roles = ROLES_CSV.to_string();
        roles.push_str(
            // m1: a secondary role first, then primaries at both schools; sch2 is their primary org.
            "r6,active,,m1,secondary,aide,,,sch,\n\
             r7,active,,m1,primary,principal,,,sch,\n\
             r8,active,,m1,Primary,Teacher,,,sch2,\n\
             r9,active,,m2,primary,counselor,,,sch,\n\
             r10,active,,m2,primary,teacher,,,sch2,\n\
             r11,tobedeleted,,m3,primary,teacher,,,sch,\n\
             r12,active,,m3,primary,districtAdministrator,,,sch2,\n\
             r13,active,,m4,primary,ext:coach,,,sch,\n",
        );
        std::fs::write(dir.join("roles.csv"), roles).unwrap();
        let roster = Roster::read(&dir).unwrap();
        let role = |id: &str| {
            roster
                .users
                .iter()
                .find(|u| u.sourced_id == id)
                .unwrap()
                .role
                .clone()
        };
        assert_eq!(
            role("m1"),
            "teacher",
            "the primary role at the primary org, in the standard's spelling, not the secondary \
             nor the other primary"
        );
        assert_eq!(role("m2"), "counselor", "no primary org: the first primary");
        assert_eq!(
            role("m3"),
            "districtAdministrator",
            "an active role before one to be deleted"
        );
        assert_eq!(role("m4"), "ext:coach", "1.2's extensions are kept");
    }

    #[test]
    fn a_12_header_is_checked_against_12s_columns() {
        let dir = good_v12("headers");
        // A users.csv half moved to 1.2: 1.1's role and orgSourcedIds are still there.
        std::fs::write(
            dir.join("users.csv"),
            "sourcedId,enabledUser,orgSourcedIds,role,username,givenName,familyName,email,pronouns\n\
             t1,true,sch,teacher,t1,Ann,Lee,ann@school.example,she/her\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("roles.csv"),
            "sourcedId,userSourcedId,roletype,role,userProfileSourcedId\nr1,t1,primary,teacher,\n",
        )
        .unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [
                ("users.csv", Some(1), Some("orgSourcedIds")),
                ("users.csv", Some(1), Some("role")),
                ("roles.csv", Some(1), Some("roletype")),
                ("roles.csv", Some(1), Some("roleType")),
                ("roles.csv", Some(1), Some("orgSourcedId")),
            ],
            "1.1's columns are unknown in 1.2, and roles.csv's required columns are required: {error}"
        );
        let text = error.to_string();
        assert!(
            text.contains("column role: unknown column \"role\" (column 4) (OneRoster 1.2 gives a user's roles in roles.csv")
                && text.contains("OneRoster v1.2 defines sourcedId"),
            "{text}"
        );
        assert!(text.contains("did you mean roleType?"), "{text}");

        // And a 1.1 export may not use 1.2's columns.
        let dir = good("v11-with-v12-column");
        std::fs::write(
            dir.join("users.csv"),
            "sourcedId,enabledUser,role,username,givenName,familyName,email,primaryOrgSourcedId\n\
             t1,true,teacher,t1,Ann,Lee,ann@school.example,sch\n",
        )
        .unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [("users.csv", Some(1), Some("primaryOrgSourcedId"))],
            "{error}"
        );
        assert!(
            error.to_string().contains("OneRoster v1.1 defines"),
            "{error}"
        );
    }

    #[test]
    fn bad_roles_are_named_by_line_and_column_and_nothing_is_read() {
        let dir = good_v12("bad-roles");
        let mut users = USERS_CSV.to_string();
        users.push_str(
            "u1,active,true,u1,Ul,Ma,ul@school.example,,,\n\
             u2,active,true,u2,Uv,Ma,uv@school.example,nowhere,,\n",
        );
        std::fs::write(dir.join("users.csv"), users).unwrap();
        // t1's role is missing (s1's is there twice); u1's only role is secondary.
        let roles = ROLES_CSV.replace("r1,active,,t1,", "r1,active,,s1,")
            + "r6,active,,u1,secondary,teacher,,,sch,\n\
               r7,active,,u2,main,teacher,,,sch,\n\
               r8,active,,u2,primary,wizard,,,sch,\n\
               r9,active,,ghost,primary,student,,,sch,\n\
               r10,active,,u2,primary,student,,,elsewhere,\n\
               r3,active,,u2,primary,student,,,sch,\n\
               r11,gone,,u2,primary,student,,,sch,\n";
        std::fs::write(dir.join("roles.csv"), roles).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [
                ("roles.csv", Some(8), Some("roleType")),
                ("roles.csv", Some(9), Some("role")),
                ("roles.csv", Some(10), Some("userSourcedId")),
                ("roles.csv", Some(11), Some("orgSourcedId")),
                ("roles.csv", Some(12), Some("sourcedId")),
                ("roles.csv", Some(13), Some("status")),
                ("users.csv", Some(8), Some("primaryOrgSourcedId")),
                ("users.csv", Some(2), Some("sourcedId")),
                ("roles.csv", Some(7), Some("roleType")),
            ],
            "{error}"
        );
        let text = error.to_string();
        assert!(
            text.contains("\"main\" is not one of primary, secondary"),
            "{text}"
        );
        assert!(
            text.contains("\"wizard\" is not one of aide, counselor, districtAdministrator")
                && text.contains("or an extension starting with ext:"),
            "{text}"
        );
        assert!(
            text.contains("user \"t1\" has no active role in roles.csv"),
            "{text}"
        );
        assert!(
            text.contains("none of user \"u1\"'s roles (line 7) is primary"),
            "{text}"
        );
    }

    #[test]
    fn users_the_roles_file_cannot_speak_for_have_no_role_and_no_problem() {
        // Bulk: a user being deleted with no role at all (s2's only role is being deleted too).
        let dir = good_v12("roles-unknown");
        let users =
            USERS_CSV.to_string() + "u1,tobedeleted,true,u1,Ul,Ma,ul@school.example,sch,,\n";
        std::fs::write(dir.join("users.csv"), users).unwrap();
        let roster = Roster::read(&dir).unwrap();
        let role = |id: &str| {
            let user = roster.users.iter().find(|u| u.sourced_id == id).unwrap();
            user.role.clone()
        };
        assert_eq!(
            (role("u1"), role("s2"), role("t1")),
            ("".into(), "student".into(), "teacher".into())
        );

        // Delta: roles.csv lists only changed roles; an active user it leaves out keeps an
        // unknown role, and one whose listed role is secondary is not refused for it.
        let dir = good_v12("roles-delta");
        let manifest = MANIFEST_CSV.replace("file.roles,bulk", "file.roles,delta");
        assert_ne!(manifest, MANIFEST_CSV);
        std::fs::write(dir.join("manifest.csv"), manifest).unwrap();
        let roles = ROLES_CSV.replace("r1,active,,t1,primary", "r1,active,,t1,secondary");
        std::fs::write(
            dir.join("roles.csv"),
            roles.replace("r5,active,,s3,primary,student,,,sch,\n", ""),
        )
        .unwrap();
        let roster = Roster::read(&dir).unwrap();
        let role = |id: &str| {
            let user = roster.users.iter().find(|u| u.sourced_id == id).unwrap();
            user.role.clone()
        };
        assert_eq!(
            (role("s3"), role("t1"), role("s1")),
            ("".into(), "".into(), "student".into())
        );
    }

    #[test]
    fn roles_csv_is_needed_with_a_bulk_users_csv() {
        let dir = good_v12("no-roles-file");
        std::fs::remove_file(dir.join("roles.csv")).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(places(&error), [("roles.csv", None, None)], "{error}");
        assert!(
            error.problems[0]
                .message
                .starts_with("the file is missing from")
                && error.problems[0]
                    .message
                    .contains("its users.csv has no role column"),
            "{error}"
        );

        let dir = good_v12("roles-absent");
        std::fs::write(
            dir.join("manifest.csv"),
            MANIFEST_CSV.replace("file.roles,bulk", "file.roles,absent"),
        )
        .unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [("manifest.csv", Some(9), Some("value"))],
            "the manifest's entry is at fault, and roles.csv is not read: {error}"
        );
        assert!(
            error.problems[0]
                .message
                .contains("file.roles is absent, but users.csv is bulk"),
            "{error}"
        );

        let dir = good_v12("roles-unnamed");
        std::fs::write(
            dir.join("manifest.csv"),
            MANIFEST_CSV.replace("file.roles,bulk\n", ""),
        )
        .unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(places(&error), [("manifest.csv", None, None)], "{error}");
        assert!(
            error.problems[0].message.contains("lacks file.roles"),
            "{error}"
        );

        // A delta of users without roles: their roles are unchanged, so not known here.
        let dir = good_v12("delta-users");
        std::fs::write(
            dir.join("manifest.csv"),
            MANIFEST_CSV
                .replace("file.users,bulk", "file.users,delta")
                .replace("file.roles,bulk", "file.roles,absent"),
        )
        .unwrap();
        let roster = Roster::read(&dir).unwrap();
        assert!(
            roster.users.iter().all(|u| u.role.is_empty()),
            "{:?}",
            roster.users
        );
    }

    #[test]
    fn user_profiles_are_checked_when_the_export_has_them() {
        let dir = good_v12("profiles");
        std::fs::write(
            dir.join("manifest.csv"),
            MANIFEST_CSV.replace("file.userProfiles,absent", "file.userProfiles,bulk"),
        )
        .unwrap();
        std::fs::write(
            dir.join("userProfiles.csv"),
            "sourcedId,status,dateLastModified,userSourcedId,profileType,vendorId,applicationId,description,credentialType,username,password\n\
             p1,active,,t1,lms,acme,,,password,ann,\n\
             p2,active,,ghost,lms,acme,,,password,gho,\n\
             p3,active,,s1,lms,,,,password,cy,\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("roles.csv"),
            ROLES_CSV
                .replace("t1,primary,teacher,,,sch,", "t1,primary,teacher,,,sch,p1")
                .replace("t2,primary,teacher,,,sch,", "t2,primary,teacher,,,sch,p1")
                .replace("s1,primary,student,,,sch,", "s1,primary,student,,,sch,p9"),
        )
        .unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [
                ("userProfiles.csv", Some(3), Some("userSourcedId")),
                ("userProfiles.csv", Some(4), Some("vendorId")),
                ("roles.csv", Some(3), Some("userProfileSourcedId")),
                ("roles.csv", Some(4), Some("userProfileSourcedId")),
            ],
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("user profile \"p1\" is user \"t1\"'s, not user \"t2\"'s"),
            "{error}"
        );
    }

    #[test]
    fn crlf_12_files_are_read_with_their_lines_as_an_editor_shows_them() {
        let crlf = |text: &str| text.replace('\n', "\r\n");
        let roles = ROLES_CSV.replace(
            "r3,active,,s1,primary,student",
            "r3,active,,s1,primary,pupil",
        );
        let dir = write_dir(
            "v12-crlf",
            &[
                ("manifest.csv", &crlf(MANIFEST_CSV)),
                ("orgs.csv", &crlf(ORGS_CSV)),
                (
                    "users.csv",
                    &crlf(&USERS_CSV.replace("bo@school.example", "bo@")),
                ),
                ("roles.csv", &crlf(&roles)),
                ("courses.csv", &crlf(COURSES_CSV)),
                ("classes.csv", &crlf(CLASSES_CSV)),
                ("enrollments.csv", &crlf(ENROLLMENTS_CSV)),
            ],
        );
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [
                ("users.csv", Some(3), Some("email")),
                ("roles.csv", Some(4), Some("role")),
            ],
            "{error}"
        );
        // Repaired, the CRLF export reads as the LF one does.
        std::fs::write(dir.join("users.csv"), crlf(USERS_CSV)).unwrap();
        std::fs::write(dir.join("roles.csv"), crlf(ROLES_CSV)).unwrap();
        let roster = Roster::read(&dir).unwrap();
        assert_eq!(roster.users, Roster::read(good_v12("lf")).unwrap().users);
        assert_eq!(roster.enrollments[1].line, 3);
    }

    /// `text` in UTF-16, little- or big-endian, with or without a byte-order mark.
    fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
        let mut bytes = Vec::new();
        let units = bom.then_some(0xFEFF).into_iter().chain(text.encode_utf16());
        for unit in units {
            bytes.extend_from_slice(&if little_endian {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            });
        }
        bytes
    }

    #[test]
    fn a_utf16_file_is_named_as_utf16_in_11_and_12() {
        for (version, dir) in [("1.1", good("utf16")), ("1.2", good_v12("utf16"))] {
            let users = std::fs::read_to_string(dir.join("users.csv")).unwrap();
            let users = users.trim_start_matches('\u{feff}');
            std::fs::write(dir.join("users.csv"), utf16(users, true, true)).unwrap();
            let error = Roster::read(&dir).unwrap_err();
            assert_eq!(
                places(&error),
                [("users.csv", Some(1), Some("sourcedId"))],
                "{version}: one problem, the enrollments of its users not reported: {error}"
            );
            let message = &error.problems[0].message;
            assert!(
                message.starts_with("the file is UTF-16LE text (it starts with a UTF-16 byte-order mark); OneRoster files must be UTF-8"),
                "{version}: {message}"
            );
        }

        // roles.csv in UTF-16BE without a mark, and a UTF-16 manifest.
        let dir = good_v12("utf16-roles");
        std::fs::write(dir.join("roles.csv"), utf16(ROLES_CSV, false, false)).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [("roles.csv", Some(1), Some("sourcedId"))],
            "{error}"
        );
        assert!(
            error.problems[0]
                .message
                .contains("UTF-16BE text (every other byte of its header is NUL)"),
            "{error}"
        );
        let dir = good_v12("utf16-manifest");
        std::fs::write(dir.join("manifest.csv"), utf16(MANIFEST_CSV, true, true)).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [("manifest.csv", Some(1), Some("propertyName"))],
            "and the 1.2 files are checked as 1.2, for roles.csv is there: {error}"
        );
    }

    #[test]
    fn latin1_bytes_are_named_by_file_line_and_column_in_12() {
        // Ann's given name in users.csv, and a role, in Latin-1.
        let dir = good_v12("latin1");
        let mut users = USERS_CSV.as_bytes().to_vec();
        let at = USERS_CSV.find(",Ann,").unwrap() + ",Ann".len();
        users.insert(at, 0xE9);
        std::fs::write(dir.join("users.csv"), users).unwrap();
        let mut roles = ROLES_CSV.as_bytes().to_vec();
        let at = ROLES_CSV.find("s1,primary,student").unwrap() + "s1,primary,stud".len();
        roles.insert(at, 0xFC);
        std::fs::write(dir.join("roles.csv"), roles).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error),
            [
                ("users.csv", Some(2), Some("givenName")),
                ("roles.csv", Some(4), Some("role")),
            ],
            "the rows are skipped, and nothing cascades from them: {error}"
        );
        assert_eq!(
            error.problems[0].message,
            "the value is not UTF-8 text (at its byte 4, 0xE9, which Latin-1 and Windows-1252 \
             write for 'é'); OneRoster files are UTF-8: save the file as UTF-8"
        );
        assert!(
            error.problems[1].message.contains("at its byte 5, 0xFC"),
            "{error}"
        );

        let dir = good_v12("latin1-manifest");
        let mut manifest = MANIFEST_CSV.as_bytes().to_vec();
        let at = MANIFEST_CSV.find("file.orgs,bulk").unwrap() + "file.orgs,bu".len();
        manifest.insert(at, 0xE9);
        std::fs::write(dir.join("manifest.csv"), manifest).unwrap();
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            places(&error)[0],
            ("manifest.csv", Some(4), Some("value")),
            "{error}"
        );
        assert!(error.problems[0].message.contains("not UTF-8"), "{error}");
    }
}
