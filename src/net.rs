//! What every outgoing connection shares, API calls and token calls alike: bearer tokens and
//! secrets travel only over TLS (loopback hosts excepted), and no reply is read past a cap.

use bytes::{Bytes, BytesMut};
use url::{Host, Url};

/// Whether `url` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether the connection was refused (nothing listens on the port), anywhere in the error's
/// chain of causes.
pub(crate) fn is_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Refuses `http` to a host other than loopback unless `allow_http`: what would be sent there
/// (a bearer token, a client secret, a refresh token) would cross the network in clear.
/// The error is a sentence to put in a typed error; `opt_in` names the setting that allows it.
pub(crate) fn require_tls(url: &Url, allow_http: bool, opt_in: &str) -> Result<(), String> {
    if url.scheme() == "http" && !allow_http && !is_loopback(url) {
        return Err(format!(
            "{} uses http:// on a host that is not loopback, so credentials would cross the \
             network in clear; use https://, or call {opt_in} if a TLS-terminating proxy you \
             control sits in between",
            redacted(url)
        ));
    }
    Ok(())
}

/// A URL fit for an error message: no userinfo, and query values blanked.
pub(crate) fn redacted(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if shown.query().is_some() {
        let keys: Vec<String> = shown.query_pairs().map(|(k, _)| k.into_owned()).collect();
        let mut pairs = shown.query_pairs_mut();
        pairs.clear();
        for key in keys {
            pairs.append_pair(&key, "…");
        }
    }
    shown.set_fragment(None);
    shown.to_string()
}

/// Why a reply body could not be read whole.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// The body is longer than the cap (announced by `Content-Length`, or seen streaming in).
    TooLarge { limit: usize },
    /// The connection failed or timed out while the body streamed in.
    Transport(reqwest::Error),
}

/// Reads a reply's body, refusing it as soon as it is known to exceed `limit` bytes: before
/// reading when `Content-Length` says so, otherwise once that many bytes have arrived. Memory
/// held never exceeds the limit by more than one chunk. A body that comes in one chunk is
/// returned as it is; one in several is copied once, into a buffer of the exact size.
pub(crate) async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Bytes, BodyError> {
    let announced = match response.content_length() {
        Some(n) if n > limit as u64 => return Err(BodyError::TooLarge { limit }),
        Some(n) => Some(n as usize),
        None => None,
    };
    // With the length announced, each chunk is copied into the body as it arrives and freed:
    // the body and one chunk are held at a time, not the body twice over.
    let mut body: Option<BytesMut> = None;
    // Without it, the chunks are kept until the end, when the total is known.
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        total = total.saturating_add(chunk.len());
        if total > limit {
            return Err(BodyError::TooLarge { limit });
        }
        match (&mut body, announced) {
            (Some(body), _) => body.extend_from_slice(&chunk),
            (None, Some(length)) if total < length => {
                let mut buffer = BytesMut::with_capacity(length);
                buffer.extend_from_slice(&chunk);
                body = Some(buffer);
            }
            (None, _) => chunks.push(chunk),
        }
    }
    if let Some(body) = body {
        return Ok(body.freeze());
    }
    if chunks.len() == 1 {
        return Ok(chunks.pop().unwrap_or_default());
    }
    let mut body = BytesMut::with_capacity(total);
    for chunk in chunks {
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// rustls with the *ring* provider chosen explicitly (not the process default, which panics
/// when a program links two providers and installs neither), the platform's certificate
/// verifier, and ALPN for HTTP/2 and HTTP/1.1.
pub(crate) fn tls_config() -> std::result::Result<rustls::ClientConfig, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_platform_verifier()?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The first `max` bytes of a body as text, cut on a character boundary.
pub(crate) fn excerpt(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(max)]);
    let mut s = text.into_owned();
    if body.len() > max {
        s.push('…');
    }
    s
}

/// A serde_json error without the values it may quote (which could be secrets).
pub(crate) fn json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let kind = match e.classify() {
        Category::Io => "could not be read",
        Category::Syntax => "is not valid JSON",
        Category::Eof => "ends too early",
        Category::Data => "lacks a field or has one of the wrong type",
    };
    let text = e.to_string();
    // Field names (`missing field `client_id``) are safe and useful; values are not shown.
    let field = text
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(|f| format!(" (missing `{f}`)"))
        .unwrap_or_default();
    format!("{kind}{field} at line {} column {}", e.line(), e.column())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for url in [
            "http://127.0.0.1:8080/",
            "http://127.3.2.1/",
            "http://[::1]:9/",
            "http://localhost/",
            "http://LOCALHOST:1/",
        ] {
            assert!(is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
        for url in [
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://localhost.example.com/",
            "http://example.com/",
            "http://128.0.0.1/",
        ] {
            assert!(!is_loopback(&Url::parse(url).unwrap()), "{url}");
        }
    }

    #[test]
    fn http_is_refused_off_loopback_unless_allowed() {
        let remote = Url::parse("http://proxy.internal/v1/").unwrap();
        let message = require_tls(&remote, false, ".allow_http()").unwrap_err();
        assert!(message.contains(".allow_http()"), "{message}");
        assert!(require_tls(&remote, true, "").is_ok());
        assert!(require_tls(&Url::parse("https://x.example/").unwrap(), false, "").is_ok());
        assert!(require_tls(&Url::parse("http://127.0.0.1:1/").unwrap(), false, "").is_ok());
    }

    #[test]
    fn redaction_drops_userinfo_and_query_values() {
        let url =
            Url::parse("https://user:hunter2@host.example/token?key=s3cret&x=1#frag").unwrap();
        let shown = redacted(&url);
        assert!(
            !shown.contains("hunter2") && !shown.contains("user"),
            "{shown}"
        );
        assert!(
            !shown.contains("s3cret") && !shown.contains("frag"),
            "{shown}"
        );
        assert!(
            shown.contains("key=") && shown.contains("host.example/token"),
            "{shown}"
        );
    }
}
