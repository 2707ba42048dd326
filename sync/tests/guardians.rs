//! Guardian invitations against the emulator: planned only where Classroom has neither the
//! guardian nor a pending invitation, sent up to the acting user's daily invitation quota, the
//! rest deferred one outcome each and sent the next day.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use classroom::models::{GuardianInvitation, GuardianInvitationState};
use classroom::{Classroom, MAX_BATCH_CALLS};
use classroom_emulator::{Emulator, Quotas, Role};
use classroom_sync::synthetic::{District, DistrictSpec};
use classroom_sync::{
    Change, ChangeKind, GUARDIAN_SCOPE, Outcome, Plan, Progress, Roster, RosterSync, SCOPES,
    SyncError, SyncOptions,
};
use futures::TryStreamExt;

mod support;
use support::{admin_with, temp_dir};

fn options() -> SyncOptions {
    SyncOptions::default().invite_guardians(true)
}

/// An empty emulator with `quotas`, whose domain holds the roster's teachers and students
/// (guardians are families' own accounts, not the domain's), but not those in `leave_out`.
fn emulator_for(roster: &Roster, quotas: Quotas, leave_out: &[&str]) -> Emulator {
    let emulator = Emulator::builder().empty().quotas(quotas).start().unwrap();
    for user in &roster.users {
        let role = match user.role.as_str() {
            "teacher" => Role::Teacher,
            "student" => Role::Student,
            _ => continue,
        };
        if !leave_out.contains(&user.email.as_str()) {
            emulator.add_user(&user.email, &user.given_name, &user.family_name, role);
        }
    }
    emulator
}

/// Every guardian invitation in Classroom, pending or not, as (student email, invited
/// email), each checked to be there once. `emails` maps the students' ids to their emails.
async fn invitations(
    classroom: &Classroom,
    emails: &HashMap<String, String>,
) -> BTreeSet<(String, String)> {
    let all: Vec<GuardianInvitation> = classroom
        .user_profiles()
        .guardian_invitations()
        .list("-")
        .states([
            GuardianInvitationState::Pending,
            GuardianInvitationState::Complete,
        ])
        .items()
        .try_collect()
        .await
        .unwrap();
    let mut set = BTreeSet::new();
    for i in &all {
        let student = emails[i.student_id.as_deref().unwrap()].clone();
        let pair = (student, i.invited_email_address.clone().unwrap());
        assert!(set.insert(pair.clone()), "one invitation for {pair:?}");
    }
    set
}

/// The roster's students in the emulator: their ids and emails.
fn student_ids(emulator: &Emulator, roster: &Roster) -> HashMap<String, String> {
    roster
        .users
        .iter()
        .filter(|u| u.role == "student")
        .filter_map(|u| Some((emulator.user_id(&u.email)?, u.email.to_ascii_lowercase())))
        .collect()
}

/// The (student, guardian) pairs of a plan's invitations.
fn invited(changes: &[&Change]) -> BTreeSet<(String, String)> {
    changes
        .iter()
        .filter_map(|c| match c {
            Change::InviteGuardian {
                student, guardian, ..
            } => Some((student.clone(), guardian.clone())),
            _ => None,
        })
        .collect()
}

fn plan_invites(plan: &Plan) -> BTreeSet<(String, String)> {
    invited(&plan.changes.iter().collect::<Vec<_>>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardians_are_invited_up_to_the_quota_and_the_rest_the_next_day() {
    // The default district (60 classes, 1,000 users) with 1,200 guardians: every student one,
    // 250 of them two. The acting admin may send 700 invitations a day.
    let spec = DistrictSpec {
        guardians: 1_200,
        ..DistrictSpec::default()
    };
    let dir = temp_dir("district");
    District::generate(&spec).write(&dir).unwrap();
    let roster = Roster::read(&dir).unwrap();
    let quota = 700;
    let emulator = emulator_for(
        &roster,
        Quotas::none().daily_invitations_per_user(quota),
        &[],
    );
    let classroom = admin_with(&emulator, &options().scopes());
    let sync = RosterSync::new(classroom.clone()).options(options());
    let ids = student_ids(&emulator, &roster);

    let plan = sync.plan(&roster).await.unwrap();
    assert_eq!(plan.counts.get(ChangeKind::InviteGuardian), 1_200);
    assert_eq!(
        plan.counts.get(ChangeKind::AddStudent),
        1_940,
        "the courses are planned as ever"
    );
    let wanted = plan_invites(&plan);
    assert_eq!(wanted.len(), 1_200, "no invitation planned twice");

    let rejections = emulator.quota_rejections();
    let report = sync.apply(&plan).await;
    let summary = report.summary();
    assert_eq!(
        report.outcomes.len(),
        plan.changes.len(),
        "one outcome per change"
    );
    assert_eq!(summary.failed, 0, "{report}");
    assert_eq!(summary.done, 2_000 + quota as usize, "{summary}");
    assert_eq!(summary.deferred, 1_200 - quota as usize, "{summary}");
    for o in &report.outcomes {
        match &o.outcome {
            Outcome::Deferred(why) => {
                assert_eq!(o.change.kind(), ChangeKind::InviteGuardian);
                assert!(why.contains("daily invitation quota is spent"), "{why}");
            }
            other => assert!(other.is_ok(), "{o}"),
        }
    }
    let refused = emulator.quota_rejections() - rejections;
    assert!(
        refused > 0 && refused <= MAX_BATCH_CALLS as u64,
        "once the quota is spent only the rest of that batch is refused, and nothing more is \
         sent: {refused} refused"
    );
    let sent: BTreeSet<_> = invited(
        &report
            .outcomes
            .iter()
            .filter(|o| matches!(o.outcome, Outcome::Done))
            .map(|o| &o.change)
            .collect::<Vec<_>>(),
    );
    assert_eq!(invitations(&classroom, &ids).await, sent);

    // The same day: exactly the deferred ones are planned again, none of those pending.
    let again = sync.plan(&roster).await.unwrap();
    assert_eq!(
        again.changes.len(),
        1_200 - quota as usize,
        "{}",
        again.counts
    );
    let deferred = plan_invites(&again);
    assert!(deferred.is_disjoint(&sent), "never a second invitation");
    assert_eq!(
        deferred.union(&sent).cloned().collect::<BTreeSet<_>>(),
        wanted
    );

    // The next day the rest go out, and then nothing is left.
    emulator.reset_quotas();
    let report = sync.apply(&again).await;
    assert_eq!(report.summary().done, 1_200 - quota as usize, "{report}");
    assert_eq!(report.summary().deferred, 0);
    let rest = 1_200 - u64::from(quota);
    assert_eq!(
        (report.calls, report.batch_requests),
        (rest, rest.div_ceil(50)),
        "one call per invitation, in batches of 50"
    );
    let last = sync.plan(&roster).await.unwrap();
    assert!(last.is_empty(), "{last}");
    assert_eq!(invitations(&classroom, &ids).await, wanted);
}

/// One class taught by ann, with students cy (agents p1, p2, p3), di (agent p1, also a parent
/// of cy's) and ed (agent p4); p5 is a parent to be deleted, named by di. ed is not in the
/// domain.
fn family(name: &str, extra_users: &str) -> PathBuf {
    let dir = temp_dir(name);
    let users = format!(
        "sourcedId,status,enabledUser,role,username,givenName,familyName,email,agentSourcedIds\n\
         ann,active,true,teacher,ann,Ann,Lee,ann@school.example,\n\
         cy,active,true,student,cy,Cy,Ho,cy@school.example,\"p1,p2,p3\"\n\
         di,active,true,student,di,Di,Ho,di@school.example,\"p1,p5\"\n\
         ed,active,true,student,ed,Ed,Po,ed@school.example,p4\n\
         p1,active,true,parent,p1,Pat,Ho,Pat.Ho@family.example,\"cy,di\"\n\
         p2,active,true,guardian,p2,Sam,Ho,sam@family.example,cy\n\
         p3,active,true,relative,p3,Ro,Ho,ro@family.example,cy\n\
         p4,active,true,parent,p4,Lu,Po,lu@family.example,ed\n\
         p5,tobedeleted,true,parent,p5,Al,Ho,al@family.example,di\n{extra_users}"
    );
    let files = [
        (
            "manifest.csv",
            "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\n\
             file.users,bulk\nfile.courses,bulk\nfile.classes,bulk\nfile.enrollments,bulk\n",
        ),
        ("orgs.csv", "sourcedId,name,type\nsch,School,school\n"),
        ("users.csv", &users),
        (
            "courses.csv",
            "sourcedId,title,orgSourcedId\nbio,Biology,sch\n",
        ),
        (
            "classes.csv",
            "sourcedId,title,courseSourcedId,classType,schoolSourcedId,termSourcedIds\n\
             k1,Biology P1,bio,scheduled,sch,t1\n",
        ),
        (
            "enrollments.csv",
            "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,primary\n\
             e1,k1,sch,ann,teacher,true\n\
             e2,k1,sch,cy,student,\n\
             e3,k1,sch,di,student,\n",
        ),
    ];
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

fn pair(student: &str, guardian: &str) -> (String, String) {
    (student.to_string(), guardian.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_guardian_and_a_pending_invitation_are_never_invited_again() {
    let roster = Roster::read(family("linked", "")).unwrap();
    let emulator = emulator_for(&roster, Quotas::none(), &["ed@school.example"]);
    let ids = student_ids(&emulator, &roster);
    let classroom = admin_with(&emulator, &options().scopes());
    // Before the sync: pat is cy's guardian already (invited in another case, accepted), and
    // sam has a pending invitation for cy.
    let profiles = classroom.user_profiles();
    let accepted = profiles
        .guardian_invitations()
        .create(
            "cy@school.example",
            GuardianInvitation {
                student_id: Some("cy@school.example".into()),
                invited_email_address: Some("pat.ho@FAMILY.example".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    emulator
        .accept_guardian_invitation("cy@school.example", &accepted.invitation_id.unwrap())
        .unwrap();
    profiles
        .guardian_invitations()
        .create(
            "cy@school.example",
            GuardianInvitation {
                student_id: Some("cy@school.example".into()),
                invited_email_address: Some("sam@family.example".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();

    let sync = RosterSync::new(classroom.clone()).options(options());
    let plan = sync.plan(&roster).await.unwrap();
    assert_eq!(
        plan_invites(&plan),
        [
            pair("cy@school.example", "ro@family.example"),
            pair("di@school.example", "pat.ho@family.example"),
            pair("ed@school.example", "lu@family.example"),
        ]
        .into(),
        "not pat for cy (linked), nor sam (pending), nor al (to be deleted); pat for di, whose \
         guardian pat is not yet; ed, whom Classroom does not know, too"
    );
    let line = plan
        .to_string()
        .lines()
        .find(|l| l.contains("ro@family.example"))
        .unwrap()
        .to_string();
    assert_eq!(
        line,
        "+ invite guardian ro@family.example for student cy@school.example"
    );

    // Someone invites ro before the apply: the stale plan's invitation is already so, and
    // Classroom holds one invitation, not two.
    profiles
        .guardian_invitations()
        .create(
            "cy@school.example",
            GuardianInvitation {
                student_id: Some("cy@school.example".into()),
                invited_email_address: Some("ro@family.example".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    let mut last = None;
    let report = sync
        .apply_with_progress(&plan, |p| last = Some((p.done, p.total, p.failed)))
        .await;
    let total = plan.changes.len();
    assert_eq!(
        last,
        Some((total, total, 1)),
        "the unknown student's row counted as failed"
    );
    let outcomes: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| o.change.kind() == ChangeKind::InviteGuardian)
        .map(|o| match &o.outcome {
            Outcome::Done => format!("{}: done", o.change),
            Outcome::AlreadySo => format!("{}: already so", o.change),
            Outcome::Failed(e) => format!("{}: failed {}", o.change, e.http_status().unwrap()),
            other => format!("{}: {other:?}", o.change),
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "+ invite guardian ro@family.example for student cy@school.example: already so",
            "+ invite guardian pat.ho@family.example for student di@school.example: done",
            "+ invite guardian lu@family.example for student ed@school.example: failed 404",
        ],
        "one outcome per row; an unknown student fails alone"
    );
    assert_eq!(
        invitations(&classroom, &ids).await,
        [
            pair("cy@school.example", "pat.ho@FAMILY.example"),
            pair("cy@school.example", "sam@family.example"),
            pair("cy@school.example", "ro@family.example"),
            pair("di@school.example", "pat.ho@family.example"),
        ]
        .into()
    );
    let again = sync.plan(&roster).await.unwrap();
    assert_eq!(
        plan_invites(&again),
        [pair("ed@school.example", "lu@family.example")].into(),
        "only what failed is left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_per_run_defers_the_rest_without_touching_the_quota() {
    let roster = Roster::read(family("cap", "")).unwrap();
    let emulator = emulator_for(&roster, Quotas::none(), &["ed@school.example"]);
    let classroom = admin_with(&emulator, &options().scopes());
    let sync =
        RosterSync::new(classroom.clone()).options(options().guardian_invitations_per_run(2));
    let plan = sync.plan(&roster).await.unwrap();
    // cy: pat, ro, sam; di: pat; ed: lu (fails: not in the domain).
    assert_eq!(plan.counts.get(ChangeKind::InviteGuardian), 5);
    let mut seen = Vec::new();
    let report = sync
        .apply_with_progress(&plan, |p: Progress| seen.push(p))
        .await;
    let results: Vec<&str> = report
        .outcomes
        .iter()
        .filter(|o| o.change.kind() == ChangeKind::InviteGuardian)
        .map(|o| match &o.outcome {
            Outcome::Done => "done",
            Outcome::Deferred(why) => {
                assert!(
                    why.starts_with("this run's cap of 2 guardian invitations"),
                    "{why}"
                );
                "deferred"
            }
            _ => "other",
        })
        .collect();
    assert_eq!(
        results,
        ["done", "done", "deferred", "deferred", "deferred"]
    );
    assert_eq!(report.summary().deferred, 3);
    assert_eq!(
        report.summary().to_string(),
        "5 done, 0 already so, 0 skipped, 0 failed, 3 deferred",
        "the course, two students, two invitations"
    );
    assert_eq!(
        seen.last().map(|p| (p.done, p.total)),
        Some((plan.changes.len(), plan.changes.len())),
        "progress reaches every change"
    );
    assert_eq!(emulator.quota_rejections(), 0);
    let next = sync.plan(&roster).await.unwrap();
    assert_eq!(next.changes.len(), 3, "the deferred ones, planned again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardians_need_the_option_its_scope_and_agents_that_can_be_invited() {
    let roster = Roster::read(family("option", "")).unwrap();
    let emulator = emulator_for(&roster, Quotas::none(), &[]);

    // Off by default: no invitation planned, no guardian read.
    let classroom = admin_with(&emulator, &SCOPES);
    let plain = RosterSync::new(classroom.clone())
        .plan(&roster)
        .await
        .unwrap();
    assert_eq!(plain.counts.get(ChangeKind::InviteGuardian), 0);
    assert_eq!(
        options().scopes(),
        [SCOPES.as_slice(), &[GUARDIAN_SCOPE]].concat()
    );

    // On, with a token without the guardian scope: refused before anything is sent.
    let calls = emulator.api_calls();
    let error = RosterSync::new(classroom)
        .options(options())
        .plan(&roster)
        .await
        .unwrap_err();
    match &error {
        SyncError::Read { source, .. } => assert!(source.is_missing_scope(), "{error}"),
        other => panic!("{other}"),
    }
    let course_reads = emulator.api_calls() - calls;
    assert_eq!(
        course_reads, plain.read_calls,
        "only the course reads were sent; no guardian list went out"
    );

    // An agent that is a teacher: an input error at its place, before any call.
    let roster = Roster::read(family(
        "teacher-agent",
        "fi,active,true,student,fi,Fi,Lo,fi@school.example,ann\n",
    ))
    .unwrap();
    let classroom = admin_with(&emulator, &options().scopes());
    let calls = emulator.api_calls();
    let error = RosterSync::new(classroom)
        .options(options())
        .plan(&roster)
        .await
        .unwrap_err();
    let SyncError::Input(input) = &error else {
        panic!("{error}")
    };
    let at: Vec<_> = input
        .problems
        .iter()
        .map(|p| (p.file.as_str(), p.line, p.column.as_deref()))
        .collect();
    assert_eq!(
        at,
        [("users.csv", Some(11), Some("agentSourcedIds"))],
        "{error}"
    );
    assert_eq!(emulator.api_calls(), calls, "nothing was read");

    // An agent not in a bulk users.csv: refused by Roster::read, options or not.
    let error = Roster::read(family(
        "unknown-agent",
        "fi,active,true,student,fi,Fi,Lo,fi@school.example,\"p1, nobody\"\n",
    ))
    .unwrap_err();
    assert_eq!(error.problems.len(), 1, "{error}");
    assert_eq!(
        error.problems[0].to_string(),
        "users.csv line 11, column agentSourcedIds: agent \"nobody\" is not in users.csv"
    );
}
