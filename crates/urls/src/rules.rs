//! The per-platform canonicalization rules: `rules.toml` (compiled into the crate) parsed once
//! into a static, checked, and matched against URLs that the generic steps have already
//! normalised.
//!
//! The rules are data rather than code so that a reviewer can read, and `RULES.md` can document,
//! every platform-specific decision in one place, and so that adding a host or a URL shape is a
//! change to a table rather than to control flow.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

/// The rule table as written in `rules.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleSet {
    tracking: RawTracking,
    #[serde(rename = "platform")]
    platforms: Vec<RawPlatform>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTracking {
    params: Vec<String>,
    prefixes: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    key: String,
    hosts: Vec<String>,
    canonical_host: String,
    #[serde(default)]
    drop_params: Vec<String>,
    fallback_keep_params: Option<Vec<String>>,
    #[serde(default)]
    reserved_channels: Vec<String>,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    paths: Vec<String>,
    #[serde(default)]
    query: BTreeMap<String, String>,
    canonical: String,
    channel_url: Option<String>,
    #[serde(default)]
    lowercase: Vec<String>,
    keep_params: Option<Vec<String>>,
}

/// The rule table, parsed and checked.
#[derive(Debug)]
pub(crate) struct RuleSet {
    /// Query keys removed everywhere, compared ASCII-case-insensitively (stored lowercase).
    tracking_params: Vec<String>,
    /// Query key prefixes removed everywhere (stored lowercase), e.g. `utm_`.
    tracking_prefixes: Vec<String>,
    pub(crate) platforms: Vec<Platform>,
    /// Host → index into `platforms`.
    by_host: HashMap<String, usize>,
}

/// One group of hosts that share a canonical host and a list of path rules.
#[derive(Debug)]
pub(crate) struct Platform {
    pub(crate) key: String,
    pub(crate) canonical_host: String,
    /// The name reported when a host of this platform matched but none of its path rules did.
    pub(crate) fallback_rule: String,
    pub(crate) drop_params: Vec<String>,
    pub(crate) fallback_keep_params: Option<Vec<String>>,
    reserved_channels: Vec<String>,
    pub(crate) rules: Vec<Rule>,
}

/// One URL shape of a platform and the canonical URL it maps to.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: String,
    paths: Vec<Vec<Pattern>>,
    query: Vec<(String, Pattern)>,
    canonical: String,
    channel_url: Option<String>,
    lowercase: Vec<String>,
    pub(crate) keep_params: Option<Vec<String>>,
}

/// What a placeholder accepts. Every class except `Any` is limited to unreserved URL characters,
/// so a captured value can be substituted into a canonical URL template without escaping and
/// cannot smuggle in a `/`, `?` or `#`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// `[0-9]+`
    Digits,
    /// `[A-Za-z0-9_]+`
    Word,
    /// `[A-Za-z0-9_.-]+`
    Token,
    /// Any non-empty segment; only for parts that are matched and thrown away (slugs).
    Any,
}

impl Class {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "digits" => Self::Digits,
            "word" => Self::Word,
            "token" => Self::Token,
            "any" => Self::Any,
            _ => return None,
        })
    }

    fn accepts(self, value: &str) -> bool {
        !value.is_empty()
            && match self {
                Self::Digits => value.bytes().all(|b| b.is_ascii_digit()),
                Self::Word => value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                Self::Token => value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')),
                Self::Any => true,
            }
    }
}

/// One path segment or query value pattern: a literal, or a placeholder optionally preceded by a
/// literal prefix (`@{channel}` for YouTube handles).
#[derive(Debug)]
enum Pattern {
    /// Stored lowercase; compared ASCII-case-insensitively because the platforms' own routers
    /// treat `/Groups/` like `/groups/`, and the canonical form comes from the template anyway.
    Literal(String),
    Capture {
        prefix: String,
        name: String,
        class: Class,
    },
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        let Some(open) = text.find('{') else {
            return Ok(Self::Literal(text.to_ascii_lowercase()));
        };
        let inner = text[open + 1..]
            .strip_suffix('}')
            .ok_or_else(|| format!("placeholder in {text:?} must end the segment"))?;
        let (name, class) = match inner.split_once(':') {
            Some((name, class)) => (name, Class::from_name(class).ok_or_else(|| format!("unknown class in {text:?}"))?),
            None => (inner, Class::Token),
        };
        if name.is_empty() || !Class::Word.accepts(name) {
            return Err(format!("bad placeholder name in {text:?}"));
        }
        Ok(Self::Capture { prefix: text[..open].to_ascii_lowercase(), name: name.to_owned(), class })
    }

    /// Matches `value`, pushing any capture onto `captures`.
    fn matches(&self, value: &str, captures: &mut Vec<(String, String)>) -> bool {
        match self {
            Self::Literal(lit) => value.eq_ignore_ascii_case(lit),
            Self::Capture { prefix, name, class } => {
                let Some(head) = value.get(..prefix.len()) else {
                    return false;
                };
                if !head.eq_ignore_ascii_case(prefix) {
                    return false;
                }
                let rest = &value[prefix.len()..];
                if !class.accepts(rest) {
                    return false;
                }
                captures.push((name.clone(), rest.to_owned()));
                true
            }
        }
    }

    fn capture(&self) -> Option<(&str, Class)> {
        match self {
            Self::Literal(_) => None,
            Self::Capture { name, class, .. } => Some((name, *class)),
        }
    }
}

/// A query pair as the canonicalizer holds it, percent-normalised but not decoded (decoding
/// `%26` would split a value). `value` is `None` for a bare key (`?single`), which is written
/// back without `=`: `?a` and `?a=` are kept apart, as servers may tell them apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryPair {
    pub(crate) key: String,
    pub(crate) value: Option<String>,
}

/// A successful rule match: the captured values (after lowercasing) and the query keys the rule
/// consumed.
#[derive(Debug)]
pub(crate) struct RuleMatch<'r> {
    pub(crate) rule: &'r Rule,
    pub(crate) captures: Vec<(String, String)>,
    pub(crate) consumed_params: Vec<&'r str>,
}

impl RuleMatch<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.captures.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The canonical URL template with every placeholder filled in (`compile_rule` checked
    /// that every path of the rule captures what the template needs).
    pub(crate) fn render(&self) -> String {
        fill(&self.rule.canonical, &self.captures)
    }

    /// The URL of the channel itself, when the rule has one and this match captured what it
    /// needs (Instagram's `/p/<code>` names no user, `/<user>/p/<code>` does).
    pub(crate) fn channel_url(&self) -> Option<String> {
        let url = fill(self.rule.channel_url.as_deref()?, &self.captures);
        (!url.contains('{')).then_some(url)
    }
}

/// Replaces each `{name}` in `template` by its captured value. Values hold no braces (see
/// `Class`), so a value can never be mistaken for a placeholder.
fn fill<S: AsRef<str>>(template: &str, captures: &[(S, S)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in captures {
        out = out.replace(&format!("{{{}}}", name.as_ref()), value.as_ref());
    }
    out
}

impl RuleSet {
    /// Whether a query key is a tracking parameter removed from every URL.
    pub(crate) fn is_tracking(&self, key: &str) -> bool {
        let key = key.to_ascii_lowercase();
        self.tracking_params.contains(&key) || self.tracking_prefixes.iter().any(|p| key.starts_with(p.as_str()))
    }

    pub(crate) fn platform_for(&self, host: &str) -> Option<&Platform> {
        self.by_host.get(host).map(|&i| &self.platforms[i])
    }
}

impl Platform {
    /// The first rule (in file order) matching the path segments and query.
    pub(crate) fn find_rule(&self, segments: &[&str], query: &[QueryPair]) -> Option<RuleMatch<'_>> {
        self.rules.iter().find_map(|rule| {
            let m = rule.matches(segments, query)?;
            match m.get("channel") {
                Some(channel) if self.reserved_channels.iter().any(|r| r.eq_ignore_ascii_case(channel)) => None,
                _ => Some(m),
            }
        })
    }
}

impl Rule {
    fn matches(&self, segments: &[&str], query: &[QueryPair]) -> Option<RuleMatch<'_>> {
        let mut captures = Vec::new();
        let path_ok = self.paths.iter().any(|pattern| {
            captures.clear();
            pattern.len() == segments.len() && pattern.iter().zip(segments).all(|(p, s)| p.matches(s, &mut captures))
        });
        if !path_ok {
            return None;
        }
        let mut consumed_params = Vec::with_capacity(self.query.len());
        for (key, pattern) in &self.query {
            // The first occurrence wins, as it does for most web frameworks' single-value lookup.
            let pair = query.iter().find(|p| &p.key == key)?;
            if !pattern.matches(pair.value.as_deref().unwrap_or(""), &mut captures) {
                return None;
            }
            consumed_params.push(key.as_str());
        }
        for (name, value) in &mut captures {
            if self.lowercase.contains(name) {
                value.make_ascii_lowercase();
            }
        }
        Some(RuleMatch { rule: self, captures, consumed_params })
    }
}

/// The rule table, parsed and checked on first use. The table is compiled into the crate and
/// covered by tests, so a failure here is a build defect, not bad input: panicking is right.
pub(crate) static RULES: LazyLock<RuleSet> =
    LazyLock::new(|| load(include_str!("rules.toml")).unwrap_or_else(|e| panic!("crates/urls/src/rules.toml: {e}")));

fn load(text: &str) -> Result<RuleSet, String> {
    let raw: RawRuleSet = toml::from_str(text).map_err(|e| e.to_string())?;
    let lower = |v: Vec<String>| v.into_iter().map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>();
    let mut by_host = HashMap::new();
    let mut platforms = Vec::with_capacity(raw.platforms.len());
    for (index, p) in raw.platforms.into_iter().enumerate() {
        for host in &p.hosts {
            if host != &host.to_ascii_lowercase() || host.ends_with('.') {
                return Err(format!("host {host:?} must be lowercase without a trailing dot"));
            }
            if by_host.insert(host.clone(), index).is_some() {
                return Err(format!("host {host:?} belongs to two platforms"));
            }
        }
        // The host-only fallback builds `https://<canonical_host>`; check it once here so that
        // it cannot fail on input.
        let parsed = url::Url::parse(&format!("https://{}/", p.canonical_host));
        if parsed.ok().and_then(|u| u.host_str().map(str::to_owned)).as_ref() != Some(&p.canonical_host) {
            return Err(format!("canonical_host {:?} is not a canonical host", p.canonical_host));
        }
        let rules = p.rules.into_iter().map(compile_rule).collect::<Result<Vec<_>, _>>()?;
        platforms.push(Platform {
            fallback_rule: format!("{}-host", p.key),
            key: p.key,
            canonical_host: p.canonical_host,
            drop_params: p.drop_params,
            fallback_keep_params: p.fallback_keep_params,
            reserved_channels: p.reserved_channels,
            rules,
        });
    }
    Ok(RuleSet {
        tracking_params: lower(raw.tracking.params),
        tracking_prefixes: lower(raw.tracking.prefixes),
        platforms,
        by_host,
    })
}

fn compile_rule(raw: RawRule) -> Result<Rule, String> {
    let context = |e: String| format!("rule {}: {e}", raw.name);
    let paths = raw
        .paths
        .iter()
        .map(|path| {
            let segments = path.strip_prefix('/').ok_or_else(|| format!("path {path:?} must start with '/'"))?;
            segments.split('/').map(Pattern::parse).collect::<Result<Vec<_>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(context)?;
    let query = raw
        .query
        .iter()
        .map(|(k, v)| Ok((k.clone(), Pattern::parse(v)?)))
        .collect::<Result<Vec<_>, String>>()
        .map_err(context)?;
    if paths.is_empty() {
        return Err(context("has no paths".into()));
    }
    // Every alternative path must capture the same names the template uses, so that whichever
    // one matched, rendering leaves no placeholder behind; `any` captures are never rendered.
    let query_captures: Vec<_> = query.iter().filter_map(|(_, p)| p.capture()).collect();
    for name in &raw.lowercase {
        let captured = |(n, _): &(&str, Class)| n == name;
        if !paths.iter().flatten().filter_map(Pattern::capture).any(|c| captured(&c))
            && !query_captures.iter().any(captured)
        {
            return Err(context(format!("lowercase names {name:?}, which no pattern captures")));
        }
    }
    for path in &paths {
        let captures: Vec<_> = path.iter().filter_map(Pattern::capture).chain(query_captures.iter().copied()).collect();
        let templates = [Some(&raw.canonical), raw.channel_url.as_ref()];
        for template in templates.into_iter().flatten() {
            if captures.iter().any(|(name, class)| *class == Class::Any && template.contains(&format!("{{{name}}}"))) {
                return Err(context(format!("{template:?} renders an `any` capture")));
            }
        }
        let dummies: Vec<(&str, &str)> = captures.iter().map(|(name, _)| (*name, "x")).collect();
        let rendered = fill(&raw.canonical, &dummies);
        if rendered.contains('{') || url::Url::parse(&rendered).is_err() {
            return Err(context(format!("template {:?} does not fit its paths", raw.canonical)));
        }
        // The channel URL may need captures that only some paths make (it is then absent for
        // the others), but whenever a path captures the channel it must render completely.
        if let Some(template) = &raw.channel_url {
            let rendered = fill(template, &dummies);
            let has_channel = captures.iter().any(|(name, _)| *name == "channel");
            if (has_channel && rendered.contains('{')) || url::Url::parse(&rendered).is_err() {
                return Err(context(format!("channel_url {template:?} does not fit its paths")));
            }
        }
    }
    Ok(Rule {
        name: raw.name,
        paths,
        query,
        canonical: raw.canonical,
        channel_url: raw.channel_url,
        lowercase: raw.lowercase,
        keep_params: raw.keep_params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_rules_load() {
        let rules = &*RULES;
        assert!(rules.platforms.len() >= 8);
        let mut names = std::collections::HashSet::new();
        for p in &rules.platforms {
            for r in &p.rules {
                assert!(names.insert(r.name.as_str()), "duplicate rule name {}", r.name);
                assert!(r.name.starts_with(&p.key), "{} should start with {}", r.name, p.key);
            }
        }
        assert!(rules.is_tracking("UTM_Source"));
        assert!(rules.is_tracking("fbclid"));
        assert!(!rules.is_tracking("s"), "s is only an X share parameter");
    }

    #[test]
    fn rules_md_documents_every_rule() {
        let doc = include_str!("../RULES.md");
        for p in &RULES.platforms {
            for name in p.rules.iter().map(|r| &r.name).chain([&p.fallback_rule]) {
                assert!(doc.contains(&format!("`{name}`")), "RULES.md does not mention {name}");
            }
        }
    }

    #[test]
    fn bad_tables_are_refused() {
        let head = "[tracking]\nparams = []\nprefixes = []\n[[platform]]\nkey = \"k\"\n\
                    hosts = [\"a.example\"]\ncanonical_host = \"a.example\"\n[[platform.rule]]\n";
        for (rule, why) in [
            ("name = \"k\"\npaths = [\"/{a}\"]\ncanonical = \"https://a.example/{b}\"", "unfilled"),
            ("name = \"k\"\npaths = [\"/{a:any}\"]\ncanonical = \"https://a.example/{a}\"", "any"),
            ("name = \"k\"\npaths = [\"/{a:nope}\"]\ncanonical = \"https://a.example/\"", "class"),
            ("name = \"k\"\npaths = [\"x\"]\ncanonical = \"https://a.example/\"", "slash"),
            ("name = \"k\"\npaths = [\"/{a}x\"]\ncanonical = \"https://a.example/\"", "suffix"),
            (
                "name = \"k\"\npaths = [\"/{a}\"]\ncanonical = \"https://a.example/\"\n\
                 lowercase = [\"b\"]",
                "lowercase",
            ),
        ] {
            assert!(load(&format!("{head}{rule}")).is_err(), "{why}");
        }
        let twice = "[tracking]\nparams = []\nprefixes = []\n[[platform]]\nkey = \"k\"\n\
                     hosts = [\"a.example\"]\ncanonical_host = \"a.example\"\n[[platform]]\n\
                     key = \"j\"\nhosts = [\"a.example\"]\ncanonical_host = \"a.example\"\n";
        assert!(load(twice).is_err());
    }

    #[test]
    fn patterns_capture_with_prefixes_and_classes() {
        let p = Pattern::parse("@{channel:token}").expect("valid");
        let mut caps = Vec::new();
        assert!(p.matches("@Some.One", &mut caps));
        assert_eq!(caps, [("channel".to_owned(), "Some.One".to_owned())]);
        assert!(!p.matches("Some.One", &mut caps));
        assert!(!p.matches("@", &mut caps));
        assert!(!p.matches("@a%2Fb", &mut caps));
        let d = Pattern::parse("{id:digits}").expect("valid");
        assert!(!d.matches("12a", &mut caps));
        assert!(Pattern::parse("Posts").expect("valid").matches("posts", &mut caps));
    }
}
