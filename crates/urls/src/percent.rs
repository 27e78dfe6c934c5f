//! Percent-encoding normalisation (RFC 3986 §6.2.2.2): two spellings of one URL must compare
//! equal, so escapes of unreserved characters are decoded and the rest are written one way.

/// Decodes `%XX` escapes of unreserved characters (`A-Za-z0-9-._~`) and uppercases the hex
/// digits of all other escapes. Reserved characters stay escaped (`%2F` is not `/`: decoding
/// it would change the path's segments). A `%` not followed by two hex digits (which the
/// WHATWG parser lets through) becomes `%25`: left bare, it could combine with a decoded
/// character into a new escape (`%7%65` → `%7e`), and canonicalizing would not be idempotent.
///
/// `s` is a serialized URL component, which the WHATWG serializer keeps ASCII; non-ASCII text
/// passes through unchanged in any case, since only ASCII sequences are rewritten.
pub(crate) fn normalize_percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        match tail.as_bytes().get(1..3).and_then(decode_hex_pair) {
            Some(byte) if is_unreserved(byte) => out.push(char::from(byte)),
            Some(byte) => {
                out.push('%');
                out.push_str(&format!("{byte:02X}"));
            }
            None => {
                out.push_str("%25");
                rest = &tail[1..];
                continue;
            }
        }
        // The escape was three ASCII bytes, so this slices on a character boundary.
        rest = &tail[3..];
    }
    out.push_str(rest);
    out
}

fn decode_hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16);
    match pair {
        [hi, lo] => Some(u8::try_from(digit(*hi)? * 16 + digit(*lo)?).ok()?),
        _ => None,
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

#[cfg(test)]
mod tests {
    use super::normalize_percent;

    #[test]
    fn decodes_unreserved_and_uppercases_the_rest() {
        for (input, expected) in [
            ("%7e", "~"),
            ("%7E%41%2d%5f%2E", "~A-_."),
            ("%2f", "%2F"),
            ("a%e4%bd%A0b", "a%E4%BD%A0b"),
            ("%", "%25"),
            ("%g1%4", "%25g1%254"),
            ("100%", "100%25"),
            ("%%41", "%25A"),
            ("%7%65", "%257e"),
            ("%25", "%25"),
            ("%2541", "%2541"),
            ("plain", "plain"),
        ] {
            assert_eq!(normalize_percent(input), expected, "{input}");
            assert_eq!(normalize_percent(expected), expected, "idempotent on {expected}");
        }
    }
}
