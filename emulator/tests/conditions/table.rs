//! The table of documented conditions, read from the discovery document at test time: each
//! method's description lists the canonical codes it answers and when ("* `NOT_FOUND` if the
//! course does not exist. * `FAILED_PRECONDITION` for the following request errors: *
//! CourseNotModifiable ..."). [`conditions`] splits these into one [`Condition`] each, so a
//! newer document brings its new conditions without a change here.

use serde_json::Value;

/// One documented error condition of one method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The method id without `classroom.`, e.g. `courses.patch`.
    pub method: String,
    /// The canonical code, e.g. `FAILED_PRECONDITION`.
    pub status: String,
    /// The HTTP status Google maps the canonical code to.
    pub http: u16,
    /// The request-error name the message starts with (`@CourseNotModifiable ...`), if named.
    pub name: Option<String>,
    /// What the documentation says, normalized: lower case, no backticks, one space between
    /// words, no final period.
    pub text: String,
}

impl Condition {
    /// What names the condition within its method: `FAILED_PRECONDITION @CourseNotModifiable`,
    /// or `NOT_FOUND if no course exists with the requested id`.
    pub fn key(&self) -> String {
        match &self.name {
            Some(name) => format!("{} @{name}", self.status),
            None => format!("{} if {}", self.status, self.text),
        }
    }
}

/// The HTTP status of a canonical code, as Google maps them (google.rpc.Code).
pub fn http_status(code: &str) -> Option<u16> {
    Some(match code {
        "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE" => 400,
        "UNAUTHENTICATED" => 401,
        "PERMISSION_DENIED" => 403,
        "NOT_FOUND" => 404,
        "ALREADY_EXISTS" | "ABORTED" => 409,
        "RESOURCE_EXHAUSTED" => 429,
        "CANCELLED" => 499,
        "INTERNAL" | "UNKNOWN" | "DATA_LOSS" => 500,
        "UNIMPLEMENTED" => 501,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        _ => return None,
    })
}

/// Every method of the document, `(id without "classroom.", description)`, in the order of
/// the document.
pub fn methods(document: &Value) -> Vec<(String, String)> {
    fn walk(resource: &Value, out: &mut Vec<(String, String)>) {
        if let Some(methods) = resource["methods"].as_object() {
            for method in methods.values() {
                let id = method["id"].as_str().unwrap_or_default();
                out.push((
                    id.strip_prefix("classroom.").unwrap_or(id).to_string(),
                    method["description"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ));
            }
        }
        if let Some(resources) = resource["resources"].as_object() {
            for sub in resources.values() {
                walk(sub, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(document, &mut out);
    out
}

/// Every documented condition of every method of the document.
pub fn table(document: &Value) -> Vec<Condition> {
    methods(document)
        .iter()
        .flat_map(|(id, description)| conditions(id, description))
        .collect()
}

/// The conditions one method's description documents.
pub fn conditions(method: &str, description: &str) -> Vec<Condition> {
    let mut out: Vec<Condition> = Vec::new();
    let mut section: Option<Section> = None;
    for piece in bullets(description) {
        if let Some((code, rest)) = canonical(&piece) {
            if let Some(s) = section.take() {
                s.emit(method, &mut out);
            }
            section = Some(Section {
                code,
                texts: vec![rest.to_string()],
                names: Vec::new(),
            });
        } else if let Some(s) = section.as_mut() {
            match request_error_name(&piece) {
                Some(name) => s.names.push(name),
                None => s.texts.push(piece),
            }
        }
    }
    if let Some(s) = section {
        s.emit(method, &mut out);
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|c| seen.insert(c.key()));
    out
}

/// A code's bullet and what follows it up to the next code.
struct Section {
    code: String,
    texts: Vec<String>,
    names: Vec<String>,
}

impl Section {
    fn emit(self, method: &str, out: &mut Vec<Condition>) {
        let Some(http) = http_status(&self.code) else {
            return;
        };
        let make = |name: Option<String>, text: String| Condition {
            method: method.to_string(),
            status: self.code.clone(),
            http,
            name,
            text,
        };
        for text in &self.texts {
            for clause in clauses(text) {
                out.push(make(None, clause));
            }
        }
        for name in &self.names {
            out.push(make(Some(name.clone()), format!("request error {name}")));
        }
    }
}

/// The description cut at its bullets (`* `), trimmed. An asterisk is a bullet when a
/// punctuation mark or "or" comes before it, or a code, a name or a capital after it: "more
/// than 20 * materials" is arithmetic, not a bullet.
fn bullets(description: &str) -> Vec<String> {
    let bytes = description.as_bytes();
    let mut cuts = Vec::new();
    for (i, _) in description.match_indices("* ") {
        if i > 0 && bytes[i - 1] != b' ' {
            continue;
        }
        let before = description[..i].trim_end();
        let after = description[i + 2..].trim_start();
        let is_bullet = before.is_empty()
            || before.ends_with([':', '.', ';', ','])
            || before.ends_with(" or")
            || after.starts_with('`')
            || after.starts_with(|c: char| c.is_ascii_uppercase());
        if is_bullet {
            cuts.push(i);
        }
    }
    let mut pieces = Vec::new();
    let mut start = 0;
    for cut in cuts {
        pieces.push(description[start..cut].trim().to_string());
        start = cut + 2;
    }
    pieces.push(description[start..].trim().to_string());
    // The first piece is the prose before the first bullet.
    pieces.remove(0);
    pieces
}

/// `` `NOT_FOUND` if ... `` → (`NOT_FOUND`, `if ...`).
fn canonical(piece: &str) -> Option<(String, &str)> {
    let rest = piece.strip_prefix('`')?;
    let (code, rest) = rest.split_once('`')?;
    let is_code = !code.is_empty()
        && code.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        && code.contains(|c: char| c.is_ascii_uppercase());
    is_code.then(|| (code.to_string(), rest.trim_start()))
}

/// `CourseNotModifiable` or `` `RubricCriteriaInvalidFormat` ``: a bullet that is only a
/// request-error name.
fn request_error_name(piece: &str) -> Option<String> {
    let name = piece.trim().trim_end_matches('.').trim_matches('`');
    let is_name = name.len() > 2
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name.chars().all(|c| c.is_ascii_alphanumeric())
        && name.chars().any(|c| c.is_ascii_lowercase());
    is_name.then(|| name.to_string())
}

/// Lower case, no backticks, one space between words, no final period or colon.
pub fn normalize(text: &str) -> String {
    let text = text.replace('`', "").to_lowercase();
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .join(" ")
        .trim_end_matches(['.', ':', ';', ','])
        .trim()
        .to_string()
}

/// Verbs that start one permission in "not permitted to access the course, create course work
/// in it, share a Drive attachment, or ...": the list is cut at each.
const VERBS: &[&str] = &[
    "access", "create", "share", "delete", "modify", "view", "turn", "return", "unsubmit", "make",
    "accept", "remove", "manage",
];

/// The single conditions of one text: "if A, if B, or for access errors" → A, B, access errors.
fn clauses(text: &str) -> Vec<String> {
    let text = normalize(text);
    // Sentences after the first only add conditions when they say "also returned if".
    let mut sentences = text.split(". ");
    let first = sentences.next().unwrap_or_default().to_string();
    let mut parts = vec![first];
    for sentence in sentences {
        for marker in ["also returned if ", "also be returned if "] {
            if let Some((_, rest)) = sentence.split_once(marker) {
                parts.push(rest.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for part in parts {
        let mut part = part.as_str();
        // The request errors are conditions of their own.
        for marker in [
            "and for the following request error",
            "or for the following request error",
            "for the following request error",
        ] {
            if let Some(i) = part.find(marker) {
                part = &part[..i];
            }
        }
        let part = part
            .trim()
            .trim_start_matches(':')
            .trim()
            .trim_end_matches([',', ':', ';', '.'])
            .trim();
        let part = part.strip_prefix("if:").unwrap_or(part).trim();
        if part.is_empty() {
            continue;
        }
        for clause in split_outside_parentheses(
            part,
            &[
                ", or for ",
                " or for ",
                "; or ",
                ", or if ",
                " or if ",
                ", if ",
            ],
        ) {
            let clause = clause.trim().trim_end_matches([',', ';', '.']).trim();
            let clause = clause.strip_suffix("; or").unwrap_or(clause).trim();
            let clause = clause.strip_prefix("if ").unwrap_or(clause);
            let clause = clause.strip_prefix("for ").unwrap_or(clause).trim();
            if clause.is_empty() || clause == "if" {
                continue;
            }
            out.extend(permissions(clause));
        }
    }
    out
}

/// `text` cut at each of `separators` that is not inside parentheses: "(for example, if a user
/// ...)" is an example of the clause before it, not a clause of its own.
fn split_outside_parentheses<'a>(text: &'a str, separators: &[&str]) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if depth == 0
            && let Some(sep) = separators.iter().find(|s| rest.starts_with(**s))
        {
            pieces.push(&text[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        match rest.chars().next() {
            Some('(') => depth += 1,
            Some(')') => depth -= 1,
            _ => {}
        }
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    pieces.push(&text[start..]);
    pieces
}

/// "the requesting user is not permitted to access the course, create course work, or ..." →
/// one condition per verb.
fn permissions(clause: &str) -> Vec<String> {
    for lead in [
        "the requesting user is not permitted to ",
        "the requesting user isn't permitted to ",
        "the user is not permitted to ",
        "the user isn't permitted to ",
    ] {
        if let Some(rest) = clause.strip_prefix(lead) {
            let mut verbs: Vec<String> = Vec::new();
            for piece in rest.split(", ") {
                let bare = piece.strip_prefix("or ").unwrap_or(piece);
                let first = bare.split(' ').next().unwrap_or_default();
                match verbs.last_mut() {
                    Some(last) if !VERBS.contains(&first) => {
                        last.push_str(", ");
                        last.push_str(piece);
                    }
                    _ => verbs.push(bare.to_string()),
                }
            }
            return verbs.into_iter().map(|v| format!("{lead}{v}")).collect();
        }
    }
    vec![clause.to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(method: &str, description: &str) -> Vec<String> {
        conditions(method, description)
            .iter()
            .map(Condition::key)
            .collect()
    }

    #[test]
    fn codes_with_if_clauses_and_request_errors_split_into_one_condition_each() {
        // classroom.courses.create, as the document has it.
        let description = "Creates a course. The user specified in `ownerId` is the owner of the created course and added as a teacher. A non-admin requesting user can only create a course with themselves as the owner. Domain admins can create courses owned by any user within their domain. This method returns the following error codes: * `PERMISSION_DENIED` if the requesting user is not permitted to create courses or for access errors. * `NOT_FOUND` if the primary teacher is not a valid user. * `FAILED_PRECONDITION` if the course owner's account is disabled or for the following request errors: * UserCannotOwnCourse * UserGroupsMembershipLimitReached * CourseTitleCannotContainUrl * `ALREADY_EXISTS` if an alias was specified in the `id` and already exists.";
        assert_eq!(
            keys("courses.create", description),
            [
                "PERMISSION_DENIED if the requesting user is not permitted to create courses",
                "PERMISSION_DENIED if access errors",
                "NOT_FOUND if the primary teacher is not a valid user",
                "FAILED_PRECONDITION if the course owner's account is disabled",
                "FAILED_PRECONDITION @UserCannotOwnCourse",
                "FAILED_PRECONDITION @UserGroupsMembershipLimitReached",
                "FAILED_PRECONDITION @CourseTitleCannotContainUrl",
                "ALREADY_EXISTS if an alias was specified in the id and already exists",
            ]
        );
        let c = &conditions("courses.create", description)[4];
        assert_eq!((c.http, c.status.as_str()), (400, "FAILED_PRECONDITION"));
        assert_eq!(c.name.as_deref(), Some("UserCannotOwnCourse"));
    }

    #[test]
    fn permissions_split_by_verb_and_nouns_stay_together() {
        let description = "Creates course work. This method returns the following error codes: * `PERMISSION_DENIED` if the requesting user is not permitted to access the requested course, create course work in the requested course, share a Drive attachment, or for access errors. * `INVALID_ARGUMENT` if the request is malformed. * `NOT_FOUND` if the requested course does not exist. * `FAILED_PRECONDITION` for the following request error: * AttachmentNotVisible";
        assert_eq!(
            keys("courses.courseWork.create", description),
            [
                "PERMISSION_DENIED if the requesting user is not permitted to access the requested course",
                "PERMISSION_DENIED if the requesting user is not permitted to create course work in the requested course",
                "PERMISSION_DENIED if the requesting user is not permitted to share a drive attachment",
                "PERMISSION_DENIED if access errors",
                "INVALID_ARGUMENT if the request is malformed",
                "NOT_FOUND if the requested course does not exist",
                "FAILED_PRECONDITION @AttachmentNotVisible",
            ]
        );
        let submission = "Returns a student submission. * `PERMISSION_DENIED` if the requesting user is not permitted to access the requested course, course work, or student submission or for access errors. * `NOT_FOUND` if the requested course, course work, or student submission does not exist.";
        assert_eq!(
            keys("courses.courseWork.studentSubmissions.get", submission),
            [
                "PERMISSION_DENIED if the requesting user is not permitted to access the requested course, course work, or student submission",
                "PERMISSION_DENIED if access errors",
                "NOT_FOUND if the requested course, course work, or student submission does not exist",
            ]
        );
    }

    #[test]
    fn sub_bullets_backticked_names_and_also_returned_sentences() {
        let invitations = "Creates an invitation. This method returns the following error codes: * `PERMISSION_DENIED` if the requesting user is not permitted to create invitations for this course or for access errors. * `NOT_FOUND` if the course or the user does not exist. * `FAILED_PRECONDITION`: * if the requested user's account is disabled. * if the user already has this role or a role with greater permissions. * for the following request errors: * IneligibleOwner * `ALREADY_EXISTS` if an invitation for the specified user and course already exists.";
        assert_eq!(
            keys("invitations.create", invitations),
            [
                "PERMISSION_DENIED if the requesting user is not permitted to create invitations for this course",
                "PERMISSION_DENIED if access errors",
                "NOT_FOUND if the course or the user does not exist",
                "FAILED_PRECONDITION if the requested user's account is disabled",
                "FAILED_PRECONDITION if the user already has this role or a role with greater permissions",
                "FAILED_PRECONDITION @IneligibleOwner",
                "ALREADY_EXISTS if an invitation for the specified user and course already exists",
            ]
        );
        let rubric = "Updates a rubric. This method returns the following error codes: * `PERMISSION_DENIED` if the requesting developer project didn't create the corresponding course work, if the user isn't permitted to make the requested modification to the rubric, or for access errors. This error code is also returned if grading has already started on the rubric. * `INVALID_ARGUMENT` if the request is malformed and for the following request error: * `RubricCriteriaInvalidFormat` * `NOT_FOUND` if the requested course, course work, or rubric doesn't exist or if the user doesn't have access to the corresponding course work. * `INTERNAL` if grading has already started on the rubric.";
        assert_eq!(
            keys("courses.courseWork.rubrics.patch", rubric),
            [
                "PERMISSION_DENIED if the requesting developer project didn't create the corresponding course work",
                "PERMISSION_DENIED if the user isn't permitted to make the requested modification to the rubric",
                "PERMISSION_DENIED if access errors",
                "PERMISSION_DENIED if grading has already started on the rubric",
                "INVALID_ARGUMENT if the request is malformed",
                "INVALID_ARGUMENT @RubricCriteriaInvalidFormat",
                "NOT_FOUND if the requested course, course work, or rubric doesn't exist",
                "NOT_FOUND if the user doesn't have access to the corresponding course work",
                "INTERNAL if grading has already started on the rubric",
            ]
        );
        let c = conditions("courses.courseWork.rubrics.patch", rubric);
        assert_eq!(c.last().map(|c| c.http), Some(500), "INTERNAL is 500");
    }

    #[test]
    fn an_asterisk_inside_a_sentence_is_not_a_bullet() {
        let materials = "Creates a course work material. This method returns the following error codes: * `INVALID_ARGUMENT` if the request is malformed or if more than 20 * materials are provided. * `NOT_FOUND` if the requested course does not exist.";
        assert_eq!(
            keys("courses.courseWorkMaterials.create", materials),
            [
                "INVALID_ARGUMENT if the request is malformed",
                "INVALID_ARGUMENT if more than 20 * materials are provided",
                "NOT_FOUND if the requested course does not exist",
            ]
        );
    }

    #[test]
    fn a_description_without_codes_has_no_conditions() {
        assert!(conditions("registrations.delete", "Deletes a `Registration`.").is_empty());
    }

    #[test]
    fn canonical_codes_map_to_googles_http_statuses() {
        for (code, http) in [
            ("INVALID_ARGUMENT", 400),
            ("FAILED_PRECONDITION", 400),
            ("UNAUTHENTICATED", 401),
            ("PERMISSION_DENIED", 403),
            ("NOT_FOUND", 404),
            ("ALREADY_EXISTS", 409),
            ("RESOURCE_EXHAUSTED", 429),
            ("INTERNAL", 500),
        ] {
            assert_eq!(http_status(code), Some(http), "{code}");
        }
        assert_eq!(http_status("NOT_A_CODE"), None);
    }
}
