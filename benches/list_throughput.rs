//! Listing throughput and allocations of the SDK against a hand-written reqwest + serde
//! baseline, in the same run, over loopback.
//!
//! All list 1,000 courses in 10 pages of 100 from the same local server. The baseline is
//! hand-written reqwest + serde_json decoding into the SDK's own `ListCoursesResponse`, so the
//! ratio measures what the SDK's layer costs (URL building, scope check, token, retries loop,
//! paging stream). A second, informational baseline decodes into a minimal hand-written struct
//! with only the 18 fields the sample carries, to show what the complete 25-field model costs.
//! Runs alternate so machine noise hits all alike; medians are compared, and the bench fails
//! when the SDK is more than 10% slower or allocates more than 10% more bytes than the baseline.
//!
//! `cargo bench --bench list_throughput`

#[path = "../tests/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

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

const PAGES: usize = 10;
const PER_PAGE: usize = 100;
const ROUNDS: usize = 15;
const MAX_TIME_RATIO: f64 = 1.10;
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

trait Listing: serde::de::DeserializeOwned {
    fn count_and_token(self) -> (usize, Option<String>);
}

impl Listing for RawList {
    fn count_and_token(self) -> (usize, Option<String>) {
        (self.courses.len(), self.next_page_token)
    }
}

impl Listing for classroom::models::ListCoursesResponse {
    fn count_and_token(self) -> (usize, Option<String>) {
        (self.courses.len(), self.next_page_token)
    }
}

async fn baseline<L: Listing>(http: &reqwest::Client, root: &str) -> usize {
    let mut token: Option<String> = None;
    let mut count = 0;
    loop {
        let mut url = format!("{root}v1/courses?prettyPrint=false&pageSize={PER_PAGE}");
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
        let page: L = serde_json::from_slice(&body).unwrap();
        let (n, next) = page.count_and_token();
        count += n;
        token = next;
        if token.is_none() {
            return count;
        }
    }
}

async fn sdk(client: &classroom::Classroom) -> usize {
    let items = client.courses().list().page_size(PER_PAGE as i32).items();
    items
        .try_fold(0, |n, _course| async move { Ok(n + 1) })
        .await
        .unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pages: Vec<Vec<u8>> = (0..PAGES)
        .map(|p| {
            let courses: Vec<_> = (0..PER_PAGE).map(|i| course(p * PER_PAGE + i)).collect();
            let mut page = json!({ "courses": courses });
            if p + 1 < PAGES {
                page["nextPageToken"] = json!(format!("page{}", p + 1));
            }
            serde_json::to_vec(&page).unwrap()
        })
        .collect();
    let server = TestServer::start(move |r| {
        let p = r
            .query
            .iter()
            .find(|(k, _)| k == "pageToken")
            .map_or(0, |(_, v)| v[4..].parse::<usize>().unwrap());
        Reply {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: pages[p].clone(),
        }
    })
    .await;

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
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .build()
        .unwrap();
    let client = classroom::Classroom::builder()
        .root_url(&server.url)
        .credentials(classroom::BearerToken::new("token"))
        .build()
        .unwrap();
    type Model = classroom::models::ListCoursesResponse;
    assert_eq!(
        baseline::<RawList>(&http, &server.url).await,
        PAGES * PER_PAGE
    );
    assert_eq!(
        baseline::<Model>(&http, &server.url).await,
        PAGES * PER_PAGE
    );
    assert_eq!(sdk(&client).await, PAGES * PER_PAGE);

    let mut runs: [(Vec<f64>, Vec<f64>); 3] = Default::default();
    for _ in 0..ROUNDS {
        for (i, run) in runs.iter_mut().enumerate() {
            let (t, b) = match i {
                0 => measure(baseline::<RawList>(&http, &server.url)).await,
                1 => measure(baseline::<Model>(&http, &server.url)).await,
                _ => measure(sdk(&client)).await,
            };
            run.0.push(t);
            run.1.push(b);
        }
    }
    let items = (PAGES * PER_PAGE) as f64;
    let [minimal, base, ours] = runs.map(|(t, b)| (median(t), median(b)));
    println!("list 1,000 courses (10 pages), median of {ROUNDS} alternating rounds:");
    for (name, (t, b)) in [
        ("reqwest+serde, minimal struct (info)", minimal),
        ("reqwest+serde, SDK model (baseline)", base),
        ("classroom SDK", ours),
    ] {
        println!(
            "  {name:<38} {:8.2} ms  {:8.0} bytes allocated per course",
            t * 1e3,
            b / items
        );
    }
    let ((base_t, base_b), (sdk_t, sdk_b)) = (base, ours);
    let (time_ratio, alloc_ratio) = (sdk_t / base_t, sdk_b / base_b);
    println!(
        "  ratio time {time_ratio:.3} (limit {MAX_TIME_RATIO}), allocations {alloc_ratio:.3} (limit {MAX_ALLOC_RATIO})"
    );
    let ok = time_ratio <= MAX_TIME_RATIO && alloc_ratio <= MAX_ALLOC_RATIO;
    println!("list_throughput: {} passed, {} failed", ok as u8, !ok as u8);
    if !ok {
        std::process::exit(1);
    }
}

async fn measure(run: impl std::future::Future<Output = usize>) -> (f64, f64) {
    let bytes = ALLOCATED.load(Ordering::Relaxed);
    let start = Instant::now();
    run.await;
    let elapsed: Duration = start.elapsed();
    (
        elapsed.as_secs_f64(),
        (ALLOCATED.load(Ordering::Relaxed) - bytes) as f64,
    )
}
