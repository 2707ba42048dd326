//! Discovery descriptions as rustdoc: escaped so rustdoc sees no broken links or stray HTML,
//! inline error-code lists turned into Markdown lists, and wrapped to a readable width.

use proc_macro2::TokenStream;
use quote::quote;

const WIDTH: usize = 96;

/// `#[doc = "..."]` attributes for `text` (Markdown, already escaped), one per line.
pub fn doc(text: &str) -> TokenStream {
    lines(text)
        .iter()
        .map(|line| quote!(#[doc = #line]))
        .collect()
}

/// Joins paragraphs (skipping empty ones) into one doc text.
pub fn paragraphs<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The doc lines for a text; each line starts with a space, as `///` comments do.
pub fn lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, para) in text.split("\n\n").enumerate() {
        if i > 0 {
            out.push(String::new());
        }
        for raw in para.lines() {
            let (indent, body) = match raw.strip_prefix("* ") {
                Some(rest) => ("* ", rest),
                None => ("", raw),
            };
            wrap(body, indent, &mut out);
        }
    }
    out.into_iter()
        .map(|l| if l.is_empty() { l } else { format!(" {l}") })
        .collect()
}

fn wrap(text: &str, first_indent: &str, out: &mut Vec<String>) {
    let cont = " ".repeat(first_indent.len());
    let mut line = first_indent.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.len() + 1 + word.len() > WIDTH {
            out.push(std::mem::replace(&mut line, cont.clone()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty {
        out.push(line);
    }
}

/// Makes a discovery description safe and readable as Markdown in rustdoc.
pub fn escape(text: &str) -> String {
    let text = summary_apart(text);
    // "... error codes: * `A` if ... * `B` if ..." reads better as a list.
    let text = text.replace(" * `", "\n* `").replace(": * ", ":\n* ");
    let text = list_items(&text);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut in_code = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            in_code = !in_code;
            out.push(c);
            i += 1;
            continue;
        }
        if in_code {
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            '[' => {
                // Keep real Markdown links `[text](url)`; escape every other bracket.
                if let Some(close) = find_link_end(&chars, i) {
                    let link: String = chars[i..close].iter().collect();
                    out.push_str(&link);
                    i = close;
                    continue;
                }
                out.push_str("\\[");
            }
            ']' => out.push_str("\\]"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            'h' if starts_url(&chars, i) => {
                let end = (i..chars.len())
                    .find(|&j| chars[j].is_whitespace() || chars[j] == ')')
                    .unwrap_or(chars.len());
                let mut end = end;
                while end > i && matches!(chars[end - 1], '.' | ',' | ';' | ':') {
                    end -= 1;
                }
                let url: String = chars[i..end].iter().collect();
                out.push('<');
                out.push_str(&url);
                out.push('>');
                i = end;
                continue;
            }
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// Puts the first sentence in a paragraph of its own, so rustdoc's one-line summaries are one
/// sentence. Abbreviations (`e.g.`, `i.e.`, `etc.`) do not end a sentence.
fn summary_apart(text: &str) -> String {
    let mut from = 0;
    while let Some(i) = text[from..].find(". ").map(|i| from + i) {
        let word = text[..i].rsplit([' ', '(']).next().unwrap_or("");
        let next = text[i + 2..].chars().next();
        let abbreviation = matches!(word, "e.g" | "i.e" | "etc" | "vs") || word.len() == 1;
        if !abbreviation && next.is_some_and(|c| c.is_ascii_uppercase() || c == '`') {
            return format!("{}\n\n{}", &text[..=i], &text[i + 2..]);
        }
        from = i + 2;
    }
    text.to_string()
}

/// Within a list the discovery text runs on (`* A * B`), every ` * ` before a capital starts an
/// item of its own.
fn list_items(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("* ") {
            Some(rest) => {
                let mut out = String::from("* ");
                let mut parts = rest.split(" * ").peekable();
                while let Some(part) = parts.next() {
                    out.push_str(part);
                    if let Some(next) = parts.peek() {
                        let item = next.starts_with(|c: char| c.is_ascii_uppercase());
                        out.push_str(if item { "\n* " } else { " * " });
                    }
                }
                out
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn starts_url(chars: &[char], i: usize) -> bool {
    let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
    rest.starts_with("http://") || rest.starts_with("https://")
}

/// For `[text](url)` starting at `start`, the index just past `)`.
fn find_link_end(chars: &[char], start: usize) -> Option<usize> {
    let close = (start + 1..chars.len()).find(|&j| chars[j] == ']' || chars[j] == '[')?;
    if chars[close] != ']' || chars.get(close + 1) != Some(&'(') {
        return None;
    }
    let end = (close + 2..chars.len()).find(|&j| chars[j] == ')' || chars[j].is_whitespace())?;
    (chars[end] == ')').then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            escape("see [a](https://x.y/z) and [b]"),
            "see [a](https://x.y/z) and \\[b\\]"
        );
        assert_eq!(escape("go to https://x.y/z."), "go to <https://x.y/z>.");
        assert_eq!(escape("`a<b>` <c>"), "`a<b>` &lt;c&gt;");
        assert_eq!(
            escape("codes: * `A` if x * `B` if y"),
            "codes:\n* `A` if x\n* `B` if y"
        );
    }
}
