//! Listing cost of the SDK against the best hand-written reqwest + serde client, in the same
//! run, over loopback.
//!
//! Each run lists 10,000 fully populated courses from a local server, at page sizes of 1,000
//! and 100. The server runs on a thread of its own; what is measured is the CPU time of the
//! client's thread (`CLOCK_THREAD_CPUTIME_ID`), so the server's work and machine noise from
//! other processes stay out of it. The baseline is what a careful engineer writes by hand:
//! reqwest, the body checked as UTF-8 once and decoded with `serde_json::from_str` into a
//! struct with just the fields the data has, a loop on `nextPageToken`. An informational run
//! decodes the SDK's own model by hand, to show what the complete model costs. Runs alternate
//! so that noise hits all alike; medians are compared, with the spread (quartiles) shown. The
//! bench fails when the SDK takes more than 5% more CPU than the baseline at either page size,
//! or allocates more than 10% more bytes.
//!
//! `cargo bench --bench list_throughput`

#[path = "../tests/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use common::{Reply, TestServer};
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::json;

struct Counting;

static ALLOCATED: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const COURSES: usize = 10_000;
const PAGE_SIZES: [usize; 2] = [1000, 100];
const ROUNDS: usize = 20;
const MAX_CPU_RATIO: f64 = 1.05;
const MAX_ALLOC_RATIO: f64 = 1.10;

fn course(i: usize) -> serde_json::Value {
    json!({
        "id": format!("{}", 600_000_000_000u64 + i as u64),
        "name": format!("Biology {i}"),
        "section": "Period 3",
        "descriptionHeading": "Welcome to Biology",
        "description": "Cells, genetics, evolution and ecology, with labs every Thursday.",
        "room": "B-204",
        "ownerId": "110000000000000000001",
        "creationTime": "2026-08-20T14:03:11.123Z",
        "updateTime": "2026-11-01T09:45:00.456Z",
        "enrollmentCode": "abc123x",
        "courseState": "ACTIVE",
        "alternateLink": format!("https://classroom.google.com/c/MTIz{i}"),
        "teacherGroupEmail": "Biology_teachers_1b2c@example.edu",
        "courseGroupEmail": "Biology_1b2c@example.edu",
        "teacherFolder": {"id": "0B-folder", "title": "Biology", "alternateLink": "https://drive.google.com/drive/folders/0B"},
        "guardiansEnabled": true,
        "calendarId": "c_classroom1b2c@group.calendar.google.com",
        "gradebookSettings": {"calculationType": "TOTAL_POINTS", "displaySetting": "SHOW_OVERALL_GRADE"}
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawList {
    #[serde(default)]
    courses: Vec<RawCourse>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawCourse {
    id: Option<String>,
    name: Option<String>,
    section: Option<String>,
    description_heading: Option<String>,
    description: Option<String>,
    room: Option<String>,
    owner_id: Option<String>,
    creation_time: Option<DateTime<Utc>>,
    update_time: Option<DateTime<Utc>>,
    enrollment_code: Option<String>,
    course_state: Option<String>,
    alternate_link: Option<String>,
    teacher_group_email: Option<String>,
    course_group_email: Option<String>,
    teacher_folder: Option<RawFolder>,
    guardians_enabled: Option<bool>,
    calendar_id: Option<String>,
    gradebook_settings: Option<RawGradebook>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawFolder {
    id: Option<String>,
    title: Option<String>,
    alternate_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawGradebook {
    calculation_type: Option<String>,
    display_setting: Option<String>,
}

/// A page a client walks: each course is handed, by value, to the code that uses it.
trait Listing: serde::de::DeserializeOwned {
    fn consume(self) -> (usize, Option<String>);
}

impl Listing for RawList {
    fn consume(self) -> (usize, Option<String>) {
        let mut n = 0;
        for course in self.courses {
            std::hint::black_box(course);
            n += 1;
        }
        (n, self.next_page_token)
    }
}

impl Listing for classroom::models::ListCoursesResponse {
    fn consume(self) -> (usize, Option<String>) {
        let mut n = 0;
        for course in self.courses {
            std::hint::black_box(course);
            n += 1;
        }
        (n, self.next_page_token)
    }
}

async fn baseline<L: Listing>(http: &reqwest::Client, root: &str, per_page: usize) -> usize {
    let mut token: Option<String> = None;
    let mut count = 0;
    loop {
        let mut url = format!("{root}v1/courses?prettyPrint=false&pageSize={per_page}");
        if let Some(t) = &token {
            url.push_str("&pageToken=");
            url.push_str(t);
        }
        let body = http
            .get(&url)
            .bearer_auth("token")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        let page: L = serde_json::from_str(text).unwrap();
        let (n, next) = page.consume();
        count += n;
        token = next;
        if token.is_none() {
            return count;
        }
    }
}

async fn sdk(client: &classroom::Classroom, per_page: usize) -> usize {
    let mut items = std::pin::pin!(client.courses().list().page_size(per_page as i32).items());
    let mut n = 0;
    while let Some(course) = items.try_next().await.unwrap() {
        std::hint::black_box(course);
        n += 1;
    }
    n
}

fn quartiles(mut v: Vec<f64>) -> [f64; 3] {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}

/// CPU time this thread has used, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Every page of the listing at each page size, keyed by page size and page number.
fn pages() -> std::collections::HashMap<(usize, usize), Vec<u8>> {
    let mut pages = std::collections::HashMap::new();
    for per_page in PAGE_SIZES {
        let count = COURSES / per_page;
        for p in 0..count {
            let courses: Vec<_> = (0..per_page).map(|i| course(p * per_page + i)).collect();
            let mut page = json!({ "courses": courses });
            if p + 1 < count {
                page["nextPageToken"] = json!(format!("page{}", p + 1));
            }
            pages.insert((per_page, p), serde_json::to_vec(&page).unwrap());
        }
    }
    pages
}

fn main() {
    // The server on its own thread and runtime, so the client thread's CPU time is the client's.
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let pages = pages();
            let server = TestServer::start(move |r| {
                let param = |name: &str| r.query.iter().find(|(k, _)| k == name).map(|(_, v)| v);
                let per_page = param("pageSize").unwrap().parse::<usize>().unwrap();
                let p = param("pageToken").map_or(0, |v| v[4..].parse::<usize>().unwrap());
                Reply {
                    status: 200,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: pages[&(per_page, p)].clone(),
                }
            })
            .await;
            url_tx.send(server.url.clone()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let url = url_rx.recv().unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(client_side(url));
}

async fn client_side(url: String) {
    // The same TLS set-up as the SDK's (ring chosen explicitly), though the server is plain HTTP.
    let tls = {
        use rustls_platform_verifier::BuilderVerifierExt;
        rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_platform_verifier()
        .unwrap()
        .with_no_client_auth()
    };
    // Each client has a connection of its own, as the SDK's client does, so that each comes
    // back to it after the same idle time.
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls.clone())
        .build()
        .unwrap();
    let http_model = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let client = classroom::Classroom::builder()
        .root_url(&url)
        .credentials(classroom::BearerToken::unchecked("token"))
        .build()
        .unwrap();
    type Model = classroom::models::ListCoursesResponse;
    // `LIST_PROFILE=sdk:100` (or `baseline:1000`) runs one side alone at one page size for a
    // while, for `perf record`.
    if let Ok(profile) = std::env::var("LIST_PROFILE") {
        let (side, size) = profile.split_once(':').unwrap_or((&profile, "1000"));
        let size = size.parse().unwrap();
        for _ in 0..200 {
            match side {
                "sdk" => sdk(&client, size).await,
                _ => baseline::<RawList>(&http, &url, size).await,
            };
        }
        return;
    }
    let mut ok = true;
    for per_page in PAGE_SIZES {
        assert_eq!(baseline::<RawList>(&http, &url, per_page).await, COURSES);
        assert_eq!(
            baseline::<Model>(&http_model, &url, per_page).await,
            COURSES
        );
        assert_eq!(sdk(&client, per_page).await, COURSES);

        let mut runs: [(Vec<f64>, Vec<f64>); 3] = Default::default();
        for round in 0..ROUNDS {
            // Each round starts with another client: whichever runs right after another pays
            // for the allocator's and the caches' state that run left, so no client may always
            // be the one that follows.
            for step in 0..runs.len() {
                let i = (round + step) % runs.len();
                let run = &mut runs[i];
                let (t, b) = match i {
                    0 => measure(baseline::<RawList>(&http, &url, per_page)).await,
                    1 => measure(baseline::<Model>(&http_model, &url, per_page)).await,
                    _ => measure(sdk(&client, per_page)).await,
                };
                run.0.push(t);
                run.1.push(b);
            }
        }
        let items = COURSES as f64;
        let [hand, model, ours] = runs.map(|(t, b)| (quartiles(t), quartiles(b)[1]));
        println!(
            "list {COURSES} courses at pageSize {per_page}: client CPU, median [quartiles] of {ROUNDS} alternating rounds"
        );
        for (name, (t, b)) in [
            ("hand-written reqwest+serde (baseline)", hand),
            ("hand-written, decoding the SDK model", model),
            ("classroom SDK", ours),
        ] {
            println!(
                "  {name:<38} {:7.2} ms [{:.2}-{:.2}]  {:6.0} bytes allocated per course",
                t[1] * 1e3,
                t[0] * 1e3,
                t[2] * 1e3,
                b / items
            );
        }
        let cpu_ratio = ours.0[1] / hand.0[1];
        let alloc_ratio = ours.1 / hand.1;
        println!(
            "  SDK / baseline: CPU {cpu_ratio:.3} (limit {MAX_CPU_RATIO}), allocations {alloc_ratio:.3} (limit {MAX_ALLOC_RATIO})"
        );
        ok &= cpu_ratio <= MAX_CPU_RATIO && alloc_ratio <= MAX_ALLOC_RATIO;
    }
    println!("list_throughput: {} passed, {} failed", ok as u8, !ok as u8);
    if !ok {
        std::process::exit(1);
    }
}

async fn measure(run: impl std::future::Future<Output = usize>) -> (f64, f64) {
    let bytes = ALLOCATED.load(Ordering::Relaxed);
    let start = thread_cpu();
    run.await;
    (
        thread_cpu() - start,
        (ALLOCATED.load(Ordering::Relaxed) - bytes) as f64,
    )
}
