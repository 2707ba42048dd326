//! Listing cost of the SDK against the best hand-written reqwest + serde client, in the same
//! run, over loopback.
//!
//! Each run lists 10,000 fully populated courses from a local server, at page sizes of 1,000
//! and 100. The server runs on a thread and CPU of its own; what is measured is the CPU time of
//! the client's thread (`CLOCK_THREAD_CPUTIME_ID`), so the server's work and noise from other
//! processes stay out of it.
//!
//! The baseline is what a careful engineer writes by hand: reqwest, the body checked as UTF-8
//! once and decoded with `serde_json::from_str` into a struct with just the fields the data
//! has, a loop on `nextPageToken`, each course handed on by value. It reads the body two ways,
//! into a buffer sized from `Content-Length` and with reqwest's `bytes()`; neither is faster at
//! both page sizes, so each round holds the SDK against the faster of the two. Informational
//! runs decode the SDK's own model by hand (what the complete model costs), give the strict
//! hand-written client a timeout on each request as the SDK has (what that timer costs), and
//! read the SDK with `pages()` (what the `items()` stream costs).
//!
//! Rounds use new clients, each warmed up with one listing, in a different order each round;
//! the allocator's trim and mmap thresholds are fixed (see [`steady_allocator`]). The bench
//! fails when the median over rounds of the SDK's CPU time over the same round's time of the
//! best hand-written client (the one with the least median) exceeds 1.05 at either page size,
//! or the SDK allocates more than 10% more bytes.
//!
//! `cargo bench --bench list_throughput`; `LIST_PROFILE=sdk:100` runs one client alone, 200
//! listings or `LIST_RUNS`, and prints their CPU time (for `perf`, or for `valgrind
//! --tool=callgrind`, where the difference between `LIST_RUNS=3` and `LIST_RUNS=1` is the
//! instructions of two listings). It also takes a page size of 10, where the cost of each
//! request outweighs decoding.

#[path = "../tests/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};

use chrono::{DateTime, Utc};
use common::{Reply, TestServer};
use futures::TryStreamExt;
use serde::Deserialize;
use serde_json::json;

/// Counts the bytes the calling thread allocates, passing every call on to the system's
/// allocator, `realloc` included (so that a vector or buffer that grows costs what it costs in
/// a program without the count: growing in place where malloc can).
///
/// The count is the thread's own: a counter shared with the server's thread put both threads'
/// allocations on one contended cache line, which charged the client for the server's work
/// (about 1% of a listing's CPU, in `perf`, varying with how the two overlapped), and counted
/// the server's allocations as the client's.
struct Counting;

thread_local! {
    // Constant-initialized and without a destructor, so reading it never allocates.
    static ALLOCATED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn count(bytes: usize) {
    ALLOCATED.with(|a| a.set(a.get() + bytes as u64));
}

/// Bytes this thread has allocated so far.
fn allocated() -> u64 {
    ALLOCATED.with(std::cell::Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const COURSES: usize = 10_000;
const PAGE_SIZES: [usize; 2] = [1000, 100];
/// A page size `LIST_PROFILE` takes besides those compared.
const PROFILE_ONLY_PAGE_SIZE: usize = 10;
/// Per round, the ratio moves by a few percent on this machine (its quartiles spread over
/// 2-6%); the median of 40 rounds moved by about 1% from run to run.
const ROUNDS: usize = 40;
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
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
#[allow(dead_code)]
struct RawList<T> {
    #[serde(default)]
    courses: Vec<RawCourse<T>>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct RawCourse<T> {
    id: Option<String>,
    name: Option<String>,
    section: Option<String>,
    description_heading: Option<String>,
    description: Option<String>,
    room: Option<String>,
    owner_id: Option<String>,
    creation_time: Option<T>,
    update_time: Option<T>,
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

/// The hand-written page, timestamps decoded as chrono's serde support does.
type Idiomatic = RawList<DateTime<Utc>>;
/// The hand-written page, timestamps decoded with chrono's strict RFC 3339 parser.
type Strict = RawList<Rfc3339>;

/// A page a client walks: each course is handed, by value, to the code that uses it.
trait Listing: serde::de::DeserializeOwned {
    fn consume(self) -> (usize, Option<String>);
}

/// A timestamp read with chrono's strict RFC 3339 parser, about five times faster than the
/// lenient one its serde support uses.
struct Rfc3339(#[allow(dead_code)] DateTime<Utc>);

impl<'de> Deserialize<'de> for Rfc3339 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|time| Rfc3339(time.with_timezone(&Utc)))
            .map_err(serde::de::Error::custom)
    }
}

impl<T: serde::de::DeserializeOwned> Listing for RawList<T> {
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

/// How a hand-written client reads a reply's body.
#[derive(Clone, Copy)]
enum Read {
    /// Into one buffer sized from `Content-Length`, each chunk copied in as it arrives: the
    /// body is held once, and nothing grows.
    Sized,
    /// With reqwest's `bytes()`, as most code does: every chunk is kept until the end, then
    /// copied into one buffer.
    Bytes,
}

async fn baseline<L: Listing>(
    http: &reqwest::Client,
    root: &str,
    per_page: usize,
    read: Read,
) -> usize {
    let mut token: Option<String> = None;
    let mut count = 0;
    loop {
        let mut url = format!("{root}v1/courses?prettyPrint=false&pageSize={per_page}");
        if let Some(t) = &token {
            url.push_str("&pageToken=");
            url.push_str(t);
        }
        let mut response = http.get(&url).bearer_auth("token").send().await.unwrap();
        let body = match read {
            Read::Sized => {
                let length = response.content_length().unwrap_or(0) as usize;
                let mut body = Vec::with_capacity(length);
                while let Some(chunk) = response.chunk().await.unwrap() {
                    body.extend_from_slice(&chunk);
                }
                bytes::Bytes::from(body)
            }
            Read::Bytes => response.bytes().await.unwrap(),
        };
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

async fn items(client: &classroom::Classroom, per_page: usize) -> usize {
    let mut items = client.courses().list().page_size(per_page as i32).items();
    let mut n = 0;
    while let Some(course) = items.try_next().await.unwrap() {
        std::hint::black_box(course);
        n += 1;
    }
    n
}

async fn pages_of(client: &classroom::Classroom, per_page: usize) -> usize {
    let mut pages = std::pin::pin!(client.courses().list().page_size(per_page as i32).pages());
    let mut n = 0;
    while let Some(page) = pages.try_next().await.unwrap() {
        for course in page.courses {
            std::hint::black_box(course);
            n += 1;
        }
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

/// Every page of the listing at `per_page` courses a page, in order.
fn pages(per_page: usize) -> Vec<Vec<u8>> {
    let count = COURSES / per_page;
    (0..count)
        .map(|p| {
            let courses: Vec<_> = (0..per_page).map(|i| course(p * per_page + i)).collect();
            let mut page = json!({ "courses": courses });
            if p + 1 < count {
                page["nextPageToken"] = json!(format!("page{}", p + 1));
            }
            serde_json::to_vec(&page).unwrap()
        })
        .collect()
}

fn main() {
    steady_allocator();
    // The server on its own thread, runtime and CPU, so the client thread's CPU time is the
    // client's.
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        pin_to_cpu(1);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let pages: std::collections::HashMap<usize, Vec<Vec<u8>>> = PAGE_SIZES
                .iter()
                .chain(&[PROFILE_ONLY_PAGE_SIZE])
                .map(|&n| (n, pages(n)))
                .collect();
            let server = TestServer::start(move |r| {
                let param = |name: &str| r.query.iter().find(|(k, _)| k == name).map(|(_, v)| v);
                let per_page = param("pageSize").unwrap().parse::<usize>().unwrap();
                let p = param("pageToken").map_or(0, |v| v[4..].parse::<usize>().unwrap());
                Reply {
                    status: 200,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: pages[&per_page][p].clone(),
                }
            })
            .await;
            url_tx.send(server.url.clone()).unwrap();
            std::future::pending::<()>().await;
        });
    });
    let url = url_rx.recv().unwrap();
    pin_to_cpu(0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `LIST_PROFILE=sdk:100` (or `baseline:1000`, ...) runs one client alone for a while, for
    // `perf record`.
    if let Ok(profile) = std::env::var("LIST_PROFILE") {
        let (name, per_page) = profile.split_once(':').unwrap_or((&profile, "1000"));
        let which = CLIENTS
            .iter()
            .position(|(short, _)| *short == name)
            .unwrap_or_else(|| panic!("LIST_PROFILE: {name:?} is not a client's short name"));
        let runs = std::env::var("LIST_RUNS").map_or(200, |n| n.parse().expect("LIST_RUNS"));
        runtime.block_on(async {
            let client = Client::new(which, &url);
            let mut times = Vec::with_capacity(runs);
            let mut kernel = Vec::with_capacity(runs);
            for _ in 0..runs {
                let (started, in_kernel) = (thread_cpu(), thread_system_time());
                client.list(&url, per_page.parse().unwrap()).await;
                times.push((thread_cpu() - started) * 1e3);
                kernel.push((thread_system_time() - in_kernel) * 1e3);
            }
            let [low, median, high] = quartiles(times);
            let kernel = quartiles(kernel)[1];
            println!(
                "{}: {median:.2} ms [{low:.2}-{high:.2}], {kernel:.2} ms of it in the kernel",
                CLIENTS[which].1
            );
        });
        return;
    }
    if !runtime.block_on(compare(&url)) {
        std::process::exit(1);
    }
}

/// The clients, by the short names `LIST_PROFILE` takes, and as they print.
const CLIENTS: [(&str, &str); 7] = [
    ("baseline", "hand-written, body sized (baseline)"),
    ("bytes", "hand-written, bytes() (baseline)"),
    ("strict", "hand-written, bytes(), strict RFC 3339"),
    ("model", "hand-written, decoding the SDK model"),
    ("timeout", "hand-written, strict, request timeout"),
    ("sdk", "classroom SDK, items()"),
    ("pages", "classroom SDK, pages()"),
];
/// The hand-written clients the SDK is held against: in each round the fastest of them.
const BASELINES: [usize; 3] = [0, 1, 2];
/// The strict hand-written client with a timeout on each request, as the SDK has.
const TIMEOUT: usize = 4;
/// The client held to the limits.
const SDK: usize = 5;

/// glibc's malloc returns the top of its heap to the system once more than a threshold is
/// free there, and raises that threshold as large blocks are freed; a client then pays page
/// faults for whatever the previous run (its own or another client's) left the heap like:
/// measured, from a few to 1,800 faults a listing (up to 10% of its CPU time), the order of
/// clients deciding who paid. Fixed thresholds, set before anything is allocated, leave each
/// client its own cost.
fn steady_allocator() {
    // SAFETY: mallopt only sets the allocator's parameters; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

/// Lists at each page size with every client, round after round, each round with new
/// clients (so that none keeps a lucky or unlucky place in memory for the whole run) and in
/// another order (so that none always follows the same one). Returns whether the SDK kept
/// within the limits.
async fn compare(url: &str) -> bool {
    let mut ok = true;
    for per_page in PAGE_SIZES {
        let mut cpu: [Vec<f64>; CLIENTS.len()] = Default::default();
        let mut bytes: [Vec<f64>; CLIENTS.len()] = Default::default();
        let mut faults: [Vec<f64>; CLIENTS.len()] = Default::default();
        for round in 0..ROUNDS {
            let clients: Vec<Client> = (0..CLIENTS.len()).map(|w| Client::new(w, url)).collect();
            for client in &clients {
                assert_eq!(client.list(url, per_page).await, COURSES);
            }
            for step in 0..CLIENTS.len() {
                let which = (round + step) % CLIENTS.len();
                let before = allocated();
                let faulted = thread_faults();
                let start = thread_cpu();
                assert_eq!(clients[which].list(url, per_page).await, COURSES);
                cpu[which].push(thread_cpu() - start);
                bytes[which].push((allocated() - before) as f64);
                faults[which].push((thread_faults() - faulted) as f64);
            }
        }
        println!(
            "list {COURSES} courses at pageSize {per_page}: client CPU, median [quartiles] of {ROUNDS} rounds"
        );
        for (which, (_, name)) in CLIENTS.iter().enumerate() {
            let t = quartiles(cpu[which].clone());
            println!(
                "  {name:<38} {:6.2} ms [{:.2}-{:.2}]  {:5.0} bytes allocated per course, {:4.0} page faults",
                t[1] * 1e3,
                t[0] * 1e3,
                t[2] * 1e3,
                quartiles(bytes[which].clone())[1] / COURSES as f64,
                quartiles(faults[which].clone())[1],
            );
        }
        // The best hand-written client is the one with the least median; each round's SDK run
        // is held against that client's run in the same round, so that what drifts between
        // rounds (the machine) cancels out. (Against the least of the hand-written runs in
        // each round, the noise itself would count against the SDK: the least of three noisy
        // runs is lower than a typical run of the best client.)
        let best = BASELINES
            .into_iter()
            .min_by(|&a, &b| quartiles(cpu[a].clone())[1].total_cmp(&quartiles(cpu[b].clone())[1]))
            .unwrap_or(BASELINES[0]);
        let ratios = cpu[SDK]
            .iter()
            .zip(&cpu[best])
            .map(|(sdk, hand)| sdk / hand);
        let [low, cpu_ratio, high] = quartiles(ratios.collect());
        let least_hand_written = BASELINES
            .map(|b| quartiles(bytes[b].clone())[1])
            .into_iter()
            .fold(f64::MAX, f64::min);
        let alloc_ratio = quartiles(bytes[SDK].clone())[1] / least_hand_written;
        println!(
            "  SDK / best hand-written ({}): CPU {cpu_ratio:.3} [{low:.3}-{high:.3}] (limit {MAX_CPU_RATIO}), allocations {alloc_ratio:.3} (limit {MAX_ALLOC_RATIO})",
            CLIENTS[best].0
        );
        ok &= cpu_ratio <= MAX_CPU_RATIO && alloc_ratio <= MAX_ALLOC_RATIO;
    }
    println!("list_throughput: {} passed, {} failed", ok as u8, !ok as u8);
    ok
}

/// One of the clients compared.
enum Client {
    /// reqwest and serde by hand: the baselines (0, 1, 2), the first decoding the SDK's
    /// model (3), and the strict one with a request timeout (4).
    Hand(reqwest::Client, usize),
    /// The SDK, read with `items()` (5) or `pages()` (6).
    Sdk(classroom::Classroom, usize),
}

impl Client {
    fn new(which: usize, url: &str) -> Client {
        if which >= SDK {
            return Client::Sdk(
                classroom::Classroom::builder()
                    .root_url(url)
                    .credentials(classroom::BearerToken::unchecked("token"))
                    .build()
                    .unwrap(),
                which,
            );
        }
        // The same TLS set-up as the SDK's (ring chosen explicitly), though the server is
        // plain HTTP.
        use rustls_platform_verifier::BuilderVerifierExt;
        let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_platform_verifier()
        .unwrap()
        .with_no_client_auth();
        let mut http = reqwest::Client::builder().tls_backend_preconfigured(tls);
        if which == TIMEOUT {
            // The SDK's default: each request carries a timer that would end a stalled one.
            http = http.timeout(std::time::Duration::from_secs(60));
        }
        let http = http.build().unwrap();
        Client::Hand(http, which)
    }

    /// Lists every course, returning how many there were.
    async fn list(&self, url: &str, per_page: usize) -> usize {
        match self {
            Client::Hand(http, 0) => baseline::<Idiomatic>(http, url, per_page, Read::Sized).await,
            Client::Hand(http, 1) => baseline::<Idiomatic>(http, url, per_page, Read::Bytes).await,
            Client::Hand(http, 2 | TIMEOUT) => {
                baseline::<Strict>(http, url, per_page, Read::Bytes).await
            }
            Client::Hand(http, _) => {
                type Model = classroom::models::ListCoursesResponse;
                baseline::<Model>(http, url, per_page, Read::Sized).await
            }
            Client::Sdk(sdk, SDK) => items(sdk, per_page).await,
            Client::Sdk(sdk, _) => pages_of(sdk, per_page).await,
        }
    }
}

/// Keeps this thread on one CPU: the client on one and the server on another, so that the
/// client never waits for the server's turn on its core, nor shares its caches.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: an all-zero `cpu_set_t` is the empty set; the calls only read and write it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu % num_cpus(), &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Minor page faults of this thread so far.
fn thread_faults() -> i64 {
    thread_usage().ru_minflt
}

/// CPU time this thread has spent in the kernel, in seconds (at the kernel's tick
/// resolution, so only medians over many listings mean anything).
fn thread_system_time() -> f64 {
    let time = thread_usage().ru_stime;
    time.tv_sec as f64 + time.tv_usec as f64 * 1e-6
}

fn thread_usage() -> libc::rusage {
    // SAFETY: an all-zero `rusage` is valid, and getrusage only writes into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    usage
}
