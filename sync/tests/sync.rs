//! Roster sync against the emulator: a synthetic district planned, applied and
//! planned again; CSV changes planned exactly; faults and interruptions converging; malformed
//! input refused before anything is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use classroom::models::Course;
use classroom::{BearerToken, Classroom};
use classroom_emulator::{Emulator, Fault};
use classroom_sync::synthetic::{District, DistrictSpec};
use classroom_sync::{
    Change, ChangeKind, CourseNaming, Outcome, Roster, RosterSync, SCOPES, SyncError, SyncOptions,
    Template, alias_for,
};

#[path = "../../tests/common/mod.rs"]
mod common;
use futures::TryStreamExt;

mod support;
use support::{add_users, admin, emulator_for, temp_dir};

fn write(district: &District, name: &str) -> PathBuf {
    let dir = temp_dir(name);
    district.write(&dir).unwrap();
    dir
}

/// Every course in Classroom with its teachers' and students' emails, each list checked for
/// duplicates.
async fn classroom_state(
    classroom: &Classroom,
) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let courses: Vec<Course> = classroom
        .courses()
        .list()
        .items()
        .try_collect()
        .await
        .unwrap();
    let mut state = BTreeMap::new();
    let mut names = BTreeSet::new();
    for course in courses {
        let id = course.id.clone().unwrap();
        let aliases: Vec<_> = classroom
            .courses()
            .aliases()
            .list(&id)
            .items()
            .try_collect()
            .await
            .unwrap();
        let alias = aliases
            .first()
            .and_then(|a| a.alias.clone())
            .unwrap_or_else(|| panic!("course {id} has no alias: created without one"));
        assert!(names.insert(alias.clone()), "one course per alias");
        let teachers: Vec<_> = classroom
            .courses()
            .teachers()
            .list(&id)
            .items()
            .try_collect()
            .await
            .unwrap();
        let students: Vec<_> = classroom
            .courses()
            .students()
            .list(&id)
            .items()
            .try_collect()
            .await
            .unwrap();
        let emails = |profiles: Vec<Option<classroom::models::UserProfile>>| {
            let list: Vec<String> = profiles
                .into_iter()
                .map(|p| p.unwrap().email_address.unwrap())
                .collect();
            let set: BTreeSet<String> = list.iter().cloned().collect();
            assert_eq!(set.len(), list.len(), "no member twice in {alias}");
            set
        };
        let t = emails(teachers.into_iter().map(|t| t.profile).collect());
        let s = emails(students.into_iter().map(|s| s.profile).collect());
        if course.course_state != Some(classroom::models::CourseState::Archived) {
            state.insert(alias, (t, s));
        }
    }
    state
}

/// What the roster asks for, in the same shape.
fn roster_state(
    roster: &Roster,
    prefix: &str,
) -> BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> {
    let email: BTreeMap<&str, &str> = roster
        .users
        .iter()
        .map(|u| (u.sourced_id.as_str(), u.email.as_str()))
        .collect();
    let mut state: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)> = roster
        .classes
        .iter()
        .map(|c| (alias_for(prefix, &c.sourced_id), Default::default()))
        .collect();
    for e in &roster.enrollments {
        let entry = state
            .get_mut(&alias_for(prefix, &e.class_sourced_id))
            .unwrap();
        let email = email[e.user_sourced_id.as_str()].to_string();
        match e.role.as_str() {
            "teacher" => entry.0.insert(email),
            _ => entry.1.insert(email),
        };
    }
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_is_planned_applied_and_then_matches_until_its_files_change() {
    let mut district = District::generate(&DistrictSpec::default());
    let dir = write(&district, "district");
    let roster = Roster::read(&dir).unwrap();
    assert_eq!(
        (
            roster.classes.len(),
            roster.users.len(),
            roster.enrollments.len()
        ),
        (60, 1_000, 2_000),
        "the synthetic district is the size the issue asks for"
    );
    let emulator = emulator_for(&roster);
    let classroom = admin(&emulator);
    let options = SyncOptions::default()
        .remove_members(true)
        .archive_missing(true);
    let sync = RosterSync::new(classroom.clone()).options(options);

    let plan = sync.plan(&roster).await.unwrap();
    assert_eq!(plan.counts.get(ChangeKind::CreateCourse), 60);
    assert_eq!(plan.counts.get(ChangeKind::AddStudent), 1_940);
    assert_eq!(
        plan.counts.get(ChangeKind::AddTeacher),
        0,
        "each class's only teacher owns its new course, so is not added again"
    );
    assert!(
        classroom_state(&classroom).await.is_empty(),
        "planning writes nothing"
    );

    let started = Instant::now();
    let report = sync.apply(&plan).await;
    let took = started.elapsed();
    assert_eq!(report.summary().failed, 0, "{report}");
    assert_eq!(report.summary().done, 2_000);
    eprintln!(
        "apply of the synthetic district: {} changes, {} calls in {} batch requests, {took:?} \
         (plan read {} calls)",
        report.outcomes.len(),
        report.calls,
        report.batch_requests,
        plan.read_calls
    );
    let again = sync.plan(&roster).await.unwrap();
    assert!(
        again.is_empty(),
        "after apply nothing is left to do:\n{again}"
    );
    assert_eq!(
        classroom_state(&classroom).await,
        roster_state(&roster, "sis-")
    );

    // The SIS changes: a student moves class, a class is dropped, a teacher is added.
    let e = &mut district.enrollments;
    let (class_col, user_col, role_col) = (
        e.col("classSourcedId"),
        e.col("userSourcedId"),
        e.col("role"),
    );
    let dropped = "class-0060";
    let moved_row = (0..e.rows.len())
        .find(|&i| e.rows[i][role_col] == "student" && e.rows[i][class_col] != dropped)
        .unwrap();
    let student = e.rows[moved_row][user_col].clone();
    let from = e.rows[moved_row][class_col].clone();
    let to = (1..60)
        .map(|i| format!("class-{i:04}"))
        .find(|c| {
            *c != from
                && e.find("classSourcedId", c)
                    .iter()
                    .all(|&r| e.rows[r][user_col] != student)
        })
        .unwrap();
    e.rows[moved_row][class_col] = to.clone();
    e.rows.retain(|r| r[class_col] != dropped);
    district.classes.rows.retain(|r| r[0] != dropped);
    let school = district.classes.rows[0][district.classes.col("schoolSourcedId")].clone();
    district.enrollments.push(&[
        ("sourcedId", "enr-new-teacher"),
        ("status", "active"),
        ("classSourcedId", "class-0001"),
        ("schoolSourcedId", &school),
        ("userSourcedId", "t-0002"),
        ("role", "teacher"),
        ("primary", "false"),
    ]);
    let dir = write(&district, "district-changed");
    let changed = Roster::read(&dir).unwrap();
    let email = |id: &str| {
        changed
            .users
            .iter()
            .find(|u| u.sourced_id == id)
            .unwrap()
            .email
            .clone()
    };
    let plan = sync.plan(&changed).await.unwrap();
    let mut got: Vec<String> = plan
        .changes
        .iter()
        .map(|c| match c {
            Change::ArchiveCourse { alias, .. } => format!("archive {alias}"),
            Change::AddStudent { alias, email } => format!("add student {email} {alias}"),
            Change::RemoveStudent { alias, email, .. } => format!("remove student {email} {alias}"),
            Change::AddTeacher { alias, email } => format!("add teacher {email} {alias}"),
            other => format!("unexpected {other}"),
        })
        .collect();
    got.sort();
    let mut want = vec![
        format!("archive d:sis-{dropped}"),
        format!("add student {} d:sis-{to}", email(&student)),
        format!("remove student {} d:sis-{from}", email(&student)),
        format!("add teacher {} d:sis-class-0001", email("t-0002")),
    ];
    want.sort();
    assert_eq!(
        got, want,
        "the plan holds exactly the SIS's changes:\n{plan}"
    );

    let report = sync.apply(&plan).await;
    assert_eq!(report.summary().done, 4, "{report}");
    assert!(sync.plan(&changed).await.unwrap().is_empty());
    assert_eq!(
        classroom_state(&classroom).await,
        roster_state(&changed, "sis-")
    );
}

/// Plans and applies until the plan is empty (at most `rounds` times); returns how many
/// applies it took.
async fn converge(sync: &RosterSync, roster: &Roster, rounds: usize) -> usize {
    for round in 1..=rounds {
        // A read that failed after the client's retries stops the plan, and nothing is
        // written; the next round reads again.
        let plan = match sync.plan(roster).await {
            Ok(plan) => plan,
            Err(e) => {
                eprintln!("round {round}: the plan could not read Classroom: {e}");
                continue;
            }
        };
        if plan.is_empty() {
            return round - 1;
        }
        let _ = sync.apply(&plan).await;
    }
    panic!("no convergence in {rounds} rounds");
}

fn small_district(seed: u64) -> District {
    District::generate(&DistrictSpec {
        seed,
        classes: 12,
        courses: 4,
        teachers: 8,
        students: 120,
        enrollments: 300,
        ..DistrictSpec::default()
    })
}

/// Each course's name, section and room in Classroom, by alias.
async fn course_fields(
    classroom: &Classroom,
    roster: &Roster,
) -> BTreeMap<String, (String, String, String)> {
    let mut out = BTreeMap::new();
    for class in &roster.classes {
        let alias = alias_for("sis-", &class.sourced_id);
        let course = classroom.courses().get(&alias).send().await.unwrap();
        let field = |f: Option<String>| f.unwrap_or_default();
        out.insert(
            class.sourced_id.clone(),
            (
                field(course.name),
                field(course.section),
                field(course.room),
            ),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn courses_are_named_after_their_subject_and_sectioned_by_period_or_as_configured() {
    let mut district = small_district(5);
    let roster = Roster::read(write(&district, "naming")).unwrap();
    let emulator = emulator_for(&roster);
    let classroom = admin(&emulator);
    let sync = RosterSync::new(classroom.clone());
    let report = sync.apply(&sync.plan(&roster).await.unwrap()).await;
    assert_eq!(report.summary().failed, 0, "{report}");

    // Twelve classes of four courses, titled "Algebra I - Period 1" and so on.
    let subjects = ["Algebra I", "Geometry", "Biology", "Chemistry"];
    let fields = course_fields(&classroom, &roster).await;
    for (i, class) in roster.classes.iter().enumerate() {
        let (name, section, room) = &fields[&class.sourced_id];
        assert_eq!(
            (name.as_str(), section.clone(), room),
            (
                subjects[i % 4],
                format!("Period {}", i / 4 + 1),
                &class.location
            ),
            "the default: the subject as the name, the period as the section, as Classroom \
             suggests, not {} courses named after their period",
            roster.classes.len()
        );
    }

    // The district adds an extension column, and wants codes, teachers and schools shown.
    let classes = &mut district.classes;
    classes.header.push("metadata.teacher");
    for (i, row) in classes.rows.iter_mut().enumerate() {
        row.push(if i == 0 {
            String::new()
        } else {
            format!("Teacher {i}")
        });
    }
    let roster = Roster::read(write(&district, "naming-custom")).unwrap();
    let naming = CourseNaming::default()
        .name(Template::parse("{course.courseCode}: {course.title}").unwrap())
        .section(Template::parse("Period {class.periods} · {class.metadata.teacher}").unwrap())
        .room(Template::parse("{class.location} ({school.name})").unwrap());
    let sync = RosterSync::new(classroom.clone()).options(SyncOptions::default().naming(naming));
    let plan = sync.plan(&roster).await.unwrap();
    assert_eq!(
        (
            plan.counts.get(ChangeKind::UpdateCourse),
            plan.counts.total()
        ),
        (12, 12),
        "every course is renamed, nothing else:\n{plan}"
    );
    let report = sync.apply(&plan).await;
    assert_eq!(report.summary().failed, 0, "{report}");
    let fields = course_fields(&classroom, &roster).await;
    let school = |i: usize| format!("Synthetic High School {}", i % 2 + 1);
    let (name, section, room) = &fields["class-0001"];
    assert_eq!(
        (name.as_str(), section.as_str(), room.clone()),
        (
            "C001: Algebra I",
            "Period 1",
            format!("{} ({})", roster.classes[0].location, school(0))
        ),
        "an empty value takes its separator with it"
    );
    let (name, section, room) = &fields["class-0006"];
    assert_eq!(
        (name.as_str(), section.as_str(), room.clone()),
        (
            "C002: Geometry",
            "Period 2 · Teacher 5",
            format!("{} ({})", roster.classes[5].location, school(5))
        )
    );
    assert!(
        sync.plan(&roster).await.unwrap().is_empty(),
        "and it stays so"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_lost_after_the_server_acted_and_overload_still_converge_without_duplicates() {
    let district = small_district(7);
    let roster = Roster::read(write(&district, "faults")).unwrap();
    let emulator = emulator_for(&roster);
    let classroom = admin(&emulator);
    let sync =
        RosterSync::new(classroom.clone()).options(SyncOptions::default().remove_members(true));
    // Faults hit whole batch requests: the server carries out all their calls, then the
    // answer is lost (dropped, or replaced by 503), or the request is refused (429, 503).
    emulator.inject(Fault::drop_after_commit().on("batch").fraction(0.15));
    emulator.inject(Fault::unavailable_after_commit().on("batch").fraction(0.1));
    emulator.inject(Fault::unavailable().on("batch").fraction(0.1));
    emulator.inject(
        Fault::rate_limited(Duration::from_secs(1))
            .on("batch")
            .times(2),
    );

    let plan = loop {
        match sync.plan(&roster).await {
            Ok(plan) => break plan,
            Err(e) => eprintln!("the first plan could not read Classroom: {e}"),
        }
    };
    let report = sync.apply(&plan).await;
    let resent = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::AlreadySo))
        .count();
    eprintln!("under faults: {} (already so: {resent})", report.summary());
    let rounds = converge(&sync, &roster, 10).await;
    eprintln!("converged after {rounds} more apply(s)");
    emulator.clear_faults();
    assert!(sync.plan(&roster).await.unwrap().is_empty());
    assert_eq!(
        classroom_state(&classroom).await,
        roster_state(&roster, "sis-"),
        "every course once, every member once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apply_cut_off_midway_is_finished_by_the_next() {
    let district = small_district(11);
    let roster = Roster::read(write(&district, "interrupted")).unwrap();
    let emulator = emulator_for(&roster);
    let classroom = admin(&emulator);
    let sync = RosterSync::new(classroom.clone()).options(SyncOptions::default().concurrency(1));
    emulator.inject(Fault::latency(Duration::from_millis(150)).on("batch"));
    let plan = sync.plan(&roster).await.unwrap();
    let cut = tokio::time::timeout(Duration::from_millis(450), sync.apply(&plan)).await;
    assert!(cut.is_err(), "the apply was interrupted");
    emulator.clear_faults();
    let partial = sync.plan(&roster).await.unwrap();
    assert!(
        !partial.is_empty() && partial.changes.len() < plan.changes.len(),
        "part was done: {} of {} changes left",
        partial.changes.len(),
        plan.changes.len()
    );
    let report = sync.apply(&partial).await;
    assert_eq!(report.summary().failed, 0, "{report}");
    assert!(sync.plan(&roster).await.unwrap().is_empty());
    assert_eq!(
        classroom_state(&classroom).await,
        roster_state(&roster, "sis-")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_outside_the_domain_fails_alone_and_the_rest_is_applied() {
    let district = small_district(3);
    let roster = Roster::read(write(&district, "outsider")).unwrap();
    let emulator = Emulator::builder().empty().start().unwrap();
    let outsider = roster
        .users
        .iter()
        .find(|u| u.role == "student")
        .unwrap()
        .email
        .clone();
    add_users(&emulator, &roster, |email| email != outsider);
    let sync = RosterSync::new(admin(&emulator));
    let plan = sync.plan(&roster).await.unwrap();
    let report = sync.apply(&plan).await;
    let failures = report.failures();
    assert!(!failures.is_empty());
    for failure in &failures {
        match (&failure.change, &failure.outcome) {
            (Change::AddStudent { email, .. }, Outcome::Failed(e)) => {
                assert_eq!(*email, outsider);
                assert!(
                    !e.is_retryable(),
                    "a user not in the domain will not clear: {e}"
                );
            }
            other => panic!("only the outsider's adds fail: {other:?}"),
        }
    }
    assert_eq!(
        report.summary().done,
        plan.changes.len() - failures.len(),
        "everything else was applied"
    );
    let again = sync.plan(&roster).await.unwrap();
    assert_eq!(
        again.changes.len(),
        failures.len(),
        "only the failures are left"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["summary"]["failed"], failures.len());
}

/// Writes a district, lets `corrupt` spoil it, and checks the one problem reported.
async fn refused(
    name: &str,
    corrupt: impl FnOnce(&mut District, &std::path::Path),
    file: &str,
    line: Option<u64>,
    column: Option<&str>,
    says: &str,
) {
    let mut district = small_district(5);
    let dir = temp_dir(name);
    corrupt(&mut district, &dir);
    if !dir.join("users.csv").exists() {
        district.write(&dir).unwrap();
    }
    let error = Roster::read(&dir).unwrap_err();
    let problem = error
        .problems
        .iter()
        .find(|p| p.file == file)
        .unwrap_or_else(|| panic!("{name}: a problem in {file}: {error}"));
    assert_eq!(
        (problem.line, problem.column.as_deref()),
        (line, column),
        "{name}: where: {error}"
    );
    assert!(problem.message.contains(says), "{name}: what: {error}");
    assert!(
        error.problems.iter().all(|p| p.file == file),
        "{name}: no problem cascades into other files: {error}"
    );
    let text = error.to_string();
    assert!(
        text.contains(file) && text.contains("nothing was changed"),
        "{text}"
    );
}

#[tokio::test]
async fn malformed_input_is_refused_with_its_file_line_and_column_and_changes_nothing() {
    refused(
        "missing",
        |d, dir| {
            d.write(dir).unwrap();
            std::fs::remove_file(dir.join("enrollments.csv")).unwrap();
        },
        "enrollments.csv",
        None,
        None,
        "missing",
    )
    .await;
    refused(
        "unknown-header",
        |d, _| d.classes.header[3] = "titel",
        "classes.csv",
        Some(1),
        Some("titel"),
        "unknown column",
    )
    .await;
    refused(
        "missing-header",
        |d, _| {
            let c = d.enrollments.col("userSourcedId");
            d.enrollments.header.remove(c);
            for row in &mut d.enrollments.rows {
                row.remove(c);
            }
        },
        "enrollments.csv",
        Some(1),
        Some("userSourcedId"),
        "lacks the required column",
    )
    .await;
    refused(
        "short-row",
        |d, dir| {
            d.write(dir).unwrap();
            let path = dir.join("classes.csv");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            // Line 4: cut after the fifth field (grades), so courseSourcedId on are missing.
            let fields: Vec<&str> = lines[3].split(',').take(5).collect();
            lines[3] = fields.join(",");
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        },
        "classes.csv",
        Some(4),
        Some("courseSourcedId"),
        "the row has 5 fields but the header has 14",
    )
    .await;
    refused(
        "unknown-class",
        |d, _| {
            let c = d.enrollments.col("classSourcedId");
            d.enrollments.rows[9][c] = "class-9999".into();
        },
        "enrollments.csv",
        Some(11),
        Some("classSourcedId"),
        "class \"class-9999\" is not in classes.csv",
    )
    .await;
    refused(
        "unknown-user",
        |d, _| {
            let c = d.enrollments.col("userSourcedId");
            d.enrollments.rows[19][c] = "nobody".into();
        },
        "enrollments.csv",
        Some(21),
        Some("userSourcedId"),
        "user \"nobody\" is not in users.csv",
    )
    .await;
    refused(
        "duplicate",
        |d, _| {
            // The row of line 4 again, as line 10.
            let again = d.users.rows[2].clone();
            d.users.rows.insert(8, again);
        },
        "users.csv",
        Some(10),
        Some("sourcedId"),
        "already used on line 4",
    )
    .await;

    // Through the whole pipeline: the error comes before any call, so Classroom is untouched.
    let mut district = small_district(5);
    district.classes.header[3] = "titel";
    let dir = write(&district, "pipeline");
    let emulator = Emulator::builder().empty().start().unwrap();
    let classroom = admin(&emulator);
    let result: Result<(), SyncError> = async {
        let roster = Roster::read(&dir)?;
        let sync = RosterSync::new(classroom.clone());
        let plan = sync.plan(&roster).await?;
        sync.apply(&plan).await;
        Ok(())
    }
    .await;
    assert!(matches!(result, Err(SyncError::Input(_))));
    assert!(
        classroom_state(&classroom).await.is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn the_plan_reads_as_json_with_its_counts() {
    let roster = Roster::read(write(&small_district(9), "json")).unwrap();
    let emulator = emulator_for(&roster);
    let plan = RosterSync::new(admin(&emulator))
        .plan(&roster)
        .await
        .unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["counts"]["create_course"], 12);
    assert_eq!(json["changes"][0]["kind"], "create_course");
    assert!(
        json["changes"][0]["alias"]
            .as_str()
            .unwrap()
            .starts_with("d:sis-class-")
    );
    let back: classroom_sync::Plan = serde_json::from_value(json).unwrap();
    assert_eq!(back, plan, "a plan read back from JSON is the same plan");
    assert!(plan.to_string().contains("Plan: 12 create course"));
}

/// Two classes: k1 taught by ann (primary), with students cy and di; k2 taught by bo (primary)
/// and eve, with students cy and fay.
fn two_classes(name: &str) -> Roster {
    let dir = temp_dir(name);
    let files = [
        ("orgs.csv", "sourcedId,name,type\nsch,School,school\n"),
        (
            "users.csv",
            "sourcedId,enabledUser,role,username,givenName,familyName,email\n\
             ann,true,teacher,ann,Ann,Lee,ann@school.example\n\
             bo,true,teacher,bo,Bo,Ng,bo@school.example\n\
             eve,true,teacher,eve,Eve,Ma,eve@school.example\n\
             cy,true,student,cy,Cy,Ho,cy@school.example\n\
             di,true,student,di,Di,Oz,di@school.example\n\
             fay,true,student,fay,Fay,Wu,fay@school.example\n",
        ),
        (
            "courses.csv",
            "sourcedId,title,orgSourcedId\nbio,Biology,sch\n",
        ),
        (
            "classes.csv",
            "sourcedId,title,courseSourcedId,classType,schoolSourcedId,termSourcedIds\n\
             k1,Biology P1,bio,scheduled,sch,t1\n\
             k2,Biology P2,bio,scheduled,sch,t1\n",
        ),
        (
            "enrollments.csv",
            "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role,primary\n\
             e1,k1,sch,ann,teacher,true\n\
             e2,k1,sch,cy,student,\n\
             e3,k1,sch,di,student,\n\
             e4,k2,sch,bo,teacher,true\n\
             e5,k2,sch,eve,teacher,false\n\
             e6,k2,sch,cy,student,\n\
             e7,k2,sch,fay,student,\n",
        ),
    ];
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    std::fs::write(dir.join("manifest.csv"), manifest("bulk", "bulk")).unwrap();
    Roster::read(&dir).unwrap()
}

/// A OneRoster 1.1 manifest whose classes and enrollments files are as given, the rest bulk.
fn manifest(classes: &str, enrollments: &str) -> String {
    format!(
        "propertyName,value\r\nmanifest.version,1.0\r\noneroster.version,1.1\r\n\
         file.orgs,bulk\r\nfile.users,bulk\r\nfile.courses,bulk\r\n\
         file.classes,{classes}\r\nfile.enrollments,{enrollments}\r\n"
    )
}

#[tokio::test]
async fn a_course_that_cannot_be_created_skips_its_own_members_and_no_others() {
    let roster = two_classes("one-create-fails");
    // k1's owner is not in the domain, so creating k1 fails.
    let emulator = Emulator::builder().empty().start().unwrap();
    add_users(&emulator, &roster, |email| email != "ann@school.example");
    let classroom = admin(&emulator);
    let sync = RosterSync::new(classroom.clone());
    let plan = sync.plan(&roster).await.unwrap();
    let report = sync.apply(&plan).await;
    let got: Vec<String> = report
        .outcomes
        .iter()
        .map(|o| {
            let what = match &o.outcome {
                Outcome::Done => "done".to_string(),
                Outcome::Failed(_) => "failed".to_string(),
                Outcome::Skipped(why) => format!("skipped: {why}"),
                other => format!("{other:?}"),
            };
            format!("{}: {what}", o.change)
        })
        .collect();
    let skipped = "skipped: the course d:sis-k1 could not be created";
    assert_eq!(
        got,
        [
            "+ create course d:sis-k1: name \"Biology\", section \"P1\", room \"\", owner ann@school.example: failed".to_string(),
            "+ create course d:sis-k2: name \"Biology\", section \"P2\", room \"\", owner bo@school.example: done".to_string(),
            format!("+ add student cy@school.example to d:sis-k1: {skipped}"),
            format!("+ add student di@school.example to d:sis-k1: {skipped}"),
            "+ add teacher eve@school.example to d:sis-k2: done".to_string(),
            "+ add student cy@school.example to d:sis-k2: done".to_string(),
            "+ add student fay@school.example to d:sis-k2: done".to_string(),
        ],
        "the failed creation skips the adds to its own course only"
    );
    assert_eq!(report.calls, 5, "skipped changes are not sent");
    let mut want = BTreeMap::new();
    want.insert(
        "d:sis-k2".to_string(),
        (
            BTreeSet::from([
                "bo@school.example".to_string(),
                "eve@school.example".to_string(),
            ]),
            BTreeSet::from([
                "cy@school.example".to_string(),
                "fay@school.example".to_string(),
            ]),
        ),
    );
    assert_eq!(classroom_state(&classroom).await, want);
}

#[tokio::test]
async fn an_alias_prefix_aliases_do_not_allow_is_refused_before_any_call() {
    let roster = two_classes("bad-prefix");
    let emulator = emulator_for(&roster);
    let options = SyncOptions::default().alias_prefix("sis/");
    let result = RosterSync::new(admin(&emulator))
        .options(options)
        .plan(&roster)
        .await;
    match result {
        Err(SyncError::InvalidPrefix(prefix)) => assert_eq!(prefix, "sis/"),
        other => panic!("a prefix with '/' is refused: {other:?}"),
    }
    assert_eq!(emulator.api_calls(), 0, "nothing was read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_rate_limit_paces_the_whole_sync() {
    let roster = Roster::read(write(&small_district(13), "limited")).unwrap();
    let emulator = emulator_for(&roster);
    // 6,000 calls a minute: 100 a second after a burst of 100.
    let token = emulator.token_for("admin", &SCOPES);
    let classroom = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(token, SCOPES.iter().map(|s| s.url())))
        .rate_limit(classroom::RateLimit::new().user_per_minute(6_000))
        .build()
        .unwrap();
    let sync = RosterSync::new(classroom);
    let plan = sync.plan(&roster).await.unwrap();
    let started = Instant::now();
    let report = sync.apply(&plan).await;
    let took = started.elapsed();
    assert_eq!(report.summary().failed, 0, "{report}");
    let calls = plan.read_calls + report.calls;
    let bound = Duration::from_secs_f64((calls as f64 - 100.0) / 100.0);
    eprintln!(
        "{} calls (plan {} + apply {}) at 100/s after a burst of 100: apply took {took:?}, the \
         quota allows {bound:?} for plan and apply together",
        calls, plan.read_calls, report.calls
    );
    assert!(
        took + Duration::from_millis(150) >= bound,
        "every call waited its turn: {took:?} for {calls} calls"
    );
}

/// Every list a server answers names the same next page: the sync's own reading of pages
/// (in batches) is guarded as the SDK's streams are, and ends with a page-loop error instead
/// of asking for that page forever.
#[tokio::test]
async fn a_list_that_repeats_its_page_token_ends_the_plan_with_an_error() {
    let server = common::TestServer::start(|request| {
        let answers: Vec<_> = common::parts(request)
            .iter()
            .map(|(id, line, _)| {
                let path = line.split(' ').nth(1).unwrap().split('?').next().unwrap();
                let body = if path.ends_with("/teachers") || path.ends_with("/students") {
                    r#"{"nextPageToken": "again"}"#.to_string()
                } else {
                    let alias = path.rsplit('/').next().unwrap();
                    format!(r#"{{"id": "{alias}", "ownerId": "owner"}}"#)
                };
                common::Answer::to(id, (200, body))
            })
            .collect();
        common::multipart(&answers)
    })
    .await;
    let roster = Roster::read(write(&small_district(7), "page-loop")).unwrap();
    let classroom = Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::new("t", SCOPES.iter().map(|s| s.url())))
        .build()
        .unwrap();
    let plan = tokio::time::timeout(
        Duration::from_secs(20),
        RosterSync::new(classroom).plan(&roster),
    )
    .await
    .expect("the sync kept asking for a page it had read");
    match plan {
        Err(SyncError::Read { source, .. }) => match *source {
            classroom::Error::PageLoop {
                method,
                kind: classroom::PageLoop::RepeatedToken(token),
                ..
            } => {
                assert_eq!(method, "classroom.courses.teachers.list");
                assert_eq!(token, "again");
            }
            other => panic!("expected a page-loop error, got {other:?}"),
        },
        other => panic!("expected a page-loop error, got {other:?}"),
    }
}

/// Writes a delta export in which every file is delta: `users` and `enrollments` rows (CSV,
/// CRLF line ends) under their headers, and no org, course or class changed.
fn delta_export(name: &str, users: &str, enrollments: &str) -> PathBuf {
    let dir = temp_dir(name);
    std::fs::write(dir.join("manifest.csv"), all_delta()).unwrap();
    for (file, header, rows) in [
        ("orgs.csv", "sourcedId,name,type", ""),
        (
            "users.csv",
            "sourcedId,enabledUser,role,username,givenName,familyName,email",
            users,
        ),
        ("courses.csv", "sourcedId,title,orgSourcedId", ""),
        (
            "classes.csv",
            "sourcedId,status,title,courseSourcedId,classType,schoolSourcedId,termSourcedIds",
            "",
        ),
        (
            "enrollments.csv",
            "sourcedId,status,classSourcedId,schoolSourcedId,userSourcedId,role,primary",
            enrollments,
        ),
    ] {
        std::fs::write(dir.join(file), format!("{header}\r\n{rows}")).unwrap();
    }
    dir
}

/// Every file delta: nothing changed but what the rows say.
fn all_delta() -> String {
    "propertyName,value\r\noneroster.version,1.1\r\nfile.orgs,delta\r\nfile.users,delta\r\n\
     file.courses,delta\r\nfile.classes,delta\r\nfile.enrollments,delta\r\n"
        .to_string()
}

#[tokio::test]
async fn a_delta_export_removes_only_what_it_marks_tobedeleted() {
    let roster = two_classes("delta-base");
    let emulator = emulator_for(&roster);
    let classroom = admin(&emulator);
    let options = SyncOptions::default()
        .remove_members(true)
        .archive_missing(true);
    let sync = RosterSync::new(classroom.clone()).options(options);
    let plan = sync.plan(&roster).await.unwrap();
    assert!(sync.apply(&plan).await.failures().is_empty());
    let before = classroom_state(&classroom).await;

    // Since then: fay joined k1 and di left it. No class, course or other user changed, so
    // the delta files hold only those two users and enrollments.
    let dir = delta_export(
        "delta",
        "di,true,student,di,Di,Oz,di@school.example\r\n\
         fay,true,student,fay,Fay,Wu,fay@school.example\r\n",
        "e3,tobedeleted,k1,sch,di,student,\r\ne8,active,k1,sch,fay,student,\r\n",
    );
    let delta = Roster::read(&dir).unwrap();
    let plan = sync.plan(&delta).await.unwrap();
    let changes: Vec<String> = plan.changes.iter().map(|c| c.to_string()).collect();
    assert_eq!(
        plan.changes.len(),
        2,
        "one add and one removal, no archive, update or other removal: {changes:?}"
    );
    assert!(plan.changes.iter().any(|c| matches!(
        c,
        Change::AddStudent { alias, email } if alias == "d:sis-k1" && email == "fay@school.example"
    )));
    assert!(plan.changes.iter().any(|c| matches!(
        c,
        Change::RemoveStudent { alias, email, .. } if alias == "d:sis-k1" && email == "di@school.example"
    )));
    assert!(sync.apply(&plan).await.failures().is_empty());
    let mut want = before.clone();
    let k1 = want.get_mut("d:sis-k1").unwrap();
    k1.1.remove("di@school.example");
    k1.1.insert("fay@school.example".to_string());
    assert_eq!(classroom_state(&classroom).await, want);
    assert!(sync.plan(&delta).await.unwrap().is_empty(), "applied");

    // The same export with its enrollments and classes absent says nothing of members or
    // courses: nothing to do, whatever the options.
    let manifest = all_delta()
        .replace("file.enrollments,delta", "file.enrollments,absent")
        .replace("file.classes,delta", "file.classes,absent");
    std::fs::write(dir.join("manifest.csv"), manifest).unwrap();
    let absent = Roster::read(&dir).unwrap();
    assert!(absent.enrollments.is_empty(), "an absent file is not read");
    assert!(sync.plan(&absent).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delta_enrollment_needs_its_user_and_a_class_somewhere() {
    let roster = two_classes("delta-needs-base");
    let emulator = emulator_for(&roster);
    let sync =
        RosterSync::new(admin(&emulator)).options(SyncOptions::default().remove_members(true));
    let plan = sync.plan(&roster).await.unwrap();
    assert!(sync.apply(&plan).await.failures().is_empty());

    // eve's user record is not in the delta: the sync cannot know her email.
    let dir = delta_export("delta-no-user", "", "e9,active,k1,sch,eve,teacher,\r\n");
    let error = Roster::read(&dir).unwrap_err();
    assert_eq!(error.problems.len(), 1, "{error}");
    let problem = &error.problems[0];
    assert_eq!(
        (
            problem.file.as_str(),
            problem.line,
            problem.column.as_deref()
        ),
        ("enrollments.csv", Some(2), Some("userSourcedId")),
        "{error}"
    );
    assert!(
        problem.message.contains("not in this delta users.csv"),
        "{error}"
    );

    // A class neither in the delta nor in Classroom: nothing to enroll into.
    let dir = delta_export(
        "delta-no-class",
        "fay,true,student,fay,Fay,Wu,fay@school.example\r\n",
        "e9,active,k9,sch,fay,student,\r\n",
    );
    let delta = Roster::read(&dir).unwrap();
    match sync.plan(&delta).await {
        Err(SyncError::Input(error)) => {
            assert!(error.to_string().contains("class \"k9\" is not in this export's classes.csv, and Classroom has no course d:sis-k9"), "{error}");
        }
        other => panic!("expected an input error, got {other:?}"),
    }
}
