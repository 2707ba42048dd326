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
use super::roster::{Problems, Roster, Status, Table, read_table, unique, unresolved};

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
    needed_for: " (a OneRoster export has orgs.csv, users.csv, courses.csv, classes.csv and enrollments.csv)",
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

    let Some(_) = roles_ok else {
        return;
    };
    if !usable.users_read {
        return;
    }
    let mut by_user: HashMap<&str, Vec<&Role>> = HashMap::new();
    for role in roles.iter().filter(|r| r.status.is_active()) {
        by_user.entry(role.user.as_str()).or_default().push(role);
    }
    let roles_bulk = mode.is_bulk();
    let mut assigned = Vec::new();
    for (i, user) in roster.users.iter().enumerate() {
        let held = by_user.get(user.sourced_id.as_str());
        let Some(held) = held else {
            // A bulk roles.csv is every role: a user without one has none, which 1.2 forbids.
            // A delta lists only the roles changed: this user's are not known here.
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
            }
            continue;
        };
        let primary_org = primary_orgs
            .get(&user.sourced_id)
            .map_or("", String::as_str);
        let primaries: Vec<&&Role> = held.iter().filter(|r| r.primary).collect();
        let chosen = primaries
            .iter()
            .find(|r| !primary_org.is_empty() && r.org == primary_org)
            .or_else(|| primaries.first());
        match chosen {
            Some(role) => assigned.push((i, role.role.clone())),
            None => {
                let lines: Vec<String> = held.iter().map(|r| r.line.to_string()).collect();
                problems.add(
                    "roles.csv",
                    Some(held[0].line),
                    Some("roleType"),
                    format!(
                        "none of user {:?}'s roles (lines {}) is primary; OneRoster 1.2 marks one role of each user primary",
                        user.sourced_id,
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
