//! The metadata server of Google's compute platforms, for the service account attached to the
//! "machine" ([`demo::METADATA_SERVICE_ACCOUNT`]): `.../service-accounts/default/token`
//! (with `?scopes=`) and `.../email`. Every request must carry `Metadata-Flavor: Google`, and
//! every answer does. Point `GCE_METADATA_HOST` at [`Emulator::metadata_host`].

use serde_json::json;

use crate::server::{Reply, Req, parse_query};
use crate::{Emulator, Shared, demo};

const PREFIX: &str = "/computeMetadata/v1/instance/service-accounts/";

/// The scope tokens get when `?scopes=` is absent (an instance's usual default).
const DEFAULT_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The endpoint's name, for fault matching, if `path` is the metadata server's.
pub(crate) fn endpoint(path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix(PREFIX)?;
    let (account, item) = rest.split_once('/')?;
    if account != "default" && account != demo::METADATA_SERVICE_ACCOUNT {
        return None;
    }
    match item {
        "token" => Some("metadata.token"),
        "email" => Some("metadata.email"),
        _ => None,
    }
}

fn text(status: u16, body: impl Into<String>) -> Reply {
    Reply {
        status,
        headers: vec![
            ("content-type", "application/text".into()),
            ("metadata-flavor", "Google".into()),
        ],
        body: bytes::Bytes::from(body.into()),
    }
}

pub(crate) fn handle(shared: &Shared, req: &Req<'_>) -> Reply {
    let flavored = req
        .headers
        .get("metadata-flavor")
        .is_some_and(|v| v.as_bytes() == b"Google");
    if !flavored {
        return text(
            403,
            "Missing required header: \"Metadata-Flavor\": \"Google\"\n",
        );
    }
    if req.verb != "GET" {
        return text(405, "Method not allowed\n");
    }
    match endpoint(req.path) {
        Some("metadata.email") => text(200, demo::METADATA_SERVICE_ACCOUNT),
        Some("metadata.token") => token(shared, req),
        _ => text(404, "Not found\n"),
    }
}

fn token(shared: &Shared, req: &Req<'_>) -> Reply {
    let query = parse_query(req.query);
    let scopes: Vec<String> = match query.iter().find(|(k, _)| k == "scopes") {
        Some((_, list)) => list
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        None => vec![DEFAULT_SCOPE.to_string()],
    };
    if let Some(bad) = scopes.iter().find(|s| !crate::oauth::known_scope(s)) {
        return text(400, format!("Invalid scope: {bad}\n"));
    }
    let mut state = shared.state();
    // The machine's service account acts as the domain admin, as a service account's token
    // without a subject does.
    let admin = state
        .user(demo::ADMIN, "")
        .map(|u| u.id.clone())
        .unwrap_or_default();
    let mut body = crate::oauth::issue(
        &mut state,
        admin,
        scopes,
        demo::METADATA_SERVICE_ACCOUNT.to_string(),
        None,
    );
    // Google's metadata server does not say which scopes a token holds.
    if let Some(map) = body.as_object_mut() {
        map.remove("scope");
    }
    let mut reply = Reply::json(200, &json!(body));
    reply.headers.push(("metadata-flavor", "Google".into()));
    reply
}

impl Emulator {
    /// The metadata server's address (`127.0.0.1:PORT`), for `GCE_METADATA_HOST` or the
    /// `classroom` SDK's `MetadataServerCredentials::host`.
    pub fn metadata_host(&self) -> String {
        self.addr.to_string()
    }
}
