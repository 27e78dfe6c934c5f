//! Canonicalization: turning the many spellings of one link into one string, so that the same
//! post reported twice (from a phone, from a share button, with tracking junk) is one link.
//!
//! The pipeline is: validate with [`crate::parse`] (WHATWG parsing, which already lowercases
//! the host, applies IDNA, normalises numeric IPv4 forms, drops default ports and resolves dot
//! segments); then apply the generic steps below; then, if the host belongs to a known
//! platform, that platform's data-driven rule from `rules.toml` (see `RULES.md`).

use url::{Host, Url};

use crate::UrlError;
use crate::percent::normalize_percent;
use crate::rules::{Platform, QueryPair, RULES, RuleSet};

/// A link in canonical form, with what its URL scheme tells about where it was posted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Canonical {
    /// The canonical URL. Two inputs that name the same resource (as far as the rules know)
    /// have equal `url`s.
    pub url: String,
    /// The canonical host: lowercase ASCII (IDNA applied), no trailing dot; IPv6 in brackets.
    pub host: String,
    /// The registrable domain (eTLD+1) of `host` under the Public Suffix List, private
    /// suffixes included (`a.blogspot.com`, `b.github.io` are sites of their own); `None` for
    /// IP addresses, single-label hosts, hosts with empty labels and hosts that are themselves
    /// public suffixes. An unlisted TLD counts as a suffix (the list's default `*` rule), so
    /// `foo.unlisted` is its own registrable domain.
    pub registrable_domain: Option<String>,
    /// The stable key of the platform whose hosts matched ("telegram", "facebook", "x",
    /// "youtube", "instagram", "reddit", "lihkg", "hkgolden", "spotify").
    pub platform_key: Option<&'static str>,
    /// The name of the rule that produced `url` (e.g. `"telegram-post"`), or `"<key>-host"`
    /// when a platform host matched but none of its path rules did (only the host was
    /// rewritten).
    pub platform_rule: Option<&'static str>,
    /// Where the item was posted, as far as the URL says: Telegram channel (lowercase) or
    /// private channel id, Facebook group or page, X user (lowercase), subreddit (lowercase),
    /// LIHKG or HKGolden thread id, YouTube handle or channel id, Instagram user.
    pub channel: Option<String>,
    /// The canonical URL of `channel` itself (`https://t.me/<channel>`,
    /// `https://www.facebook.com/groups/<id>`, `https://www.reddit.com/r/<sub>`, a LIHKG
    /// thread's first page, ...); `None` where the platform has no such page for it (a
    /// Telegram private channel's internal id) or there is no channel.
    pub channel_url: Option<String>,
    /// The item itself: Telegram post number, Facebook post id, tweet id, YouTube video id,
    /// Instagram shortcode, Reddit post id. A comment link keeps its post's id here (the
    /// comment stays in `url`), so grouping by (platform, message) gathers a post's comments.
    pub message_id: Option<String>,
}

/// Canonicalizes `input` (an absolute http(s) URL that [`crate::parse`] accepts).
///
/// ```
/// let reported = "https://m.facebook.com/groups/123/permalink/456/?mibextid=x";
/// let c = doxwatch_urls::canonicalize(reported)?;
/// assert_eq!(c.url, "https://www.facebook.com/groups/123/posts/456");
/// assert_eq!((c.platform_key, c.channel.as_deref(), c.message_id.as_deref()),
///            (Some("facebook"), Some("123"), Some("456")));
/// # Ok::<(), doxwatch_urls::UrlError>(())
/// ```
///
/// Every input `parse` accepts is canonicalized, so intake never accepts a URL link-tracking
/// would refuse. Canonicalization is idempotent: canonicalizing `url` again returns it
/// unchanged (as long as that `url` still fits [`crate::MAX_URL_LEN`]; percent-encoding of
/// non-ASCII input can make the canonical form longer than its input).
///
/// Generic steps, applied to every URL:
/// - no fragment; no trailing dot(s) on the host;
/// - percent-escapes of unreserved characters (`A-Za-z0-9-._~`) decoded, the hex digits of the
///   remaining escapes uppercased, in path and query;
/// - tracking query parameters (`utm_*`, `fbclid`, `gclid`, ... see `rules.toml`) removed;
///   remaining pairs sorted by key (stably, so repeated keys keep their order); empty pairs and
///   an empty query removed;
/// - one trailing slash on a path other than `/` removed (`/a/b/` → `/a/b`); a path ending in
///   `//` is left as it is, since an empty segment can be meaningful to a server.
///
/// Hosts are otherwise taken as they are: `www.example.com` and `example.com`, or `http` and
/// `https`, are different sites unless a platform rule says otherwise. Platform rules apply
/// only when the URL has no explicit (non-default) port, and always produce `https` URLs.
pub fn canonicalize(input: &str) -> Result<Canonical, UrlError> {
    let mut url = crate::parse(input)?;
    let rules: &'static RuleSet = &RULES;

    url.set_fragment(None);
    // `example.com.` and `example.com` are the same name in DNS; WHATWG keeps the dot.
    if let Some(Host::Domain(domain)) = url.host()
        && domain.ends_with('.')
    {
        let trimmed = domain.trim_end_matches('.').to_owned();
        url.set_host(Some(&trimmed)).map_err(|e| UrlError::Unparsable(e.to_string()))?;
    }
    let path = normalize_path(url.path());
    let query: Vec<QueryPair> = parse_query(url.query()).into_iter().filter(|p| !rules.is_tracking(&p.key)).collect();

    let platform = match (url.host_str(), url.port()) {
        (Some(host), None) => rules.platform_for(host),
        _ => None,
    };
    let mut out = Canonical::default();
    let url = match platform {
        Some(platform) => apply_platform(platform, &path, query, &mut out)?,
        None => {
            url.set_path(&path);
            set_query(&mut url, query);
            url
        }
    };
    out.host = url.host_str().unwrap_or_default().to_owned();
    out.registrable_domain = match url.host() {
        // WHATWG lets empty labels through (`a..b`), where the list lookup would answer `.b`.
        Some(Host::Domain(domain)) if domain.split('.').all(|label| !label.is_empty()) => {
            psl::domain_str(domain).map(str::to_owned)
        }
        _ => None,
    };
    out.url = url.into();
    Ok(out)
}

/// Applies the first matching rule of `platform` (or its host-only fallback), filling in the
/// platform fields of `out`, and returns the canonical URL.
fn apply_platform(
    platform: &'static Platform,
    path: &str,
    query: Vec<QueryPair>,
    out: &mut Canonical,
) -> Result<Url, UrlError> {
    let query: Vec<QueryPair> = query.into_iter().filter(|p| !platform.drop_params.contains(&p.key)).collect();
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    out.platform_key = Some(platform.key.as_str());

    let Some(m) = platform.find_rule(&segments, &query) else {
        out.platform_rule = Some(platform.fallback_rule.as_str());
        let mut url = Url::parse(&format!("https://{}", platform.canonical_host))
            .map_err(|e| UrlError::Unparsable(e.to_string()))?;
        url.set_path(path);
        set_query(&mut url, keep(query, platform.fallback_keep_params.as_deref()));
        return Ok(url);
    };

    out.platform_rule = Some(m.rule.name.as_str());
    out.channel = m.get("channel").map(str::to_owned);
    out.channel_url = out.channel.as_ref().and_then(|_| m.channel_url());
    out.message_id = m.get("message").map(str::to_owned);
    // Captures hold only unreserved characters (rules.rs checks the classes), so the rendered
    // template is already in canonical percent-encoding.
    let mut url = Url::parse(&m.render()).map_err(|e| UrlError::Unparsable(e.to_string()))?;
    let mut pairs = parse_query(url.query());
    let rest = query.into_iter().filter(|p| !m.consumed_params.contains(&p.key.as_str()));
    pairs.extend(keep(rest.collect(), m.rule.keep_params.as_deref()));
    set_query(&mut url, pairs);
    Ok(url)
}

/// Keeps only the pairs whose key is in `allowed`; `None` keeps all.
fn keep(pairs: Vec<QueryPair>, allowed: Option<&[String]>) -> Vec<QueryPair> {
    match allowed {
        None => pairs,
        Some(allowed) => pairs.into_iter().filter(|p| allowed.contains(&p.key)).collect(),
    }
}

/// Normalises percent-encoding and drops one trailing slash from a non-root path.
fn normalize_path(path: &str) -> String {
    let mut path = normalize_percent(path);
    if path.len() > 1 && path.ends_with('/') && !path.ends_with("//") {
        path.pop();
    }
    path
}

/// Splits a query into pairs with normalised percent-encoding, dropping empty pairs (`a&&b`).
fn parse_query(query: Option<&str>) -> Vec<QueryPair> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let pair = normalize_percent(pair);
            match pair.split_once('=') {
                Some((key, value)) => QueryPair { key: key.to_owned(), value: Some(value.to_owned()) },
                None => QueryPair { key: pair, value: None },
            }
        })
        .collect()
}

/// Writes the pairs back sorted by key; no pairs means no `?` at all.
fn set_query(url: &mut Url, mut pairs: Vec<QueryPair>) {
    // A stable sort: repeated keys (`a=2&a=1`) keep their order, which servers may rely on.
    pairs.sort_by(|a, b| a.key.cmp(&b.key));
    if pairs.is_empty() {
        url.set_query(None);
        return;
    }
    let text = pairs
        .iter()
        .map(|p| match &p.value {
            Some(value) => format!("{}={value}", p.key),
            None => p.key.clone(),
        })
        .collect::<Vec<_>>()
        .join("&");
    url.set_query(Some(&text));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_split_normalised_and_sorted() {
        let pairs = parse_query(Some("b=%7e&&a&c=%2f"));
        assert_eq!(pairs.len(), 3);
        let mut url = Url::parse("https://example.com/").expect("valid");
        set_query(&mut url, pairs);
        assert_eq!(url.as_str(), "https://example.com/?a&b=~&c=%2F");
        set_query(&mut url, Vec::new());
        assert_eq!(url.as_str(), "https://example.com/");
    }

    #[test]
    fn only_a_lone_trailing_slash_goes() {
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/a/"), "/a");
        assert_eq!(normalize_path("/a//"), "/a//");
        assert_eq!(normalize_path("/a/b"), "/a/b");
    }
}
