//! Grades back to the SIS, against the emulator: a district's coursework and submissions in
//! every state exported as OneRoster and read back; an incremental run after a teacher's
//! changes reads and exports only those; grade writes go only to this project's coursework.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use classroom::chrono::{NaiveDate, NaiveTime, Utc};
use classroom::models::{
    CourseWork, CourseWorkState, CourseWorkType, GradingPeriod, GradingPeriodSettings, Student,
    StudentSubmission,
};
use classroom::{BearerToken, Classroom, FieldMask, RetryPolicy, Scope};
use classroom_emulator::Emulator;
use classroom_sync::gradebook::{
    GradeOutcome, GradeWrite, Gradebook, GradebookClass, GradebookOptions, GradesState, Students,
    Version,
};
use classroom_sync::synthetic::{District, DistrictSpec};
use classroom_sync::{FileMode, Roster, RosterSync, SCOPES};
use futures::TryStreamExt;

mod support;
use support::temp_dir;

const TEACHER_SCOPES: [Scope; 5] = [
    Scope::Courses,
    Scope::CourseworkStudents,
    Scope::Rosters,
    Scope::ProfileEmails,
    Scope::CourseworkMe,
];

fn client(emulator: &Emulator, token: String, scopes: &[Scope]) -> Classroom {
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(token, scopes.iter().map(|s| s.url())))
        .retry(RetryPolicy::default().initial_backoff(Duration::from_millis(20)))
        .build()
        .unwrap()
}

/// A synced district: the roster, its emulator, the admin's client, the classes.
async fn district() -> (Roster, Emulator, Classroom, Vec<GradebookClass>) {
    let spec = DistrictSpec {
        schools: 1,
        courses: 2,
        classes: 2,
        teachers: 2,
        students: 12,
        enrollments: 26,
        ..DistrictSpec::default()
    };
    let dir = temp_dir("roster");
    District::generate(&spec).write(&dir).unwrap();
    let roster = Roster::read(&dir).unwrap();
    let emulator = Emulator::builder().empty().start().unwrap();
    for user in &roster.users {
        let role = if user.role == "teacher" {
            classroom_emulator::Role::Teacher
        } else {
            classroom_emulator::Role::Student
        };
        emulator.add_user(&user.email, &user.given_name, &user.family_name, role);
    }
    let sync = client(&emulator, emulator.token_for("admin", &SCOPES), &SCOPES);
    let sync = RosterSync::new(sync);
    let report = sync.apply(&sync.plan(&roster).await.unwrap()).await;
    assert!(report.failures().is_empty(), "{}", report.summary());
    let admin = client(
        &emulator,
        emulator.token_for("admin", &TEACHER_SCOPES),
        &TEACHER_SCOPES,
    );
    let classes = GradebookClass::from_roster(&roster, "sis-");
    assert_eq!(classes.len(), 2);
    (roster, emulator, admin, classes)
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn work(title: &str, points: Option<f64>, due: Option<&str>) -> CourseWork {
    CourseWork {
        title: Some(title.into()),
        work_type: Some(CourseWorkType::Assignment),
        state: Some(CourseWorkState::Published),
        max_points: points,
        due_date: due.map(|d| date(d).into()),
        due_time: due.map(|_| NaiveTime::from_hms_opt(15, 30, 0).unwrap().into()),
        ..Default::default()
    }
}

async fn students_of(classroom: &Classroom, course: &str) -> Vec<Student> {
    classroom
        .courses()
        .students()
        .list(course)
        .items()
        .try_collect()
        .await
        .unwrap()
}

async fn submission(
    classroom: &Classroom,
    course: &str,
    work: &str,
    user: &str,
) -> StudentSubmission {
    let subs: Vec<StudentSubmission> = classroom
        .courses()
        .course_work()
        .student_submissions()
        .list(course, work)
        .user_id(user)
        .items()
        .try_collect()
        .await
        .unwrap();
    subs.into_iter().next().expect("one submission")
}

async fn grade(classroom: &Classroom, sub: &StudentSubmission, field: &str, value: f64) {
    let mut body = StudentSubmission::default();
    if field == "assignedGrade" {
        body.assigned_grade = Some(value);
    } else {
        body.draft_grade = Some(value);
    }
    classroom
        .courses()
        .course_work()
        .student_submissions()
        .patch(
            sub.course_id.clone().unwrap(),
            sub.course_work_id.clone().unwrap(),
            sub.id.clone().unwrap(),
            body,
        )
        .update_mask(FieldMask::from(field))
        .send()
        .await
        .unwrap();
}

/// What a course holds: the coursework ids by name, and its students' clients.
struct Seeded {
    course: String,
    works: BTreeMap<&'static str, String>,
    students: Vec<(String, Classroom)>,
}

/// Coursework in each course: `late` (10 points, past due, a category, a grading period),
/// `open` (20 points, due next year), `ungraded` (no points), and `theirs` (5 points, made
/// through another OAuth client). Then submissions in every state.
async fn seed(emulator: &Emulator, admin: &Classroom, class: &GradebookClass) -> Seeded {
    let course = admin
        .courses()
        .get(&class.course)
        .send()
        .await
        .unwrap()
        .id
        .unwrap();
    let settings = GradingPeriodSettings {
        grading_periods: vec![GradingPeriod {
            title: Some("Quarter 1".into()),
            start_date: Some(date("2024-08-01").into()),
            end_date: Some(date("2024-10-31").into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let settings = admin
        .courses()
        .update_grading_period_settings(&course, settings)
        .update_mask(FieldMask::from("gradingPeriods"))
        .send()
        .await
        .unwrap();
    let period = settings.grading_periods[0].id.clone().unwrap();
    let mut late = work("Essay", Some(10.0), Some("2024-09-15"));
    late.grading_period_id = Some(period);
    let next_year = (Utc::now().date_naive() + classroom::chrono::Days::new(365)).to_string();
    let open = work("Project", Some(20.0), Some(&next_year));
    let ungraded = work("Reading", None, None);
    let mut works = BTreeMap::new();
    for (name, body) in [("late", late), ("open", open), ("ungraded", ungraded)] {
        let made = admin
            .courses()
            .course_work()
            .create(&course, body)
            .send()
            .await
            .unwrap();
        works.insert(name, made.id.unwrap());
    }
    emulator.add_client("other-project", "other-secret");
    let other = client(
        emulator,
        emulator.token_for_client("other-project", "admin", &TEACHER_SCOPES),
        &TEACHER_SCOPES,
    );
    let theirs = other
        .courses()
        .course_work()
        .create(&course, work("Lab", Some(5.0), None))
        .send()
        .await
        .unwrap();
    works.insert("theirs", theirs.id.unwrap());
    let students: Vec<(String, Classroom)> = students_of(admin, &course)
        .await
        .into_iter()
        .map(|s| {
            let email = s.profile.unwrap().email_address.unwrap();
            let token = emulator.token_for(&email, &[Scope::CourseworkMe]);
            (
                s.user_id.unwrap(),
                client(emulator, token, &[Scope::CourseworkMe]),
            )
        })
        .collect();
    assert!(students.len() >= 5, "{} students", students.len());
    let seeded = Seeded {
        course,
        works,
        students,
    };
    let s = |i: usize| &seeded.students[i];
    let turn_in = |i: usize, work: &'static str| {
        let (user, student) = s(i);
        let course = seeded.course.clone();
        let work = seeded.works[work].clone();
        async move {
            let sub = submission(student, &course, &work, user).await;
            student
                .courses()
                .course_work()
                .student_submissions()
                .turn_in(&course, &work, sub.id.unwrap())
                .send()
                .await
                .unwrap();
        }
    };
    let sub = |i: usize, work: &'static str| {
        let user = s(i).0.clone();
        let course = seeded.course.clone();
        let work = seeded.works[work].clone();
        async move { submission(admin, &course, &work, &user).await }
    };
    // late: 0 turned in late, graded 12 of 10 (extra credit), returned; 1 nothing (missing);
    // 2 turned in, a draft grade only; 3 turned in and reclaimed (missing); 4 graded 0.
    turn_in(0, "late").await;
    grade(admin, &sub(0, "late").await, "assignedGrade", 12.0).await;
    let returned = sub(0, "late").await;
    admin
        .courses()
        .course_work()
        .student_submissions()
        .return_(&seeded.course, &seeded.works["late"], returned.id.unwrap())
        .send()
        .await
        .unwrap();
    turn_in(2, "late").await;
    grade(admin, &sub(2, "late").await, "draftGrade", 7.5).await;
    turn_in(3, "late").await;
    let (user, student) = s(3);
    let reclaim = submission(student, &seeded.course, &seeded.works["late"], user).await;
    student
        .courses()
        .course_work()
        .student_submissions()
        .reclaim(&seeded.course, &seeded.works["late"], reclaim.id.unwrap())
        .send()
        .await
        .unwrap();
    grade(admin, &sub(4, "late").await, "assignedGrade", 0.0).await;
    // open: 0 turned in (submitted); 1 nothing (not due: no result); 2 graded without
    // turning in; 3 returned ungraded without a turn-in (no result).
    turn_in(0, "open").await;
    grade(admin, &sub(2, "open").await, "assignedGrade", 15.25).await;
    let untouched = sub(3, "open").await;
    admin
        .courses()
        .course_work()
        .student_submissions()
        .return_(&seeded.course, &seeded.works["open"], untouched.id.unwrap())
        .send()
        .await
        .unwrap();
    // theirs: 0 graded by the project that made it.
    grade(&other, &sub(0, "theirs").await, "assignedGrade", 3.0).await;
    seeded
}

/// A CSV file: its header and its rows as maps, checked for CRLF line ends.
fn read_csv(dir: &Path, name: &str) -> (Vec<String>, Vec<HashMap<String, String>>) {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    assert!(
        text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'),
        "{name}: CRLF"
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .cloned()
                .zip(r.iter().map(String::from))
                .collect()
        })
        .collect();
    (header, rows)
}

/// Checks the export in `dir` is valid OneRoster: headers, required values, references
/// (to its own files, or to the roster's classes, terms and users). Returns the results by
/// sourcedId.
fn check_valid(
    dir: &Path,
    roster: &Roster,
    version: &str,
) -> BTreeMap<String, HashMap<String, String>> {
    let (_, manifest) = read_csv(dir, "manifest.csv");
    let prop = |k: &str| {
        manifest
            .iter()
            .find(|r| r["propertyName"] == k)
            .map(|r| r["value"].clone())
            .unwrap_or_else(|| panic!("manifest has {k}"))
    };
    assert_eq!(prop("oneroster.version"), version);
    for f in [
        "file.lineItems",
        "file.results",
        "file.categories",
        "file.academicSessions",
    ] {
        assert!(["bulk", "delta"].contains(&prop(f).as_str()), "{f}");
    }
    assert_eq!(prop("file.users"), "absent");
    let v12 = version == "1.2";
    let (h, categories) = read_csv(dir, "categories.csv");
    let mut want = vec!["sourcedId", "status", "dateLastModified", "title"];
    if v12 {
        want.push("weight");
    }
    assert_eq!(h, want);
    let (h, sessions) = read_csv(dir, "academicSessions.csv");
    assert_eq!(
        h[..5],
        ["sourcedId", "status", "dateLastModified", "title", "type"]
    );
    let (h, items) = read_csv(dir, "lineItems.csv");
    assert_eq!(
        h,
        [
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
            "resultValueMax"
        ]
    );
    let (h, results) = read_csv(dir, "results.csv");
    let mut want = vec![
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
        want.extend(["late", "missing"]);
    }
    assert_eq!(h, want);

    let classes: BTreeSet<&str> = roster
        .classes
        .iter()
        .map(|c| c.sourced_id.as_str())
        .collect();
    let terms: BTreeSet<&str> = roster
        .classes
        .iter()
        .flat_map(|c| c.term_sourced_ids.iter().map(String::as_str))
        .collect();
    let students: BTreeSet<&str> = roster
        .users
        .iter()
        .filter(|u| u.role == "student")
        .map(|u| u.sourced_id.as_str())
        .collect();
    let category_ids: BTreeSet<&str> = categories.iter().map(|c| c["sourcedId"].as_str()).collect();
    let session_ids: BTreeSet<&str> = sessions.iter().map(|s| s["sourcedId"].as_str()).collect();
    for s in &sessions {
        assert!(terms.contains(s["parentSourcedId"].as_str()), "{s:?}");
        assert_eq!(s["type"], "gradingPeriod");
        for k in ["title", "startDate", "endDate", "schoolYear"] {
            assert!(!s[k].is_empty(), "{k} in {s:?}");
        }
    }
    let mut item_ids = BTreeSet::new();
    for item in &items {
        for k in [
            "sourcedId",
            "title",
            "assignDate",
            "dueDate",
            "resultValueMin",
            "resultValueMax",
        ] {
            assert!(!item[k].is_empty(), "{k} in {item:?}");
        }
        assert!(
            classes.contains(item["classSourcedId"].as_str()),
            "{item:?}"
        );
        assert!(
            category_ids.contains(item["categorySourcedId"].as_str()),
            "{item:?}"
        );
        let period = item["gradingPeriodSourcedId"].as_str();
        assert!(
            session_ids.contains(period) || terms.contains(period),
            "{item:?}"
        );
        let date_len = if v12 { 24 } else { 10 };
        assert_eq!(item["dueDate"].len(), date_len, "{item:?}");
        assert!(
            item_ids.insert(item["sourcedId"].clone()),
            "unique {item:?}"
        );
    }
    let mut by_id = BTreeMap::new();
    for r in results {
        for k in [
            "sourcedId",
            "lineItemSourcedId",
            "studentSourcedId",
            "scoreStatus",
            "scoreDate",
        ] {
            assert!(!r[k].is_empty(), "{k} in {r:?}");
        }
        if !v12 {
            assert!(!r["score"].is_empty(), "1.1 requires a score: {r:?}");
        }
        assert!(students.contains(r["studentSourcedId"].as_str()), "{r:?}");
        assert!(
            [
                "exempt",
                "fully graded",
                "not submitted",
                "partially graded",
                "submitted"
            ]
            .contains(&r["scoreStatus"].as_str()),
            "{r:?}"
        );
        assert!(
            by_id.insert(r["sourcedId"].clone(), r).is_none(),
            "unique result ids"
        );
    }
    by_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_district_in_every_state_exports_valid_oneroster_that_reads_back_equal() {
    let (roster, emulator, admin, classes) = district().await;
    let mut seeded = Vec::new();
    for class in &classes {
        seeded.push(seed(&emulator, &admin, class).await);
    }
    let students = Students::from_roster(&roster);
    for (draft, version, tag) in [(false, Version::V1_1, "1.1"), (true, Version::V1_2, "1.2")] {
        let gradebook =
            Gradebook::new(admin.clone()).options(GradebookOptions::default().draft_grades(draft));
        let export = gradebook
            .export(&classes, &students, &GradesState::new())
            .await
            .unwrap();
        assert_eq!(export.mode, FileMode::Bulk, "no state: a full read");
        assert_eq!(export.unmatched, 0);
        let dir = temp_dir("export");
        export.write(&dir, version).unwrap();
        let results = check_valid(&dir, &roster, tag);

        // Every line item is graded, published coursework: ungraded work is left out.
        let (_, items) = read_csv(&dir, "lineItems.csv");
        assert_eq!(
            items.len(),
            3 * classes.len(),
            "late, open, theirs per course"
        );
        let essay = items.iter().find(|i| i["title"] == "Essay").unwrap();
        assert_eq!(essay["resultValueMax"], "10");
        assert!(essay["dueDate"].starts_with("2024-09-15"), "{essay:?}");
        assert!(
            essay["gradingPeriodSourcedId"].contains("-gp-"),
            "{essay:?}"
        );
        // `gradeCategory` is read-only in the API (set in Classroom's gradebook), so the
        // coursework made here has none: the course's "Uncategorized".
        assert!(essay["categorySourcedId"].ends_with("-none"), "{essay:?}");
        let (_, categories) = read_csv(&dir, "categories.csv");
        assert_eq!(categories.len(), classes.len(), "{categories:?}");
        assert!(
            export
                .line_items
                .iter()
                .filter(|l| l.title == "Lab")
                .all(|l| !l.owned)
        );
        assert!(
            export
                .line_items
                .iter()
                .filter(|l| l.title != "Lab")
                .all(|l| l.owned)
        );

        // Read back: every result equals what the emulator holds, and every submission that
        // has something to report has its result.
        let mut expected = BTreeMap::new();
        for s in &seeded {
            for (name, work) in &s.works {
                if *name == "ungraded" {
                    continue;
                }
                let subs: Vec<StudentSubmission> = admin
                    .courses()
                    .course_work()
                    .student_submissions()
                    .list(&s.course, work)
                    .items()
                    .try_collect()
                    .await
                    .unwrap();
                for sub in subs {
                    let id = format!(
                        "classroom-sub-{}-{work}-{}",
                        s.course,
                        sub.id.clone().unwrap()
                    );
                    let status = match (
                        sub.assigned_grade,
                        sub.draft_grade,
                        sub.state.as_ref().unwrap().as_str(),
                        sub.late,
                    ) {
                        (Some(g), _, _, _) => Some(("fully graded", g.to_string())),
                        (None, Some(g), _, _) if draft => Some(("partially graded", g.to_string())),
                        (None, _, "TURNED_IN", _) => Some(("submitted", String::new())),
                        (None, _, _, Some(true)) => Some(("not submitted", String::new())),
                        _ => None,
                    };
                    if let Some(st) = status {
                        expected.insert(id, (st, sub.late == Some(true)));
                    }
                }
            }
        }
        let got: BTreeMap<String, ((&str, String), bool)> = results
            .iter()
            .map(|(id, r)| {
                let score = match (r["score"].as_str(), tag) {
                    ("0", "1.1") if r["scoreStatus"] != "fully graded" => String::new(),
                    (s, _) => s.parse::<f64>().map(|f| f.to_string()).unwrap_or_default(),
                };
                let late = tag == "1.2" && r["late"] == "true";
                let status = expected
                    .get(id)
                    .map(|((s, _), _)| *s)
                    .unwrap_or("unexpected");
                assert_eq!(r["scoreStatus"], status, "{id}");
                (id.clone(), ((status, score), late))
            })
            .collect();
        let expected: BTreeMap<String, ((&str, String), bool)> = expected
            .into_iter()
            .map(|(id, (st, late))| (id, (st, late && tag == "1.2")))
            .collect();
        assert_eq!(
            got, expected,
            "export {tag} reads back as the emulator holds"
        );
        // The states seeded are all there: extra credit kept, a zero, a draft, missing work.
        let statuses: BTreeSet<&str> = results
            .values()
            .map(|r| r["scoreStatus"].as_str())
            .collect();
        let mut want = BTreeSet::from(["fully graded", "submitted", "not submitted"]);
        if draft {
            want.insert("partially graded");
            for r in results.values() {
                let missing = r["scoreStatus"] == "not submitted";
                assert_eq!(r["missing"], missing.to_string(), "1.2 missing: {r:?}");
                assert!(missing || r["scoreStatus"] != "not submitted");
            }
            let missing = results.values().filter(|r| r["missing"] == "true").count();
            assert!(
                missing >= 2 * classes.len(),
                "the untouched and the reclaimed"
            );
        }
        assert_eq!(statuses, want);
        assert!(
            results.values().any(|r| r["score"] == "12"),
            "extra credit kept"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_run_reads_and_exports_only_what_a_teacher_changed() {
    let (roster, emulator, admin, classes) = district().await;
    let mut seeded = Vec::new();
    for class in &classes {
        seeded.push(seed(&emulator, &admin, class).await);
    }
    let students = Students::from_roster(&roster);
    let gradebook = Gradebook::new(admin.clone());
    let state_file = temp_dir("state").join("grades.json");
    let first = gradebook
        .export(
            &classes,
            &students,
            &GradesState::load(&state_file).unwrap(),
        )
        .await
        .unwrap();
    first.state.save(&state_file).unwrap();
    assert_eq!(first.mode, FileMode::Bulk);

    // Nothing changed: one coursework page and one submissions page a course, nothing out.
    let state = GradesState::load(&state_file).unwrap();
    let before = emulator.api_calls();
    let quiet = gradebook.export(&classes, &students, &state).await.unwrap();
    assert_eq!(emulator.api_calls() - before, 2 * classes.len() as u64);
    assert_eq!(quiet.calls, 2 * classes.len() as u64);
    assert_eq!(quiet.mode, FileMode::Delta);
    assert!(
        quiet.line_items.is_empty() && quiet.results.is_empty(),
        "{quiet:?}"
    );
    quiet.state.save(&state_file).unwrap();

    // A teacher grades three submissions and edits one coursework.
    let s = &seeded[0];
    let mut graded = BTreeSet::new();
    for i in [1, 3] {
        let sub = submission(&admin, &s.course, &s.works["late"], &s.students[i].0).await;
        grade(&admin, &sub, "assignedGrade", 6.0 + i as f64).await;
        graded.insert(sub.id.unwrap());
    }
    let other = &seeded[1];
    let sub = submission(
        &admin,
        &other.course,
        &other.works["open"],
        &other.students[0].0,
    )
    .await;
    grade(&admin, &sub, "assignedGrade", 19.0).await;
    graded.insert(sub.id.unwrap());
    admin
        .courses()
        .course_work()
        .patch(
            &s.course,
            &s.works["open"],
            CourseWork {
                title: Some("Project (revised)".into()),
                ..Default::default()
            },
        )
        .update_mask(FieldMask::from("title"))
        .send()
        .await
        .unwrap();

    let state = GradesState::load(&state_file).unwrap();
    let before = emulator.api_calls();
    let next = gradebook.export(&classes, &students, &state).await.unwrap();
    let calls = emulator.api_calls() - before;
    assert_eq!(
        calls,
        2 * classes.len() as u64,
        "a coursework page and a submissions page a course; students already known"
    );
    assert_eq!(next.calls, calls);
    assert_eq!(next.mode, FileMode::Delta);
    let titles: Vec<&str> = next.line_items.iter().map(|l| l.title.as_str()).collect();
    assert_eq!(titles, ["Project (revised)"]);
    let results: BTreeSet<String> = next
        .results
        .iter()
        .map(|r| r.classroom[2].clone())
        .collect();
    assert_eq!(results, graded, "exactly the three graded");
    assert!(next.results.iter().all(|r| r.score.is_some()));
    let dir = temp_dir("delta");
    next.write(&dir, Version::V1_1).unwrap();
    let (_, manifest) = read_csv(&dir, "manifest.csv");
    assert!(
        manifest
            .iter()
            .any(|r| r["propertyName"] == "file.results" && r["value"] == "delta")
    );
    let (_, rows) = read_csv(&dir, "results.csv");
    assert!(
        rows.iter()
            .all(|r| r["status"] == "active" && !r["dateLastModified"].is_empty())
    );
    next.state.save(&state_file).unwrap();

    // The state file lost: a full read again, never a gap.
    std::fs::remove_file(&state_file).unwrap();
    let again = gradebook
        .export(
            &classes,
            &students,
            &GradesState::load(&state_file).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(again.mode, FileMode::Bulk);
    assert_eq!(again.line_items.len(), first.line_items.len());
    assert_eq!(
        again.results.len(),
        first.results.len(),
        "graded in place: same results"
    );
    let ids = |e: &classroom_sync::gradebook::Export| -> BTreeSet<String> {
        e.results.iter().map(|r| r.sourced_id.clone()).collect()
    };
    assert!(
        ids(&first).is_subset(&ids(&again)),
        "ids stable across runs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grade_for_another_projects_coursework_is_never_sent_and_ours_lands() {
    let (_roster, emulator, admin, classes) = district().await;
    let s = seed(&emulator, &admin, &classes[0]).await;
    let ours = submission(&admin, &s.course, &s.works["open"], &s.students[1].0).await;
    let theirs = submission(&admin, &s.course, &s.works["theirs"], &s.students[1].0).await;
    assert!(ours.created_by_this_project() && !theirs.created_by_this_project());
    let writes = [
        GradeWrite::assigned(
            &s.course,
            &s.works["theirs"],
            theirs.id.clone().unwrap(),
            4.0,
        ),
        GradeWrite::assigned(&s.course, &s.works["open"], ours.id.clone().unwrap(), 17.5),
    ];
    let before = emulator.api_calls();
    let report = Gradebook::new(admin.clone()).write_grades(&writes).await;
    assert_eq!(report.calls, 3, "two coursework reads and one patch");
    assert_eq!(emulator.api_calls() - before, 3, "nothing else was sent");
    assert!(matches!(report.outcomes[0].1, GradeOutcome::NotOurs));
    assert!(matches!(report.outcomes[1].1, GradeOutcome::Written));
    assert_eq!(
        (report.written(), report.not_ours(), report.failed()),
        (1, 1, 0)
    );
    let ours = submission(&admin, &s.course, &s.works["open"], &s.students[1].0).await;
    assert_eq!(ours.assigned_grade, Some(17.5), "ours landed");
    let theirs = submission(&admin, &s.course, &s.works["theirs"], &s.students[1].0).await;
    assert_eq!(theirs.assigned_grade, None, "theirs untouched");
    // What Classroom would have said: the SDK's predicate names it.
    let refused = admin
        .courses()
        .course_work()
        .student_submissions()
        .patch(
            &s.course,
            &s.works["theirs"],
            theirs.id.unwrap(),
            StudentSubmission {
                assigned_grade: Some(4.0),
                ..Default::default()
            },
        )
        .update_mask(FieldMask::from("assignedGrade"))
        .send()
        .await
        .unwrap_err();
    assert!(refused.is_project_permission_denied(), "{refused}");
}

/// Runs the tool with `args`; its exit code and JSON lines.
fn tool(config: &Path, emulator: &Emulator, args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_classroom-sync"))
        .arg("--config")
        .arg(config)
        .args(["--log", "json", "--root-url", &emulator.root_url()])
        .args(args)
        .output()
        .unwrap();
    let lines = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (output.status.code().unwrap(), lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tool_exports_grades_in_bulk_then_as_a_delta_from_its_watermark() {
    let (roster, emulator, admin, classes) = district().await;
    let s = seed(&emulator, &admin, &classes[0]).await;
    let dir = temp_dir("tool");
    let config = dir.join("sync.toml");
    std::fs::write(
        &config,
        format!(
            r#"roster = "{}"
state_file = "state.json"
rate_limit = "none"

[credentials]
kind = "client_credentials"
client_id = "{}"
client_secret = "{}"
token_url = "{}"

[grades]
oneroster_version = "1.2"
"#,
            roster.dir.display(),
            emulator.client_id(),
            emulator.client_secret(),
            emulator.token_url()
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let out = out.to_str().unwrap();
    let (code, lines) = tool(&config, &emulator, &["grades", "--out", out]);
    assert_eq!(code, 0, "{lines:?}");
    let line = lines.iter().find(|l| l["event"] == "grades").unwrap();
    assert_eq!(line["mode"], "bulk", "{line}");
    assert!(line["results"].as_u64().unwrap() > 0, "{line}");
    assert!(
        dir.join("grades-state.json").exists(),
        "beside the sync's state file"
    );
    check_valid(Path::new(out), &roster, "1.2");

    let sub = submission(&admin, &s.course, &s.works["open"], &s.students[4].0).await;
    grade(&admin, &sub, "assignedGrade", 18.0).await;
    let (code, lines) = tool(&config, &emulator, &["grades", "--out", out]);
    assert_eq!(code, 0, "{lines:?}");
    let line = lines.iter().find(|l| l["event"] == "grades").unwrap();
    assert_eq!(
        (
            line["mode"].as_str(),
            line["results"].as_u64(),
            line["line_items"].as_u64()
        ),
        (Some("delta"), Some(1), Some(0)),
        "{line}"
    );
    let (_, rows) = read_csv(Path::new(out), "results.csv");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0]["score"].as_str(), rows[0]["scoreStatus"].as_str()),
        ("18", "fully graded")
    );

    let (code, lines) = tool(
        &config,
        &emulator,
        &["grades", "--out", out, "--since", "nonsense"],
    );
    assert_eq!(code, 2, "a bad --since is a usage error: {lines:?}");
}
