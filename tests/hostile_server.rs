//! A server written to misbehave, in front of the SDK: every case ends in a typed error (or a
//! correct value) within the configured time, and never a panic.
//!
//! The server speaks raw TCP so that it can do what no well-behaved HTTP library lets it: cut
//! a body short, reset a connection mid-reply, stream forever, send thousands of headers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use classroom::{BearerToken, Classroom, Error, PageLoop, RetryPolicy, TransportKind};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

type Scenario = dyn Fn(usize, TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync;

/// A server that reads each request's head and hands the connection to `scenario` with the
/// request's number (0 for the first). It counts requests.
struct Hostile {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl Hostile {
    async fn start<F, Fut>(scenario: F) -> Hostile
    where
        F: Fn(usize, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let scenario: Arc<Scenario> = Arc::new(move |n, stream| Box::pin(scenario(n, stream)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let scenario = scenario.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    if read_head(&mut stream).await {
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        scenario(n, stream).await;
                    }
                });
            }
        });
        Hostile { url, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// A client with fast retries and a short attempt timeout, as a test affords.
    fn client(&self) -> Classroom {
        self.client_with(|b| b)
    }

    fn client_with(
        &self,
        configure: impl FnOnce(classroom::ClassroomBuilder) -> classroom::ClassroomBuilder,
    ) -> Classroom {
        let builder = Classroom::builder()
            .root_url(&self.url)
            .credentials(BearerToken::unchecked("hostile-test-token"))
            .timeout(Duration::from_secs(2))
            .retry(
                RetryPolicy::default()
                    .initial_backoff(Duration::from_millis(1))
                    .max_attempts(3)
                    .max_elapsed(Duration::from_secs(10)),
            );
        configure(builder).build().unwrap()
    }
}

/// Reads a request's head and any body `Content-Length` announces; false if the client left.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !seen.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => seen.push(byte[0]),
            _ => return false,
        }
    }
    let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.is_ok()
}

async fn reply(stream: &mut TcpStream, status: u16, headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status} X\r\nconnection: close\r\ncontent-length: {}\r\n{headers}\r\n",
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    let _ = stream.write_all(&bytes).await;
}

/// Closes the connection with a TCP reset rather than an orderly close.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

fn assert_transport(error: &Error, kind: TransportKind) {
    assert!(
        matches!(error, Error::Transport { kind: k, .. } if *k == kind),
        "expected a {kind:?} transport error, got {error:?}"
    );
}

fn assert_decode(error: &Error) {
    assert!(
        matches!(error, Error::Decode { status: 200, .. }),
        "expected a decode error, got {error:?}"
    );
}

#[tokio::test]
async fn truncated_html_and_non_utf8_replies_are_decode_errors() {
    let server = Hostile::start(|n, mut s| async move {
        match n {
            0 => reply(&mut s, 200, "", br#"{"id": "1", "name": "Bi"#).await,
            1 => {
                reply(
                    &mut s,
                    200,
                    "content-type: text/html\r\n",
                    b"<html>hi</html>",
                )
                .await
            }
            2 => reply(&mut s, 200, "", b"{\"id\": \"\xff\xfe\"}").await,
            _ => reply(&mut s, 200, "", br#"{"courseState": 7}"#).await,
        }
    })
    .await;
    let client = server.client();
    for _ in 0..3 {
        assert_decode(&client.courses().get("c").send().await.unwrap_err());
    }
    let wrong_type = client.courses().get("c").send().await.unwrap_err();
    match &wrong_type {
        Error::Decode { path, .. } => assert_eq!(path.as_deref(), Some("courseState")),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(
        std::error::Error::source(&wrong_type).is_some(),
        "the decoder's error is kept as the source"
    );
    assert_eq!(server.requests(), 4, "a bad 200 is not retried");
}

#[tokio::test]
async fn an_empty_body_is_an_answer_only_where_the_response_is_empty() {
    let server = Hostile::start(|_, mut s| async move { reply(&mut s, 200, "", b"").await }).await;
    let client = server.client();
    assert_decode(&client.courses().get("c").send().await.unwrap_err());
    assert_decode(&client.courses().list().send().await.unwrap_err());
    client.courses().delete("c").send().await.unwrap();
    client
        .courses()
        .course_work()
        .student_submissions()
        .turn_in("c", "w", "s")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_overflowing_the_stack() {
    let server = Hostile::start(|n, mut s| async move {
        let depth = 200_000;
        let mut body = match n {
            0 => b"{\"id\":".to_vec(),
            _ => b"{\"courses\":[{\"materials\":".to_vec(),
        };
        body.extend(std::iter::repeat_n(b'[', depth));
        body.extend(std::iter::repeat_n(b']', depth));
        body.extend_from_slice(b"}");
        reply(&mut s, 200, "", &body).await;
    })
    .await;
    let client = server.client();
    assert_decode(&client.courses().get("c").send().await.unwrap_err());
    assert_decode(&client.courses().list().send().await.unwrap_err());
    // An error reply nested as deep keeps its status and says it was not Google's JSON.
    let server = Hostile::start(|_, mut s| async move {
        let mut body = b"{\"error\":".to_vec();
        body.extend(std::iter::repeat_n(b'[', 100_000));
        reply(&mut s, 404, "", &body).await;
    })
    .await;
    let error = server.client().courses().get("c").send().await.unwrap_err();
    assert_eq!(error.http_status(), Some(404), "{error:?}");
    assert!(error.api().unwrap().body.is_some());
}

#[tokio::test]
async fn an_endless_body_ends_at_the_cap_fast_or_slow() {
    // Fast: chunks as quickly as the client reads them, forever.
    let server = Hostile::start(|_, mut s| async move {
        let head = "HTTP/1.1 200 X\r\ntransfer-encoding: chunked\r\n\r\n";
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "[".repeat(64 * 1024));
        while s.write_all(chunk.as_bytes()).await.is_ok() {}
    })
    .await;
    let client = server.client_with(|b| b.max_response_bytes(1 << 20));
    let started = Instant::now();
    let error = client.courses().get("c").send().await.unwrap_err();
    assert!(
        matches!(error, Error::ResponseTooLarge { limit, status: 200, .. } if limit == 1 << 20),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("1048576"),
        "names the limit: {error}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        server.requests(),
        1,
        "a reply too large is not asked for again"
    );

    // Announced: refused on the header, before any of it is read.
    let server = Hostile::start(|_, mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 200 X\r\ncontent-length: 99999999999\r\n\r\n{")
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let started = Instant::now();
    let error = server.client().courses().get("c").send().await.unwrap_err();
    assert!(matches!(error, Error::ResponseTooLarge { .. }), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(1));

    // Slow: a byte every 50 ms never ends; the attempt's time does.
    let server = trickling("HTTP/1.1 200 X\r\ncontent-length: 1000000\r\n\r\n").await;
    let client = server.client_with(short_attempts);
    let started = Instant::now();
    let error = client.courses().get("c").send().await.unwrap_err();
    assert_transport(&error, TransportKind::Timeout);
    assert!(error.is_timeout());
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(2000),
        "the total budget bounds the call, retries included: {took:?}"
    );
}

/// A server that sends `head`, then a byte every 50 ms for as long as the client reads.
async fn trickling(head: &'static str) -> Hostile {
    Hostile::start(move |_, mut s| async move {
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        while s.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
}

/// Attempts of 500 ms within a call's budget of 1.2 s.
fn short_attempts(builder: classroom::ClassroomBuilder) -> classroom::ClassroomBuilder {
    builder
        .timeout(Duration::from_millis(500))
        .retry(RetryPolicy::default().max_elapsed(Duration::from_millis(1200)))
}

/// A batch request is bounded like a single call: by the attempt's timeout over connecting,
/// sending and the whole body, and by the call's budget over its retries.
#[tokio::test]
async fn a_batch_that_trickles_times_out_within_the_budget() {
    let server = trickling(
        "HTTP/1.1 200 X\r\ncontent-type: multipart/mixed; boundary=b\r\ncontent-length: 1000000\r\n\r\n--b\r\n",
    )
    .await;
    let client = server.client_with(short_attempts);
    let started = Instant::now();
    let gets = ["a", "b", "c"].map(|id| client.courses().get(id));
    let results = tokio::time::timeout(Duration::from_secs(10), client.send_batched(gets))
        .await
        .expect("the batch was not bounded by the attempt's timeout");
    let took = started.elapsed();
    assert_eq!(results.len(), 3);
    for result in &results {
        assert_transport(result.as_ref().unwrap_err(), TransportKind::Timeout);
    }
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_millis(2000),
        "the total budget bounds the batch, retries included: {took:?}"
    );
}

#[tokio::test]
async fn a_stalled_server_times_out_within_the_budget() {
    let server = Hostile::start(|_, s| async move {
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(s);
    })
    .await;
    let client = server.client_with(|b| {
        b.timeout(Duration::from_secs(1))
            .retry(RetryPolicy::default().max_elapsed(Duration::from_millis(1500)))
    });
    let started = Instant::now();
    let error = client.courses().get("c").send().await.unwrap_err();
    let took = started.elapsed();
    assert_transport(&error, TransportKind::Timeout);
    assert!(
        took < Duration::from_millis(2000),
        "the last attempt gets only what is left of the budget, not a whole timeout: {took:?}"
    );
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn a_reset_mid_body_is_retried_for_reads_and_not_for_writes() {
    let server = Hostile::start(|n, mut s| async move {
        if n % 2 == 0 {
            let _ = s
                .write_all(b"HTTP/1.1 200 X\r\ncontent-length: 500\r\n\r\n{\"id\": \"1\"")
                .await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            reset(s);
        } else {
            reply(&mut s, 200, "", br#"{"id": "1"}"#).await;
        }
    })
    .await;
    let client = server.client();
    let course = client.courses().get("c").send().await.unwrap();
    assert_eq!(course.id.as_deref(), Some("1"));
    assert_eq!(
        server.requests(),
        2,
        "the cut-off read went through the retry policy"
    );

    let error = client
        .courses()
        .create(Default::default())
        .send()
        .await
        .unwrap_err();
    assert_transport(&error, TransportKind::CutOff);
    assert!(error.is_retryable(), "transient, though not safe to resend");
    assert_eq!(
        server.requests(),
        3,
        "the create may have been made: not resent"
    );
}

/// A body announced by `Content-Length` and arriving in pieces is read into one buffer as it
/// comes, and decodes to every item, in order.
#[tokio::test]
async fn a_body_arriving_in_pieces_decodes_whole() {
    let courses: Vec<String> = (0..3000)
        .map(|i| format!(r#"{{"id": "{i}", "name": "Course {i}"}}"#))
        .collect();
    let body = format!(r#"{{"courses": [{}]}}"#, courses.join(","));
    let server = Hostile::start(move |_, mut s| {
        let body = body.clone();
        async move {
            let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes()).await;
            for piece in body.as_bytes().chunks(body.len() / 3 + 1) {
                let _ = s.write_all(piece).await;
                let _ = s.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
    .await;
    let page = server.client().courses().list().send().await.unwrap();
    let ids: Vec<String> = page.courses.into_iter().filter_map(|c| c.id).collect();
    assert_eq!(ids.len(), 3000);
    assert!(ids.iter().enumerate().all(|(i, id)| *id == i.to_string()));
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let elsewhere =
        Hostile::start(|_, mut s| async move { reply(&mut s, 200, "", b"{}").await }).await;
    let target = format!("{}v1/courses/c", elsewhere.url);
    let server = Hostile::start(move |n, mut s| {
        let location = if n == 0 {
            format!("location: {target}\r\n")
        } else {
            "location: /v1/courses/c\r\n".to_string()
        };
        async move { reply(&mut s, 302, &location, b"").await }
    })
    .await;
    let client = server.client();
    for _ in 0..2 {
        let error = client.courses().get("c").send().await.unwrap_err();
        assert_eq!(error.http_status(), Some(302), "{error:?}");
    }
    assert_eq!(server.requests(), 2);
    assert_eq!(
        elsewhere.requests(),
        0,
        "the token never went to another host"
    );
}

#[tokio::test]
async fn thousands_of_headers_are_a_typed_error() {
    let server = Hostile::start(|_, mut s| async move {
        let headers: String = (0..5000).map(|i| format!("x-h{i}: {i}\r\n")).collect();
        reply(&mut s, 200, &headers, b"{}").await;
    })
    .await;
    let error = server.client().courses().get("c").send().await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
}

#[tokio::test]
async fn huge_and_malformed_retry_after_values_never_panic() {
    // The first attempt takes over a second, then the server asks for a wait no clock holds.
    let server = Hostile::start(|n, mut s| async move {
        if n == 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        let header = format!("retry-after: {}\r\n", u64::MAX);
        reply(&mut s, 429, &header, b"").await;
    })
    .await;
    let started = Instant::now();
    let error = server.client().courses().get("c").send().await.unwrap_err();
    assert_eq!(error.http_status(), Some(429));
    assert_eq!(
        error.api().unwrap().retry_after,
        Some(Duration::from_secs(u64::MAX))
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up at once"
    );
    assert_eq!(server.requests(), 1, "a wait past the budget is not waited");

    for value in [
        "99999999999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "-5",
        "1e9",
        "soon",
        "",
        "ÿ",
    ] {
        let header = format!("retry-after: {value}\r\n");
        let server = Hostile::start(move |_, mut s| {
            let header = header.clone();
            async move { reply(&mut s, 429, &header, b"").await }
        })
        .await;
        let started = Instant::now();
        let error = server.client().courses().get("c").send().await.unwrap_err();
        assert_eq!(error.http_status(), Some(429), "{value:?}: {error:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{value:?} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn endless_empty_pages_end_with_a_page_loop_error() {
    let server = Hostile::start(|n, mut s| async move {
        let body = format!(r#"{{"courses": [], "nextPageToken": "fresh-{n}"}}"#);
        reply(&mut s, 200, "", body.as_bytes()).await;
    })
    .await;
    let client = server.client_with(|b| b.max_empty_pages(5));
    let pages: Vec<_> = client.courses().list().pages().collect().await;
    assert_eq!(pages.len(), 6, "five empty pages, then the error");
    let error = pages.last().unwrap().as_ref().unwrap_err();
    assert!(
        matches!(
            error,
            Error::PageLoop {
                kind: PageLoop::EmptyPages(5),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(server.requests(), 5);

    // A few empty pages in a row are normal for a filtered list: the items after them come.
    let server = Hostile::start(|n, mut s| async move {
        let body = match n {
            0..4 => format!(r#"{{"nextPageToken": "t{n}"}}"#),
            _ => r#"{"courses": [{"id": "last"}]}"#.to_string(),
        };
        reply(&mut s, 200, "", body.as_bytes()).await;
    })
    .await;
    let client = server.client_with(|b| b.max_empty_pages(5));
    let items: Vec<_> = client.courses().list().items().collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap().id.as_deref(), Some("last"));
}

#[tokio::test]
async fn cleartext_to_a_remote_host_is_refused() {
    let refused = Classroom::builder()
        .root_url("http://classroom.example.com/")
        .credentials(BearerToken::unchecked("t"))
        .build()
        .unwrap_err();
    assert!(
        refused.to_string().contains("allow_insecure_http"),
        "says how to opt in: {refused}"
    );
    for allowed in [
        "http://127.0.0.1:1/",
        "http://localhost:1/",
        "http://[::1]:1/",
        "https://classroom.example.com/",
    ] {
        Classroom::builder()
            .root_url(allowed)
            .credentials(BearerToken::unchecked("t"))
            .build()
            .unwrap_or_else(|e| panic!("{allowed}: {e}"));
    }
    Classroom::builder()
        .root_url("http://proxy.internal/")
        .credentials(BearerToken::unchecked("t"))
        .allow_insecure_http()
        .build()
        .unwrap();
}

/// With the default settings a stalled server costs two attempts of up to 60 s within the
/// 120 s budget. Ignored (it takes two minutes); run it to measure:
/// `cargo test --test hostile_server -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn a_stalled_server_with_the_default_settings() {
    let server = Hostile::start(|_, s| async move {
        tokio::time::sleep(Duration::from_secs(600)).await;
        drop(s);
    })
    .await;
    let client = Classroom::builder()
        .root_url(&server.url)
        .credentials(BearerToken::unchecked("t"))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = client.courses().get("c").send().await.unwrap_err();
    let took = started.elapsed();
    println!("stalled server, default settings: {error} after {took:?}");
    assert_transport(&error, TransportKind::Timeout);
    assert!(took <= Duration::from_secs(121), "{took:?}");
}

/// A token endpoint that answers the first `answered` token requests and then takes
/// connections and never answers.
async fn token_endpoint_stalling_after(answered: usize) -> Hostile {
    Hostile::start(move |n, mut s| async move {
        if n < answered {
            let token = format!(
                r#"{{"access_token": "t{n}", "expires_in": 3600, "token_type": "Bearer"}}"#
            );
            reply(
                &mut s,
                200,
                "content-type: application/json\r\n",
                token.as_bytes(),
            )
            .await;
            return;
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(s);
    })
    .await
}

/// A client with [`short_attempts`] whose tokens come from `token_endpoint` by refresh.
fn refreshing_client(api: &Hostile, token_endpoint: &Hostile) -> Classroom {
    use classroom::auth::{ClientSecret, OAuthClient, Provider, RefreshToken, UserCredentials};
    let provider = Provider::new(
        format!("{}auth", token_endpoint.url),
        format!("{}token", token_endpoint.url),
    );
    let oauth = OAuthClient::new("id", Some(ClientSecret::new("s"))).with_provider(provider);
    short_attempts(
        Classroom::builder()
            .root_url(&api.url)
            .credentials(UserCredentials::new(oauth, RefreshToken::new("r"))),
    )
    .build()
    .unwrap()
}

/// A token endpoint that takes connections and never answers bounds a batch as it bounds a
/// single call: by the client's timeout and budget, not by the token client's own 30 s.
#[tokio::test]
async fn a_stalled_token_endpoint_bounds_a_batch_as_a_single_call() {
    let token_endpoint = token_endpoint_stalling_after(0).await;
    let api = Hostile::start(|_, _| async {}).await;
    let client = refreshing_client(&api, &token_endpoint);

    let started = Instant::now();
    let gets = ["a", "b", "c"].map(|id| client.courses().get(id));
    let results = tokio::time::timeout(Duration::from_secs(10), client.send_batched(gets))
        .await
        .expect("the batch waited on the token endpoint past its budget");
    let batch_took = started.elapsed();
    for result in &results {
        assert_transport(result.as_ref().unwrap_err(), TransportKind::Timeout);
    }

    let started = Instant::now();
    let single = client.courses().get("a").send().await.unwrap_err();
    let single_took = started.elapsed();
    assert_transport(&single, TransportKind::Timeout);

    for took in [batch_took, single_took] {
        assert!(
            took >= Duration::from_millis(500) && took < Duration::from_millis(2000),
            "the attempt's timeout and the call's budget bound the token fetch: {took:?}"
        );
    }
    assert_eq!(api.requests(), 0, "nothing is sent without a token");
    assert!(
        token_endpoint.requests() >= 2,
        "each attempt asks for a token"
    );
}

/// The refresh after a 401 is bounded too: a single call whose token is refused, and whose
/// token endpoint then stalls, ends with the 401 within the attempt's time; a batch refused as
/// a whole ends within its budget.
#[tokio::test]
async fn a_token_endpoint_stalling_after_a_401_bounds_the_refresh() {
    let refused = |_, mut s: TcpStream| async move {
        let body =
            br#"{"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "expired"}}"#;
        reply(&mut s, 401, "content-type: application/json\r\n", body).await;
    };

    let token_endpoint = token_endpoint_stalling_after(1).await;
    let api = Hostile::start(refused).await;
    let client = refreshing_client(&api, &token_endpoint);
    let started = Instant::now();
    let error = client.courses().get("a").send().await.unwrap_err();
    let took = started.elapsed();
    assert_eq!(error.http_status(), Some(401), "{error:?}");
    assert!(took < Duration::from_millis(1000), "{took:?}");
    assert_eq!(token_endpoint.requests(), 2, "one refresh after the 401");

    let token_endpoint = token_endpoint_stalling_after(1).await;
    let api = Hostile::start(refused).await;
    let client = refreshing_client(&api, &token_endpoint);
    let started = Instant::now();
    let gets = ["a", "b"].map(|id| client.courses().get(id));
    let results = tokio::time::timeout(Duration::from_secs(10), client.send_batched(gets))
        .await
        .expect("the batch waited on the token endpoint past its budget");
    let took = started.elapsed();
    for result in &results {
        assert_transport(result.as_ref().unwrap_err(), TransportKind::Timeout);
    }
    assert!(took < Duration::from_millis(2000), "{took:?}");
    assert_eq!(
        api.requests(),
        1,
        "the batch is sent once before the refresh"
    );
}
