//! The process's memory stays bounded by the reply cap when a server streams a body forever.
//! Its own test binary, so that nothing else running in the process moves the peak it reads.

use std::time::{Duration, Instant};

use classroom::{BearerToken, Classroom, DEFAULT_MAX_RESPONSE_BYTES, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The process's peak resident memory so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib * 1024
}

#[tokio::test]
async fn an_endless_body_holds_no_more_than_the_default_cap() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 256 * 1024, "7".repeat(256 * 1024));
                while stream.write_all(chunk.as_bytes()).await.is_ok() {}
            });
        }
    });
    let client = Classroom::builder()
        .root_url(url)
        .credentials(BearerToken::unchecked("t"))
        .build()
        .unwrap();
    let before = peak_rss();
    let started = Instant::now();
    let error = client.courses().get("c").send().await.unwrap_err();
    let took = started.elapsed();
    let grown = peak_rss().saturating_sub(before);
    assert!(
        matches!(error, Error::ResponseTooLarge { limit, .. } if limit == DEFAULT_MAX_RESPONSE_BYTES),
        "{error:?}"
    );
    println!(
        "endless body: typed error after {took:?}; peak memory grew by {:.1} MiB (cap {} MiB)",
        grown as f64 / (1 << 20) as f64,
        DEFAULT_MAX_RESPONSE_BYTES >> 20
    );
    assert!(
        grown <= 2 * DEFAULT_MAX_RESPONSE_BYTES as u64,
        "peak memory grew by {grown} bytes, more than twice the cap"
    );
    assert!(took < Duration::from_secs(30));
}
