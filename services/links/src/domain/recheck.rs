//! What an automated recheck found: the answer a link's URL gave, and the rules (kept as data in
//! `data/recheck_rules.toml`, documented in `data/RECHECK_RULES.md`) that turn it into a status.

use std::collections::BTreeMap;

use super::LinkStatus;

/// The rules that ship with the service.
pub const DEFAULT_RECHECK_RULES: &str = include_str!("../../data/recheck_rules.toml");

/// How many bytes of a page the platform rules look at.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The most redirects followed.
pub const MAX_REDIRECTS: usize = 5;

/// What fetching a link's URL gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// An HTTP answer after redirects: its status, the URL that gave it, and (for 2xx) the start
    /// of its body.
    Http { status: u16, final_url: String, body: String },
    /// More than [`MAX_REDIRECTS`] redirects.
    TooManyRedirects { last_url: String },
    /// No answer in time.
    Timeout,
    /// No connection, or it broke: refused, reset, DNS, TLS.
    Network(String),
    /// Not fetched: the address is not public (and private addresses are not allowed).
    Refused(String),
}

/// What an answer means for the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A status to record, with the note that says why.
    Status(LinkStatus, String),
    /// A failure that counts towards UNREACHABLE.
    Failure(String),
    /// Nothing can be concluded.
    Inconclusive(String),
}

/// A platform's "content not available" page.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformRule {
    #[serde(default)]
    pub removed_if_any: Vec<String>,
    #[serde(default)]
    pub removed_unless_any: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRules {
    removed: Vec<u16>,
    access_restricted: Vec<u16>,
    failure: Vec<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    status: StatusRules,
    #[serde(default)]
    platform: BTreeMap<String, PlatformRule>,
}

/// The classification rules, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecheckRules {
    status: StatusRules,
    platforms: BTreeMap<String, PlatformRule>,
}

impl RecheckRules {
    /// Parses a rules file: no code in two lists, no 2xx code listed, patterns lowercased.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: RulesFile = toml::from_str(text).map_err(|e| format!("the recheck rules are not valid: {e}"))?;
        let lists = [&file.status.removed, &file.status.access_restricted, &file.status.failure];
        let mut seen = std::collections::BTreeSet::new();
        for code in lists.iter().flat_map(|l| l.iter()) {
            if !(100..=599).contains(code) || (200..300).contains(code) {
                return Err(format!("status {code} cannot be listed (only non-2xx HTTP codes)"));
            }
            if !seen.insert(*code) {
                return Err(format!("status {code} is listed twice"));
            }
        }
        let lower = |v: &Vec<String>| v.iter().map(|p| p.to_lowercase()).filter(|p| !p.is_empty()).collect();
        let platforms = file
            .platform
            .iter()
            .map(|(key, rule)| {
                (
                    key.clone(),
                    PlatformRule {
                        removed_if_any: lower(&rule.removed_if_any),
                        removed_unless_any: lower(&rule.removed_unless_any),
                    },
                )
            })
            .collect();
        Ok(Self { status: file.status, platforms })
    }

    /// Whether the platform with this registry key has a "not available" rule, so that the body
    /// of its pages is worth reading.
    pub fn reads_body(&self, platform_key: Option<&str>) -> bool {
        platform_key.is_some_and(|k| self.platforms.contains_key(k))
    }

    /// What `answer` means for a link on the platform with `platform_key`.
    pub fn classify(&self, platform_key: Option<&str>, answer: &Answer) -> Verdict {
        match answer {
            Answer::Timeout => Verdict::Failure("no answer within the timeout".to_owned()),
            Answer::Network(e) => Verdict::Failure(format!("network failure: {e}")),
            Answer::Refused(why) => Verdict::Inconclusive(format!("not fetched: {why}")),
            Answer::TooManyRedirects { last_url } => Verdict::Status(
                LinkStatus::Unreachable,
                format!("more than {MAX_REDIRECTS} redirects; last URL {last_url}"),
            ),
            Answer::Http { status, final_url, body } => {
                let note = |what: &str| format!("HTTP {status}{what}; final URL {final_url}");
                if (200..300).contains(status) {
                    let rule = platform_key.and_then(|k| self.platforms.get(k).map(|r| (k, r)));
                    return match rule {
                        Some((key, rule)) if not_available(rule, body) => Verdict::Status(
                            LinkStatus::Removed,
                            note(&format!(", {key} \"content not available\" page")),
                        ),
                        _ => Verdict::Status(LinkStatus::Online, note("")),
                    };
                }
                if self.status.removed.contains(status) {
                    Verdict::Status(LinkStatus::Removed, note(""))
                } else if self.status.access_restricted.contains(status) {
                    Verdict::Status(LinkStatus::AccessRestricted, note(""))
                } else if self.status.failure.contains(status) {
                    Verdict::Failure(note(""))
                } else {
                    Verdict::Inconclusive(note(""))
                }
            }
        }
    }
}

fn not_available(rule: &PlatformRule, body: &str) -> bool {
    let body = body.to_lowercase();
    rule.removed_if_any.iter().any(|p| body.contains(p.as_str()))
        || (!rule.removed_unless_any.is_empty() && !rule.removed_unless_any.iter().any(|p| body.contains(p.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16, body: &str) -> Answer {
        Answer::Http { status, final_url: "https://example.org/x".into(), body: body.into() }
    }

    fn status(v: Verdict) -> Option<LinkStatus> {
        match v {
            Verdict::Status(s, _) => Some(s),
            _ => None,
        }
    }

    #[test]
    fn the_default_rules_are_valid_and_classify_as_documented() {
        let rules = RecheckRules::parse(DEFAULT_RECHECK_RULES).unwrap();
        assert_eq!(status(rules.classify(None, &http(200, ""))), Some(LinkStatus::Online));
        assert_eq!(status(rules.classify(None, &http(404, ""))), Some(LinkStatus::Removed));
        assert_eq!(status(rules.classify(None, &http(410, ""))), Some(LinkStatus::Removed));
        for code in [401, 403, 451] {
            assert_eq!(status(rules.classify(None, &http(code, ""))), Some(LinkStatus::AccessRestricted));
        }
        assert!(matches!(rules.classify(None, &http(503, "")), Verdict::Failure(_)));
        assert!(matches!(rules.classify(None, &http(400, "")), Verdict::Inconclusive(_)));
        assert!(matches!(rules.classify(None, &Answer::Timeout), Verdict::Failure(_)));
        let many = Answer::TooManyRedirects { last_url: "x".into() };
        assert_eq!(status(rules.classify(None, &many)), Some(LinkStatus::Unreachable));
    }

    #[test]
    fn platform_pages_of_content_gone_are_removed() {
        let rules = RecheckRules::parse(DEFAULT_RECHECK_RULES).unwrap();
        let tg = Some("telegram");
        assert_eq!(status(rules.classify(tg, &http(200, "<div class=\"tgme_page_extra\">"))), Some(LinkStatus::Online));
        assert_eq!(status(rules.classify(tg, &http(200, "<html>bare</html>"))), Some(LinkStatus::Removed));
        let gone = "<div class=\"tgme_page_extra\">This channel can't be displayed</div>";
        assert_eq!(status(rules.classify(tg, &http(200, gone))), Some(LinkStatus::Removed));
        let fb = Some("facebook");
        assert_eq!(
            status(rules.classify(fb, &http(200, "<h2>This content isn't available right now</h2>"))),
            Some(LinkStatus::Removed)
        );
        assert_eq!(status(rules.classify(fb, &http(200, "<p>a post</p>"))), Some(LinkStatus::Online));
        assert_eq!(status(rules.classify(Some("youtube"), &http(200, "Video unavailable"))), Some(LinkStatus::Removed));
        // Rules of one platform never apply to another.
        assert_eq!(status(rules.classify(Some("lihkg"), &http(200, "Video unavailable"))), Some(LinkStatus::Online));
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(RecheckRules::parse("[status]\nremoved = [200]\naccess_restricted = []\nfailure = []").is_err());
        assert!(RecheckRules::parse("[status]\nremoved = [404]\naccess_restricted = [404]\nfailure = []").is_err());
        assert!(
            RecheckRules::parse("[status]\nremoved = []\naccess_restricted = []\nfailure = []\nextra = 1").is_err()
        );
    }
}
