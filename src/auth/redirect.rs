//! Google's redirect URI rules, checked before any flow starts
//! (<https://developers.google.com/identity/protocols/oauth2/web-server#uri-validation>).

use super::AuthError;

/// Well-known URL shortener domains (and their subdomains), refused as redirect hosts. Google
/// refuses shortener domains in general; this list covers the common public services and is
/// not exhaustive.
pub const URL_SHORTENERS: &[&str] = &[
    "adf.ly",
    "amzn.to",
    "bit.do",
    "bit.ly",
    "bitly.com",
    "bl.ink",
    "buff.ly",
    "clck.ru",
    "cutt.ly",
    "db.tt",
    "dlvr.it",
    "fb.me",
    "g.co",
    "goo.gl",
    "ift.tt",
    "is.gd",
    "lnkd.in",
    "ow.ly",
    "qr.ae",
    "rb.gy",
    "rebrand.ly",
    "s.id",
    "shorturl.at",
    "t.co",
    "t.ly",
    "tiny.cc",
    "tinyurl.com",
    "tr.im",
    "trib.al",
    "v.gd",
    "wp.me",
    "x.co",
];

/// Checks `uri` against Google's published redirect URI rules, each with the rule name an
/// error carries ([`AuthError::InvalidRedirectUri`]):
///
/// - `https`: HTTPS, plain HTTP only for loopback (`localhost`, `127.0.0.0/8`, `[::1]`);
///   `scheme`: no other scheme;
/// - `raw-ip`: no raw IP address host but loopback;
/// - `public-suffix`: the host ends in a suffix of the Public Suffix List (the list built
///   into the `psl` crate, so checked offline; a newer suffix needs a newer `psl`);
/// - `domain`: not on `googleusercontent.com`;
/// - `shortener`: not on a URL shortener domain ([`URL_SHORTENERS`]) unless the path
///   contains `/google-callback/` or ends with `/google-callback`, as Google allows for a
///   shortener domain the app owns;
/// - `userinfo`: no `user:password@`;
/// - `path-traversal`: no `/..` or `\..`, percent-encoded (even twice) or not;
/// - `open-redirect`: no query parameter whose value, decoded, is another absolute URL
///   (`https://...`, `//host/...`);
/// - `fragment`: no `#...`;
/// - `wildcard`, `characters`, `percent-encoding`, `null`: no `*`, no whitespace or
///   non-printable characters, every `%` followed by two hex digits, no `%00` or `%C0%80`;
/// - `syntax`: an absolute URI with a host.
///
/// What only Google's server can check, and so passes here: that the app owns a shortener
/// domain it uses, that a path or parameter does not redirect elsewhere on the server side
/// (an open redirect without another URL in the query), that the URI is registered for the
/// OAuth client (refused as `redirect_uri_mismatch` at consent), and any rule Google adds
/// after this list was written. Error texts show the URI without userinfo and with query
/// values blanked.
pub fn validate_redirect_uri(uri: &str) -> Result<(), AuthError> {
    let fail = |rule: &'static str, message: &str| {
        Err(AuthError::InvalidRedirectUri {
            uri: shown(uri),
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
        uri: shown(uri),
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
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) if !loopback => {
            return fail(
                "raw-ip",
                "a raw IP address host is allowed only for loopback",
            );
        }
        Some(url::Host::Domain(d)) if !loopback => {
            let domain = d.trim_end_matches('.').to_ascii_lowercase();
            let under = |parent: &str| {
                domain == parent
                    || domain
                        .strip_suffix(parent)
                        .is_some_and(|rest| rest.ends_with('.'))
            };
            if !psl::suffix(domain.as_bytes()).is_some_and(|s| s.is_known()) {
                return fail(
                    "public-suffix",
                    "the host must end in a public suffix (a top-level domain on the Public \
                     Suffix List, such as .com or .edu)",
                );
            }
            if under("googleusercontent.com") {
                return fail("domain", "googleusercontent.com hosts are not allowed");
            }
            let path = url.path();
            let callback_path =
                path.contains("/google-callback/") || path.ends_with("/google-callback");
            if URL_SHORTENERS.iter().any(|s| under(s)) && !callback_path {
                return fail(
                    "shortener",
                    "URL shortener domains are not allowed (on a shortener domain the app owns, \
                     the path must contain /google-callback/ or end with /google-callback)",
                );
            }
        }
        None => return fail("syntax", "it has no host"),
        _ => {}
    }
    if url.query_pairs().any(|(_, value)| is_absolute_url(&value)) {
        return fail(
            "open-redirect",
            "a query parameter holds another absolute URL, which makes the redirect URI an \
             open redirect",
        );
    }
    Ok(())
}

/// Whether a query value (decoded once by the URL parser) names another site: a URL with a
/// host, or a scheme-relative `//host`, however many times it was percent-encoded.
fn is_absolute_url(value: &str) -> bool {
    let mut value = value.trim().to_string();
    for _ in 0..4 {
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("//")
            || lower.starts_with("\\\\")
            || lower.starts_with("/\\")
            || lower.starts_with("\\/")
            || reqwest::Url::parse(&lower).is_ok_and(|u| u.has_host())
        {
            return true;
        }
        let next = percent_encoding::percent_decode_str(&value)
            .decode_utf8_lossy()
            .into_owned();
        if next == value {
            break;
        }
        value = next;
    }
    false
}

/// `uri` fit for an error message, even when it does not parse: userinfo removed, query and
/// fragment values blanked.
fn shown(uri: &str) -> String {
    let (rest, fragment) = match uri.split_once('#') {
        Some((rest, _)) => (rest, "#…"),
        None => (uri, ""),
    };
    let (head, query) = match rest.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (rest, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, after)) => {
            let end = after.find(['/', '\\']).unwrap_or(after.len());
            let (authority, path) = after.split_at(end);
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}{path}")
        }
        None => head.to_string(),
    };
    let query = query.map_or_else(String::new, |q| {
        let keys: Vec<&str> = q
            .split('&')
            .map(|pair| pair.split('=').next().unwrap_or_default())
            .collect();
        format!(
            "?{}",
            keys.iter()
                .map(|k| format!("{k}=…"))
                .collect::<Vec<_>>()
                .join("&")
        )
    });
    format!("{head}{query}{fragment}")
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
        (
            "domain",
            "https://notgoogleusercontent.com/cb",
            "https://googleusercontent.com/cb",
        ),
        (
            "public-suffix",
            "https://school.example.edu/cb",
            "https://app.internal/cb",
        ),
        (
            "public-suffix",
            "https://app.example.co.uk/cb",
            "https://app.example.notatld/cb",
        ),
        (
            "public-suffix",
            "https://myapp.github.io/cb",
            "https://intranet/cb",
        ),
        (
            "shortener",
            "https://bitly.example.com/cb",
            "https://bit.ly/cb",
        ),
        (
            "shortener",
            "https://goo.gl/google-callback",
            "https://maps.goo.gl/cb",
        ),
        (
            "shortener",
            "https://tinyurl.com/app/google-callback/done",
            "https://tinyurl.com/app/google-callbacks",
        ),
        (
            "open-redirect",
            "https://app.example.com/cb?next=/home",
            "https://app.example.com/cb?next=https://evil.example.net/",
        ),
        (
            "open-redirect",
            "https://app.example.com/cb?mode=a:b",
            "https://app.example.com/cb?next=//evil.example.net/",
        ),
        (
            "open-redirect",
            "https://app.example.com/cb?next=%2Fhome",
            "https://app.example.com/cb?next=https%3A%2F%2Fevil.example.net%2F",
        ),
        (
            "open-redirect",
            "https://app.example.com/cb?to=mailto:a@b.example",
            "https://app.example.com/cb?to=https%253A%252F%252Fevil.example.net",
        ),
    ];

    #[test]
    fn errors_show_no_userinfo_and_no_query_values() {
        for uri in [
            "https://user:hunter2@app.example.com/cb",
            "https://user:hunter2@app.example.com/a b",
            "http://user:hunter2@app.example.com/cb?key=s3cret",
            "https://app.example.com/cb?key=s3cret#frag",
            "https://app.example.com/cb?key=s3cret&next=https://evil.example.net/",
        ] {
            let error = validate_redirect_uri(uri).unwrap_err();
            for shown in [error.to_string(), format!("{error:?}")] {
                assert!(
                    !shown.contains("hunter2") && !shown.contains("s3cret"),
                    "{shown}"
                );
            }
        }
    }

    #[test]
    fn every_rule_has_a_passing_and_a_failing_uri() {
        assert!(CASES.len() * 2 >= 40, "the table holds at least 40 URIs");
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
