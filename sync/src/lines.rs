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
            Ok(bytes) => {
                if let Some(encoding) = Encoding::sniff(&bytes) {
                    problems.add(
                        file,
                        Some(1),
                        encoding.first_column(&bytes).as_deref(),
                        format!(
                            "the file is {encoding}; OneRoster files must be UTF-8: save it again as UTF-8 (in a spreadsheet, \"CSV UTF-8\")"
                        ),
                    );
                    return None;
                }
                Some(CsvFile {
                    lines: Lines::new(&bytes),
                    bytes,
                })
            }
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

/// A text encoding other than UTF-8 that a file's first bytes give away. Spreadsheets save
/// "Unicode text" as UTF-16, with a byte-order mark; read as UTF-8 it would be a header of
/// unknown columns full of NUL bytes, so it is named for what it is instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Utf16 { little_endian: bool, bom: bool },
    Utf32 { little_endian: bool },
}

impl Encoding {
    /// The encoding `bytes` are in, when a byte-order mark or the NUL bytes of ASCII text in
    /// UTF-16 say it is not UTF-8.
    pub(crate) fn sniff(bytes: &[u8]) -> Option<Encoding> {
        match bytes {
            [0xFF, 0xFE, 0, 0, ..] => Some(Encoding::Utf32 {
                little_endian: true,
            }),
            [0, 0, 0xFE, 0xFF, ..] => Some(Encoding::Utf32 {
                little_endian: false,
            }),
            [0xFF, 0xFE, ..] => Some(Encoding::Utf16 {
                little_endian: true,
                bom: true,
            }),
            [0xFE, 0xFF, ..] => Some(Encoding::Utf16 {
                little_endian: false,
                bom: true,
            }),
            // A CSV header starts with a printable ASCII name: in UTF-16 without a mark, one of
            // its first two bytes is NUL.
            [a, 0, ..] if a.is_ascii_graphic() => Some(Encoding::Utf16 {
                little_endian: true,
                bom: false,
            }),
            [0, b, ..] if b.is_ascii_graphic() => Some(Encoding::Utf16 {
                little_endian: false,
                bom: false,
            }),
            _ => None,
        }
    }

    /// The first column's name, decoded, so that the problem can name it.
    pub(crate) fn first_column(self, bytes: &[u8]) -> Option<String> {
        let Encoding::Utf16 { little_endian, bom } = self else {
            return None;
        };
        let body = if bom { &bytes[2..] } else { bytes };
        let units = body.chunks_exact(2).map(|pair| {
            if little_endian {
                u16::from_le_bytes([pair[0], pair[1]])
            } else {
                u16::from_be_bytes([pair[0], pair[1]])
            }
        });
        let first: String = char::decode_utf16(units)
            .map_while(Result::ok)
            .take_while(|c| !matches!(c, ',' | '\r' | '\n'))
            .collect();
        let name = first.trim().trim_matches('"').trim();
        (!name.is_empty()).then(|| name.to_string())
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let order = |little: bool| if little { "LE" } else { "BE" };
        match *self {
            Encoding::Utf16 { little_endian, bom } => write!(
                f,
                "UTF-16{} text ({})",
                order(little_endian),
                if bom {
                    "it starts with a UTF-16 byte-order mark"
                } else {
                    "every other byte of its header is NUL"
                }
            ),
            Encoding::Utf32 { little_endian } => write!(
                f,
                "UTF-32{} text (it starts with a UTF-32 byte-order mark)",
                order(little_endian)
            ),
        }
    }
}

/// Says what is wrong with a field that is not UTF-8: where in it, and which byte, since a
/// byte from 0x80 up alone is most often Latin-1 or Windows-1252 text.
pub(crate) fn not_utf8(field: &[u8], valid_up_to: usize) -> String {
    let byte = field.get(valid_up_to).copied().unwrap_or(0);
    let hint = if (0xA0..=0xFF).contains(&byte) {
        // Latin-1 and Windows-1252 agree from 0xA0 up, and there each byte is its code point.
        format!(
            ", which Latin-1 and Windows-1252 write for {:?}",
            char::from(byte)
        )
    } else {
        String::new()
    };
    format!(
        "the value is not UTF-8 text (at its byte {}, 0x{byte:02X}{hint}); OneRoster files are UTF-8: save the file as UTF-8",
        valid_up_to + 1
    )
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
    use super::{Encoding, Lines, not_utf8};

    #[test]
    fn only_text_that_is_not_utf8_is_named_for_its_encoding() {
        for utf8 in [
            &b"sourcedId,name"[..],
            b"\xEF\xBB\xBFsourcedId",
            b"",
            b"a",
            b"\xE9t\xE9",
        ] {
            assert_eq!(Encoding::sniff(utf8), None, "{utf8:?}");
        }
        let utf16le = Encoding::sniff(b"\xFF\xFEs\0o\0").unwrap();
        assert_eq!(
            utf16le.to_string(),
            "UTF-16LE text (it starts with a UTF-16 byte-order mark)"
        );
        assert_eq!(
            utf16le.first_column(b"\xFF\xFE \0i\0d\0,\0x\0"),
            Some("id".into())
        );
        assert_eq!(
            Encoding::sniff(b"\0i\0d").unwrap().to_string(),
            "UTF-16BE text (every other byte of its header is NUL)"
        );
        // UTF-32's little-endian mark begins with UTF-16's: the longer one is told first.
        let utf32 = Encoding::sniff(b"\xFF\xFE\0\0i\0\0\0").unwrap();
        assert_eq!(
            utf32.to_string(),
            "UTF-32LE text (it starts with a UTF-32 byte-order mark)"
        );
        assert_eq!(utf32.first_column(b"\xFF\xFE\0\0i\0\0\0"), None);
    }

    #[test]
    fn a_byte_that_is_not_utf8_is_shown_with_what_latin1_means_by_it() {
        assert!(
            not_utf8(b"Ren\xE9", 3)
                .contains("at its byte 4, 0xE9, which Latin-1 and Windows-1252 write for '\u{e9}'")
        );
        // A byte Latin-1 does not print (a Windows-1252 quote): no guess at what it means.
        assert!(not_utf8(b"\x93hi", 0).contains("(at its byte 1, 0x93);"));
    }

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
