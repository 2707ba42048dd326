//! Users from a JSON document: the standalone server's `--accounts FILE`,
//! [`EmulatorBuilder::accounts`](crate::EmulatorBuilder::accounts),
//! [`Emulator::add_accounts`](crate::Emulator::add_accounts) and the admin endpoint's
//! `POST /emulator/v1/users` all read the same shape:
//!
//! ```json
//! {
//!   "domain": "district.example",
//!   "users": [
//!     {"email": "ada@district.example", "givenName": "Ada", "familyName": "Lovelace", "role": "teacher"},
//!     {"email": "grace@district.example", "givenName": "Grace", "familyName": "Hopper", "role": "student"}
//!   ]
//! }
//! ```
//!
//! - `users` (required): the users, in order. Each has exactly these four fields: `email` (one
//!   `@`, no spaces), `givenName` and `familyName` (not blank) and `role`, one of `admin`,
//!   `teacher`, `student`, `guardian`. A field not listed here is an error (a generator's
//!   `given_name` is caught, not ignored).
//! - `domain` (optional): when given, every user but a guardian must have an email in it.
//!
//! No email may appear twice (case-insensitively), nor name a user the emulator already has
//! (the demo users are always there, the demo school or not); either error adds nobody.
//!
//! Errors say where, the way an editor counts: `FILE:LINE:COLUMN` for JSON syntax,
//! `FILE:LINE: users[INDEX] (EMAIL): ...` for an entry (the line where the entry starts,
//! counted from 1; the index from 0, as in the JSON).

use std::fmt;
use std::path::Path;

use serde_json::{Map, Value};

use crate::Role;
use crate::store::State;

/// Users to add, read from the JSON shape the [module](self) describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accounts {
    source: String,
    users: Vec<Account>,
}

/// One user of an [`Accounts`] document.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Account {
    /// The user's email address.
    pub email: String,
    /// The given (first) name.
    pub given_name: String,
    /// The family (last) name.
    pub family_name: String,
    /// What the user is in the domain.
    pub role: Role,
    /// The line where the entry starts in its document, from 1.
    line: usize,
}

/// Why an accounts document was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccountsError {
    source: String,
    line: Option<usize>,
    column: Option<usize>,
    entry: Option<(usize, String)>,
    message: String,
}

impl AccountsError {
    fn new(source: &str, message: impl Into<String>) -> AccountsError {
        AccountsError {
            source: source.to_string(),
            line: None,
            column: None,
            entry: None,
            message: message.into(),
        }
    }

    fn at_entry(source: &str, index: usize, line: usize, email: &str, message: String) -> Self {
        AccountsError {
            line: Some(line),
            entry: Some((index, email.to_string())),
            ..AccountsError::new(source, message)
        }
    }

    /// The file (or `request body`) the document came from.
    pub fn source_name(&self) -> &str {
        &self.source
    }

    /// The line of the problem, from 1, when it has one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The index in `users` of the entry at fault, from 0, when one is.
    pub fn entry(&self) -> Option<usize> {
        self.entry.as_ref().map(|(i, _)| *i)
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for AccountsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        match &self.entry {
            Some((index, email)) if !email.is_empty() => write!(f, "users[{index}] ({email}): ")?,
            Some((index, _)) => write!(f, "users[{index}]: ")?,
            None => {}
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for AccountsError {}

const FIELDS: &str = "email, givenName, familyName, role";

impl Accounts {
    /// Reads and checks a file; errors name the file.
    pub fn read(path: impl AsRef<Path>) -> Result<Accounts, AccountsError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| AccountsError::new(&name, format!("cannot read the file: {e}")))?;
        Accounts::parse(&name, &text)
    }

    /// Checks a document; errors name `source` (a file name, say).
    pub fn parse(source: &str, text: &str) -> Result<Accounts, AccountsError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            // The position is the error's own; serde_json's message repeats it at its end.
            let message = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            AccountsError {
                line: Some(e.line()),
                column: Some(e.column()),
                ..AccountsError::new(
                    source,
                    format!(
                        "not JSON: {}",
                        message.strip_suffix(&suffix).unwrap_or(&message)
                    ),
                )
            }
        })?;
        let Value::Object(top) = value else {
            return Err(AccountsError::new(
                source,
                "expected a JSON object with \"users\" (and optionally \"domain\")",
            ));
        };
        if let Some(other) = top
            .keys()
            .find(|k| !matches!(k.as_str(), "users" | "domain"))
        {
            return Err(AccountsError::new(
                source,
                format!("unknown field {other:?} at the top; the fields are users and domain"),
            ));
        }
        let domain = match top.get("domain") {
            None => None,
            Some(Value::String(d)) if !d.trim().is_empty() => Some(d.trim().to_ascii_lowercase()),
            Some(_) => {
                return Err(AccountsError::new(
                    source,
                    "\"domain\" must be a non-empty string",
                ));
            }
        };
        let Some(Value::Array(entries)) = top.get("users") else {
            return Err(AccountsError::new(
                source,
                "\"users\" is required, an array of users",
            ));
        };
        let lines = entry_lines(text);
        let mut users: Vec<Account> = Vec::with_capacity(entries.len());
        for (index, entry) in entries.iter().enumerate() {
            let line = lines.get(index).copied().unwrap_or(1);
            let email = entry.get("email").and_then(Value::as_str).unwrap_or("");
            let fail =
                |message: String| AccountsError::at_entry(source, index, line, email, message);
            let account = parse_entry(entry, domain.as_deref(), line).map_err(fail)?;
            if let Some((first, earlier)) = users
                .iter()
                .enumerate()
                .find(|(_, u)| u.email.eq_ignore_ascii_case(&account.email))
            {
                return Err(fail(format!(
                    "the email is listed twice: also users[{first}], line {}",
                    earlier.line
                )));
            }
            users.push(account);
        }
        Ok(Accounts {
            source: source.to_string(),
            users,
        })
    }

    /// The users, in the document's order.
    pub fn users(&self) -> &[Account] {
        &self.users
    }

    /// Adds every user to the state, or none: an email the state already has is an error
    /// naming its entry. Returns the new users' ids, in order.
    pub(crate) fn add_to(&self, state: &mut State) -> Result<Vec<String>, AccountsError> {
        for (index, user) in self.users.iter().enumerate() {
            if let Some(existing) = state.user(&user.email, "") {
                return Err(AccountsError::at_entry(
                    &self.source,
                    index,
                    user.line,
                    &user.email,
                    format!(
                        "the emulator already has this user (id {}); an email may be added once",
                        existing.id
                    ),
                ));
            }
        }
        Ok(self
            .users
            .iter()
            .map(|u| crate::seed::add_user(state, &u.email, &u.given_name, &u.family_name, u.role))
            .collect())
    }
}

fn parse_entry(entry: &Value, domain: Option<&str>, line: usize) -> Result<Account, String> {
    let Value::Object(fields) = entry else {
        return Err(format!("expected an object with {FIELDS}"));
    };
    if let Some(other) = fields
        .keys()
        .find(|k| !matches!(k.as_str(), "email" | "givenName" | "familyName" | "role"))
    {
        return Err(format!("unknown field {other:?}; the fields are {FIELDS}"));
    }
    let email = string(fields, "email")?;
    let valid = email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
        && !email.chars().any(char::is_whitespace)
        && email.len() <= 254;
    if !valid {
        return Err(format!(
            "email {email:?} is not an address (one @, no spaces)"
        ));
    }
    let role = match string(fields, "role")?.as_str() {
        "admin" => Role::Admin,
        "teacher" => Role::Teacher,
        "student" => Role::Student,
        "guardian" => Role::Guardian,
        other => {
            return Err(format!(
                "role {other:?} is not one of admin, teacher, student, guardian"
            ));
        }
    };
    if let Some(domain) = domain
        && role != Role::Guardian
        && !email
            .rsplit('@')
            .next()
            .is_some_and(|d| d.eq_ignore_ascii_case(domain))
    {
        return Err(format!(
            "the email is not in the domain {domain} (only a guardian's may be elsewhere)"
        ));
    }
    Ok(Account {
        given_name: string(fields, "givenName")?,
        family_name: string(fields, "familyName")?,
        email,
        role,
        line,
    })
}

/// A required, non-blank string field.
fn string(fields: &Map<String, Value>, name: &str) -> Result<String, String> {
    match fields.get(name) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::String(_)) => Err(format!("{name} is blank")),
        Some(_) => Err(format!("{name} must be a string")),
        None => Err(format!("{name} is required; the fields are {FIELDS}")),
    }
}

/// The line (from 1) where each element of the top-level `users` array starts, in order.
/// Called only on text that parsed as JSON.
fn entry_lines(text: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut line = 1;
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    // The last string at depth 1, and whether a ':' followed it: the key of the value at hand.
    let mut string_start = 0;
    let mut key = "";
    let mut in_users = false;
    let mut expect_value = false;
    for (at, c) in text.char_indices() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => {
                    in_string = false;
                    if depth == 1 {
                        key = &text[string_start..at];
                    }
                }
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if in_users && depth == 2 && expect_value && c != ']' {
            lines.push(line);
            expect_value = false;
        }
        match c {
            '"' => {
                in_string = true;
                string_start = at + 1;
            }
            '{' | '[' => {
                depth += 1;
                if depth == 2 && c == '[' && key == "users" {
                    in_users = true;
                    expect_value = true;
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                if depth == 1 {
                    in_users = false;
                }
            }
            ',' if in_users && depth == 2 => expect_value = true,
            _ => {}
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_know_their_lines() {
        let text = "{\n  \"domain\": \"d.example\",\n  \"users\": [\n    {\"email\": \"a@d.example\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"teacher\"},\n\n    {\n      \"email\": \"c@d.example\", \"givenName\": \"C\", \"familyName\": \"D\", \"role\": \"student\"\n    }\n  ]\n}\n";
        assert_eq!(entry_lines(text), [4, 6]);
        let accounts = Accounts::parse("f.json", text).unwrap();
        assert_eq!(accounts.users().len(), 2);
        assert_eq!(accounts.users()[1].role, Role::Student);
        // A string holding brackets, commas and an escaped quote does not confuse the count.
        let tricky = r#"{"users": [{"email": "x@y.z", "givenName": "[\",{", "familyName": "]}", "role": "admin"}, 
{"email": "q@y.z", "givenName": "Q", "familyName": "R", "role": "admin"}], "domain": "y.z"}"#;
        assert_eq!(entry_lines(tricky), [1, 2]);
        assert!(Accounts::parse("t", tricky).is_ok());
    }

    #[test]
    fn errors_name_the_source_line_entry_and_problem() {
        let err = |text: &str| {
            Accounts::parse("district.json", text)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("{\"users\": [\n{\"email\": \"a@d.example\", \"given_name\": \"A\"}]}"),
            "district.json:2: users[0] (a@d.example): unknown field \"given_name\"; the fields are email, givenName, familyName, role"
        );
        assert_eq!(
            err(
                "{\"users\": [\n  1,\n  {\"email\": \"a\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"teacher\"}]}"
            ),
            "district.json:2: users[0]: expected an object with email, givenName, familyName, role"
        );
        assert_eq!(
            err("{\"users\": [\n  {\"email\" \"a@d.example\"}]}"),
            "district.json:2:12: not JSON: expected `:`"
        );
        assert_eq!(
            err(
                "{\"domain\": \"d.example\", \"users\": [{\"email\": \"a@else.example\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"student\"}]}"
            ),
            "district.json:1: users[0] (a@else.example): the email is not in the domain d.example (only a guardian's may be elsewhere)"
        );
        let twice = "{\"users\": [\n{\"email\": \"a@d.example\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"student\"},\n{\"email\": \"A@d.example\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"teacher\"}]}";
        assert_eq!(
            err(twice),
            "district.json:3: users[1] (A@d.example): the email is listed twice: also users[0], line 2"
        );
        assert_eq!(
            err(
                "{\"users\": [{\"email\": \"a@d.example\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"Teacher\"}]}"
            ),
            "district.json:1: users[0] (a@d.example): role \"Teacher\" is not one of admin, teacher, student, guardian"
        );
        assert_eq!(
            err("{\"people\": []}"),
            "district.json: unknown field \"people\" at the top; the fields are users and domain"
        );
        assert_eq!(
            err(
                "{\"users\": [{\"email\": \"a b@d.example\", \"givenName\": \"A\", \"familyName\": \"B\", \"role\": \"admin\"}]}"
            ),
            "district.json:1: users[0] (a b@d.example): email \"a b@d.example\" is not an address (one @, no spaces)"
        );
    }
}
