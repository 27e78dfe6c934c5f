//! Platforms, their domains, and the default registry kept as data (`data/platforms.toml`).

use time::OffsetDateTime;

use super::{PlatformId, PlatformKind};

/// Longest platform display name, in characters.
pub const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// Most domains one platform may have.
pub const MAX_DOMAINS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub id: PlatformId,
    pub display_name: String,
    pub kind: PlatformKind,
    pub domains: Vec<String>,
    pub registry_key: Option<String>,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

/// A domain as stored: lowercase ASCII (IDNA), no trailing dot, a host name of at most 253
/// characters in labels of 1 to 63 letters, digits and inner hyphens (RFC 1123), at least two of
/// them. IP addresses and wildcards are refused: a platform owns names, not addresses.
pub fn normalize_domain(input: &str) -> Result<String, String> {
    if input.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    let trimmed = input.trim().trim_end_matches('.');
    if trimmed.is_empty() {
        return Err("is required".to_owned());
    }
    if trimmed.contains(['/', ':', '@', '?', '#', ' ']) {
        return Err("must be a host name, not a URL".to_owned());
    }
    if trimmed.contains('*') {
        return Err("must be one host name, not a wildcard: a platform's domain covers its subdomains".to_owned());
    }
    let url = url::Url::parse(&format!("http://{trimmed}/")).map_err(|_| "is not a valid host name".to_owned())?;
    let domain = match url.host() {
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_owned(),
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
            return Err("must be a host name, not an IP address".to_owned());
        }
        None => return Err("is not a valid host name".to_owned()),
    };
    if domain.len() > 253 {
        return Err("must be at most 253 characters".to_owned());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("must have at least two labels, e.g. example.com".to_owned());
    }
    for label in &labels {
        let ldh = label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if label.is_empty() || label.len() > 63 || !ldh || label.starts_with('-') || label.ends_with('-') {
            return Err(format!("{label:?} is not a host name label (1 to 63 letters, digits and inner hyphens)"));
        }
    }
    if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
        return Err("must be a host name, not an IP address".to_owned());
    }
    Ok(domain)
}

/// The domains that could own `host`, most specific first: the host itself, then each parent
/// with at least two labels (`m.facebook.com`, `facebook.com`).
pub fn candidate_domains(host: &str) -> Vec<String> {
    if host.starts_with('[') || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return vec![host.to_owned()];
    }
    let labels: Vec<&str> = host.split('.').collect();
    (0..labels.len().saturating_sub(1)).map(|i| labels[i..].join(".")).collect()
}

/// A platform of the default registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryPlatform {
    pub key: String,
    pub display_name: String,
    pub kind: PlatformKind,
    pub domains: Vec<String>,
}

#[derive(serde::Deserialize)]
struct RegistryFile {
    platform: Vec<RegistryEntry>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryEntry {
    key: String,
    display_name: String,
    kind: String,
    domains: Vec<String>,
}

/// The registry that ships with the service.
pub const DEFAULT_REGISTRY: &str = include_str!("../../data/platforms.toml");

/// Parses a registry file, checking every entry: known kinds, valid domains, no domain twice.
pub fn parse_registry(text: &str) -> Result<Vec<RegistryPlatform>, String> {
    let file: RegistryFile = toml::from_str(text).map_err(|e| format!("the platform registry is not valid: {e}"))?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for entry in file.platform {
        let kind = PlatformKind::parse_label(&entry.kind)
            .ok_or_else(|| format!("platform {}: unknown kind {}", entry.key, entry.kind))?;
        let mut domains = Vec::new();
        for d in &entry.domains {
            let d = normalize_domain(d).map_err(|e| format!("platform {}: domain {d}: {e}", entry.key))?;
            if !seen.insert(d.clone()) {
                return Err(format!("platform {}: domain {d} belongs to two platforms", entry.key));
            }
            domains.push(d);
        }
        out.push(RegistryPlatform { key: entry.key, display_name: entry.display_name, kind, domains });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_registry_is_valid_and_has_the_platforms_cases_involve() {
        let registry = parse_registry(DEFAULT_REGISTRY).unwrap();
        for key in [
            "facebook",
            "instagram",
            "telegram",
            "whatsapp",
            "x",
            "youtube",
            "lihkg",
            "hkgolden",
            "reddit",
            "discord",
            "weibo",
            "wechat",
            "google-drive",
            "pastebin",
            "baidu-tieba",
            "threads",
        ] {
            assert!(registry.iter().any(|p| p.key == key), "{key} missing");
        }
        let telegram = registry.iter().find(|p| p.key == "telegram").unwrap();
        assert!(telegram.domains.contains(&"t.me".to_owned()));
        assert_eq!(telegram.kind, PlatformKind::InstantMessaging);
    }

    #[test]
    fn domains_are_normalized_and_checked() {
        assert_eq!(normalize_domain("  WWW.Example.COM. ").unwrap(), "www.example.com");
        assert_eq!(normalize_domain("例子.香港").unwrap(), "xn--fsqu00a.xn--j6w193g");
        assert!(normalize_domain("https://example.com/").is_err());
        assert!(normalize_domain("localhost").is_err());
        assert!(normalize_domain("").is_err());
        let long = format!("{}.com", vec!["a".repeat(63); 5].join("."));
        for bad in [
            long.as_str(),
            &format!("{}.com", "a".repeat(64)),
            "127.0.0.1",
            "[::1]",
            "*.example.com",
            "exa_mple.com",
            "abc.com\r\nx",
            "-abc.com",
            "abc-.com",
            "a..com",
        ] {
            assert!(normalize_domain(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(normalize_domain(&format!("{}.com", "a".repeat(63))).unwrap().len(), 67);
    }

    #[test]
    fn candidates_go_from_specific_to_general() {
        assert_eq!(candidate_domains("m.facebook.com"), vec!["m.facebook.com", "facebook.com"]);
        assert_eq!(candidate_domains("t.me"), vec!["t.me"]);
        assert_eq!(candidate_domains("127.0.0.1"), vec!["127.0.0.1"]);
    }
}
