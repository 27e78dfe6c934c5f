//! Free text made inert in Markdown (liaison's letters, the situation report). Whatever a name, an
//! address or a legal basis holds (older stored data, multi-line addresses, text from another
//! service), it is written as one run of plain text: it can never open a block (heading, code,
//! list, table, quote), end the line it is on, or become a link, an emphasis or raw HTML.

/// Whether a Markdown reader (CommonMark ends lines at `\n` and `\r`) or another reader of the
/// letter would start a new line at `c`.
fn breaks_line(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// Line breaks and other control characters become spaces: a line break would let the rest of
/// the text start a block of its own, and a control character has no place in a letter.
fn flattened(s: &str) -> String {
    s.chars().map(|c| if c.is_control() || breaks_line(c) { ' ' } else { c }).collect()
}

/// Backslash-escapes every ASCII punctuation character, which CommonMark allows for each of them:
/// no character of the text can then start markup, whatever its position.
fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in s.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One line of free text as Markdown text, trimmed.
pub fn text(s: &str) -> String {
    escaped(flattened(s).trim())
}

/// A multi-line text (a postal address) on one line of the letter, its lines joined by commas.
pub fn lines(s: &str) -> String {
    let parts: Vec<String> = s.split(breaks_line).map(text).filter(|l| !l.is_empty()).collect();
    parts.join(", ")
}

/// A URL as a Markdown autolink when it is an http(s) URL that can be one, else as plain text (a
/// `javascript:` URL, or a link's name when its URL is unknown, is never made a link). `|` is
/// percent-encoded (its meaning in a URL is the same) because a table splits its cells at `|`
/// before it reads links.
pub fn url(s: &str) -> String {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    let autolinkable = !s.chars().any(|c| c.is_control() || c.is_whitespace() || c == '<' || c == '>');
    if web && autolinkable { format!("<{}>", s.replace('|', "%7C")) } else { text(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(text("<script>*x*</script>"), "\\<script\\>\\*x\\*\\<\\/script\\>");
        assert_eq!(text("a & b = c ~ d"), "a \\& b \\= c \\~ d");
    }

    #[test]
    fn line_breaks_and_controls_become_spaces() {
        assert_eq!(text(" x\r===\n"), "x \\=\\=\\=");
        assert_eq!(text("a\u{2028}b\u{0}c\td"), "a b c d");
    }

    #[test]
    fn addresses_are_joined_on_one_line() {
        assert_eq!(lines("1 Main St\r\n\n# Floor 2\r    Hong Kong"), "1 Main St, \\# Floor 2, Hong Kong");
    }

    #[test]
    fn only_web_urls_become_links() {
        assert_eq!(url("https://t.me/a|b"), "<https://t.me/a%7Cb>");
        assert_eq!(url("HTTP://x.example/"), "<HTTP://x.example/>");
        assert_eq!(url("javascript:alert(1)"), "javascript\\:alert\\(1\\)");
        assert_eq!(url("https://x.example/> <script>"), "https\\:\\/\\/x\\.example\\/\\> \\<script\\>");
        assert_eq!(url("links/0190"), "links\\/0190");
        assert_eq!(url("https:"), "https\\:");
    }
}
