//! `google-fieldmask`: the list of fields a patch touches.

use std::fmt;

/// The fields a patch (or other partial operation) applies to, e.g. `updateMask` on
/// `courses.patch`.
///
/// Paths are the JSON (camelCase) field names, nested with dots: `name`, `section`,
/// `gradebookSettings.calculationType`. On the wire a mask is one comma-separated string.
///
/// ```
/// use classroom::FieldMask;
///
/// let mask = FieldMask::new(["name", "section"]);
/// assert_eq!(mask.to_string(), "name,section");
/// assert_eq!(FieldMask::from("name,section"), mask);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldMask {
    paths: Vec<String>,
}

impl FieldMask {
    /// A mask of the given field paths.
    pub fn new<I, S>(paths: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FieldMask {
            paths: paths.into_iter().map(Into::into).collect(),
        }
    }

    /// The field paths.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// Adds a field path.
    pub fn push(&mut self, path: impl Into<String>) {
        self.paths.push(path.into());
    }

    /// Whether the mask names no field.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

impl fmt::Display for FieldMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.paths.join(","))
    }
}

/// Parses the wire form, `"name,section"`.
impl From<&str> for FieldMask {
    fn from(value: &str) -> Self {
        FieldMask::new(value.split(',').map(str::trim).filter(|p| !p.is_empty()))
    }
}

impl From<String> for FieldMask {
    fn from(value: String) -> Self {
        FieldMask::from(value.as_str())
    }
}

impl<const N: usize> From<[&str; N]> for FieldMask {
    fn from(paths: [&str; N]) -> Self {
        FieldMask::new(paths)
    }
}

impl From<Vec<String>> for FieldMask {
    fn from(paths: Vec<String>) -> Self {
        FieldMask { paths }
    }
}

impl serde::Serialize for FieldMask {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FieldMask {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::wire::string_value(deserializer)
    }
}
