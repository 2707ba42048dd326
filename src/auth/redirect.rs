//! Google's redirect URI rules, checked before any flow starts
//! (<https://developers.google.com/identity/protocols/oauth2/web-server#uri-validation>).

use super::AuthError;

/// Checks `uri` against Google's published redirect URI rules: HTTPS (plain HTTP only for
/// loopback), no raw IP host but loopback, no userinfo, no fragment, no path traversal (also
/// percent-encoded), no wildcard, no invalid percent-encoding, no encoded NUL, no
/// non-printable characters, not on `googleusercontent.com`.
pub fn validate_redirect_uri(uri: &str) -> Result<(), AuthError> {
    let fail = |rule: &'static str, message: &str| {
        Err(AuthError::InvalidRedirectUri {
            uri: uri.to_string(),
            rule,
            message: message.to_string(),
        })
    };
    if uri.bytes().any(|b| !(0x21..0x7f).contains(&b)) {
        return fail(
            "characters",
            "it holds whitespace, non-printable or non-ASCII characters",
        );
    }
    if uri.contains('*') {
        return fail("wildcard", "wildcard characters (*) are not allowed");
    }
    let bytes = uri.as_bytes();
    for (i, _) in uri.match_indices('%') {
        let hex = bytes.get(i + 1..i + 3);
        if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
            return fail(
                "percent-encoding",
                "every % must be followed by two hex digits",
            );
        }
    }
    let lower = uri.to_ascii_lowercase();
    if lower.contains("%00") || lower.contains("%c0%80") {
        return fail(
            "null",
            "encoded NUL characters (%00, %C0%80) are not allowed",
        );
    }
    if uri.contains('#') {
        return fail("fragment", "a fragment (#...) is not allowed");
    }
    // Decode repeatedly so that double encoding (%252e) cannot hide a traversal.
    let mut decoded = uri.to_string();
    for _ in 0..4 {
        let next = percent_encoding::percent_decode_str(&decoded)
            .decode_utf8_lossy()
            .into_owned();
        if next == decoded {
            break;
        }
        decoded = next;
    }
    if decoded.contains("/..") || decoded.contains("\\..") {
        return fail(
            "path-traversal",
            "path traversal (/.. or \\..) is not allowed, encoded or not",
        );
    }
    let Some((scheme, rest)) = uri.split_once("://") else {
        return fail("syntax", "it is not an absolute URI (scheme://host/...)");
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return fail("userinfo", "userinfo (user:password@) is not allowed");
    }
    let url = reqwest::Url::parse(uri).map_err(|e| AuthError::InvalidRedirectUri {
        uri: uri.to_string(),
        rule: "syntax",
        message: format!("it is not a valid URI ({e})"),
    })?;
    let host = url.host();
    let loopback = match &host {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return fail(
                "https",
                "plain HTTP is allowed only for loopback (localhost, 127.0.0.1, [::1])",
            );
        }
        _ => {
            return fail(
                "scheme",
                "only https (or http on loopback) redirect URIs are supported",
            );
        }
    }
    match host {
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) if !loopback => fail(
            "raw-ip",
            "a raw IP address host is allowed only for loopback",
        ),
        Some(url::Host::Domain(d))
            if d.eq_ignore_ascii_case("googleusercontent.com")
                || d.to_ascii_lowercase().ends_with(".googleusercontent.com") =>
        {
            fail("domain", "googleusercontent.com hosts are not allowed")
        }
        None => fail("syntax", "it has no host"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each rule: a URI that passes it and one that breaks it (and only it).
    const CASES: &[(&str, &str, &str)] = &[
        (
            "https",
            "https://app.example.com/callback",
            "http://app.example.com/callback",
        ),
        (
            "https",
            "http://localhost:8080/cb",
            "http://example.com:8080/cb",
        ),
        (
            "raw-ip",
            "http://127.0.0.1:9004/",
            "https://203.0.113.9/callback",
        ),
        (
            "raw-ip",
            "http://[::1]:9004/",
            "https://[2001:db8::1]/callback",
        ),
        (
            "userinfo",
            "https://app.example.com/cb",
            "https://user:pw@app.example.com/cb",
        ),
        (
            "fragment",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#frag",
        ),
        (
            "path-traversal",
            "https://app.example.com/a..b/cb",
            "https://app.example.com/a/../cb",
        ),
        (
            "path-traversal",
            "https://app.example.com/a/cb",
            "https://app.example.com/a/%2E%2E/cb",
        ),
        (
            "path-traversal",
            "https://app.example.com/a/cb",
            "https://app.example.com/a%2f..%2fcb",
        ),
        (
            "path-traversal",
            "https://app.example.com/a/cb",
            "https://app.example.com/a/%252e%252e/cb",
        ),
        (
            "path-traversal",
            "https://app.example.com/a/cb",
            "https://app.example.com/a\\..\\cb",
        ),
        (
            "wildcard",
            "https://app.example.com/cb",
            "https://*.example.com/cb",
        ),
        (
            "percent-encoding",
            "https://app.example.com/a%20b",
            "https://app.example.com/a%zzb",
        ),
        (
            "percent-encoding",
            "https://app.example.com/a%41",
            "https://app.example.com/a%4",
        ),
        (
            "null",
            "https://app.example.com/a%01",
            "https://app.example.com/a%00",
        ),
        (
            "null",
            "https://app.example.com/a%C3%A9",
            "https://app.example.com/a%C0%80",
        ),
        (
            "characters",
            "https://app.example.com/a%20b",
            "https://app.example.com/a b",
        ),
        (
            "characters",
            "https://app.example.com/ab",
            "https://app.example.com/a\u{7}b",
        ),
        (
            "scheme",
            "https://app.example.com/cb",
            "ftp://app.example.com/cb",
        ),
        (
            "domain",
            "https://app.example.com/cb",
            "https://x.googleusercontent.com/cb",
        ),
    ];

    #[test]
    fn every_rule_has_a_passing_and_a_failing_uri() {
        for (rule, good, bad) in CASES {
            assert!(
                validate_redirect_uri(good).is_ok(),
                "{good} should pass ({rule})"
            );
            match validate_redirect_uri(bad) {
                Err(AuthError::InvalidRedirectUri { rule: broken, .. }) => {
                    assert_eq!(broken, *rule, "{bad} should break rule {rule}")
                }
                other => panic!("{bad} should break rule {rule}, got {other:?}"),
            }
        }
    }
}
