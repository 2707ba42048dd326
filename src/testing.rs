//! Test support (feature `test-support`): unit tests of your own code without a server.
//!
//! A [`MockTransport`] stands where the network would be, below the executor: scope checks,
//! token fetches, retries, the retry budget and decoding all run as they do against
//! Classroom, and only the exchange itself is answered by rules. A rule names a method id
//! (`classroom.courses.get`) and, optionally, parameters of the call (path or query) that must
//! match; it plays its answers in order and repeats the last, so a retry test reads as the
//! sequence the server would send. Nothing reaches the network. A call no rule matches fails
//! with [`Error::MockUnmatched`](crate::Error::MockUnmatched), naming the call and the rules there
//! are. Batches are not answered by rules: send the calls one by one in such tests, or use the
//! emulator (`classroom-emulator`).
//!
//! ```
//! use std::sync::Arc;
//! use classroom::testing::{Answer, MockTransport, Rule};
//! use classroom::{BearerToken, Classroom, Scope};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> classroom::Result<()> {
//! let mock = Arc::new(MockTransport::new());
//! mock.add(
//!     Rule::new("classroom.courses.get")
//!         .param("id", "123")
//!         .answer(Answer::error(503, "UNAVAILABLE", "try again"))
//!         .answer(Answer::json(200, &serde_json::json!({"id": "123", "name": "Biology"}))),
//! );
//! let classroom = Classroom::builder()
//!     .credentials(BearerToken::new("test", [Scope::CoursesReadonly]))
//!     .mock(mock.clone())
//!     .build()?;
//! let course = classroom.courses().get("123").send().await?; // retried after the 503
//! assert_eq!(course.name.as_deref(), Some("Biology"));
//! assert_eq!(mock.calls().len(), 2);
//!
//! let missing = classroom.courses().get("999").send().await.unwrap_err();
//! assert!(missing.to_string().contains("classroom.courses.get"));
//! # Ok(()) }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use crate::ApiError;

/// An answer a rule gives: a status and a body, as a server would.
#[derive(Clone, Debug)]
pub struct Answer {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<Duration>,
}

impl Answer {
    /// A JSON body with `status`.
    pub fn json(status: u16, body: &impl serde::Serialize) -> Answer {
        Answer {
            status,
            body: serde_json::to_vec(body).unwrap_or_default(),
            retry_after: None,
        }
    }

    /// Google's error body: `{"error": {"code", "status", "message"}}`. Start `message` with
    /// `@Reason` for a Classroom request error (`@CourseNotModifiable ...`).
    pub fn error(status: u16, canonical: &str, message: &str) -> Answer {
        Answer::json(
            status,
            &serde_json::json!({
                "error": {"code": status, "status": canonical, "message": message}
            }),
        )
    }

    /// Says when to try again, as a `Retry-After` header would.
    pub fn retry_after(mut self, delay: Duration) -> Answer {
        self.retry_after = Some(delay);
        self
    }
}

/// How calls of one method are answered.
#[derive(Clone, Debug)]
pub struct Rule {
    method: String,
    params: Vec<(String, String)>,
    answers: VecDeque<Answer>,
    last: Option<Answer>,
}

impl Rule {
    /// A rule for calls of `method_id` (`classroom.courses.get`; every builder's `METHOD.id`).
    pub fn new(method_id: impl Into<String>) -> Rule {
        Rule {
            method: method_id.into(),
            params: Vec::new(),
            answers: VecDeque::new(),
            last: None,
        }
    }

    /// Matches only calls whose path or query parameter `name` is `value` (`id`,
    /// `courseId`, `pageToken`, ...).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Rule {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Adds the next answer; the last one is repeated for every call after it.
    pub fn answer(mut self, answer: Answer) -> Rule {
        self.answers.push_back(answer);
        self
    }

    fn matches(&self, call: &MockCall) -> bool {
        self.method == call.method
            && self
                .params
                .iter()
                .all(|(name, value)| call.params.iter().any(|(n, v)| n == name && v == value))
    }

    fn next(&mut self) -> Option<Answer> {
        match self.answers.pop_front() {
            Some(answer) => {
                self.last = Some(answer.clone());
                Some(answer)
            }
            None => self.last.clone(),
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.method)?;
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        if !params.is_empty() {
            write!(f, " ({})", params.join(", "))?;
        }
        Ok(())
    }
}

/// A call the mock received: its method, its path and query parameters, its JSON body.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MockCall {
    /// The method id.
    pub method: String,
    /// Path parameters, then query parameters, in order.
    pub params: Vec<(String, String)>,
    /// The body, when the call had one.
    pub body: Option<serde_json::Value>,
}

/// Answers calls from rules instead of a server; see the [module docs](self).
#[derive(Debug, Default)]
pub struct MockTransport {
    state: Mutex<(Vec<Rule>, Vec<MockCall>)>,
}

impl MockTransport {
    /// A transport with no rule: every call fails with [`Error::MockUnmatched`](crate::Error::MockUnmatched).
    pub fn new() -> MockTransport {
        MockTransport::default()
    }

    /// Adds a rule; the first rule that matches a call answers it.
    pub fn add(&self, rule: Rule) {
        self.lock().0.push(rule);
    }

    /// Every call received so far, in order (retries included).
    pub fn calls(&self) -> Vec<MockCall> {
        self.lock().1.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<Rule>, Vec<MockCall>)> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer to a call: status, `Retry-After`, body; or why none matched.
    pub(crate) fn answer(
        &self,
        method: &str,
        params: Vec<(String, String)>,
        body: Option<&[u8]>,
    ) -> Result<(u16, Option<Duration>, Vec<u8>), String> {
        let call = MockCall {
            method: method.to_string(),
            params,
            body: body.and_then(|b| serde_json::from_slice(b).ok()),
        };
        let mut state = self.lock();
        state.1.push(call.clone());
        let (rules, _) = &mut *state;
        if let Some(rule) = rules.iter_mut().find(|r| r.matches(&call)) {
            let Some(answer) = rule.next() else {
                return Err(format!(
                    "the rule {rule} has no answer: add one with .answer(...)"
                ));
            };
            return Ok((answer.status, answer.retry_after, answer.body));
        }
        let shown: Vec<String> = call
            .params
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        let known: Vec<String> = rules.iter().map(ToString::to_string).collect();
        Err(format!(
            "no rule matches {method} ({}); the rules are: {}",
            shown.join(", "),
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join("; ")
            }
        ))
    }
}

impl ApiError {
    /// The error a call of `method` gets for a reply of `status` with Google's error `body`
    /// (`{"error": {...}}`), decoded as the SDK decodes replies: for testing code that handles
    /// errors.
    pub fn from_reply(method: &'static str, status: u16, body: &str) -> ApiError {
        ApiError::from_response(method, status, None, body.as_bytes())
    }
}
