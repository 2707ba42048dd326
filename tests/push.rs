//! Push notifications end to end on the emulator: its pushes over real HTTP on 127.0.0.1 to a
//! receiver built on `classroom::push`, every refusal the OIDC check owes, de-duplication,
//! registrations renewed under paused time, and the reconcile pass after lost pushes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use classroom::models::{CourseWork, Student, StudentSubmission};
use classroom::push::{
    FeedSpec, Fetched, KeeperEvent, PushMessage, PushReceiver, PushVerifier, Read,
    RegistrationKeeper, coursework_changed_since, submissions_changed_since,
};
use classroom::{BearerToken, Classroom, Scope};
use classroom_emulator::{Emulator, PushFormat, RISC_KEY_ID, demo};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOPIC: &str = "projects/emulator-demo/topics/classroom";

/// What the test receiver saw: messages applied, duplicates, and refusal statuses.
#[derive(Default)]
struct Log {
    applied: Vec<PushMessage>,
    duplicates: usize,
    refused: Vec<u16>,
}

/// A receiver on a free port of 127.0.0.1: `receive`, then log. Returns its URL.
async fn serve(receiver: Arc<PushReceiver>) -> (String, Arc<Mutex<Log>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/push", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Log::default()));
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let receiver = receiver.clone();
            let log = seen.clone();
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let receiver = receiver.clone();
                    let log = log.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body: Bytes = body.collect().await?.to_bytes();
                        let headers: Vec<(String, String)> = parts
                            .headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect();
                        let auth = parts
                            .headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok());
                        let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                        let status = match receiver.receive(auth, pairs, &body).await {
                            Ok(r) if r.duplicate => {
                                log.lock().unwrap().duplicates += 1;
                                204
                            }
                            Ok(r) => {
                                log.lock().unwrap().applied.push(r.message);
                                204
                            }
                            Err(e) => {
                                log.lock().unwrap().refused.push(e.http_status());
                                e.http_status()
                            }
                        };
                        let mut response = hyper::Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, hyper::Error>(response)
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (url, log)
}

/// POSTs a body with headers over a plain socket; the status.
async fn post(url: &str, headers: &[(&str, String)], body: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply.split(' ').nth(1).unwrap().parse().unwrap()
}

fn verifier(emulator: &Emulator, audience: &str) -> PushVerifier {
    PushVerifier::new(audience, emulator.push_service_account()).jwks_uri(emulator.jwks_url())
}

fn client(emulator: &Emulator, user: &str, scopes: &[Scope]) -> Classroom {
    let token = emulator.token_for(user, scopes);
    Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(token, scopes.iter().map(|s| s.url())))
        .build()
        .unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Waits (real time) until `done` holds, for at most 10 s.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

fn wrapped_body() -> String {
    let data = json!({"collection": "courses.students", "eventType": "CREATED",
        "resourceId": {"courseId": "1", "userId": "2"}});
    json!({"message": {"data": base64::engine::general_purpose::STANDARD.encode(data.to_string()),
        "messageId": "m-1", "attributes": {"registrationId": "r"}},
        "subscription": "projects/p/subscriptions/s"})
    .to_string()
}

#[tokio::test]
async fn every_forged_or_foreign_token_is_refused_and_nothing_is_applied() {
    let emulator = Emulator::start().unwrap();
    let audience = "https://receiver.example/push";
    let receiver = Arc::new(PushReceiver::new(
        verifier(&emulator, audience).key_refetch_floor(Duration::from_millis(200)),
    ));
    let (url, log) = serve(receiver.clone()).await;
    let sa = emulator.push_service_account();
    let claims = |change: &dyn Fn(&mut Value)| {
        let mut c = json!({"iss": "https://accounts.google.com", "aud": audience,
            "email": sa, "email_verified": true, "sub": "1", "iat": now(), "exp": now() + 3600});
        change(&mut c);
        c
    };
    let send = |token: String| {
        let url = url.clone();
        async move {
            post(
                &url,
                &[("authorization", format!("Bearer {token}"))],
                &wrapped_body(),
            )
            .await
        }
    };

    // The valid token is accepted: the cases below differ from it in one thing each.
    let good = emulator.sign_push_token(&claims(&|_| {}));
    assert_eq!(
        send(good.clone()).await,
        204,
        "the well-formed token passes"
    );
    // Also the other spelling of Google's issuer.
    let bare = emulator.sign_push_token(&claims(&|c| c["iss"] = json!("accounts.google.com")));
    assert_eq!(
        send(bare).await,
        204,
        "accounts.google.com is Google's issuer too"
    );
    assert_eq!(
        log.lock().unwrap().applied.len(),
        1,
        "one message id, applied once"
    );

    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload = URL_SAFE_NO_PAD
        .encode(claims(&|c| c["email"] = json!("attacker@evil.example")).to_string());
    let header = |alg: &str, kid: &str| {
        URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string())
    };
    let jwks = emulator_jwks(&emulator).await;
    let hs256 = {
        let input = format!("{}.{}", header("HS256", RISC_KEY_ID), parts[1]);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, jwks.as_bytes());
        let tag = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "forged signature (payload changed)",
            format!("{}.{forged_payload}.{}", parts[0], parts[2]),
        ),
        (
            "another audience",
            emulator.sign_push_token(&claims(&|c| c["aud"] = json!("https://other.example/"))),
        ),
        (
            "another issuer",
            emulator.sign_push_token(&claims(&|c| c["iss"] = json!("https://evil.example"))),
        ),
        (
            "another service account",
            emulator.sign_push_token(&claims(&|c| {
                c["email"] = json!("someone@else.iam.gserviceaccount.com")
            })),
        ),
        (
            "email_verified false",
            emulator.sign_push_token(&claims(&|c| c["email_verified"] = json!(false))),
        ),
        (
            "expired",
            emulator.sign_push_token(&claims(&|c| {
                c["iat"] = json!(now() - 7200);
                c["exp"] = json!(now() - 3600);
            })),
        ),
        (
            "future-dated",
            emulator.sign_push_token(&claims(&|c| {
                c["iat"] = json!(now() + 3600);
                c["exp"] = json!(now() + 7200);
            })),
        ),
        (
            "alg: none",
            format!("{}.{}.", header("none", RISC_KEY_ID), parts[1]),
        ),
        ("HS256 signed with the public key", hs256),
    ];
    for (name, token) in cases {
        let status = send(token).await;
        assert!(
            status == 403 || status == 401,
            "{name}: answered {status}, not refused"
        );
    }
    assert_eq!(
        post(&url, &[], &wrapped_body()).await,
        401,
        "no token at all"
    );

    // An unknown key id: one refetch is allowed (past the floor), then refused.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let fetches = receiver.verifier().key_fetches();
    let unknown = format!(
        "{}.{}.{}",
        header("RS256", "rotated-away"),
        parts[1],
        parts[2]
    );
    assert_eq!(
        send(unknown.clone()).await,
        403,
        "unknown kid after the refetch"
    );
    assert_eq!(
        receiver.verifier().key_fetches(),
        fetches + 1,
        "an unknown kid makes the keys be fetched again once"
    );
    assert_eq!(send(unknown).await, 403);
    assert_eq!(
        receiver.verifier().key_fetches(),
        fetches + 1,
        "within the floor, no second fetch"
    );

    let log = log.lock().unwrap();
    assert_eq!(log.applied.len(), 1, "no refused push was applied");
    assert_eq!(log.refused.len(), 12, "{:?}", log.refused);
}

async fn emulator_jwks(emulator: &Emulator) -> String {
    let url = emulator.jwks_url();
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await.unwrap();
    reply.split("\r\n\r\n").nth(1).unwrap().to_string()
}

/// A local copy kept current from pushes: rosters, coursework, submissions.
#[derive(Default)]
struct Copy {
    students: BTreeMap<(String, String), Student>,
    coursework: BTreeMap<(String, String), CourseWork>,
    submissions: BTreeMap<(String, String), Vec<StudentSubmission>>,
}

impl Copy {
    fn apply(&mut self, fetched: Fetched) {
        match fetched {
            Fetched::Student {
                course_id,
                user_id,
                student,
            } => match student {
                Some(s) => {
                    self.students.insert((course_id, user_id), s);
                }
                None => {
                    self.students.remove(&(course_id, user_id));
                }
            },
            Fetched::CourseWork {
                course_id,
                course_work_id,
                course_work,
            } => match course_work {
                Some(w) => {
                    self.coursework.insert((course_id, course_work_id), w);
                }
                None => {
                    self.coursework.remove(&(course_id, course_work_id));
                }
            },
            Fetched::Submissions {
                course_id,
                course_work_id,
                submissions,
            } => {
                self.submissions
                    .insert((course_id, course_work_id), submissions);
            }
            _ => {}
        }
    }
}

async fn apply_all(copy: &mut Copy, classroom: &Classroom, messages: &[PushMessage]) {
    let mut coalescer = classroom::push::Coalescer::new();
    for m in messages {
        coalescer.add(&m.event);
    }
    for read in coalescer.take() {
        copy.apply(read.fetch(classroom).await.unwrap());
    }
}

#[tokio::test]
async fn each_feed_reaches_the_copy_and_the_reconcile_pass_repairs_lost_pushes() {
    for format in [PushFormat::Wrapped, PushFormat::Unwrapped] {
        let audience = "https://receiver.example/push";
        // The subscription's audience is set explicitly, as for an endpoint behind a proxy.
        let emulator = Emulator::builder().push_audience(audience).start().unwrap();
        let receiver = Arc::new(PushReceiver::new(verifier(&emulator, audience)));
        let (url, log) = serve(receiver).await;
        emulator.set_push_endpoint(TOPIC, &url, format);

        let teacher = client(
            &emulator,
            demo::TEACHER,
            &[
                Scope::PushNotifications,
                Scope::Rosters,
                Scope::CourseworkStudents,
                Scope::CoursesReadonly,
            ],
        );
        let course = teacher
            .courses()
            .get(demo::COURSE_ALIAS)
            .send()
            .await
            .unwrap()
            .id
            .unwrap();
        let keeper = RegistrationKeeper::new({
            let teacher = teacher.clone();
            move |_| Some(teacher.clone())
        });
        keeper
            .register(demo::TEACHER, FeedSpec::CourseRoster(course.clone()), TOPIC)
            .await
            .unwrap();
        keeper
            .register(demo::TEACHER, FeedSpec::CourseWork(course.clone()), TOPIC)
            .await
            .unwrap();

        // The first reconcile pass (no watermark) fills the copy; pushes keep it current.
        let mut copy = Copy::default();
        for w in coursework_changed_since(&teacher, &course, None)
            .await
            .unwrap()
        {
            copy.coursework
                .insert((course.clone(), w.id.clone().unwrap()), w);
        }
        // Roster: a student joins.
        let student = emulator.add_user(
            "new.pupil@school.example",
            "New",
            "Pupil",
            classroom_emulator::Role::Student,
        );
        teacher
            .courses()
            .students()
            .create(
                &course,
                Student {
                    user_id: Some(student.clone()),
                    ..Default::default()
                },
            )
            .send()
            .await
            .unwrap();
        until("the roster push", || log.lock().unwrap().applied.len() == 1).await;
        let messages = log.lock().unwrap().applied.clone();
        apply_all(&mut copy, &teacher, &messages).await;
        assert!(
            copy.students
                .contains_key(&(course.clone(), student.clone())),
            "{format:?}: the student who joined is in the copy"
        );

        // Coursework: one is posted.
        let work = teacher
            .courses()
            .course_work()
            .create(
                &course,
                CourseWork {
                    title: Some("Push me".into()),
                    work_type: Some(classroom::models::CourseWorkType::Assignment),
                    state: Some(classroom::models::CourseWorkState::Published),
                    max_points: Some(10.0),
                    ..Default::default()
                },
            )
            .send()
            .await
            .unwrap();
        let work_id = work.id.clone().unwrap();
        until("the coursework push", || {
            log.lock().unwrap().applied.len() == 2
        })
        .await;
        let messages = log.lock().unwrap().applied[1..].to_vec();
        apply_all(&mut copy, &teacher, &messages).await;
        assert_eq!(
            copy.coursework[&(course.clone(), work_id.clone())]
                .title
                .as_deref(),
            Some("Push me"),
            "{format:?}: the coursework posted is in the copy"
        );

        // Submission: the teacher grades one, delivered twice.
        let submissions = teacher
            .courses()
            .course_work()
            .student_submissions()
            .list(&course, &work_id)
            .send()
            .await
            .unwrap()
            .student_submissions;
        let first = submissions[0].id.clone().unwrap();
        emulator.deliver_next_twice();
        teacher
            .courses()
            .course_work()
            .student_submissions()
            .patch(
                &course,
                &work_id,
                &first,
                StudentSubmission {
                    draft_grade: Some(7.0),
                    ..Default::default()
                },
            )
            .update_mask("draftGrade")
            .send()
            .await
            .unwrap();
        until("the submission push, twice", || {
            log.lock().unwrap().duplicates == 1
        })
        .await;
        assert_eq!(
            log.lock().unwrap().applied.len(),
            3,
            "{format:?}: a message delivered twice is applied once"
        );
        let messages = log.lock().unwrap().applied[2..].to_vec();
        apply_all(&mut copy, &teacher, &messages).await;
        let graded = &copy.submissions[&(course.clone(), work_id.clone())];
        assert!(
            graded
                .iter()
                .any(|s| s.id.as_deref() == Some(&first) && s.draft_grade == Some(7.0)),
            "{format:?}: the graded submission is in the copy"
        );

        // Pushes lost for a while: the reconcile pass brings the copy back in step.
        let watermark = copy.coursework.values().filter_map(|w| w.update_time).max();
        emulator.pause_pushes();
        let lost = teacher
            .courses()
            .course_work()
            .create(
                &course,
                CourseWork {
                    title: Some("Posted while pushes were lost".into()),
                    work_type: Some(classroom::models::CourseWorkType::Assignment),
                    state: Some(classroom::models::CourseWorkState::Published),
                    ..Default::default()
                },
            )
            .send()
            .await
            .unwrap();
        emulator.resume_pushes();
        assert!(emulator.pushes_dropped() >= 1, "the push was lost");
        let changed = coursework_changed_since(&teacher, &course, watermark)
            .await
            .unwrap();
        let ids: BTreeSet<_> = changed.iter().filter_map(|w| w.id.clone()).collect();
        assert!(
            ids.contains(lost.id.as_ref().unwrap()),
            "{format:?}: the reconcile pass finds the coursework whose push was lost"
        );
        assert!(
            !ids.contains(&work_id),
            "only what changed after the watermark is read"
        );
        for w in changed {
            let key = (course.clone(), w.id.clone().unwrap());
            copy.coursework.insert(key, w);
        }
        let subs = submissions_changed_since(&teacher, &course, watermark)
            .await
            .unwrap();
        assert!(
            subs.iter()
                .any(|s| s.course_work_id.as_deref() == lost.id.as_deref()),
            "the new coursework's submissions are read too"
        );
        let listed = teacher
            .courses()
            .course_work()
            .list(&course)
            .send()
            .await
            .unwrap()
            .course_work
            .len();
        assert_eq!(
            copy.coursework.len(),
            listed,
            "{format:?}: the copy holds every coursework again"
        );
        let _ = Read::for_event; // the reads above went through Read::fetch
    }
}

/// Keeps auto-advance of the paused clock off while real I/O is under way (tokio does not
/// advance a paused clock while a blocking task runs).
struct HoldClock(Option<std::sync::mpsc::Sender<()>>);

fn hold_clock() -> HoldClock {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let _ = rx.recv();
    });
    HoldClock(Some(tx))
}

impl Drop for HoldClock {
    fn drop(&mut self) {
        self.0.take();
    }
}

#[tokio::test(start_paused = true)]
async fn registrations_are_renewed_before_expiry_and_a_revoked_grant_is_reported_once() {
    let _hold = hold_clock();
    let emulator = Emulator::start().unwrap();
    let scopes = [Scope::PushNotifications, Scope::RostersReadonly];
    let ada = client(&emulator, demo::TEACHER, &scopes);
    let alan_token = emulator.token_for(demo::SECOND_TEACHER, &scopes);
    let alan = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(BearerToken::new(
            alan_token.clone(),
            scopes.map(|s| s.url()),
        ))
        .build()
        .unwrap();
    let keeper = Arc::new(
        RegistrationKeeper::new(move |user| match user {
            demo::TEACHER => Some(ada.clone()),
            demo::SECOND_TEACHER => Some(alan.clone()),
            _ => None,
        })
        .renew_before(Duration::from_secs(2 * 24 * 3600)),
    );
    let kept = keeper
        .register(
            demo::TEACHER,
            FeedSpec::CourseRoster(demo::COURSE_ALIAS.into()),
            TOPIC,
        )
        .await
        .unwrap();
    let revoked = keeper
        .register(
            demo::SECOND_TEACHER,
            FeedSpec::CourseRoster("d:cs-201".into()),
            TOPIC,
        )
        .await;
    let revoked = match revoked {
        Ok(r) => r,
        // Alan may teach another alias; any course of his serves.
        Err(e) => panic!("registering for Alan's course: {e}"),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(keeper.clone().run(tx));

    // Alan revokes the app's access.
    let revoke = emulator.revoke_url();
    assert_eq!(
        post_form(&revoke, &format!("token={alan_token}")).await,
        200
    );

    // Not due yet: five days less a minute into the week.
    tokio::time::advance(Duration::from_secs(5 * 24 * 3600 - 60)).await;
    tokio::task::yield_now().await;
    assert!(
        rx.try_recv().is_err(),
        "nothing is renewed before it is due"
    );

    tokio::time::advance(Duration::from_secs(120)).await;
    let mut renewed = None;
    let mut consent = None;
    for _ in 0..2 {
        match rx.recv().await.unwrap() {
            KeeperEvent::Renewed { record } => renewed = Some(record),
            KeeperEvent::NeedsConsent { record, .. } => consent = Some(record),
            other => panic!("unexpected {other:?}"),
        }
    }
    let renewed = renewed.expect("Ada's registration is renewed");
    assert_eq!(
        renewed.registration_id, kept.registration_id,
        "an identical create extends the same registration"
    );
    assert!(renewed.expiry >= kept.expiry, "the expiry moved on");
    assert_eq!(
        consent
            .expect("Alan's registration is reported")
            .registration_id,
        revoked.registration_id
    );
    assert_eq!(keeper.needing_consent(), vec![revoked.clone()]);

    // Days later: Ada's is renewed again; Alan's is not tried again.
    tokio::time::advance(Duration::from_secs(5 * 24 * 3600)).await;
    match rx.recv().await.unwrap() {
        KeeperEvent::Renewed { record } => {
            assert_eq!(record.registration_id, kept.registration_id)
        }
        other => panic!("only Ada's renewal is due, got {other:?}"),
    }
    tokio::task::yield_now().await;
    assert!(
        rx.try_recv().is_err(),
        "a registration whose grant was revoked is not retried"
    );

    keeper.delete(&kept.registration_id).await.unwrap();
    assert_eq!(keeper.records(), vec![revoked]);
}

async fn post_form(url: &str, body: &str) -> u16 {
    post(
        url,
        &[(
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        )],
        body,
    )
    .await
}

#[tokio::test]
async fn domain_wide_delegation_gets_missing_grant_and_needs_consent() {
    let emulator = Emulator::start().unwrap();
    let key =
        classroom::auth::ServiceAccountKey::from_json(&emulator.service_account_key()).unwrap();
    let credentials = classroom::auth::ServiceAccountCredentials::new(
        key,
        [Scope::PushNotifications.url(), Scope::RostersReadonly.url()],
    )
    .subject(demo::TEACHER);
    let delegated = Classroom::builder()
        .root_url(emulator.root_url())
        .credentials(credentials)
        .build()
        .unwrap();
    let keeper = RegistrationKeeper::new(move |_| Some(delegated.clone()));
    let error = keeper
        .register(
            demo::TEACHER,
            FeedSpec::CourseRoster(demo::COURSE_ALIAS.into()),
            TOPIC,
        )
        .await
        .unwrap_err();
    assert_eq!(
        error.classroom_reason().map(|r| r.as_str()),
        Some("MissingGrant"),
        "{error}"
    );
    assert!(classroom::push::needs_consent(&error));
}
