//! Google-shaped error replies: `{"error": {"code", "message", "status", "details"}}`.

use serde_json::{Value, json};

/// An error reply of the API.
#[derive(Debug, Clone)]
pub(crate) struct Status {
    pub(crate) code: u16,
    pub(crate) status: &'static str,
    pub(crate) message: String,
    /// `ErrorInfo` reason, and the method it concerns.
    pub(crate) reason: Option<&'static str>,
    pub(crate) metadata: Option<Value>,
    /// Details after the `ErrorInfo` (a `Help` with links, say).
    pub(crate) more_details: Vec<Value>,
}

/// The result of an API operation.
pub(crate) type ApiResult<T = Value> = Result<T, Status>;

impl Status {
    fn new(code: u16, status: &'static str, message: impl Into<String>) -> Status {
        Status {
            code,
            status,
            message: message.into(),
            reason: None,
            metadata: None,
            more_details: Vec::new(),
        }
    }

    /// 429 `RESOURCE_EXHAUSTED`: a quota Classroom itself counts (not a request rate).
    pub(crate) fn exhausted(message: impl Into<String>) -> Status {
        Status::new(429, "RESOURCE_EXHAUSTED", message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Status {
        Status::new(400, "INVALID_ARGUMENT", message)
    }

    pub(crate) fn precondition(message: impl Into<String>) -> Status {
        Status::new(400, "FAILED_PRECONDITION", message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Status {
        Status::new(404, "NOT_FOUND", message)
    }

    pub(crate) fn entity_not_found() -> Status {
        Status::not_found("Requested entity was not found.")
    }

    pub(crate) fn exists(message: impl Into<String>) -> Status {
        Status::new(409, "ALREADY_EXISTS", message)
    }

    pub(crate) fn denied(message: impl Into<String>) -> Status {
        Status::new(403, "PERMISSION_DENIED", message)
    }

    pub(crate) fn caller_denied() -> Status {
        Status::denied("The caller does not have permission")
    }

    pub(crate) fn scope_insufficient(method: &str) -> Status {
        Status {
            reason: Some("ACCESS_TOKEN_SCOPE_INSUFFICIENT"),
            metadata: Some(json!({
                "service": "classroom.googleapis.com",
                "method": method,
            })),
            ..Status::new(
                403,
                "PERMISSION_DENIED",
                "Request had insufficient authentication scopes.",
            )
        }
    }

    pub(crate) fn unauthenticated(missing: bool) -> Status {
        let (message, reason) = if missing {
            (
                "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "CREDENTIALS_MISSING",
            )
        } else {
            (
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
                "ACCESS_TOKEN_EXPIRED",
            )
        };
        Status {
            reason: Some(reason),
            metadata: Some(json!({"service": "classroom.googleapis.com"})),
            ..Status::new(401, "UNAUTHENTICATED", message)
        }
    }

    pub(crate) fn rate_limited() -> Status {
        Status {
            reason: Some("RATE_LIMIT_EXCEEDED"),
            metadata: Some(json!({"service": "classroom.googleapis.com"})),
            ..Status::new(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded (injected by the emulator).",
            )
        }
    }

    pub(crate) fn unavailable() -> Status {
        Status::new(
            503,
            "UNAVAILABLE",
            "The service is currently unavailable (injected by the emulator).",
        )
    }

    /// A request body over the emulator's limit (Google answers the same).
    pub(crate) fn too_large(limit: usize) -> Status {
        Status::invalid(format!(
            "Request payload size exceeds the limit: {limit} bytes."
        ))
    }

    /// A request body that did not arrive in time.
    pub(crate) fn body_timeout(limit: std::time::Duration) -> Status {
        Status::new(
            408,
            "DEADLINE_EXCEEDED",
            format!(
                "The request body was not received within {} ms.",
                limit.as_millis()
            ),
        )
    }

    /// A bug in the emulator, caught before it could take the server down.
    pub(crate) fn internal() -> Status {
        Status::new(
            500,
            "INTERNAL",
            "Internal error encountered (the emulator caught a panic; please report it).",
        )
    }

    /// A method the emulator routes but does not implement.
    pub(crate) fn unimplemented(method: &str) -> Status {
        Status::new(
            501,
            "UNIMPLEMENTED",
            format!("{method} is not implemented by the emulator."),
        )
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Value {
        let mut error = json!({
            "code": self.code,
            "message": self.message,
            "status": self.status,
        });
        if let Some(reason) = self.reason {
            let mut info = json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            });
            if let Some(metadata) = &self.metadata {
                info["metadata"] = metadata.clone();
            }
            error["details"] = json!([info]);
        }
        if !self.more_details.is_empty() {
            let mut details = match error["details"].take() {
                Value::Array(details) => details,
                _ => Vec::new(),
            };
            details.extend(self.more_details.iter().cloned());
            error["details"] = Value::Array(details);
        }
        json!({ "error": error })
    }
}
