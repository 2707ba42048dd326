//! How a class becomes a Classroom course's name, section and room: [`CourseNaming`], a
//! [`Template`] for each over the OneRoster columns of the class, its course and its school.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use super::plan::{CourseFields, DesiredCourse};
use super::roster::{Class, Columns, Course, InputError, Org, Problems, Roster, columns};

/// The longest `name` Classroom takes, in characters (Course schema, `name`).
pub(crate) const MAX_NAME: usize = 750;
/// The longest `section` Classroom takes, in characters.
pub(crate) const MAX_SECTION: usize = 2_800;
/// The longest `room` Classroom takes, in characters.
pub(crate) const MAX_ROOM: usize = 650;

/// The characters cut between a repeated name and the rest of a section value.
const CUT: &[char] = &['-', '–', '—', '·', '|', ':', ',', ';', '/'];

/// Which row a placeholder reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Class,
    Course,
    School,
}

impl Source {
    const ALL: [Source; 3] = [Source::Class, Source::Course, Source::School];

    fn prefix(self) -> &'static str {
        match self {
            Source::Class => "class",
            Source::Course => "course",
            Source::School => "school",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Source::Class => "classes.csv",
            Source::Course => "courses.csv",
            Source::School => "orgs.csv",
        }
    }

    /// Every placeholder of this source, for an error message.
    fn valid(self) -> String {
        let p = self.prefix();
        let mut list: Vec<String> = columns(self.file())
            .iter()
            .map(|c| format!("{{{p}.{c}}}"))
            .collect();
        list.push(format!("{{{p}.metadata.NAME}}"));
        list.join(", ")
    }
}

/// `{source.column}`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Placeholder {
    source: Source,
    column: String,
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}.{}}}", self.source.prefix(), self.column)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    /// Alternatives: the first that is not empty.
    Value(Vec<Placeholder>),
}

/// A template for one course field, checked when parsed: see [`CourseNaming`] for the
/// syntax and how it renders.
///
/// ```
/// use classroom_sync::Template;
///
/// let t: Template = "{course.title} ({school.name})".parse().unwrap();
/// assert_eq!(t.as_str(), "{course.title} ({school.name})");
/// let error = Template::parse("{class.titel}").unwrap_err();
/// assert!(error.to_string().contains("did you mean {class.title}?"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// A template that cannot be used: its syntax, or a placeholder no file has.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the template {template:?} cannot be used: {message}")]
#[non_exhaustive]
pub struct TemplateError {
    /// The template as given.
    pub template: String,
    /// The placeholder at fault, braces included, when one is.
    pub placeholder: Option<String>,
    /// What is wrong, and what would be right.
    pub message: String,
}

impl Template {
    /// Parses and checks a template: braces balanced (`{{`, `}}` for literal ones), and each
    /// placeholder a column the standard defines for its file, or an extension.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let error = |placeholder: Option<String>, message: String| TemplateError {
            template: source.to_string(),
            placeholder,
            message,
        };
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => {
                    return Err(error(
                        None,
                        "a '}' closes no placeholder (write '}}' for a literal one)".into(),
                    ));
                }
                '{' => {
                    let mut inner = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => {
                                return Err(error(
                                    None,
                                    format!(
                                        "the placeholder {{{inner} is not closed with '}}' (write '{{{{' for a literal '{{')"
                                    ),
                                ));
                            }
                            Some(c) => inner.push(c),
                        }
                    }
                    let alternatives = inner
                        .split('|')
                        .map(|one| placeholder(one.trim()))
                        .collect::<Result<Vec<_>, String>>()
                        .map_err(|message| error(Some(format!("{{{inner}}}")), message))?;
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Value(alternatives));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template {
            source: source.to_string(),
            parts,
        })
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The text for these rows; `name`, for a section, is the rendered name it must not
    /// repeat. The extension columns the rows lack are the error.
    fn render(&self, rows: &Rows<'_>, name: Option<&str>) -> Result<String, Vec<Placeholder>> {
        let mut tokens = Vec::new();
        let mut missing = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(text) if !text.chars().any(char::is_alphanumeric) => {
                    separator(text, &mut tokens);
                }
                Part::Text(text) => tokens.push(Token::Piece(text.clone())),
                Part::Value(alternatives) => {
                    let mut value = String::new();
                    for one in alternatives {
                        value = rows.value(one).unwrap_or_else(|p| {
                            missing.push(p);
                            String::new()
                        });
                        if let Some(name) = name {
                            value = cut(&value, name).to_string();
                        }
                        if !value.is_empty() {
                            break;
                        }
                    }
                    tokens.push(if value.is_empty() {
                        Token::Empty
                    } else {
                        Token::Piece(value)
                    });
                }
            }
        }
        if missing.is_empty() {
            Ok(tidy(tokens))
        } else {
            Err(missing)
        }
    }
}

/// A piece of a rendered template, before [`tidy`].
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// A value that is not empty, or text with a letter or digit.
    Piece(String),
    /// A value that is empty.
    Empty,
    /// An opening bracket of a separator.
    Open(char),
    /// A closing bracket of a separator.
    Close(char),
    /// The rest of a separator.
    Join(String),
}

const BRACKETS: [(char, char); 3] = [('(', ')'), ('[', ']'), ('{', '}')];

/// A separator's tokens: its leading closing brackets, the rest, its trailing opening ones.
fn separator(text: &str, tokens: &mut Vec<Token>) {
    let closing = |c: char| BRACKETS.iter().any(|b| b.1 == c);
    let opening = |c: char| BRACKETS.iter().any(|b| b.0 == c);
    let rest = text.trim_start_matches(closing);
    tokens.extend(text[..text.len() - rest.len()].chars().map(Token::Close));
    let middle = rest.trim_end_matches(opening);
    if !middle.is_empty() {
        tokens.push(Token::Join(middle.to_string()));
    }
    tokens.extend(rest[middle.len()..].chars().map(Token::Open));
}

/// The rules of the module docs for empty values and separators, then white space.
fn tidy(tokens: Vec<Token>) -> String {
    // Brackets around nothing but empty values go, with what they hold.
    let mut gone = vec![false; tokens.len()];
    let mut open: Vec<(usize, char)> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Open(c) => open.push((i, *c)),
            Token::Close(c) => {
                if let Some(&(start, o)) = open.last()
                    && BRACKETS.contains(&(o, *c))
                {
                    open.pop();
                    if !tokens[start..i]
                        .iter()
                        .zip(&gone[start..i])
                        .any(|(t, g)| !g && matches!(t, Token::Piece(_)))
                    {
                        gone[start..=i].iter_mut().for_each(|g| *g = true);
                    }
                }
            }
            _ => {}
        }
    }
    let kept: Vec<Token> = tokens
        .into_iter()
        .zip(gone)
        .filter(|(t, g)| !g && *t != Token::Empty)
        .map(|(t, _)| t)
        .collect();
    let mut out = String::new();
    for (i, token) in kept.iter().enumerate() {
        match token {
            Token::Piece(text) => out.push_str(text),
            Token::Join(text) => {
                let before = kept[..i]
                    .iter()
                    .rev()
                    .find(|t| !matches!(t, Token::Join(_)));
                let after = kept[i + 1..].iter().find(|t| !matches!(t, Token::Join(_)));
                let last_of_run = !matches!(kept.get(i + 1), Some(Token::Join(_)));
                if last_of_run
                    && matches!(before, Some(Token::Piece(_) | Token::Close(_)))
                    && matches!(after, Some(Token::Piece(_) | Token::Open(_)))
                {
                    out.push_str(text);
                }
            }
            Token::Open(c) | Token::Close(c) => out.push(*c),
            Token::Empty => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl FromStr for Template {
    type Err = TemplateError;

    fn from_str(s: &str) -> Result<Template, TemplateError> {
        Template::parse(s)
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// One placeholder's inside, checked: `source.column`.
fn placeholder(inner: &str) -> Result<Placeholder, String> {
    let sources = || {
        Source::ALL
            .iter()
            .map(|s| format!("{{{}.COLUMN}} ({})", s.prefix(), s.file()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if inner.is_empty() {
        return Err(format!(
            "a placeholder is empty; placeholders are {}",
            sources()
        ));
    }
    let (prefix, column) = inner.split_once('.').unwrap_or((inner, ""));
    let Some(source) = Source::ALL.into_iter().find(|s| s.prefix() == prefix) else {
        return Err(format!(
            "unknown placeholder {{{inner}}}: a placeholder names a row and a column, one of {}",
            sources()
        ));
    };
    let known = columns(source.file());
    let extension = column
        .strip_prefix("metadata.")
        .is_some_and(|name| !name.is_empty());
    if known.contains(&column) || extension {
        return Ok(Placeholder {
            source,
            column: column.to_string(),
        });
    }
    let hint = match known.iter().find(|c| c.eq_ignore_ascii_case(column)) {
        Some(c) => format!(" (did you mean {{{prefix}.{c}}}? names are case-sensitive)"),
        None => known
            .iter()
            .find(|c| near(c, column))
            .map(|c| format!(" (did you mean {{{prefix}.{c}}}?)"))
            .unwrap_or_default(),
    };
    Err(format!(
        "unknown placeholder {{{inner}}}{hint}: {} has no such column; the {prefix}'s placeholders are {}",
        source.file(),
        source.valid()
    ))
}

/// Whether two names are at most two edits apart (a typo), ignoring case.
fn near(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (
        a.to_lowercase().chars().collect(),
        b.to_lowercase().chars().collect(),
    );
    // Levenshtein distance, one row at a time.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, x) in a.iter().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let substitution = previous + usize::from(x != y);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()] <= 2
}

/// A section value without the name it starts with (see the module docs).
fn cut<'v>(value: &'v str, name: &str) -> &'v str {
    if name.is_empty() {
        return value;
    }
    let mut rest = value.char_indices();
    for n in name.chars() {
        match rest.next() {
            Some((_, v)) if v.to_lowercase().eq(n.to_lowercase()) => {}
            _ => return value,
        }
    }
    let rest = rest.next().map_or("", |(at, _)| &value[at..]);
    if rest.starts_with(char::is_alphanumeric) {
        return value;
    }
    rest.trim_start_matches(|c: char| c.is_whitespace() || CUT.contains(&c))
}

/// The rows a class's fields are rendered from.
struct Rows<'a> {
    class: &'a Columns,
    course: Option<&'a Columns>,
    school: Option<&'a Columns>,
}

impl Rows<'_> {
    fn value(&self, placeholder: &Placeholder) -> Result<String, Placeholder> {
        let row = match placeholder.source {
            Source::Class => Some(self.class),
            Source::Course => self.course,
            Source::School => self.school,
        };
        match row.and_then(|r| r.get(&placeholder.column)) {
            Some(value) => Ok(value.split_whitespace().collect::<Vec<_>>().join(" ")),
            // An extension the file's header lacks: a typo, or the wrong export.
            None if row.is_some() && placeholder.column.starts_with("metadata.") => {
                Err(placeholder.clone())
            }
            // A standard column the file leaves out, or a row that is not there.
            None => Ok(String::new()),
        }
    }
}

/// How the fields of each class's Classroom course are rendered: a [`Template`] each for
/// `name`, `section` and `room`, set with [`SyncOptions::naming`](super::SyncOptions::naming).
///
/// # The default
///
/// Classroom's own convention is the subject as the name ("10th Grade Biology") and the
/// period as the section ("Period 2"), which is how a teacher tells their classes apart on
/// the class cards. [`CourseNaming::default`] follows it:
///
/// | field     | template                        | e.g.                 |
/// |-----------|---------------------------------|----------------------|
/// | `name`    | `{course.title}`                | `Biology`            |
/// | `section` | `{class.title\|class.classCode}` | `Period 3`           |
/// | `room`    | `{class.location}`              | `Room 114`           |
///
/// Class titles often repeat the course's (`Biology - Period 3`); the section drops what the
/// name already says (see [below](#the-section-never-repeats-the-name)), so that class reads
/// `Biology`, section `Period 3`. A class titled just like its course (`Biology`) gets its
/// `classCode` as the section instead.
///
/// # Templates
///
/// A template is text with placeholders in braces:
///
/// - `{class.COLUMN}`: a column of the class's row in `classes.csv`;
/// - `{course.COLUMN}`: of its course's row in `courses.csv` (the class's `courseSourcedId`);
/// - `{school.COLUMN}`: of its school's row in `orgs.csv` (the class's `schoolSourcedId`).
///
/// `COLUMN` is any column OneRoster v1.1 defines for that file, spelled as in its header
/// (`{class.classCode}`, `{class.periods}`, `{course.courseCode}`, `{school.identifier}`), or
/// an extension column (`{class.metadata.teacherDisplayName}`). A value is the column's
/// trimmed text as the file has it (a list such as `periods` as `1,2`); a standard column the
/// file leaves out is empty.
///
/// - `{class.periods|class.classCode}`: alternatives, the first that is not empty.
/// - `{{` and `}}` are a literal `{` and `}`.
///
/// A placeholder the file cannot have (`{class.titel}`, `{room.name}`) is a [`TemplateError`]
/// from [`Template::parse`], naming it and listing the valid ones. An extension column the
/// file's header lacks is an [`InputError`] from [`RosterSync::plan`](super::RosterSync::plan)
/// naming the file and the placeholder. Nothing is ever silently rendered empty because of a
/// typo.
///
/// # Empty values and separators
///
/// A value may be empty (`periods` is optional), and the template's text around it should
/// not dangle: `{course.title} · {class.periods}` is `Biology`, not `Biology ·`. Literal text
/// with no letter or digit (` · `, ` - `, `, `, ` (`, `)`) is a *separator*; its opening
/// brackets at its end and closing brackets at its start (`(` `)`, `[` `]`, `{{` `}}`) are
/// brackets, the rest its joining text. Then:
///
/// 1. a bracket pair holding nothing but empty values is dropped with all it holds:
///    `{course.title} ({class.periods})` is `Biology`;
/// 2. joining text is kept only between two things kept, where an opening bracket counts as
///    a start and a closing one as an end: nothing dangles at either end of the result or
///    just inside a bracket (`{class.title} ({class.periods}, {class.classCode})` is
///    `Period 3 (C001)` when periods is empty);
/// 3. of joining texts left side by side by an empty value, the last is kept:
///    `{class.classCode} ({class.periods}) - {course.title}` is `C001 - Biology`.
///
/// Text with a letter or digit is always kept: `Period {class.periods}` is `Period` when
/// periods is empty (use alternatives, or a separator, instead). Last, runs of white space,
/// line breaks included, become one space, and the result is trimmed.
///
/// # The section never repeats the name
///
/// In the section, a value that begins with the rendered name (ignoring case) is cut to what
/// follows it, without the spaces and separators (`-`, `–`, `—`, `·`, `|`, `:`, `,`, `;`, `/`)
/// in between: under the name `Biology`, `Biology - Period 3` is `Period 3`. A value that is
/// the name and nothing more is empty, so the next alternative is used. The name must be
/// followed by something other than a letter or digit: `Biology` does not cut `Biology2`.
///
/// # Classroom's limits
///
/// Classroom takes a name of 1 to 750 characters, a section of up to 2,800 and a room of up
/// to 650 (characters as Unicode scalar values). A class whose fields fall outside them is an
/// [`InputError`] naming its row in `classes.csv`, from
/// [`RosterSync::plan`](super::RosterSync::plan): nothing is cut short, since a truncated
/// name could be the same as another class's and a teacher would not know why.
///
/// # Example
///
/// ```
/// use classroom_sync::{CourseNaming, SyncOptions, Template};
///
/// # fn main() -> Result<(), classroom_sync::TemplateError> {
/// let naming = CourseNaming::default()
///     .name(Template::parse("{course.title} ({school.name})")?)
///     .section(Template::parse("{class.periods|class.title} · {class.metadata.teacher}")?);
/// let options = SyncOptions::default().naming(naming);
/// # let _ = options; Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CourseNaming {
    /// The course's `name` (default `{course.title}`): required by Classroom.
    pub name: Template,
    /// The course's `section` (default `{class.title|class.classCode}`); never repeats the
    /// name.
    pub section: Template,
    /// The course's `room` (default `{class.location}`).
    pub room: Template,
}

impl Default for CourseNaming {
    fn default() -> Self {
        let parse = |t| Template::parse(t).expect("the default templates parse");
        CourseNaming {
            name: parse("{course.title}"),
            section: parse("{class.title|class.classCode}"),
            room: parse("{class.location}"),
        }
    }
}

/// Something wrong with the fields rendered for one class.
enum Problem {
    /// Extension columns a file lacks.
    Missing(&'static str, Vec<Placeholder>),
    /// Outside Classroom's limits: the field, its length, the limit.
    Length(&'static str, usize, usize),
}

impl CourseNaming {
    /// Sets [`CourseNaming::name`].
    pub fn name(mut self, template: Template) -> Self {
        self.name = template;
        self
    }

    /// Sets [`CourseNaming::section`].
    pub fn section(mut self, template: Template) -> Self {
        self.section = template;
        self
    }

    /// Sets [`CourseNaming::room`].
    pub fn room(mut self, template: Template) -> Self {
        self.room = template;
        self
    }

    /// The fields of a class's course, and what is wrong with them.
    fn render(
        &self,
        class: &Class,
        course: Option<&Course>,
        school: Option<&Org>,
    ) -> (CourseFields, Vec<Problem>) {
        let rows = Rows {
            class: &class.columns,
            course: course.map(|c| &c.columns),
            school: school.map(|s| &s.columns),
        };
        let mut problems = Vec::new();
        let mut render = |field: &'static str, template: &Template, name: Option<&str>, max| {
            let text = template.render(&rows, name).unwrap_or_else(|missing| {
                problems.push(Problem::Missing(field, missing));
                String::new()
            });
            let length = text.chars().count();
            if length > max || (field == "name" && length == 0) {
                problems.push(Problem::Length(field, length, max));
            }
            text
        };
        let name = render("name", &self.name, None, MAX_NAME);
        let section = render("section", &self.section, Some(&name), MAX_SECTION);
        let room = render("room", &self.room, None, MAX_ROOM);
        (
            CourseFields {
                name,
                section,
                room,
            },
            problems,
        )
    }

    /// The fields of a class's course ([`check`] has refused classes with problems).
    pub(crate) fn fields(
        &self,
        class: &Class,
        course: Option<&Course>,
        school: Option<&Org>,
    ) -> CourseFields {
        self.render(class, course, school).0
    }

    fn template(&self, field: &str) -> &Template {
        match field {
            "name" => &self.name,
            "section" => &self.section,
            _ => &self.room,
        }
    }
}

/// Every wanted course's fields render, and fit Classroom's limits: an extension column that
/// a file lacks is one problem on its header, a field out of bounds a problem on its class's
/// row.
pub(crate) fn check(
    roster: &Roster,
    wanted: &[DesiredCourse],
    naming: &CourseNaming,
) -> Result<(), InputError> {
    let classes: HashMap<&str, &Class> = roster
        .classes
        .iter()
        .map(|c| (c.sourced_id.as_str(), c))
        .collect();
    let courses: HashMap<&str, &Course> = roster
        .courses
        .iter()
        .map(|c| (c.sourced_id.as_str(), c))
        .collect();
    let orgs: HashMap<&str, &Org> = roster
        .orgs
        .iter()
        .map(|o| (o.sourced_id.as_str(), o))
        .collect();
    let mut in_file_order: Vec<&Class> = wanted
        .iter()
        .filter_map(|w| classes.get(w.class.as_str()).copied())
        .collect();
    in_file_order.sort_by_key(|c| c.line);
    let mut problems = Problems::default();
    let mut missing_reported = BTreeSet::new();
    for class in in_file_order {
        let course = courses.get(class.course_sourced_id.as_str()).copied();
        let school = orgs.get(class.school_sourced_id.as_str()).copied();
        for problem in naming.render(class, course, school).1 {
            match problem {
                Problem::Missing(field, placeholders) => {
                    for placeholder in placeholders {
                    if !missing_reported.insert(placeholder.to_string()) {
                        continue;
                    }
                    let file = placeholder.source.file();
                    let row: Option<&Columns> = match placeholder.source {
                        Source::Class => Some(&class.columns),
                        Source::Course => course.map(|c| &c.columns),
                        Source::School => school.map(|s| &s.columns),
                    };
                    let extensions: Vec<&str> = row
                        .into_iter()
                        .flat_map(|r| r.keys())
                        .filter(|k| k.starts_with("metadata."))
                        .map(String::as_str)
                        .collect();
                    problems.add(
                        file,
                        Some(1),
                        None,
                        format!(
                            "the course {field} template {:?} uses {placeholder}, but the header has no column {}; its extension columns are {}",
                            naming.template(field).as_str(),
                            placeholder.column,
                            if extensions.is_empty() {
                                "none".to_string()
                            } else {
                                extensions.join(", ")
                            }
                        ),
                    );
                    }
                }
                Problem::Length(_, 0, _) => problems.add(
                    "classes.csv",
                    Some(class.line),
                    None,
                    format!(
                        "the course name of class {:?} is empty (template {:?}), and Classroom requires one",
                        class.sourced_id,
                        naming.name.as_str()
                    ),
                ),
                Problem::Length(field, length, max) => problems.add(
                    "classes.csv",
                    Some(class.line),
                    None,
                    format!(
                        "the course {field} of class {:?} is {length} characters long (template {:?}), over Classroom's {max}; shorten the values or the template",
                        class.sourced_id,
                        naming.template(field).as_str()
                    ),
                ),
            }
        }
    }
    problems.into_result(&roster.dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::tests::{CLASSES_CSV, COURSES_CSV, ORGS_CSV, good};
    use crate::{RosterSync, SyncError};

    fn row(pairs: &[(&str, &str)]) -> Columns {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// `template` rendered over a class with `class`'s columns, a course titled Biology with
    /// code BIO, and a school named Lincoln High.
    fn render(template: &str, class: &[(&str, &str)], name: Option<&str>) -> String {
        let class = row(class);
        let course = row(&[("title", "Biology"), ("courseCode", "BIO")]);
        let school = row(&[("name", "Lincoln High"), ("metadata.district", "")]);
        let rows = Rows {
            class: &class,
            course: Some(&course),
            school: Some(&school),
        };
        Template::parse(template)
            .unwrap()
            .render(&rows, name)
            .unwrap_or_else(|p| panic!("{template}: {p:?} are missing"))
    }

    #[test]
    fn placeholders_read_the_class_its_course_and_its_school() {
        let class = [
            ("title", "Period 3"),
            ("periods", "3"),
            ("metadata.teacher", "Ms. Diaz"),
        ];
        assert_eq!(
            render(
                "{course.title} {class.periods} – {school.name} ({class.metadata.teacher}) [{course.courseCode}]",
                &class,
                None
            ),
            "Biology 3 – Lincoln High (Ms. Diaz) [BIO]"
        );
    }

    #[test]
    fn empty_values_leave_no_dangling_separators() {
        let some = [
            ("title", "Period 3"),
            ("classCode", "C001"),
            ("periods", ""),
        ];
        for (template, want) in [
            ("{course.title} · {class.periods}", "Biology"),
            ("{class.periods} · {course.title}", "Biology"),
            ("{course.title} ({class.periods})", "Biology"),
            (
                "{course.title}, {class.periods}, {class.classCode}",
                "Biology, C001",
            ),
            (
                "{class.classCode} ({class.periods}) - {course.title}",
                "C001 - Biology",
            ),
            (
                "{class.title} ({class.periods}, {class.classCode})",
                "Period 3 (C001)",
            ),
            (
                "{class.title} ({class.classCode}, {class.periods})",
                "Period 3 (C001)",
            ),
            ("({class.periods}) {course.title}", "Biology"),
            ("{class.periods} - {class.location}", ""),
            ("Period {class.periods}", "Period"),
            ("{class.periods|class.classCode}", "C001"),
            ("{class.location|class.periods}", ""),
            ("{course.title} ({school.metadata.district})", "Biology"),
            ("  {course.title}\n\t{class.title}  ", "Biology Period 3"),
        ] {
            assert_eq!(render(template, &some, None), want, "{template}");
        }
        // With the values there, separators and brackets are all kept.
        let full = [
            ("title", "Period 3"),
            ("classCode", "C001"),
            ("periods", "3"),
        ];
        assert_eq!(
            render(
                "{class.classCode} ({class.periods}) - {course.title}",
                &full,
                None
            ),
            "C001 (3) - Biology"
        );
        assert_eq!(
            render(
                "{class.title} ({class.periods}, {class.classCode})",
                &full,
                None
            ),
            "Period 3 (3, C001)"
        );
        // White space inside a value (a quoted title over two lines) is one space.
        assert_eq!(
            render("{class.title}", &[("title", "Biology\r\n  Period 1")], None),
            "Biology Period 1"
        );
    }

    #[test]
    fn doubled_braces_are_literal_braces() {
        let class = [("classCode", "C001")];
        assert_eq!(
            render("{{{class.classCode}}} {course.title}", &class, None),
            "{C001} Biology"
        );
        assert_eq!(
            render("{{{class.periods}}} {course.title}", &class, None),
            "Biology",
            "braces around an empty value go with it"
        );
        assert_eq!(render("{{course.title}}", &class, None), "{course.title}");
        assert_eq!(
            Template::parse("a {{b}}").unwrap().as_str(),
            "a {{b}}",
            "a template shows as written"
        );
    }

    #[test]
    fn a_section_does_not_repeat_the_name() {
        let name = Some("Biology");
        let title = |t| {
            render(
                "{class.title|class.classCode}",
                &[("title", t), ("classCode", "C001")],
                name,
            )
        };
        assert_eq!(title("Biology - Period 3"), "Period 3");
        assert_eq!(title("BIOLOGY: P3"), "P3", "case does not matter");
        assert_eq!(title("Biology (P3)"), "(P3)");
        assert_eq!(
            title("Biology"),
            "C001",
            "all repetition: the next alternative"
        );
        assert_eq!(
            title("Biology2"),
            "Biology2",
            "a longer word is not the name"
        );
        assert_eq!(title("Period 3"), "Period 3");
        assert_eq!(title("Bio"), "Bio");
        assert_eq!(
            render("{class.title}", &[("title", "Biology - P3")], None),
            "Biology - P3",
            "only the section is cut"
        );
    }

    #[test]
    fn a_placeholder_no_file_has_is_refused_naming_it_and_the_valid_ones() {
        let error = Template::parse("{course.title} {class.titel}").unwrap_err();
        assert_eq!(error.placeholder.as_deref(), Some("{class.titel}"));
        let text = error.to_string();
        assert!(
            text.starts_with("the template \"{course.title} {class.titel}\" cannot be used: unknown placeholder {class.titel}"),
            "{text}"
        );
        assert!(text.contains("classes.csv has no such column"), "{text}");
        assert!(
            text.contains("{class.classCode}, {class.classType}")
                && text.contains("{class.periods}, {class.metadata.NAME}"),
            "the valid ones are listed: {text}"
        );
        let hint = Template::parse("{class.ClassCode}")
            .unwrap_err()
            .to_string();
        assert!(hint.contains("did you mean {class.classCode}?"), "{hint}");

        for (template, says) in [
            (
                "{room.name}",
                "unknown placeholder {room.name}: a placeholder names a row and a column",
            ),
            ("{title}", "unknown placeholder {title}"),
            (
                "{school.metadata.}",
                "unknown placeholder {school.metadata.}",
            ),
            (
                "{course.title|course.name}",
                "unknown placeholder {course.name}",
            ),
            ("{}", "a placeholder is empty"),
            ("{course.title", "not closed"),
            ("{course.{title}}", "not closed"),
            ("Period }3", "a '}' closes no placeholder"),
        ] {
            let text = Template::parse(template).unwrap_err().to_string();
            assert!(text.contains(says), "{template}: {text}");
        }
        for ok in [
            "{school.identifier}",
            "{course.metadata.x}",
            "{ class.title | class.classCode }",
            "no placeholder",
            "",
        ] {
            Template::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
    }

    #[test]
    fn the_default_names_the_subject_and_sections_the_period() {
        let roster = Roster::read(good("naming-default")).unwrap();
        let class = &roster.classes[0];
        let fields =
            CourseNaming::default().fields(class, Some(&roster.courses[0]), Some(&roster.orgs[0]));
        assert_eq!(
            (
                fields.name.as_str(),
                fields.section.as_str(),
                fields.room.as_str()
            ),
            ("Biology", "P1", "Lab 2"),
            "class \"Biology P1\" of course \"Biology\" in Lab 2"
        );
    }

    /// The problems of a plan of `classes` (and the good other files) with `naming`,
    /// found before Classroom is read.
    async fn plan_problems(name: &str, files: &[(&str, &str)], naming: CourseNaming) -> InputError {
        let dir = good(name);
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        let roster = Roster::read(&dir).unwrap();
        // Nothing listens there: a plan that got as far as reading Classroom would fail to.
        let classroom = classroom::Classroom::builder()
            .root_url("http://127.0.0.1:9/")
            .credentials(classroom::BearerToken::new(
                "t",
                crate::SCOPES.iter().map(|s| s.url()),
            ))
            .build()
            .unwrap();
        let sync = RosterSync::new(classroom).options(crate::SyncOptions::default().naming(naming));
        match sync.plan(&roster).await {
            Err(SyncError::Input(error)) => error,
            other => panic!("{name}: an input error, not {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_extension_column_the_file_lacks_is_refused_at_plan_time() {
        let naming = CourseNaming::default().section(
            Template::parse(
                "{class.metadata.teacher} {school.metadata.region} {class.metadata.teacher}",
            )
            .unwrap(),
        );
        let classes = CLASSES_CSV
            .replacen("termSourcedIds\n", "termSourcedIds,metadata.room\n", 1)
            .replace("t2\"\n", "t2\",\n")
            .replace(",t1\n", ",t1,\n");
        let error = plan_problems("naming-metadata", &[("classes.csv", &classes)], naming).await;
        let at: Vec<(&str, Option<u64>)> = error
            .problems
            .iter()
            .map(|p| (p.file.as_str(), p.line))
            .collect();
        assert_eq!(
            at,
            [("classes.csv", Some(1)), ("orgs.csv", Some(1))],
            "one problem per placeholder, on the header of its file: {error}"
        );
        let text = error.to_string();
        assert!(
            text.contains("uses {class.metadata.teacher}, but the header has no column metadata.teacher; its extension columns are metadata.room"),
            "{text}"
        );
        assert!(
            text.contains("no column metadata.region; its extension columns are none"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn fields_outside_classroom_limits_are_refused_naming_the_class_row() {
        let long = "x".repeat(MAX_NAME + 1);
        let courses = format!("{COURSES_CSV}c2,{long},sch\n");
        let classes = format!(
            "{CLASSES_CSV}k3,active,Chem,c2,scheduled,{},sch,t1\nk4,active,{},c1,scheduled,,sch,t1\n",
            "r".repeat(MAX_ROOM + 1),
            "s".repeat(MAX_SECTION + 1)
        );
        let error = plan_problems(
            "naming-long",
            &[("courses.csv", &courses), ("classes.csv", &classes)],
            CourseNaming::default(),
        )
        .await;
        let got: Vec<(Option<u64>, &str)> = error
            .problems
            .iter()
            .map(|p| (p.line, p.message.split(" (template").next().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    Some(4),
                    "the course name of class \"k3\" is 751 characters long"
                ),
                (
                    Some(4),
                    "the course room of class \"k3\" is 651 characters long"
                ),
                (
                    Some(5),
                    "the course section of class \"k4\" is 2801 characters long"
                ),
            ],
            "nothing is cut short: {error}"
        );
        assert!(error.problems.iter().all(|p| p.file == "classes.csv"));

        // The longest of each is fine; an empty name is not.
        let courses = format!("{COURSES_CSV}c2,{},sch\n", "x".repeat(MAX_NAME));
        let classes = format!(
            "{CLASSES_CSV}k3,active,{},c2,scheduled,{},sch,t1\n",
            "s".repeat(MAX_SECTION),
            "r".repeat(MAX_ROOM)
        );
        let naming = CourseNaming::default().name(Template::parse("{class.classCode}").unwrap());
        let error = plan_problems(
            "naming-longest",
            &[
                ("courses.csv", &courses),
                ("classes.csv", &classes),
                ("orgs.csv", ORGS_CSV),
            ],
            naming,
        )
        .await;
        let at: Vec<Option<u64>> = error.problems.iter().map(|p| p.line).collect();
        assert_eq!(at, [Some(2), Some(4)], "only the empty names: {error}");
        assert!(
            error.problems[0].message.contains("the course name of class \"k1\" is empty (template \"{class.classCode}\"), and Classroom requires one"),
            "{error}"
        );
    }
}
