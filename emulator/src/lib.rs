//! A local, stateful Classroom and Google OAuth server, for testing code written against the
//! [`classroom`](https://docs.rs/classroom) SDK (or any Classroom client) with no Google account.
//!
//! [`Emulator::start`] binds 127.0.0.1 on a free port and serves, from a thread of its own:
//!
//! - every method of the Classroom v1 discovery document, routed by its path template, with
//!   stateful resources, server-assigned ids and timestamps, aliases, list filters, opaque page
//!   tokens, `updateMask` on patch, the submission state machine, guardians, invitations and
//!   registrations; access follows Classroom's roles, and a token without a scope that
//!   authorizes the method gets 403 `ACCESS_TOKEN_SCOPE_INSUFFICIENT`;
//! - Google-shaped OAuth 2.0 endpoints: authorize (consent scripted with
//!   [`Emulator::script_consent`]), token (authorization code with PKCE, refresh token, client
//!   credentials, JWT bearer with signature check), revoke and tokeninfo;
//! - the identity services production credentials need: a metadata server
//!   ([`Emulator::metadata_host`], for `GCE_METADATA_HOST`), the IAM Credentials API's
//!   `signJwt` and `generateAccessToken` ([`Emulator::iam_url`]) with a check of who may act
//!   as which service account ([`Emulator::allow_token_creator`]), and Cross-Account
//!   Protection's discovery document and JWKS with test security event tokens
//!   ([`Emulator::security_event_token`]);
//! - the batch endpoint (`multipart/mixed`, at most 50 calls);
//! - injected faults ([`Fault`]) for resilience tests, on whole requests or on the parts of
//!   batches ([`Fault::in_batch`]);
//! - on request, Classroom's quotas ([`Quotas`]): per-user and per-project request rates
//!   (batch parts counted one by one), the daily per-project request quota, the daily
//!   invitation quota, course member and teacher limits and the guardian link limit,
//!   answered as Google answers them.
//!
//! A demo school ([`demo`]) is seeded unless [`EmulatorBuilder::empty`] is asked for.
//!
//! Tokens act as a user: client credentials and JWT bearer without `sub` act as the domain
//! admin; the authorization code flow as the user of the scripted consent (or `login_hint`);
//! JWT bearer with `sub` as that user; [`Emulator::token_for`] as whom it names. Access then
//! follows Classroom's roles: teachers manage their courses, students see their own work and
//! only the owner of a submission turns it in or reclaims it, `me` is the token's user.
//!
//! From any language, run the `classroom-emulator` binary (`cargo install classroom-emulator`;
//! in the SDK's repository also `cargo run --example emulator --`) and read its first line:
//!
//! ```text
//! $ classroom-emulator --port 0
//! root=http://127.0.0.1:41234/ token_url=http://127.0.0.1:41234/token client_id=... client_secret=...
//! ```
//!
//! The binary takes users from a file (`--accounts FILE`, [the format](accounts)) and a daily
//! invitation quota (`--daily-invitations N`); while it runs, an [admin endpoint](admin) under
//! `/emulator/v1/`, authenticated with the client id and secret, adds users, mints a token for
//! any user and moves the quota day on.
//!
//! Point a client's root URL at `root` (for Google's generated clients: the discovery
//! document's `rootUrl`), and get a token from `token_url` with the client credentials grant.
//! The SDK's `tests/python/third_party_client.py` does this with google-api-python-client.
//! [`standalone`] states the binary's contract.
//!
//! Whatever a client sends, it answers (or closes the connection) and keeps running: request
//! bodies are capped ([`EmulatorBuilder::max_request_body`]) and must arrive in time
//! ([`EmulatorBuilder::body_read_timeout`]), the token is checked before anything costly is
//! parsed, parsers that recurse are bounded, and expired tokens and codes are purged as new
//! ones are issued, so a run of hours stays within bounded memory.
//!
//! It serves 512 connections at once. A client with more calls in flight than that is not kept
//! waiting by connections idle between requests: when all 512 are taken, the next answer says
//! `Connection: close` to hand its slot on, or, if none comes within 50 ms, the connection idle
//! longest is closed. A client that sends a request on a connection just as it closes sees it
//! closed without an answer: rare, and safe to retry, as the request was never read (the SDK
//! retries idempotent calls).
//!
//! For what only an administrator can set up, the emulator has hooks:
//! [`Emulator::disable_user`], [`Emulator::disable_guardians`] for a domain, and limits
//! lowered at runtime ([`Emulator::update_quotas`]: course members and teachers, guardian
//! links, daily invitations, daily requests per project); the admin endpoint has the same.
//!
//! - Classroom's push notifications as Pub/Sub pushes them to an endpoint per topic, with
//!   OIDC tokens signed by its own key ([`EmulatorBuilder::push_endpoint`]; see [`PushFormat`]).
//!
//! What it leaves out: Drive folders and files behind attachments, email notifications, and
//! Pub/Sub itself (pull subscriptions, topics): pushes go straight to the configured endpoint.
//!
//! Any HTTP client will do. With the `classroom` SDK, give `ClassroomBuilder::root_url` the
//! emulator's [`root_url`](Emulator::root_url) and `ClassroomBuilder::credentials` a
//! `BearerToken` of the token (the SDK's tests and examples all run so); here, plain HTTP/1.1:
//!
//! ```
//! use std::io::{Read, Write};
//!
//! use classroom_emulator::{Emulator, Scope, demo};
//!
//! let emulator = Emulator::start()?;
//! let token = emulator.token_for(demo::TEACHER, &[Scope::CoursesReadonly]);
//! let mut http = std::net::TcpStream::connect(emulator.addr())?;
//! write!(
//!     http,
//!     "GET /v1/courses?teacherId=me HTTP/1.1\r\nHost: {}\r\n\
//!      Authorization: Bearer {token}\r\nConnection: close\r\n\r\n",
//!     emulator.addr()
//! )?;
//! let mut reply = String::new();
//! http.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 200 OK"), "{reply}");
//! assert!(reply.contains(r#""courses""#), "{reply}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod accounts;
pub mod admin;
mod batch;
mod errors;
mod faults;
mod fields;
mod handlers;
mod iam;
mod metadata;
mod oauth;
mod push;
mod quota;
mod risc;
mod seed;
mod server;
mod slots;
mod spec;
pub mod standalone;
mod store;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

pub use accounts::{Account, Accounts, AccountsError};
pub use faults::Fault;
pub use push::{DEFAULT_PUSH_SERVICE_ACCOUNT, PUSH_ATTEMPTS, PUSH_ISSUER, PushFormat};
pub use quota::Quotas;
pub use risc::RISC_KEY_ID;
pub use seed::demo;

pub use classroom_spec::Scope;
use store::{RefreshGrant, State, TokenGrant};

/// What a user is in the demo domain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// A domain administrator: may see and change everything.
    Admin,
    /// A teacher: may create courses and teach them.
    Teacher,
    /// A student.
    Student,
    /// A guardian of students.
    Guardian,
}

/// What the authorize endpoint answers to the next authorization request, as if a user had
/// clicked through Google's consent screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    user: Option<String>,
    decision: Decision,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Decision {
    GrantAll,
    Grant(Vec<String>),
    Deny,
}

impl Consent {
    /// The user grants every scope asked for.
    pub fn grant_all() -> Consent {
        Consent {
            user: None,
            decision: Decision::GrantAll,
        }
    }

    /// The user grants only these of the scopes asked for (Google's granular consent).
    pub fn grant(scopes: &[Scope]) -> Consent {
        Consent {
            user: None,
            decision: Decision::Grant(scopes.iter().map(|s| s.url().to_string()).collect()),
        }
    }

    /// The user refuses: the redirect carries `error=access_denied`.
    pub fn deny() -> Consent {
        Consent {
            user: None,
            decision: Decision::Deny,
        }
    }

    /// The user who signs in (email or id); by default the `login_hint`, else the admin.
    pub fn as_user(mut self, user: impl Into<String>) -> Consent {
        self.user = Some(user.into());
        self
    }
}

/// A user as the handle's helpers name one: by email, by id, or `admin` for the demo
/// administrator.
fn named_user<'s>(state: &'s State, user: &str) -> Option<&'s store::User> {
    state.user(if user == "admin" { demo::ADMIN } else { user }, "")
}

/// State shared by the server tasks and the [`Emulator`] handle.
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) faults: faults::Faults,
    pub(crate) limits: server::Limits,
    pub(crate) quotas: quota::Enforcer,
    consents: Mutex<std::collections::VecDeque<Consent>>,
    pub(crate) base: String,
    pub(crate) push: push::Pusher,
}

impl Shared {
    /// The state; a panic in another thread never makes it unusable.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn next_consent(&self) -> Option<Consent> {
        self.consents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    /// Changes the quotas in force keeping what has been spent; returns the new ones.
    pub(crate) fn update_quotas(&self, change: impl FnOnce(Quotas) -> Quotas) -> Quotas {
        let mut state = self.state();
        let quotas = self.quotas.update(change);
        state.guardian_link_limit = quotas.guardian_link_limit;
        quotas
    }

    /// Disables or enables a user (email, id or `admin`); the user, if the domain has one.
    pub(crate) fn set_user_disabled(&self, user: &str, disabled: bool) -> Option<store::User> {
        let mut state = self.state();
        let id = named_user(&state, user)?.id.clone();
        let found = state.users.iter_mut().find(|u| u.id == id)?;
        found.disabled = disabled;
        Some(found.clone())
    }

    /// Turns guardians off (or back on) for a domain; returns the domain, lower-cased.
    pub(crate) fn set_guardians_enabled(&self, domain: &str, enabled: bool) -> String {
        let domain = domain.trim().to_ascii_lowercase();
        let mut state = self.state();
        if enabled {
            state.guardians_off.remove(&domain);
        } else {
            state.guardians_off.insert(domain.clone());
        }
        domain
    }
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Configures an [`Emulator`].
#[derive(Debug, Clone)]
pub struct EmulatorBuilder {
    port: u16,
    seed: bool,
    token_lifetime: Duration,
    limits: server::Limits,
    quotas: Quotas,
    accounts: Vec<Accounts>,
    push: push::PushConfig,
    registration_lifetime: Duration,
    rotate_refresh_tokens: bool,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            port: 0,
            seed: true,
            token_lifetime: Duration::from_secs(3600),
            limits: server::Limits::default(),
            quotas: Quotas::none(),
            accounts: Vec::new(),
            push: push::PushConfig::default(),
            registration_lifetime: Duration::from_secs(7 * 24 * 3600),
            rotate_refresh_tokens: false,
        }
    }
}

impl EmulatorBuilder {
    /// Listens on this port of 127.0.0.1 (default 0: a free port).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Starts with only the demo users and OAuth client: no courses.
    pub fn empty(mut self) -> Self {
        self.seed = false;
        self
    }

    /// How long issued access tokens live (default one hour, as Google's).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Rotates refresh tokens (default off, as Google mostly does not): every refresh grant
    /// answers with a new `refresh_token`. The token it replaces stays valid until the new one
    /// is first used, then is revoked; so a client must keep the newest token it was given.
    pub fn rotate_refresh_tokens(mut self, rotate: bool) -> Self {
        self.rotate_refresh_tokens = rotate;
        self
    }

    /// The largest request body accepted, in bytes (default 8 MiB); a larger one gets 400
    /// `INVALID_ARGUMENT` ("Request payload size exceeds the limit"), as from Google.
    pub fn max_request_body(mut self, bytes: usize) -> Self {
        self.limits.max_body = bytes;
        self
    }

    /// How long a client has to send a request body once its headers are in (default 30 s);
    /// a slower one gets 408 `DEADLINE_EXCEEDED` and the connection closes.
    pub fn body_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.body_timeout = timeout;
        self
    }

    /// Enforces these quotas (default [`Quotas::none`]): per-user and per-project request
    /// rates, the daily per-project and invitation quotas, the course member and teacher
    /// limits, the guardian link limit.
    pub fn quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// Adds these users at start, after the demo users (and school): the same as
    /// [`Emulator::add_accounts`] right after [`start`](EmulatorBuilder::start). May be given
    /// more than once; the documents are added in order.
    pub fn accounts(mut self, accounts: Accounts) -> Self {
        self.accounts.push(accounts);
        self
    }

    /// Binds the port and starts serving on a thread of its own. Fails with
    /// [`InvalidInput`](std::io::ErrorKind::InvalidInput) if [`accounts`](Self::accounts) name
    /// a user the emulator already has (the error's message is the [`AccountsError`]).
    pub fn start(self) -> std::io::Result<Emulator> {
        let listener = server::listen(self.port)?;
        let addr = listener.local_addr()?;
        let mut state = State {
            token_lifetime: self.token_lifetime,
            registration_lifetime: self.registration_lifetime,
            rotate_refresh_tokens: self.rotate_refresh_tokens,
            ..State::default()
        };
        seed::users_and_clients(&mut state);
        if self.seed {
            seed::school(&mut state);
        }
        for accounts in &self.accounts {
            accounts
                .add_to(&mut state)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        }
        // After seeding: the demo school is seeded as it is, whatever the limits.
        state.guardian_link_limit = self.quotas.guardian_link_limit;
        let shared = Arc::new(Shared {
            state: Mutex::new(state),
            faults: faults::Faults::default(),
            limits: self.limits,
            quotas: quota::Enforcer::new(self.quotas),
            consents: Mutex::default(),
            base: format!("http://{addr}/"),
            push: push::Pusher::new(&self.push),
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("classroom-emulator")
            .enable_all()
            .build()?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let serving = shared.clone();
        if let Some(rx) = shared.push.take_receiver() {
            runtime.spawn(push::deliver(shared.clone(), rx));
        }
        let thread = std::thread::Builder::new()
            .name("classroom-emulator".into())
            .spawn(move || {
                runtime.block_on(server::serve(listener, serving, rx));
                runtime.shutdown_background();
            })?;
        Ok(Emulator {
            shared,
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Emulator {
    /// Starts an emulator with the demo school on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<Emulator> {
        Emulator::builder().start()
    }

    /// Configures an emulator: port, seed, token lifetime.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API root URL, for the `classroom` SDK's `ClassroomBuilder::root_url`:
    /// `http://127.0.0.1:PORT/`.
    pub fn root_url(&self) -> String {
        self.shared.base.clone()
    }

    /// The OAuth 2.0 authorization endpoint (Google's `/o/oauth2/v2/auth`).
    pub fn auth_url(&self) -> String {
        format!("{}o/oauth2/v2/auth", self.shared.base)
    }

    /// The OAuth 2.0 token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}token", self.shared.base)
    }

    /// The OAuth 2.0 revocation endpoint.
    pub fn revoke_url(&self) -> String {
        format!("{}revoke", self.shared.base)
    }

    /// The batch endpoint.
    pub fn batch_url(&self) -> String {
        format!("{}batch", self.shared.base)
    }

    /// The demo OAuth client's id: accepted for every grant, with any loopback redirect URI.
    pub fn client_id(&self) -> &'static str {
        demo::CLIENT_ID
    }

    /// The demo OAuth client's secret.
    pub fn client_secret(&self) -> &'static str {
        demo::CLIENT_SECRET
    }

    /// The line the standalone server prints first, which other languages' tests read:
    /// `root=ROOT_URL token_url=TOKEN_URL client_id=ID client_secret=SECRET`, space-separated,
    /// no trailing newline. See [`standalone`].
    pub fn standalone_line(&self) -> String {
        format!(
            "root={} token_url={} client_id={} client_secret={}",
            self.root_url(),
            self.token_url(),
            self.client_id(),
            self.client_secret()
        )
    }

    /// The demo service account's key file (Google's JSON format, with `token_uri` pointing at
    /// this emulator): sign JWT bearer assertions with it.
    pub fn service_account_key(&self) -> String {
        seed::service_account_key(&self.token_url())
    }

    /// Issues an access token for a user (email, id, or `admin`) holding these scopes, valid
    /// for the configured lifetime. Panics if no such user exists.
    pub fn token_for(&self, user: &str, scopes: &[Scope]) -> String {
        let lifetime = self.shared.state().token_lifetime;
        self.token_with_lifetime(user, scopes, lifetime)
    }

    /// Issues a refresh token for a user (email or id) holding these scopes, as a code
    /// exchange with `access_type=offline` would, for the demo OAuth client. Panics if no
    /// such user exists.
    pub fn refresh_token_for(&self, user: &str, scopes: &[Scope]) -> String {
        let mut state = self.shared.state();
        let id = named_user(&state, user)
            .unwrap_or_else(|| panic!("the emulator has no user {user:?}"))
            .id
            .clone();
        let token = oauth::random_token("1//emu-");
        state.add_refresh_token(
            token.clone(),
            RefreshGrant {
                user: id,
                scopes: scopes.iter().map(|s| s.url().to_string()).collect(),
                client_id: demo::CLIENT_ID.to_string(),
                issued: 0,
                previous: None,
            },
        );
        token
    }

    /// How many refresh grants the token endpoint has answered with a token, by user id.
    pub fn refreshes(&self) -> HashMap<String, u64> {
        self.shared.state().refreshes.clone()
    }

    /// The newest refresh token the emulator issued to a user (email or id) for the demo
    /// client, if it is still valid: what a client that lost no rotation holds.
    pub fn newest_refresh_token(&self, user: &str) -> Option<String> {
        let state = self.shared.state();
        let id = state.user(user, "")?.id.clone();
        state
            .refresh_tokens
            .iter()
            .filter(|(_, g)| g.user == id && g.client_id == demo::CLIENT_ID)
            .max_by_key(|(_, g)| g.issued)
            .map(|(t, _)| t.clone())
    }

    /// Issues an access token that has already expired: calls with it get 401.
    pub fn expired_token_for(&self, user: &str, scopes: &[Scope]) -> String {
        self.issue(user, scopes, SystemTime::now() - Duration::from_secs(1))
    }

    /// Issues an access token that lives for `lifetime`.
    pub fn token_with_lifetime(&self, user: &str, scopes: &[Scope], lifetime: Duration) -> String {
        self.issue(user, scopes, SystemTime::now() + lifetime)
    }

    fn issue(&self, user: &str, scopes: &[Scope], expires: SystemTime) -> String {
        let mut state = self.shared.state();
        let id = named_user(&state, user)
            .unwrap_or_else(|| panic!("the emulator has no user {user:?}"))
            .id
            .clone();
        let token = oauth::random_token("ya29.emu-");
        state.add_token(
            token.clone(),
            TokenGrant {
                user: id,
                scopes: scopes.iter().map(|s| s.url().to_string()).collect(),
                expires,
                client_id: demo::CLIENT_ID.to_string(),
                refresh: None,
            },
        );
        token
    }

    /// Queues what the authorize endpoint does with the next authorization request; requests
    /// with nothing queued grant every scope asked for.
    pub fn script_consent(&self, consent: Consent) {
        self.shared
            .consents
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(consent);
    }

    /// Injects a fault into matching calls: whole HTTP requests, or the parts of batches
    /// ([`Fault::in_batch`]).
    ///
    /// # Panics
    ///
    /// If a latency or dropped-connection fault is aimed at batch parts: a part is not delayed
    /// or dropped apart from its batch (aim it at the batch, `.on("batch")`).
    pub fn inject(&self, fault: Fault) {
        if let Some(why) = fault.refusal() {
            panic!("{why}");
        }
        self.shared.faults.add(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }

    /// Enforces these quotas from now on, with every bucket full and no invitation counted
    /// (seed at full speed, then measure under quota, say).
    pub fn set_quotas(&self, quotas: Quotas) {
        self.shared.state().guardian_link_limit = quotas.guardian_link_limit;
        self.shared.quotas.set(quotas);
    }

    /// Refills every rate bucket and forgets the day's invitations; the counters of
    /// [`api_calls`](Emulator::api_calls) and [`quota_rejections`](Emulator::quota_rejections)
    /// go on.
    pub fn reset_quotas(&self) {
        self.shared.quotas.reset();
    }

    /// How many Classroom API calls the emulator has answered, whatever the answer: each part
    /// of a batch counts one, the batch request itself and OAuth endpoints none. Calls refused
    /// by an injected fault before reaching the API are not counted.
    pub fn api_calls(&self) -> u64 {
        self.shared.quotas.calls()
    }

    /// How many calls the emulator has refused for a quota ([`Quotas`]): 429 replies for the
    /// request rates, the daily per-project quota and the daily invitation quota (whole
    /// requests and batch parts). `@CourseMemberLimitReached` and
    /// `@CourseTeacherLimitReached` answers, refusals for the guardian link limit and injected
    /// faults ([`Fault::rate_limited`]) are not counted.
    pub fn quota_rejections(&self) -> u64 {
        self.shared.quotas.rejections()
    }

    /// Adds a user to the domain; returns the user's id.
    pub fn add_user(&self, email: &str, given_name: &str, family_name: &str, role: Role) -> String {
        let mut state = self.shared.state();
        seed::add_user(&mut state, email, given_name, family_name, role)
    }

    /// Adds every user of `accounts`, or none if one of their emails is already a user's.
    /// Returns the new users' ids, in the document's order.
    pub fn add_accounts(&self, accounts: &Accounts) -> Result<Vec<String>, AccountsError> {
        accounts.add_to(&mut self.shared.state())
    }

    /// Moves the day Classroom's daily quotas count in ([`Quotas::daily_invitations_per_user`])
    /// `days` ahead, as if that many midnights (Pacific time) had passed: what users invited
    /// "today" no longer counts. Nothing else moves: timestamps and token expiry follow the
    /// system clock. Returns the quota day now in force, `YYYY-MM-DD`.
    pub fn advance_quota_day(&self, days: u32) -> String {
        self.shared.quotas.advance_day(days)
    }

    /// The id of a user (email, id or `admin`), if the domain has one.
    pub fn user_id(&self, user: &str) -> Option<String> {
        named_user(&self.shared.state(), user).map(|u| u.id.clone())
    }

    /// Does what the invited guardian's click on the emailed link does: completes the
    /// guardian invitation and links the guardian to the student. Returns the guardian's id.
    pub fn accept_guardian_invitation(
        &self,
        student: &str,
        invitation_id: &str,
    ) -> Result<String, String> {
        let mut state = self.shared.state();
        handlers::accept_guardian_invitation(&mut state, student, invitation_id)
            .map_err(|e| e.message)
    }

    /// The quotas in force.
    pub fn quotas(&self) -> Quotas {
        self.shared.quotas.quotas()
    }

    /// Changes the quotas in force, keeping what has been spent of them (unlike
    /// [`set_quotas`](Emulator::set_quotas)): lowering a limit at runtime, the next call past
    /// it is refused. Returns the quotas now in force.
    ///
    /// ```
    /// use classroom_emulator::Emulator;
    ///
    /// let emulator = Emulator::start()?;
    /// let now = emulator.update_quotas(|q| q.course_teacher_limit(2).guardian_link_limit(1));
    /// assert_eq!(now.course_teacher_limit, Some(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn update_quotas(&self, change: impl FnOnce(Quotas) -> Quotas) -> Quotas {
        self.shared.update_quotas(change)
    }

    /// Disables a user (email, id or `admin`), as suspending the account in the Admin console
    /// does: Classroom refuses to make a disabled user a course's owner or member, and refuses
    /// changes to the courses a disabled user owns (`@InactiveCourseOwner`). The emulator
    /// leaves sign-in alone (the user's tokens are not revoked), and the user's courses and
    /// links stay.
    ///
    /// # Panics
    ///
    /// If the domain has no such user.
    pub fn disable_user(&self, user: &str) {
        self.shared
            .set_user_disabled(user, true)
            .unwrap_or_else(|| panic!("the emulator has no user {user:?}"));
    }

    /// Enables a user [disabled](Emulator::disable_user) before.
    ///
    /// # Panics
    ///
    /// If the domain has no such user.
    pub fn enable_user(&self, user: &str) {
        self.shared
            .set_user_disabled(user, false)
            .unwrap_or_else(|| panic!("the emulator has no user {user:?}"));
    }

    /// Turns guardians off for a domain (`school.example`), as its administrator can: the
    /// guardian methods (`userProfiles.guardians.*`, `userProfiles.guardianInvitations.*`)
    /// about a student of that domain answer 403 `PERMISSION_DENIED`, and so does listing
    /// across students (`-`) by an administrator of it. Links and invitations stay, and show
    /// again once guardians are [enabled](Emulator::enable_guardians).
    pub fn disable_guardians(&self, domain: &str) {
        self.shared.set_guardians_enabled(domain, false);
    }

    /// Turns guardians back on for a domain (they are on for every domain at start).
    pub fn enable_guardians(&self, domain: &str) {
        self.shared.set_guardians_enabled(domain, true);
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// More OAuth clients: Classroom ties coursework, announcements and materials to the Developer
/// Console project of the OAuth client that created them, and the emulator models one project
/// per client (its client id).
impl Emulator {
    /// Registers another OAuth client (a confidential one, with a secret): the token endpoint
    /// and the admin endpoint accept it as they do the demo client. Items it creates belong
    /// to its project; the demo client's project may not change them
    /// (`@ProjectPermissionDenied`), nor it the demo school's. An id already registered keeps
    /// its secret; returns whether the client was added.
    pub fn add_client(&self, client_id: &str, client_secret: &str) -> bool {
        let mut state = self.shared.state();
        if state.clients.iter().any(|c| c.id == client_id) {
            return false;
        }
        state.clients.push(store::Client {
            id: client_id.to_string(),
            secret: Some(client_secret.to_string()),
        });
        true
    }

    /// As [`token_for`](Emulator::token_for), for a token issued to `client_id` (the demo
    /// client's or one [`add_client`](Emulator::add_client) registered). Panics if no such
    /// client or user exists.
    pub fn token_for_client(&self, client_id: &str, user: &str, scopes: &[Scope]) -> String {
        let token = self.token_for(user, scopes);
        let mut state = self.shared.state();
        assert!(
            state.clients.iter().any(|c| c.id == client_id),
            "the emulator has no OAuth client {client_id:?}"
        );
        if let Some(grant) = state.tokens.get_mut(&token) {
            grant.client_id = client_id.to_string();
        }
        token
    }
}
