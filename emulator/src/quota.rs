//! Quotas the emulator enforces on request ([`Quotas`]): Classroom's per-user and per-project
//! request rates, the daily per-project request quota, the daily invitation quota, the course
//! member and teacher limits, and the guardian link limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::errors::Status;
use crate::store::State;

/// Quotas the emulator enforces, set with
/// [`EmulatorBuilder::quotas`](crate::EmulatorBuilder::quotas) or
/// [`Emulator::set_quotas`](crate::Emulator::set_quotas). [`Quotas::none`] (the default)
/// enforces nothing; [`Quotas::classroom`] enforces Classroom's documented request rates.
///
/// **Request rates.** Classroom's quotas are per minute, checked on a moving average. The
/// emulator keeps one token bucket per user (the user a token acts as) and one per project
/// (the OAuth client the token was issued to; for a service account, the service account).
/// A bucket refills continuously at its quota ÷ 60 per second and holds at most its burst
/// (by default one second's worth), so a client running at the quota is never refused and a
/// run of N calls takes about N ÷ rate. Every Classroom API call counts one, whatever its
/// answer, and so does each part of a batch (the batch request itself does not); OAuth
/// endpoints and calls without a valid token do not count. A call that finds either bucket
/// empty is answered 429 `RESOURCE_EXHAUSTED` with reason `RATE_LIMIT_EXCEEDED`, as Google
/// answers, without `Retry-After`, and spends nothing.
///
/// **Daily requests per project.** Classroom also caps the calls a project makes in a day.
/// With [`per_project_per_day`](Quotas::per_project_per_day), calls are counted per OAuth
/// client (as the rates are: every Classroom API call and every batch part, whatever its
/// answer), and past the quota answered 429 `RESOURCE_EXHAUSTED`, reason
/// `RATE_LIMIT_EXCEEDED`, with `quota_limit` `DefaultRequestsPerDayPerProject` in the
/// details (so the SDK sees it as lasting and does not retry it), until the day ends: at
/// midnight Pacific time or when moved on
/// ([`Emulator::advance_quota_day`](crate::Emulator::advance_quota_day)). A refused call
/// spends nothing. Off by default, also in [`Quotas::classroom`].
///
/// **Daily invitations.** `invitations.create` and `userProfiles.guardianInvitations.create`
/// that succeed count against the calling user's daily quota; past it, Classroom answers 429
/// `RESOURCE_EXHAUSTED` with a message starting `@UserInvitationQuotaExhausted`. The day ends
/// at midnight Pacific time (UTC−8, daylight saving ignored).
///
/// **Course members.** With a member limit, `courses.students.create`,
/// `courses.teachers.create` and `invitations.accept` into a course with that many students and
/// teachers already answer 400 `FAILED_PRECONDITION` with a message starting
/// `@CourseMemberLimitReached`. With a teacher limit, `courses.teachers.create` and
/// `invitations.accept` of a `TEACHER` or `OWNER` invitation into a course with that many
/// teachers already answer 400 `FAILED_PRECONDITION` with a message starting
/// `@CourseTeacherLimitReached` (the member limit is checked first). Both are checked before
/// the call's other conditions, and count the members the course has now: lowering a limit
/// below them refuses new members and removes nobody.
///
/// **Guardian links.** With a guardian link limit, `userProfiles.guardianInvitations.create`
/// answers 429 `RESOURCE_EXHAUSTED` when the student, or the invited guardian, already has that
/// many links. A link is a guardian of the student, or a pending invitation (which becomes
/// one when accepted), so accepting can never pass the limit; the guardian's links are
/// counted by the invited address, across students. It is checked after the call's other
/// conditions (access, the address, duplicates), as the last before creating.
///
/// **Changing limits.** [`Emulator::set_quotas`](crate::Emulator::set_quotas) starts afresh;
/// [`Emulator::update_quotas`](crate::Emulator::update_quotas) (and the admin endpoint's
/// `POST /emulator/v1/quotas`) changes limits keeping what has been spent: a user who sent 5
/// invitations today, under a new daily limit of 3, is refused the next.
///
/// **Latency.** For a network's round trip on every call, inject a latency fault with no
/// count: `emulator.inject(Fault::latency(Duration::from_millis(30)))` delays every HTTP
/// request (a batch once, OAuth endpoints too) before it reaches the quotas.
///
/// ```
/// use classroom_emulator::{Emulator, Quotas};
///
/// // Classroom's rates, a user burst of 5 calls, and 10 invitations a day per user.
/// let quotas = Quotas::classroom().user_burst(5).daily_invitations_per_user(10);
/// let emulator = Emulator::builder().quotas(quotas).start()?;
/// assert_eq!(emulator.quota_rejections(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Quotas {
    /// Calls per minute per user; `None`: unlimited.
    pub per_user_per_minute: Option<u32>,
    /// Calls per minute per project (OAuth client); `None`: unlimited.
    pub per_project_per_minute: Option<u32>,
    /// The most calls a user's bucket holds; `None`: one second's worth (at least 1).
    pub user_burst: Option<u32>,
    /// The most calls a project's bucket holds; `None`: one second's worth (at least 1).
    pub project_burst: Option<u32>,
    /// Invitations (course and guardian) a user may create per day; `None`: unlimited.
    pub daily_invitations_per_user: Option<u32>,
    /// Students and teachers a course may have; `None`: unlimited.
    pub course_member_limit: Option<u32>,
    /// Calls a project (OAuth client) may make per day; `None`: unlimited.
    pub per_project_per_day: Option<u32>,
    /// Teachers a course may have; `None`: unlimited.
    pub course_teacher_limit: Option<u32>,
    /// Guardian links (guardians and pending invitations) a student, or an invited guardian,
    /// may have; `None`: unlimited.
    pub guardian_link_limit: Option<u32>,
}

impl Quotas {
    /// Classroom's documented per-minute limits today: 1,200 per user and 3,000 per project
    /// (20 and 50 a second), with bursts of one second's worth. No daily invitation quota and
    /// no member limit (Classroom does not publish the one; set them to test them).
    pub fn classroom() -> Quotas {
        Quotas {
            per_user_per_minute: Some(1200),
            per_project_per_minute: Some(3000),
            ..Quotas::none()
        }
    }

    /// Nothing enforced (the default).
    pub fn none() -> Quotas {
        Quotas::default()
    }

    /// Sets the per-user rate, calls per minute (`None`: unlimited).
    pub fn per_user_per_minute(mut self, calls: impl Into<Option<u32>>) -> Quotas {
        self.per_user_per_minute = calls.into();
        self
    }

    /// Sets the per-project rate, calls per minute (`None`: unlimited).
    pub fn per_project_per_minute(mut self, calls: impl Into<Option<u32>>) -> Quotas {
        self.per_project_per_minute = calls.into();
        self
    }

    /// Sets how many calls a user's bucket holds (`None`: one second's worth).
    pub fn user_burst(mut self, calls: impl Into<Option<u32>>) -> Quotas {
        self.user_burst = calls.into();
        self
    }

    /// Sets how many calls a project's bucket holds (`None`: one second's worth).
    pub fn project_burst(mut self, calls: impl Into<Option<u32>>) -> Quotas {
        self.project_burst = calls.into();
        self
    }

    /// Sets the invitations a user may create per day (`None`: unlimited).
    pub fn daily_invitations_per_user(mut self, invitations: impl Into<Option<u32>>) -> Quotas {
        self.daily_invitations_per_user = invitations.into();
        self
    }

    /// Sets the students and teachers a course may have (`None`: unlimited).
    pub fn course_member_limit(mut self, members: impl Into<Option<u32>>) -> Quotas {
        self.course_member_limit = members.into();
        self
    }

    /// Sets the calls a project (OAuth client) may make per day (`None`: unlimited).
    pub fn per_project_per_day(mut self, calls: impl Into<Option<u32>>) -> Quotas {
        self.per_project_per_day = calls.into();
        self
    }

    /// Sets the teachers a course may have (`None`: unlimited).
    pub fn course_teacher_limit(mut self, teachers: impl Into<Option<u32>>) -> Quotas {
        self.course_teacher_limit = teachers.into();
        self
    }

    /// Sets the guardian links a student or guardian may have (`None`: unlimited).
    pub fn guardian_link_limit(mut self, links: impl Into<Option<u32>>) -> Quotas {
        self.guardian_link_limit = links.into();
        self
    }
}

/// At most this many buckets (and daily counts) of each kind are kept. Past it, full buckets
/// (which a fresh one equals) go first; if every one is in use, all start afresh.
const MAX_KEYS: usize = 10_000;

/// A token bucket: `tokens` as of `at`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A per-minute limit, as a refill rate per second and a capacity.
#[derive(Clone, Copy, Debug)]
struct Rate {
    per_minute: u32,
    per_second: f64,
    burst: f64,
}

impl Rate {
    fn new(per_minute: Option<u32>, burst: Option<u32>) -> Option<Rate> {
        let per_minute = per_minute?;
        let per_second = f64::from(per_minute) / 60.0;
        let burst = burst.map_or(per_second.ceil(), f64::from).max(1.0);
        Some(Rate {
            per_minute,
            per_second,
            burst,
        })
    }

    /// The tokens a bucket holds now.
    fn level(&self, bucket: Option<&Bucket>, now: Instant) -> f64 {
        match bucket {
            None => self.burst,
            Some(b) => {
                let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
                (b.tokens + elapsed * self.per_second).min(self.burst)
            }
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    quotas: Quotas,
    users: HashMap<String, Bucket>,
    projects: HashMap<String, Bucket>,
    /// Invitations created per user: (Pacific day number, count).
    invitations: HashMap<String, (u64, u32)>,
    /// Calls made per project: (Pacific day number, count).
    project_days: HashMap<String, (u64, u32)>,
}

/// Makes room for one more key: drops full buckets, then everything.
fn make_room(map: &mut HashMap<String, Bucket>, rate: Option<Rate>, now: Instant) {
    if map.len() < MAX_KEYS {
        return;
    }
    if let Some(rate) = rate {
        map.retain(|_, b| rate.level(Some(b), now) < rate.burst);
    }
    if map.len() >= MAX_KEYS {
        map.clear();
    }
}

/// The quotas in force and what has been spent of them, with counters of calls and refusals.
#[derive(Debug, Default)]
pub(crate) struct Enforcer {
    counts: Mutex<Counts>,
    calls: AtomicU64,
    rejections: AtomicU64,
    /// Days the quota day is ahead of the system clock's ([`Enforcer::advance_day`]).
    day_offset: AtomicU64,
}

/// Which limit a call ran into.
#[derive(Clone, Copy)]
enum Limit {
    User,
    Project,
    ProjectDay,
}

impl Enforcer {
    pub(crate) fn new(quotas: Quotas) -> Enforcer {
        Enforcer {
            counts: Mutex::new(Counts {
                quotas,
                ..Counts::default()
            }),
            ..Enforcer::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the quotas; what was spent is forgotten.
    pub(crate) fn set(&self, quotas: Quotas) {
        *self.lock() = Counts {
            quotas,
            ..Counts::default()
        };
    }

    /// The quotas in force.
    pub(crate) fn quotas(&self) -> Quotas {
        self.lock().quotas.clone()
    }

    /// Changes the quotas in force, keeping what has been spent of them.
    pub(crate) fn update(&self, change: impl FnOnce(Quotas) -> Quotas) -> Quotas {
        let mut counts = self.lock();
        let quotas = change(std::mem::take(&mut counts.quotas));
        counts.quotas = quotas.clone();
        quotas
    }

    /// Refills every bucket and forgets the day's invitations.
    pub(crate) fn reset(&self) {
        let mut counts = self.lock();
        let quotas = std::mem::take(&mut counts.quotas);
        *counts = Counts {
            quotas,
            ..Counts::default()
        };
    }

    /// The Pacific day number the daily quotas count in now.
    fn today(&self) -> u64 {
        pacific_day() + self.day_offset.load(Ordering::Relaxed)
    }

    /// Moves the quota day `days` ahead; returns it as `YYYY-MM-DD`. The day's counts are kept
    /// by day number, so a user's count from an earlier day no longer applies.
    pub(crate) fn advance_day(&self, days: u32) -> String {
        self.day_offset
            .fetch_add(u64::from(days), Ordering::Relaxed);
        let day = self.today();
        chrono::DateTime::from_timestamp(i64::try_from(day * 86_400).unwrap_or(i64::MAX), 0)
            .map(|t| t.date_naive().format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    }

    /// Counts one Classroom API call (a batch part counts one).
    pub(crate) fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    pub(crate) fn rejections(&self) -> u64 {
        self.rejections.load(Ordering::Relaxed)
    }

    fn reject(&self, status: Status) -> Status {
        self.rejections.fetch_add(1, Ordering::Relaxed);
        status
    }

    /// Spends one call of `user`'s and `project`'s rates, or refuses it with Google's 429.
    pub(crate) fn admit(&self, user: &str, project: &str) -> Result<(), Status> {
        let mut guard = self.lock();
        let counts = &mut *guard;
        let user_rate = Rate::new(counts.quotas.per_user_per_minute, counts.quotas.user_burst);
        let project_rate = Rate::new(
            counts.quotas.per_project_per_minute,
            counts.quotas.project_burst,
        );
        let daily = counts.quotas.per_project_per_day;
        if user_rate.is_none() && project_rate.is_none() && daily.is_none() {
            return Ok(());
        }
        let now = Instant::now();
        let today = self.today();
        let user_level = user_rate.map(|r| r.level(counts.users.get(user), now));
        let project_level = project_rate.map(|r| r.level(counts.projects.get(project), now));
        if let (Some(rate), Some(level)) = (user_rate, user_level)
            && level < 1.0
        {
            drop(guard);
            return Err(self.reject(rate_exceeded(Limit::User, rate, project)));
        }
        if let (Some(rate), Some(level)) = (project_rate, project_level)
            && level < 1.0
        {
            drop(guard);
            return Err(self.reject(rate_exceeded(Limit::Project, rate, project)));
        }
        let spent_today = counts
            .project_days
            .get(project)
            .filter(|(day, _)| *day == today)
            .map_or(0, |(_, n)| *n);
        if let Some(limit) = daily
            && spent_today >= limit
        {
            drop(guard);
            return Err(self.reject(quota_exceeded(Limit::ProjectDay, limit, project)));
        }
        if daily.is_some() {
            if !counts.project_days.contains_key(project) && counts.project_days.len() >= MAX_KEYS {
                counts.project_days.retain(|_, (day, _)| *day == today);
                if counts.project_days.len() >= MAX_KEYS {
                    counts.project_days.clear();
                }
            }
            counts
                .project_days
                .insert(project.to_string(), (today, spent_today + 1));
        }
        if let Some(level) = user_level {
            if !counts.users.contains_key(user) {
                make_room(&mut counts.users, user_rate, now);
            }
            counts.users.insert(
                user.to_string(),
                Bucket {
                    tokens: level - 1.0,
                    at: now,
                },
            );
        }
        if let Some(level) = project_level {
            if !counts.projects.contains_key(project) {
                make_room(&mut counts.projects, project_rate, now);
            }
            counts.projects.insert(
                project.to_string(),
                Bucket {
                    tokens: level - 1.0,
                    at: now,
                },
            );
        }
        Ok(())
    }

    /// Runs `call`, a method the daily invitation quota may cover, for `user`: refused with
    /// `@UserInvitationQuotaExhausted` past the quota, counted when it succeeds.
    pub(crate) fn invitation<T>(
        &self,
        method: &str,
        user: &str,
        call: impl FnOnce() -> Result<T, Status>,
    ) -> Result<T, Status> {
        if !matches!(
            method,
            "classroom.invitations.create" | "classroom.userProfiles.guardianInvitations.create"
        ) {
            return call();
        }
        let today = self.today();
        {
            let mut counts = self.lock();
            let Some(limit) = counts.quotas.daily_invitations_per_user else {
                drop(counts);
                return call();
            };
            if !counts.invitations.contains_key(user) && counts.invitations.len() >= MAX_KEYS {
                counts.invitations.retain(|_, (day, _)| *day == today);
                if counts.invitations.len() >= MAX_KEYS {
                    counts.invitations.clear();
                }
            }
            let entry = counts
                .invitations
                .entry(user.to_string())
                .or_insert((today, 0));
            if entry.0 != today {
                *entry = (today, 0);
            }
            if entry.1 >= limit {
                drop(counts);
                return Err(self.reject(Status::exhausted(format!(
                    "@UserInvitationQuotaExhausted The user has reached the limit of {limit} invitations a day. Try again tomorrow."
                ))));
            }
            // Reserved now, so concurrent invitations cannot both take the last one.
            entry.1 += 1;
        }
        let result = call();
        if result.is_err() {
            let mut counts = self.lock();
            if let Some((day, n)) = counts.invitations.get_mut(user)
                && *day == today
            {
                *n = n.saturating_sub(1);
            }
        }
        result
    }

    /// Refuses adding a member to a course already at the member limit, and a teacher to a
    /// course already at the teacher limit.
    pub(crate) fn member_limits(
        &self,
        state: &State,
        method: &str,
        params: &[(String, String)],
    ) -> Result<(), Status> {
        let (member_limit, teacher_limit) = {
            let quotas = &self.lock().quotas;
            (quotas.course_member_limit, quotas.course_teacher_limit)
        };
        if member_limit.is_none() && teacher_limit.is_none() {
            return Ok(());
        }
        let param = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        // The course, whether the call adds a member to it, and whether it adds a teacher.
        let joining = match method {
            "classroom.courses.students.create" => {
                state.course_id(param("courseId")).map(|c| (c, true, false))
            }
            "classroom.courses.teachers.create" => {
                state.course_id(param("courseId")).map(|c| (c, true, true))
            }
            // Accepting adds only what the user is not already: a teacher made the owner is no
            // new member, nor a new teacher; a STUDENT invitation adds no teacher.
            "classroom.invitations.accept" => {
                state.find("invitations", "id", param("id")).and_then(|i| {
                    let (course, user) = i["courseId"].as_str().zip(i["userId"].as_str())?;
                    let teaches = i["role"] != "STUDENT";
                    Some((
                        course.to_string(),
                        !state.is_member(course, user),
                        teaches && !state.is_teacher(course, user),
                    ))
                })
            }
            _ => None,
        };
        // An unknown course or invitation is the handler's to answer.
        let Some((course, new_member, new_teacher)) = joining else {
            return Ok(());
        };
        let teachers = state.items(&format!("courses/{course}/teachers")).len();
        if let Some(limit) = member_limit
            && new_member
        {
            let members = teachers + state.items(&format!("courses/{course}/students")).len();
            if members >= limit as usize {
                return Err(Status::precondition(format!(
                    "@CourseMemberLimitReached The course already has {members} members, the most it may have."
                )));
            }
        }
        if let Some(limit) = teacher_limit
            && new_teacher
            && teachers >= limit as usize
        {
            return Err(Status::precondition(format!(
                "@CourseTeacherLimitReached The course already has {teachers} teachers, the most it may have."
            )));
        }
        Ok(())
    }
}

/// The day number in Pacific time (UTC−8), when Google's daily quotas reset.
fn pacific_day() -> u64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    secs.saturating_sub(8 * 3600) / 86_400
}

/// The project number Google would name for an OAuth client: the leading digits of a
/// `NUMBER-xxx.apps.googleusercontent.com` client id, else a stable number derived from it.
pub(crate) fn project_number(client: &str) -> u64 {
    if let Some((digits, _)) = client.split_once('-')
        && !digits.is_empty()
        && digits.len() <= 18
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(n) = digits.parse()
    {
        return n;
    }
    // FNV-1a, folded into twelve digits as Google's project numbers have.
    let hash = client.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    100_000_000_000 + hash % 900_000_000_000
}

/// Google's 429 for a per-minute request quota.
fn rate_exceeded(limit: Limit, rate: Rate, project: &str) -> Status {
    quota_exceeded(limit, rate.per_minute, project)
}

/// Google's 429 for a request quota of `value` calls.
fn quota_exceeded(limit: Limit, value: u32, project: &str) -> Status {
    let number = project_number(project);
    let (limit_name, quota_limit, unit) = match limit {
        Limit::User => (
            "Requests per minute per user",
            "DefaultRequestsPerMinutePerUser",
            "1/min/{project}/{user}",
        ),
        Limit::Project => (
            "Requests per minute",
            "DefaultRequestsPerMinutePerProject",
            "1/min/{project}",
        ),
        Limit::ProjectDay => (
            "Requests per day",
            "DefaultRequestsPerDayPerProject",
            "1/d/{project}",
        ),
    };
    Status {
        reason: Some("RATE_LIMIT_EXCEEDED"),
        metadata: Some(json!({
            "service": "classroom.googleapis.com",
            "consumer": format!("projects/{number}"),
            "quota_metric": "classroom.googleapis.com/default_requests",
            "quota_limit": quota_limit,
            "quota_limit_value": value.to_string(),
            "quota_location": "global",
            "quota_unit": unit,
        })),
        more_details: vec![help()],
        code: 429,
        status: "RESOURCE_EXHAUSTED",
        message: format!(
            "Quota exceeded for quota metric 'Requests' and limit '{limit_name}' of service 'classroom.googleapis.com' for consumer 'project_number:{number}'."
        ),
    }
}

fn help() -> Value {
    json!({
        "@type": "type.googleapis.com/google.rpc.Help",
        "links": [{
            "description": "Request a higher quota limit.",
            "url": "https://cloud.google.com/docs/quotas/help/request_increase",
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_numbers_come_from_client_ids() {
        assert_eq!(
            project_number("123456789012-abc.apps.googleusercontent.com"),
            123_456_789_012
        );
        let derived = project_number("emulator-demo.apps.googleusercontent.com");
        assert_eq!(derived.to_string().len(), 12, "{derived}");
        assert_eq!(
            derived,
            project_number("emulator-demo.apps.googleusercontent.com")
        );
    }

    #[test]
    fn a_bucket_refills_at_the_rate_up_to_its_burst() {
        let rate = Rate::new(Some(600), Some(5)).unwrap();
        let t0 = Instant::now();
        let bucket = Bucket {
            tokens: 0.0,
            at: t0,
        };
        let later = |ms| t0 + std::time::Duration::from_millis(ms);
        assert!((rate.level(Some(&bucket), later(100)) - 1.0).abs() < 1e-9);
        assert_eq!(rate.level(Some(&bucket), later(60_000)), 5.0);
        assert_eq!(rate.level(None, t0), 5.0);
        // One second's worth by default, at least one call.
        assert_eq!(Rate::new(Some(1200), None).unwrap().burst, 20.0);
        assert_eq!(Rate::new(Some(1), None).unwrap().burst, 1.0);
    }

    #[test]
    fn buckets_stay_bounded() {
        let enforcer = Enforcer::new(Quotas::none().per_user_per_minute(6_000_000));
        for i in 0..MAX_KEYS + 10 {
            enforcer.admit(&format!("user-{i}"), "p").unwrap();
        }
        assert!(enforcer.lock().users.len() <= MAX_KEYS);
    }
}
