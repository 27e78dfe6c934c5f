//! URLs as doxwatch accepts them, shared by intake (which validates what complainants report) and
//! link-tracking (which canonicalizes them), so that intake never accepts a URL that link-tracking
//! would refuse.
//!
//! [`parse`] validates; [`canonicalize`] also rewrites a URL into one canonical spelling (generic
//! normalisation plus per-platform rules kept as data in `rules.toml`, documented in `RULES.md`)
//! and says what the URL tells about the platform, channel and message it points at.

mod address;
mod canonical;
mod percent;
mod rules;

pub use address::{is_public, non_public_literal};
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
    #[error("must name its host after the scheme's \"//\" (e.g. https://example.com/path)")]
    NoAuthority,
    #[error("has a host name longer than 253 characters, or a label of it longer than 63")]
    HostTooLong,
    #[error("must not use port 0")]
    PortZero,
    #[error("names {0}, a private, loopback or link-local address: not a place on the internet")]
    NonPublicAddress(std::net::IpAddr),
    #[error("names localhost, the machine it is read on: not a place on the internet")]
    LocalHost,
}

/// Refuses a URL whose host is a literal address that is not public (see [`is_public`]) or
/// `localhost`. Kept
/// apart from [`parse`] so that a deployment that tracks a test site on its own network can
/// allow them.
pub fn refuse_non_public(host: &str) -> Result<(), UrlError> {
    let name = host.trim_end_matches('.').to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return Err(UrlError::LocalHost);
    }
    match non_public_literal(host) {
        Some(ip) => Err(UrlError::NonPublicAddress(ip)),
        None => Ok(()),
    }
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
    // The WHATWG parser reads "https:///path" as host "path", and "https:example.com" as host
    // "example.com": what was typed names no host where a reader would look for one.
    let after_scheme = &input[url.scheme().len()..];
    let authority = after_scheme.strip_prefix("://").or_else(|| after_scheme.strip_prefix(":\\\\"));
    match authority {
        Some(rest) if !rest.starts_with(['/', '\\']) => {}
        _ => return Err(UrlError::NoAuthority),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::UserInfo);
    }
    match url.host() {
        None => return Err(UrlError::NoHost),
        Some(Host::Domain(d)) if d.trim_end_matches('.').is_empty() => return Err(UrlError::NoHost),
        Some(Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            if d.len() > 253 || d.split('.').any(|label| label.len() > 63) {
                return Err(UrlError::HostTooLong);
            }
        }
        Some(_) => {}
    }
    if url.port() == Some(0) {
        return Err(UrlError::PortZero);
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_inside_a_network_are_refused_by_name_and_by_address() {
        assert_eq!(refuse_non_public("LocalHost."), Err(UrlError::LocalHost));
        assert_eq!(refuse_non_public("admin.localhost"), Err(UrlError::LocalHost));
        assert!(matches!(refuse_non_public("169.254.169.254"), Err(UrlError::NonPublicAddress(_))));
        assert!(matches!(refuse_non_public("[::1]"), Err(UrlError::NonPublicAddress(_))));
        assert_eq!(refuse_non_public("t.me"), Ok(()));
        assert_eq!(refuse_non_public("8.8.8.8"), Ok(()));
        let said = refuse_non_public("10.0.0.5").unwrap_err().to_string();
        assert!(said.contains("10.0.0.5") && said.contains("private"), "{said}");
    }

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
            ("https:///path", UrlError::NoAuthority),
            ("https:////example.com/x", UrlError::NoAuthority),
            ("https:example.com/x", UrlError::NoAuthority),
            ("https:/example.com/x", UrlError::NoAuthority),
            ("https://example.com:0/x", UrlError::PortZero),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Err(expected), "{input:?}");
        }
        assert!(matches!(parse("example.com/no-scheme"), Err(UrlError::Unparsable(_))));
        let long_label = format!("https://{}.com/", "a".repeat(64));
        let long_host = format!("https://{}.com/", vec!["a".repeat(60); 5].join("."));
        assert_eq!(parse(&long_label), Err(UrlError::HostTooLong));
        assert_eq!(parse(&long_host), Err(UrlError::HostTooLong));
        assert!(parse(&format!("https://{}.com/", "a".repeat(63))).is_ok());
        assert!(parse("HTTPS://Example.COM/x").is_ok(), "the scheme in any case");
        assert!(matches!(parse("https://"), Err(UrlError::Unparsable(_)) | Err(UrlError::NoHost)));
        assert_eq!(parse(&format!("https://example.com/{}", "a".repeat(MAX_URL_LEN))), Err(UrlError::TooLong));
    }
}
