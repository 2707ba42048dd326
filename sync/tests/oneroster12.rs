//! OneRoster 1.2 exports against the emulator: a 1.2 export of a district plans what its 1.1
//! export plans, an apply from either leaves nothing for the other, and a bad 1.2 export is
//! refused before anything is read from Classroom.

use classroom_sync::synthetic::{District, DistrictSpec};
use classroom_sync::{ChangeKind, Roster, RosterSync, SyncOptions};

mod support;
use support::{admin, emulator_for, temp_dir};

/// The district written both ways, and each read.
fn both(district: &District, name: &str) -> (Roster, Roster) {
    let v11 = temp_dir(&format!("{name}-11"));
    district.write(&v11).unwrap();
    let v12 = temp_dir(&format!("{name}-12"));
    district.write_v12(&v12).unwrap();
    assert!(
        v12.join("roles.csv").is_file() && !v11.join("roles.csv").exists(),
        "the 1.2 export gives roles in roles.csv"
    );
    let v11 = Roster::read(&v11).unwrap();
    let v12 = Roster::read(&v12).unwrap();
    assert_eq!(
        (
            v11.manifest.oneroster_version.as_str(),
            v12.manifest.oneroster_version.as_str()
        ),
        ("1.1", "1.2")
    );
    (v11, v12)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_12_export_of_the_same_district_plans_the_same_changes_as_its_11_export() {
    let district = District::generate(&DistrictSpec::default());
    let (v11, v12) = both(&district, "district");
    assert_eq!(
        v12.users, v11.users,
        "the same users, each with the role 1.1 gives them"
    );
    assert_eq!(v12.classes, v11.classes);
    assert_eq!(v12.enrollments, v11.enrollments);

    let emulator = emulator_for(&v11);
    let classroom = admin(&emulator);
    let options = SyncOptions::default()
        .remove_members(true)
        .archive_missing(true);
    let sync = RosterSync::new(classroom.clone()).options(options);

    let plan11 = sync.plan(&v11).await.unwrap();
    let plan12 = sync.plan(&v12).await.unwrap();
    assert_eq!(
        plan11.counts.get(ChangeKind::CreateCourse),
        60,
        "a plan that could not fail to differ: every class is to be created"
    );
    assert_eq!(plan11.counts.get(ChangeKind::AddStudent), 1_940);
    assert_eq!(
        plan12.changes, plan11.changes,
        "the same changes, in the same order"
    );
    assert_eq!(plan12.counts, plan11.counts);
    assert_eq!(plan12.to_string(), plan11.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_12_apply_leaves_nothing_for_the_11_export_and_a_change_in_12_is_planned() {
    let mut district = District::generate(&DistrictSpec {
        seed: 12,
        classes: 12,
        courses: 4,
        teachers: 8,
        students: 120,
        enrollments: 300,
        ..DistrictSpec::default()
    });
    let (v11, v12) = both(&district, "small");
    let emulator = emulator_for(&v11);
    let sync =
        RosterSync::new(admin(&emulator)).options(SyncOptions::default().remove_members(true));

    let report = sync.apply(&sync.plan(&v12).await.unwrap()).await;
    assert_eq!(report.summary().failed, 0, "{report}");
    assert!(report.summary().done > 0);
    let again = sync.plan(&v11).await.unwrap();
    assert!(
        again.is_empty(),
        "the 1.1 export asks for nothing the 1.2 apply did not do:\n{again}"
    );

    // A student leaves a class: both exports of the changed district plan that one removal.
    let e = &mut district.enrollments;
    let row = e.find("role", "student")[0];
    let student = e.rows[row][e.col("userSourcedId")].clone();
    e.rows.remove(row);
    let (v11, v12) = both(&district, "small-changed");
    let plan11 = sync.plan(&v11).await.unwrap();
    let plan12 = sync.plan(&v12).await.unwrap();
    assert_eq!(plan12.changes, plan11.changes);
    assert_eq!(
        plan12.counts.get(ChangeKind::RemoveStudent),
        1,
        "{student} leaves:\n{plan12}"
    );
    assert_eq!(plan12.changes.len(), 1, "{plan12}");
}

#[test]
fn a_bad_12_export_is_refused_with_file_line_and_column() {
    let district = District::generate(&DistrictSpec {
        classes: 4,
        courses: 2,
        teachers: 2,
        students: 10,
        enrollments: 20,
        ..DistrictSpec::default()
    });
    let dir = temp_dir("bad");
    district.write_v12(&dir).unwrap();
    // The first teacher's role row names a role 1.2 does not have; a student's is gone.
    let roles = std::fs::read_to_string(dir.join("roles.csv")).unwrap();
    let mut lines: Vec<String> = roles.split("\r\n").map(str::to_string).collect();
    lines[1] = lines[1].replace(",teacher,", ",headteacher,");
    let gone = lines.remove(3);
    std::fs::write(dir.join("roles.csv"), lines.join("\r\n")).unwrap();
    let error = Roster::read(&dir).unwrap_err();
    let at: Vec<(&str, Option<u64>, Option<&str>)> = error
        .problems
        .iter()
        .map(|p| (p.file.as_str(), p.line, p.column.as_deref()))
        .collect();
    assert_eq!(
        at,
        [
            ("roles.csv", Some(2), Some("role")),
            ("users.csv", Some(4), Some("sourcedId")),
        ],
        "removed: {gone}\n{error}"
    );
    assert!(
        error.to_string().contains("\"headteacher\" is not one of"),
        "{error}"
    );
}
