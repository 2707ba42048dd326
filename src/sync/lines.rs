//! Line numbers as an editor shows them, for positions in a CSV file.
//!
//! The csv crate counts lines by `\n` as it reads, and with CRLF line ends (the ones RFC 4180
//! and OneRoster prescribe) it reports each record on the line before its own: the record
//! ends at the `\r`, and the `\n` is counted only once the next record has begun. Its byte
//! offsets are exact, so lines are counted here from those instead.

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
