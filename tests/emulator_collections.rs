//! The generic collections (topics, announcements, student groups, rubrics, ...) and the
//! special ones (rosters, aliases, registrations, grading periods) through the SDK.

#[path = "emulator_common/mod.rs"]
mod common;

use classroom::FieldMask;
use classroom::models::{
    Announcement, CloudPubsubTopic, CourseAlias, CourseRosterChangesInfo, CourseWork,
    CourseWorkType, Criterion, Feed, FeedType, GradingPeriod, GradingPeriodSettings, Level,
    Registration, Rubric, Student, StudentGroup, StudentGroupMember, Teacher, Topic,
};
use classroom_emulator::{Emulator, demo};
use common::{all_scopes, client};
use futures::TryStreamExt;

#[tokio::test]
async fn topics_announcements_and_student_groups() {
    let emulator = Emulator::start().unwrap();
    let teacher = client(&emulator, demo::TEACHER, &all_scopes());
    let c = demo::COURSE_ALIAS;

    let topic = teacher
        .courses()
        .topics()
        .create(
            c,
            Topic {
                name: Some("Geometry".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    let topic_id = topic.topic_id.clone().expect("topics are keyed by topicId");
    let renamed = teacher
        .courses()
        .topics()
        .patch(
            c,
            &topic_id,
            Topic {
                name: Some("Shapes".into()),
                ..Default::default()
            },
        )
        .update_mask(FieldMask::new(["name"]))
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.name.as_deref(), Some("Shapes"));
    let topics: Vec<_> = teacher
        .courses()
        .topics()
        .list(c)
        .items()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(topics.len(), 2, "the seeded topic and this one");
    teacher
        .courses()
        .topics()
        .delete(c, &topic_id)
        .send()
        .await
        .unwrap();
    let gone = teacher
        .courses()
        .topics()
        .get(c, &topic_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.http_status(), Some(404));

    let note = teacher
        .courses()
        .announcements()
        .create(
            c,
            Announcement {
                text: Some("Test on Friday".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        note.state,
        Some(classroom::models::AnnouncementState::Draft),
        "unspecified state defaults to DRAFT"
    );
    let empty = teacher
        .courses()
        .announcements()
        .create(c, Announcement::default())
        .send()
        .await
        .unwrap_err();
    assert_eq!(empty.http_status(), Some(400), "text is required");

    let group = teacher
        .courses()
        .student_groups()
        .create(
            c,
            StudentGroup {
                title: Some("Table 1".into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    let group_id = group.id.unwrap();
    let members = teacher.courses().student_groups().student_group_members();
    members
        .create(
            c,
            &group_id,
            StudentGroupMember {
                user_id: Some(demo::STUDENT.into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    let again = members
        .create(
            c,
            &group_id,
            StudentGroupMember {
                user_id: Some(demo::STUDENT.into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.http_status(), Some(409));
    let listed = members.list(c, &group_id).send().await.unwrap();
    assert_eq!(listed.student_group_members.len(), 1);
    let missing = members.list(c, "no-such-group").send().await.unwrap_err();
    assert_eq!(
        missing.http_status(),
        Some(404),
        "the parent group must exist"
    );
}

#[tokio::test]
async fn rubrics_grading_periods_aliases_and_registrations() {
    let emulator = Emulator::start().unwrap();
    let teacher = client(&emulator, demo::TEACHER, &all_scopes());
    let c = demo::COURSE_ALIAS;
    let work = teacher
        .courses()
        .course_work()
        .create(
            c,
            CourseWork {
                title: Some("Poster".into()),
                work_type: Some(CourseWorkType::Assignment),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    let work_id = work.id.unwrap();
    let rubric = teacher
        .courses()
        .course_work()
        .rubrics()
        .create(
            c,
            &work_id,
            Rubric {
                criteria: vec![Criterion {
                    title: Some("Clarity".into()),
                    // A criterion without a level is @RubricCriteriaInvalidFormat.
                    levels: vec![Level {
                        title: Some("Clear".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    assert!(rubric.criteria[0].id.is_some(), "criteria get ids");
    let second = teacher
        .courses()
        .course_work()
        .rubrics()
        .create(c, &work_id, Rubric::default())
        .send()
        .await
        .unwrap_err();
    assert_eq!(second.http_status(), Some(409), "one rubric per work");

    let settings = teacher
        .courses()
        .update_grading_period_settings(
            c,
            GradingPeriodSettings {
                grading_periods: vec![GradingPeriod {
                    title: Some("Term 1".into()),
                    ..Default::default()
                }],
                ..Default::default()
            },
        )
        .update_mask(FieldMask::new(["gradingPeriods"]))
        .send()
        .await
        .unwrap();
    assert!(settings.grading_periods[0].id.is_some());
    let read = teacher
        .courses()
        .get_grading_period_settings(c)
        .send()
        .await
        .unwrap();
    assert_eq!(read, settings);

    let alias = teacher
        .courses()
        .aliases()
        .create(
            c,
            CourseAlias {
                alias: Some("p:maths".into()),
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(alias.alias.as_deref(), Some("p:maths"));
    let domain = teacher
        .courses()
        .aliases()
        .create(
            c,
            CourseAlias {
                alias: Some("d:mine".into()),
            },
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        domain.http_status(),
        Some(403),
        "domain aliases are for admins"
    );
    let aliases = teacher
        .courses()
        .aliases()
        .list("p:maths")
        .send()
        .await
        .unwrap();
    assert_eq!(aliases.aliases.len(), 2);
    teacher
        .courses()
        .aliases()
        .delete(c, "p:maths")
        .send()
        .await
        .unwrap();

    let registration = teacher
        .registrations()
        .create(Registration {
            feed: Some(Feed {
                feed_type: Some(FeedType::CourseRosterChanges),
                course_roster_changes_info: Some(CourseRosterChangesInfo {
                    course_id: Some(c.into()),
                }),
                ..Default::default()
            }),
            cloud_pubsub_topic: Some(CloudPubsubTopic {
                topic_name: Some("projects/demo/topics/roster".into()),
            }),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    assert!(registration.expiry_time.is_some());
    let id = registration.registration_id.unwrap();
    teacher.registrations().delete(&id).send().await.unwrap();
    let twice = teacher
        .registrations()
        .delete(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(twice.http_status(), Some(404));
}

#[tokio::test]
async fn rosters() {
    let emulator = Emulator::builder().empty().start().unwrap();
    let teacher = client(&emulator, demo::TEACHER, &all_scopes());
    let course = teacher
        .courses()
        .create(classroom::models::Course {
            name: Some("Chemistry".into()),
            owner_id: Some("me".into()),
            ..Default::default()
        })
        .send()
        .await
        .unwrap();
    let id = course.id.unwrap();
    let student = teacher
        .courses()
        .students()
        .create(
            &id,
            Student {
                user_id: Some(demo::STUDENT.into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        student.profile.unwrap().email_address.as_deref(),
        Some(demo::STUDENT),
        "profiles are embedded"
    );
    let dup = teacher
        .courses()
        .students()
        .create(
            &id,
            Student {
                user_id: Some(demo::STUDENT.into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(dup.http_status(), Some(409));
    teacher
        .courses()
        .teachers()
        .create(
            &id,
            Teacher {
                user_id: Some(demo::SECOND_TEACHER.into()),
                ..Default::default()
            },
        )
        .send()
        .await
        .unwrap();
    let owner_removed = teacher
        .courses()
        .teachers()
        .delete(&id, "me")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        owner_removed.http_status(),
        Some(400),
        "the owner stays a teacher"
    );
    let teachers = teacher.courses().teachers().list(&id).send().await.unwrap();
    assert_eq!(teachers.teachers.len(), 2);

    // A student joins with the enrollment code.
    let code = course.enrollment_code.unwrap();
    let katherine = client(&emulator, demo::SECOND_STUDENT, &all_scopes());
    let wrong = katherine
        .courses()
        .students()
        .create(
            &id,
            Student {
                user_id: Some("me".into()),
                ..Default::default()
            },
        )
        .enrollment_code("wrong")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.http_status(), Some(403));
    katherine
        .courses()
        .students()
        .create(
            &id,
            Student {
                user_id: Some("me".into()),
                ..Default::default()
            },
        )
        .enrollment_code(code)
        .send()
        .await
        .unwrap();
    let students = teacher.courses().students().list(&id).send().await.unwrap();
    assert_eq!(students.students.len(), 2);
    teacher
        .courses()
        .students()
        .delete(&id, demo::STUDENT)
        .send()
        .await
        .unwrap();
    let gone = teacher
        .courses()
        .students()
        .get(&id, demo::STUDENT)
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.http_status(), Some(404));
}

#[tokio::test]
async fn add_on_attachments_hang_off_existing_posts() {
    let emulator = Emulator::start().unwrap();
    let teacher = client(&emulator, demo::TEACHER, &all_scopes());
    let c = demo::COURSE_ALIAS;
    let work = teacher
        .courses()
        .course_work()
        .list(c)
        .send()
        .await
        .unwrap()
        .course_work[0]
        .id
        .clone()
        .unwrap();
    let attachment = classroom::models::AddOnAttachment {
        title: Some("Simulation".into()),
        teacher_view_uri: Some(classroom::models::EmbedUri {
            uri: Some("https://addon.example/t".into()),
        }),
        student_view_uri: Some(classroom::models::EmbedUri {
            uri: Some("https://addon.example/s".into()),
        }),
        ..Default::default()
    };
    let created = teacher
        .courses()
        .course_work()
        .add_on_attachments()
        .create(c, &work, attachment.clone())
        .send()
        .await
        .unwrap();
    let id = created.id.clone().unwrap();
    // The same post seen through courses.posts.
    let through_posts = teacher
        .courses()
        .posts()
        .add_on_attachments()
        .get(c, &work, &id)
        .send()
        .await
        .unwrap();
    assert_eq!(through_posts.title.as_deref(), Some("Simulation"));
    let orphan = teacher
        .courses()
        .course_work()
        .add_on_attachments()
        .create(c, "no-such-work", attachment)
        .send()
        .await
        .unwrap_err();
    assert_eq!(orphan.http_status(), Some(404), "the post must exist");
}
