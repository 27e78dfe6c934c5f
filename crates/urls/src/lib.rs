//! URLs as doxwatch accepts them, shared by intake (which validates what complainants report) and
//! link-tracking (which canonicalizes them), so that intake never accepts a URL that link-tracking
//! would refuse.
//!
//! [`parse`] validates; [`canonicalize`] also rewrites a URL into one canonical spelling (generic
//! normalisation plus per-platform rules kept as data in `rules.toml`, documented in `RULES.md`)
//! and says what the URL tells about the platform, channel and message it points at.

mod canonical;
mod percent;
mod rules;

pub use canonical::{Canonical, canonicalize};

use url::{Host, Url};

/// The longest URL accepted, in bytes of its input form.
pub const MAX_URL_LEN: usize = 2048;

/// Why a URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {MAX_URL_LEN} bytes")]
    TooLong,
    #[error("is not an absolute URL: {0}")]
    Unparsable(String),
    #[error("must be http or https, not {0:?}")]
    Scheme(String),
    #[error("must not contain a user name or password")]
    UserInfo,
    #[error("has no host")]
    NoHost,
    #[error("must not contain spaces or control characters")]
    Whitespace,
}

/// Parses `input` as an absolute http(s) URL (WHATWG rules) and refuses what doxwatch never
/// tracks: other schemes, user information, missing hosts, over-long or blank input.
pub fn parse(input: &str) -> Result<Url, UrlError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(UrlError::Empty);
    }
    if input.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong);
    }
    if input.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(UrlError::Whitespace);
    }
    let url = Url::parse(input).map_err(|e| UrlError::Unparsable(e.to_string()))?;
    match url.scheme() {
        "http" | "https" => {}
        other => return Err(UrlError::Scheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::UserInfo);
    }
    match url.host() {
        None => return Err(UrlError::NoHost),
        Some(Host::Domain(d)) if d.trim_end_matches('.').is_empty() => return Err(UrlError::NoHost),
        Some(_) => {}
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_and_https() {
        for ok in [
            "https://t.me/somechannel/123",
            "http://example.com",
            "  https://www.facebook.com/groups/1/permalink/2/  ",
            "https://例子.香港/路径",
            "http://192.168.0.1:8080/x",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_trackable_url() {
        let cases = [
            ("", UrlError::Empty),
            ("   ", UrlError::Empty),
            ("ftp://example.com/x", UrlError::Scheme("ftp".into())),
            ("javascript:alert(1)", UrlError::Scheme("javascript".into())),
            ("https://user:pw@example.com/", UrlError::UserInfo),
            ("https://user@example.com/", UrlError::UserInfo),
            ("https://exa mple.com/", UrlError::Whitespace),
            ("file:///etc/passwd", UrlError::Scheme("file".into())),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Err(expected), "{input:?}");
        }
        assert!(matches!(parse("example.com/no-scheme"), Err(UrlError::Unparsable(_))));
        assert!(matches!(parse("https://"), Err(UrlError::Unparsable(_)) | Err(UrlError::NoHost)));
        assert_eq!(parse(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN))), Err(UrlError::TooLong));
    }
}
