//! Cross-Account Protection as Google's side of it looks to a receiver: a RISC discovery
//! document (`/.well-known/risc-configuration`), the JWK set that verifies security event
//! tokens (`/oauth2/v3/certs`), and test tokens signed with the emulator's own key
//! ([`Emulator::security_event_token`]). The issuer is the emulator's root URL.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RsaKeyPair, RsaPublicKeyComponents};
use serde_json::{Value, json};

use crate::server::{Reply, Req};
use crate::{Emulator, Shared};

/// A throwaway key made for the emulator's security event tokens; it means nothing elsewhere.
const SIGNING_PEM: &str = include_str!("test-only-demo-signing-key.pem");

/// The `kid` of that key.
pub const RISC_KEY_ID: &str = "emulator-risc-1";

/// The emulator's signing key (security event tokens and push OIDC tokens).
pub(crate) fn signing_key() -> &'static RsaKeyPair {
    key()
}

fn key() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let body: String = SIGNING_PEM
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("the embedded RISC key is base64");
        RsaKeyPair::from_pkcs8(&der).expect("the embedded RISC key is PKCS#8 RSA")
    })
}

/// The endpoint's name, for fault matching, if `path` is one of these.
pub(crate) fn endpoint(path: &str) -> Option<&'static str> {
    match path {
        "/.well-known/risc-configuration" => Some("risc.configuration"),
        "/oauth2/v3/certs" => Some("risc.jwks"),
        _ => None,
    }
}

pub(crate) fn handle(shared: &Shared, req: &Req<'_>) -> Reply {
    if req.verb != "GET" {
        return Reply::json(405, &json!({"error": "method_not_allowed"}));
    }
    match endpoint(req.path) {
        Some("risc.configuration") => Reply::json(
            200,
            &json!({
                "issuer": shared.base,
                "jwks_uri": format!("{}oauth2/v3/certs", shared.base),
                "delivery_methods_supported": [
                    "https://schemas.openid.net/secevent/risc/delivery-method/push"
                ],
            }),
        ),
        _ => {
            let public = RsaPublicKeyComponents::<Vec<u8>>::from(key().public());
            Reply::json(
                200,
                &json!({ "keys": [{
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": RISC_KEY_ID,
                    "n": URL_SAFE_NO_PAD.encode(&public.n),
                    "e": URL_SAFE_NO_PAD.encode(&public.e),
                }]}),
            )
            .with_header("cache-control", "public, max-age=3600")
        }
    }
}

impl Emulator {
    /// The RISC discovery document's URL, for the `classroom` SDK's `RiscReceiver::discover`.
    pub fn risc_configuration_url(&self) -> String {
        format!("{}.well-known/risc-configuration", self.shared.base)
    }

    /// The issuer of the emulator's security event tokens: its root URL.
    pub fn risc_issuer(&self) -> String {
        self.shared.base.clone()
    }

    /// The issuer (`iss`) of the emulator's ID tokens: its root URL, as for security events.
    pub fn id_token_issuer(&self) -> String {
        self.shared.base.clone()
    }

    /// The JWK set that verifies the emulator's security event tokens (and its ID tokens).
    pub fn jwks_url(&self) -> String {
        format!("{}oauth2/v3/certs", self.shared.base)
    }

    /// A security event token as Google would push it to a receiver registered for the OAuth
    /// client `audience`: the `events` claim given, issued now by
    /// [`risc_issuer`](Self::risc_issuer), with a fresh `jti`, signed with the emulator's key.
    ///
    /// `events` maps an event type URI to its body, e.g.
    /// `{"https://schemas.openid.net/secevent/risc/event-type/sessions-revoked": {"subject":
    /// {"subject_type": "iss-sub", "iss": ISSUER, "sub": USER_ID}}}`, with the emulator's
    /// [`risc_issuer`](Self::risc_issuer) and a user's [`user_id`](Self::user_id) (their `sub`
    /// in ID tokens). The `classroom` SDK writes it: `SecurityEvent::to_claim(&risc_issuer)`.
    pub fn security_event_token(&self, events: &Value, audience: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        self.sign_security_event(&json!({
            "iss": self.shared.base,
            "aud": audience,
            "iat": now,
            "jti": crate::oauth::random_token("risc-"),
            "events": events,
        }))
    }

    /// Signs any claims with the emulator's security event key: for tokens with a wrong
    /// issuer or audience, a stale `iat`, or a repeated `jti`.
    pub fn sign_security_event(&self, claims: &Value) -> String {
        crate::iam::sign(key(), RISC_KEY_ID, claims)
    }
}
