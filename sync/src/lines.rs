//! Line numbers as an editor shows them, for positions in a CSV file.
//!
//! The csv crate counts lines by `\n` as it reads, and with CRLF line ends (the ones RFC 4180
//! and OneRoster prescribe) it reports each record on the line before its own: the record
//! ends at the `\r`, and the `\n` is counted only once the next record has begun. Its byte
//! offsets are exact, so lines are counted here from those instead.

use std::path::Path;

use super::roster::Problems;

/// A CSV file of an export, read whole so that positions can be given as lines.
pub(crate) struct CsvFile {
    bytes: Vec<u8>,
    lines: Lines,
}

impl CsvFile {
    /// Reads `file` from `dir`. A missing file is one problem, `missing` saying why it is
    /// needed; a file that cannot be read (a directory in its place, say) is another.
    pub(crate) fn read(
        dir: &Path,
        file: &str,
        missing: &str,
        problems: &mut Problems,
    ) -> Option<CsvFile> {
        match std::fs::read(dir.join(file)) {
            Ok(bytes) => Some(CsvFile {
                lines: Lines::new(&bytes),
                bytes,
            }),
            Err(e) => {
                let message = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("the file is missing from {}{missing}", dir.display())
                } else {
                    format!("cannot be read: {e}")
                };
                problems.add(file, None, None, message);
                None
            }
        }
    }

    /// A reader of its records, the first row the header; rows may differ in width.
    pub(crate) fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .flexible(true)
            .has_headers(true)
            .from_reader(&self.bytes[..])
    }

    /// The line of a position the reader gives.
    pub(crate) fn line_of(&self, position: Option<&csv::Position>) -> Option<u64> {
        position.map(|p| self.lines.line_at(&self.bytes, p.byte()))
    }
}

/// Where each line of a file begins. A line ends at `\r\n`, `\n` or a lone `\r`.
pub(crate) struct Lines {
    /// The byte offset of the start of each line after the first.
    starts: Vec<usize>,
}

impl Lines {
    pub(crate) fn new(bytes: &[u8]) -> Lines {
        let mut starts = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    starts.push(i + 2);
                    i += 2;
                }
                b'\r' | b'\n' => {
                    starts.push(i + 1);
                    i += 1;
                }
                _ => i += 1,
            }
        }
        Lines { starts }
    }

    /// The line (1 for the first) of the record or field that the reader places at `offset`:
    /// line breaks at the offset belong to the line before, so they are passed over first.
    pub(crate) fn line_at(&self, bytes: &[u8], offset: u64) -> u64 {
        let mut at = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        // Lines begun at or before `at`, after the first.
        let before = self.starts.partition_point(|&start| start <= at);
        before as u64 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    fn line(text: &str, offset: usize) -> u64 {
        Lines::new(text.as_bytes()).line_at(text.as_bytes(), offset as u64)
    }

    #[test]
    fn lines_are_counted_as_an_editor_counts_them() {
        for text in ["a\nbb\nccc\n", "a\r\nbb\r\nccc\r\n", "a\rbb\rccc\r"] {
            let b = text.find('b').unwrap();
            let c = text.find('c').unwrap();
            assert_eq!(line(text, 0), 1, "{text:?}");
            assert_eq!(line(text, b), 2, "{text:?}");
            assert_eq!(line(text, b + 1), 2, "{text:?}");
            assert_eq!(line(text, c), 3, "{text:?}");
            // The offset of the line break itself, where the csv crate puts a record's start.
            assert_eq!(line(text, b - 1), 2, "{text:?}");
        }
        // One CRLF is one line break, not two.
        assert_eq!(line("a\r\n\r\nb", 5), 3);
        assert_eq!(line("a\n\nb", 3), 3);
        // Past the end: the last line.
        assert_eq!(line("a\nb", 99), 2);
        assert_eq!(line("", 0), 1);
    }
}
