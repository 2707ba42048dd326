//! Guardians: the parents, guardians and relatives a student's `agentSourcedIds` name, invited
//! to Classroom as the student's guardians ([`SyncOptions::invite_guardians`]).
//!
//! Checked ([`check_agents`] always, [`wanted`] with the option), read (each student's
//! guardians and pending invitations, in batches), planned ([`plan`]: an invitation where
//! there is neither), applied ([`apply`]: in batches, one at a time, stopping at the acting
//! user's daily invitation quota). Guardians are never removed.

use std::collections::{BTreeMap, HashMap, HashSet};

use classroom::models::{GuardianInvitation, GuardianInvitationState};
use classroom::resources::user_profiles::guardian_invitations;
use classroom::{Classroom, ClassroomReason, MAX_BATCH_CALLS};

use super::apply::Outcome;
use super::plan::{Change, ChangeKind};
use super::roster::{InputError, Problems, Roster, User};
use super::{NotFound, RosterSync, SyncError, SyncOptions};

/// The roles of users a student's `agentSourcedIds` may name to be invited as guardians.
pub(crate) const GUARDIAN_ROLES: [&str; 3] = ["guardian", "parent", "relative"];

/// Checked by [`Roster::read`] whatever the options: in a bulk `users.csv`, every
/// `agentSourcedIds` entry names a user of the file (or a row already reported as unreadable,
/// in `broken`). `broken` is `None` when the file is not bulk or could not be read: then a
/// missing agent may be an unchanged user the export left out, and only [`wanted`] minds.
pub(crate) fn check_agents(
    roster: &Roster,
    broken: Option<&HashSet<String>>,
    problems: &mut Problems,
) {
    let Some(broken) = broken else { return };
    let ids: HashSet<&str> = roster.users.iter().map(|u| u.sourced_id.as_str()).collect();
    for user in &roster.users {
        for agent in &user.agent_sourced_ids {
            if !ids.contains(agent.as_str()) && !broken.contains(agent) {
                problems.add(
                    "users.csv",
                    Some(user.line),
                    Some("agentSourcedIds"),
                    format!("agent {agent:?} is not in users.csv"),
                );
            }
        }
    }
}

/// A student whose guardians the roster asks Classroom to invite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WantedGuardians {
    /// The student's email, lower-cased: how Classroom knows the student.
    pub(crate) student: String,
    pub(crate) student_sourced_id: String,
    /// The guardians' emails, lower-cased, with their `sourcedId`s.
    pub(crate) guardians: BTreeMap<String, String>,
}

/// With [`SyncOptions::invite_guardians`], the guardians to invite: for each active, enabled
/// student, the active, enabled agents. Checked before anything is read from Classroom, every
/// problem at its file, line and column:
///
/// - each such agent's role is `parent`, `guardian` or `relative`, and the agent has an email;
/// - a student with agents to invite has an email;
/// - in an export whose `users.csv` is a delta, each agent is in it: an unchanged guardian
///   left out has no email to invite.
///
/// Without the option: none, and nothing checked.
pub(crate) fn wanted(
    roster: &Roster,
    options: &SyncOptions,
) -> Result<Vec<WantedGuardians>, InputError> {
    if !options.invite_guardians {
        return Ok(Vec::new());
    }
    let users: HashMap<&str, &User> = roster
        .users
        .iter()
        .map(|u| (u.sourced_id.as_str(), u))
        .collect();
    let users_bulk = roster.manifest.mode("users").is_bulk();
    let mut problems = Problems::default();
    let mut no_email: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    let counts = |u: &User| u.status.is_active() && u.enabled;
    for student in &roster.users {
        if student.role != "student" || !counts(student) {
            continue;
        }
        let mut guardians = BTreeMap::new();
        for id in &student.agent_sourced_ids {
            let Some(agent) = users.get(id.as_str()) else {
                // In a bulk file Roster::read has reported it already.
                if !users_bulk {
                    problems.add(
                        "users.csv",
                        Some(student.line),
                        Some("agentSourcedIds"),
                        format!(
                            "agent {id:?} of student {:?} is not in this delta users.csv, and inviting the student's guardians needs the agent's email; include the agent, or export users.csv in bulk",
                            student.sourced_id
                        ),
                    );
                }
                continue;
            };
            if !counts(agent) {
                continue;
            }
            if !GUARDIAN_ROLES.contains(&agent.role.as_str()) {
                problems.add(
                    "users.csv",
                    Some(student.line),
                    Some("agentSourcedIds"),
                    format!(
                        "agent {id:?} (line {}) has role {:?}: only a {} is invited as a student's guardian",
                        agent.line,
                        agent.role,
                        GUARDIAN_ROLES.join(", ")
                    ),
                );
                continue;
            }
            if agent.email.trim().is_empty() {
                if no_email.insert(agent.sourced_id.as_str()) {
                    problems.add(
                        "users.csv",
                        Some(agent.line),
                        Some("email"),
                        format!(
                            "{} {id:?} is an agent of student {:?} (line {}) but has no email, where the guardian invitation would go",
                            agent.role, student.sourced_id, student.line
                        ),
                    );
                }
                continue;
            }
            guardians
                .entry(agent.email.trim().to_ascii_lowercase())
                .or_insert_with(|| agent.sourced_id.clone());
        }
        if guardians.is_empty() {
            continue;
        }
        if student.email.trim().is_empty() {
            problems.add(
                "users.csv",
                Some(student.line),
                Some("email"),
                format!(
                    "student {:?} has guardians to invite (agentSourcedIds) but no email, which is how Classroom knows the student",
                    student.sourced_id
                ),
            );
            continue;
        }
        out.push(WantedGuardians {
            student: student.email.trim().to_ascii_lowercase(),
            student_sourced_id: student.sourced_id.clone(),
            guardians,
        });
    }
    problems.into_result(&roster.dir)?;
    Ok(out)
}

/// What a student has in Classroom: guardians and pending invitations, by lower-cased email.
#[derive(Debug, Default)]
pub(crate) struct Current {
    pub(crate) guardians: HashSet<String>,
    pub(crate) pending: HashSet<String>,
}

/// The invitations that make Classroom's guardians match the roster's: one for each wanted
/// guardian who is neither a guardian of the student (by the email the guardian was invited
/// at, or their profile's) nor invited and pending. Never a removal.
pub(crate) fn diff(wanted: &[WantedGuardians], current: &[Current]) -> Vec<Change> {
    let mut changes = Vec::new();
    for (student, now) in wanted.iter().zip(current) {
        for (email, sourced_id) in &student.guardians {
            if !now.guardians.contains(email) && !now.pending.contains(email) {
                changes.push(Change::InviteGuardian {
                    student: student.student.clone(),
                    guardian: email.clone(),
                    student_sourced_id: student.student_sourced_id.clone(),
                    guardian_sourced_id: sourced_id.clone(),
                });
            }
        }
    }
    changes
}

/// Reads each wanted student's guardians and pending invitations (in batches, every page) and
/// plans the invitations missing.
pub(crate) async fn plan(
    sync: &RosterSync,
    wanted: &[WantedGuardians],
    changes: &mut Vec<Change>,
    calls: &mut u64,
) -> Result<(), SyncError> {
    if wanted.is_empty() {
        return Ok(());
    }
    let students: Vec<String> = wanted.iter().map(|w| w.student.clone()).collect();
    let page_size = sync.options.page_size;
    let profiles = sync.classroom.user_profiles();
    // A student Classroom does not know (404) lists nothing: their invitations are planned
    // and fail one by one at apply, as an unknown member's add does.
    let guardians = sync
        .list_all(
            &students,
            "guardians",
            |s| profiles.guardians().list(s).page_size(page_size),
            NotFound::IsEmpty,
            calls,
        )
        .await?;
    let invitations = sync
        .list_all(
            &students,
            "pending guardian invitations",
            |s| {
                profiles
                    .guardian_invitations()
                    .list(s)
                    .states([GuardianInvitationState::Pending])
                    .page_size(page_size)
            },
            NotFound::IsEmpty,
            calls,
        )
        .await?;
    let mut current = Vec::with_capacity(wanted.len());
    for ((student, guardians), invitations) in students.iter().zip(guardians).zip(invitations) {
        let no_email = |what: String| SyncError::NoGuardianEmail {
            student: student.clone(),
            what,
        };
        let mut now = Current::default();
        for g in guardians {
            let email = g
                .invited_email_address
                .or_else(|| g.guardian_profile.and_then(|p| p.email_address))
                .ok_or_else(|| {
                    no_email(format!("guardian {}", g.guardian_id.unwrap_or_default()))
                })?;
            now.guardians.insert(email.to_ascii_lowercase());
        }
        for i in invitations {
            // Listed as pending; a server that ignores the filter is not believed blindly.
            if i.state
                .as_ref()
                .is_some_and(|s| *s != GuardianInvitationState::Pending)
            {
                continue;
            }
            let email = i.invited_email_address.ok_or_else(|| {
                no_email(format!(
                    "guardian invitation {}",
                    i.invitation_id.unwrap_or_default()
                ))
            })?;
            now.pending.insert(email.to_ascii_lowercase());
        }
        current.push(now);
    }
    changes.extend(diff(wanted, &current));
    Ok(())
}

/// The call that invites `guardian` to be `student`'s guardian. Resending it cannot invite
/// twice: a second one answers `ALREADY_EXISTS`, which counts as already so.
pub(crate) fn invitation(
    classroom: &Classroom,
    student: &str,
    guardian: &str,
) -> guardian_invitations::Create {
    classroom
        .user_profiles()
        .guardian_invitations()
        .create(
            student,
            GuardianInvitation {
                student_id: Some(student.to_string()),
                invited_email_address: Some(guardian.to_string()),
                ..Default::default()
            },
        )
        .with_idempotency(true)
}

/// Calls and batch requests an apply's invitations took.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    pub(crate) calls: u64,
    pub(crate) batch_requests: u64,
}

/// Why an invitation was not sent when the acting user's daily quota is spent.
pub(crate) const QUOTA_SPENT: &str = "the acting user's daily invitation quota is spent \
    (@UserInvitationQuotaExhausted); the next run after the quota resets sends it";

/// Whether an error is the acting user's daily invitation quota being spent. Classroom answers
/// it 429 `RESOURCE_EXHAUSTED` with a message starting `@UserInvitationQuotaExhausted`. Any
/// other `RESOURCE_EXHAUSTED` (Classroom documents one for a student or guardian past the
/// guardian link limit) is that row's own failure, and the rest go on.
pub(crate) fn is_quota_spent(error: &classroom::Error) -> bool {
    error.classroom_reason() == Some(&ClassroomReason::UserInvitationQuotaExhausted)
}

/// Sends the plan's invitations ([`Change::InviteGuardian`]) in batches, one batch at a time,
/// writing each one's outcome into `outcomes` and calling `progress(outcomes written, of them
/// failed)` after each batch.
///
/// The daily invitation quota is the acting user's, and every invitation is sent as that user:
/// once a reply says it is spent, that invitation and every one not yet sent is
/// [`Outcome::Deferred`]. With [`SyncOptions::guardian_invitations_per_run`], once that many
/// are done the rest are deferred too. Sending one batch at a time keeps the calls refused
/// for the quota to the rest of one batch.
pub(crate) async fn apply(
    sync: &RosterSync,
    changes: &[Change],
    outcomes: &mut [Option<Outcome>],
    mut progress: impl FnMut(usize, usize),
) -> Sent {
    let mut sent = Sent::default();
    let mut todo: std::collections::VecDeque<usize> = (0..changes.len())
        .filter(|&i| changes[i].kind() == ChangeKind::InviteGuardian && outcomes[i].is_none())
        .collect();
    let cap = sync.options.guardian_invitations_per_run;
    let mut invited = 0usize;
    let mut stop: Option<String> = None;
    while !todo.is_empty() {
        let room = cap.map_or(usize::MAX, |cap| cap.saturating_sub(invited));
        if room == 0 && stop.is_none() {
            stop = Some(format!(
                "this run's cap of {} guardian invitations (guardian_invitations_per_run) is reached; the next run sends it",
                cap.unwrap_or_default()
            ));
        }
        if let Some(why) = &stop {
            let n = todo.len();
            for i in todo.drain(..) {
                outcomes[i] = Some(Outcome::Deferred(why.clone()));
            }
            progress(n, 0);
            break;
        }
        let chunk: Vec<usize> = todo
            .drain(..todo.len().min(MAX_BATCH_CALLS).min(room))
            .collect();
        sent.calls += chunk.len() as u64;
        sent.batch_requests += 1;
        let mut failed = 0;
        for (i, outcome) in sync.send_chunk(changes, &chunk).await {
            let outcome = match outcome {
                Outcome::Failed(e) if is_quota_spent(&e) => {
                    stop = Some(QUOTA_SPENT.to_string());
                    Outcome::Deferred(QUOTA_SPENT.to_string())
                }
                Outcome::Failed(e) => {
                    failed += 1;
                    Outcome::Failed(e)
                }
                Outcome::Done => {
                    invited += 1;
                    Outcome::Done
                }
                other => other,
            };
            outcomes[i] = Some(outcome);
        }
        progress(chunk.len(), failed);
    }
    sent
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::tests::{ENROLLMENTS_CSV, MANIFEST_CSV, USERS_CSV, good, positions};

    /// The good export with these rows added to users.csv (from line 7) and an
    /// `agentSourcedIds` column, s1 (line 4) naming `s1_agents`.
    fn with_agents(name: &str, s1_agents: &str, rows: &str) -> std::path::PathBuf {
        let dir = good(name);
        let mut users = String::new();
        for (n, line) in USERS_CSV.lines().enumerate() {
            let extra = match n {
                0 => "agentSourcedIds".to_string(),
                3 => format!("\"{s1_agents}\""),
                _ => String::new(),
            };
            users.push_str(&format!("{line},{extra}\n"));
        }
        users.push_str(rows);
        std::fs::write(dir.join("users.csv"), users).unwrap();
        dir
    }

    fn on() -> SyncOptions {
        SyncOptions::default().invite_guardians(true)
    }

    #[test]
    fn agents_are_read_split_on_commas_and_must_resolve_in_a_bulk_file() {
        let dir = with_agents(
            "agents-read",
            " p1 , p2,,",
            "p1,active,true,parent,p1,Pat,Ho,pat@family.example,,s1\n\
             p2,active,true,guardian,p2,Sam,Ho,sam@family.example,,\n",
        );
        let roster = Roster::read(&dir).unwrap();
        assert_eq!(
            roster.users[2].agent_sourced_ids,
            ["p1", "p2"],
            "blanks around ids and empty entries are dropped"
        );
        assert_eq!(roster.users[5].agent_sourced_ids, ["s1"]);
        assert!(roster.users[0].agent_sourced_ids.is_empty());

        let dir = with_agents(
            "agents-missing",
            "p1,p9",
            "p1,active,true,parent,p1,Pat,Ho,pat@family.example,,\n",
        );
        let error = Roster::read(&dir).unwrap_err();
        assert_eq!(
            positions(&error),
            [(Some(4), Some("agentSourcedIds"))],
            "{error}"
        );
        assert_eq!(
            error.problems[0].message, "agent \"p9\" is not in users.csv",
            "{error}"
        );
    }

    #[test]
    fn agents_that_cannot_be_invited_are_refused_only_when_inviting() {
        // s1 (line 4) names a teacher (t1, line 2), a parent without an email (p1, line 7),
        // a relative to be deleted (p2, line 8) and a guardian (p3, line 9).
        let dir = with_agents(
            "agents-bad",
            "t1,p1,p2,p3",
            "p1,active,true,parent,p1,Pat,Ho,,,\n\
             p2,tobedeleted,true,relative,p2,Ro,Ho,ro@family.example,,\n\
             p3,active,true,guardian,p3,Sam,Ho,Sam@Family.example,,\n",
        );
        let roster = Roster::read(&dir).unwrap();
        assert_eq!(
            wanted(&roster, &SyncOptions::default()).unwrap(),
            [],
            "without the option nothing is checked or wanted"
        );
        let error = wanted(&roster, &on()).unwrap_err();
        assert_eq!(
            positions(&error),
            [(Some(4), Some("agentSourcedIds")), (Some(7), Some("email"))],
            "the teacher on the student's row, the email on the parent's; not the relative \
             to be deleted: {error}"
        );
        assert!(
            error.problems[0]
                .message
                .starts_with("agent \"t1\" (line 2) has role \"teacher\""),
            "{error}"
        );
        assert!(
            error.problems[1]
                .message
                .contains("is an agent of student \"s1\" (line 4) but has no email"),
            "{error}"
        );

        // Fixed: the guardian is wanted, by the lower-cased email.
        let dir = with_agents(
            "agents-fixed",
            "p2,p3,p3",
            "p2,tobedeleted,true,relative,p2,Ro,Ho,ro@family.example,,\n\
             p3,active,true,guardian,p3,Sam,Ho,Sam@Family.example,,\n",
        );
        let roster = Roster::read(&dir).unwrap();
        let want = wanted(&roster, &on()).unwrap();
        assert_eq!(
            want,
            [WantedGuardians {
                student: "cy@school.example".into(),
                student_sourced_id: "s1".into(),
                guardians: [("sam@family.example".to_string(), "p3".to_string())].into(),
            }],
            "one invitation however often the agent is named"
        );
    }

    #[test]
    fn only_active_enabled_students_are_considered_and_need_an_email() {
        // s1 (line 4) has no email and is not enrolled; s2 (to be deleted) and s3 (disabled)
        // name a parent with no email, who is therefore not checked.
        let dir = good("agents-students");
        let users = "sourcedId,status,enabledUser,role,username,givenName,familyName,email,agentSourcedIds\n\
             t1,active,true,teacher,t1,Ann,Lee,ann.lee@school.example,\n\
             t2,active,true,teacher,t2,Bo,Ng,bo@school.example,\n\
             s1,active,true,student,s1,Cy,Ho,,p1\n\
             s2,tobedeleted,true,student,s2,Di,Oz,di@school.example,p2\n\
             s3,active,false,student,s3,Ed,Po,ed@school.example,p2\n\
             p1,active,true,parent,p1,Pat,Ho,pat@family.example,s1\n\
             p2,active,true,parent,p2,Ro,Oz,,\"s2,s3\"\n";
        std::fs::write(dir.join("users.csv"), users).unwrap();
        let enrollments: String = ENROLLMENTS_CSV
            .lines()
            .filter(|l| !l.contains(",s1,"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(dir.join("enrollments.csv"), enrollments).unwrap();
        let roster = Roster::read(&dir).unwrap();
        let error = wanted(&roster, &on()).unwrap_err();
        assert_eq!(
            positions(&error),
            [(Some(4), Some("email"))],
            "the student without an email, and nobody else: {error}"
        );
        assert!(
            error.problems[0]
                .message
                .contains("has guardians to invite"),
            "{error}"
        );
    }

    #[test]
    fn a_delta_users_file_must_hold_the_agents_it_names() {
        let manifest = MANIFEST_CSV.replace("file.users,bulk", "file.users,delta");
        let users = "sourcedId,status,enabledUser,role,username,givenName,familyName,email,agentSourcedIds\n\
             t1,active,true,teacher,t1,Ann,Lee,ann.lee@school.example,\n\
             t2,active,true,teacher,t2,Bo,Ng,bo@school.example,\n\
             s1,active,true,student,s1,Cy,Ho,cy@school.example,\"p1,p8\"\n\
             s2,active,true,student,s2,Di,Oz,di@school.example,p9\n\
             s3,active,true,student,s3,Ed,Po,ed@school.example,\n\
             p1,active,true,parent,p1,Pat,Ho,pat@family.example,s1\n";
        let dir = good("agents-delta");
        std::fs::write(dir.join("manifest.csv"), manifest).unwrap();
        std::fs::write(dir.join("users.csv"), users).unwrap();
        let roster = Roster::read(&dir).unwrap();
        assert_eq!(
            roster.users.len(),
            6,
            "a delta may name users it leaves out"
        );
        let error = wanted(&roster, &on()).unwrap_err();
        assert_eq!(
            positions(&error),
            [
                (Some(4), Some("agentSourcedIds")),
                (Some(5), Some("agentSourcedIds"))
            ],
            "{error}"
        );
        assert!(
            error.problems[0]
                .message
                .starts_with("agent \"p8\" of student \"s1\" is not in this delta users.csv")
                && error.problems[0]
                    .message
                    .ends_with("include the agent, or export users.csv in bulk"),
            "{error}"
        );
    }

    fn student(email: &str, guardians: &[&str]) -> WantedGuardians {
        WantedGuardians {
            student: email.into(),
            student_sourced_id: email.split('@').next().unwrap().into(),
            guardians: guardians
                .iter()
                .map(|g| (g.to_string(), format!("id-{g}")))
                .collect(),
        }
    }

    #[test]
    fn only_guardians_neither_linked_nor_pending_are_invited() {
        let wanted = [
            student("cy@s", &["a@f", "b@f", "c@f"]),
            student("di@s", &["a@f"]),
        ];
        let current = [
            Current {
                guardians: ["a@f".to_string(), "x@f".to_string()].into(),
                pending: ["b@f".to_string()].into(),
            },
            Current::default(),
        ];
        let changes: Vec<String> = diff(&wanted, &current)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            [
                "+ invite guardian c@f for student cy@s",
                "+ invite guardian a@f for student di@s"
            ],
            "a linked guardian and a pending invitation are not invited; another student's \
             guardian is; a guardian not in the roster (x@f) is never removed"
        );
    }

    #[test]
    fn an_invitation_serializes_with_its_kind_and_is_planned_last() {
        let change = Change::InviteGuardian {
            student: "cy@school.example".into(),
            guardian: "pat@family.example".into(),
            student_sourced_id: "s1".into(),
            guardian_sourced_id: "p1".into(),
        };
        assert_eq!(
            serde_json::to_value(&change).unwrap(),
            serde_json::json!({
                "kind": "invite_guardian",
                "student": "cy@school.example",
                "guardian": "pat@family.example",
                "student_sourced_id": "s1",
                "guardian_sourced_id": "p1",
            })
        );
        assert_eq!(change.alias(), "", "it concerns no course");
        let archive = Change::ArchiveCourse {
            alias: "d:sis-old".into(),
            course_id: "1".into(),
            name: "Old".into(),
        };
        let plan = crate::Plan::new(vec![change.clone(), archive], 0, 0);
        assert_eq!(plan.changes[1], change, "after every course change");
        assert_eq!(
            plan.to_string().lines().last().unwrap(),
            "Plan: 1 archive course, 1 invite guardian for 0 course(s) in the roster"
        );
    }
}
