//! Link-tracking's own configuration keys, read beside the kit's `ServiceConfig` from the same
//! layers (defaults < file < `DOXWATCH_*`): where evidence is kept and how large a capture may
//! be, and how the rechecker paces itself (off unless `recheck_interval_ms` is set).

use std::{path::PathBuf, time::Duration};

use doxwatch_kit::config::{ExposeSecret, Layers, ServiceConfig};

use crate::{blob::EvidenceLocation, domain::Vantage};

mod evidence;

#[derive(Debug, Clone)]
pub struct LinksConfig {
    pub evidence: EvidenceConfig,
    pub recheck: RecheckConfig,
}

#[derive(Debug, Clone)]
pub struct EvidenceConfig {
    /// Where the bytes are kept: a local directory or an S3-compatible bucket.
    pub location: EvidenceLocation,
    /// The largest capture accepted, in bytes.
    pub max_bytes: u64,
}

#[derive(Debug, Clone)]
pub struct RecheckConfig {
    /// How long after its last check a link that is not removed is due again; zero turns the
    /// background rechecker off (`RunRecheck` still runs rounds on demand).
    pub interval: Duration,
    /// How long after its last check a removed link is due again (to catch reappearance).
    pub removed_every: Duration,
    /// Links checked at once by one replica.
    pub concurrency: usize,
    /// The least time between two requests of one replica to one host.
    pub per_host_interval: Duration,
    /// The longest one check may take, redirects and body included.
    pub timeout: Duration,
    /// Where the checks are made from, as the observations record it.
    pub vantage: Vantage,
    /// Network failures in a row after which a link is recorded UNREACHABLE.
    pub failures_before_unreachable: i32,
    /// Whether links to loopback, private and link-local addresses are fetched (never in
    /// production: a link from a complaint could name the regulator's own network).
    pub allow_private_addresses: bool,
    /// Host names the rechecker reaches at a fixed address instead of through DNS (set in code
    /// only, e.g. by tests that stand a local site in for a platform's domain).
    pub resolve: Vec<(String, std::net::SocketAddr)>,
}

impl Default for RecheckConfig {
    fn default() -> Self {
        Self {
            interval: Duration::ZERO,
            removed_every: Duration::from_secs(7 * 24 * 3600),
            concurrency: 8,
            per_host_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            vantage: Vantage::Unknown,
            failures_before_unreachable: 3,
            allow_private_addresses: false,
            resolve: Vec::new(),
        }
    }
}

impl LinksConfig {
    pub const KEYS: &'static [&'static str] = &[
        "evidence_store",
        "evidence_dir",
        "evidence_s3_bucket",
        "evidence_s3_endpoint",
        "evidence_s3_region",
        "evidence_s3_prefix",
        "evidence_s3_access_key_id",
        "evidence_s3_secret_access_key",
        "evidence_s3_secret_access_key_file",
        "evidence_s3_allow_http",
        "evidence_max_bytes",
        "recheck_interval_ms",
        "recheck_removed_every_ms",
        "recheck_concurrency",
        "recheck_per_host_interval_ms",
        "recheck_timeout_ms",
        "recheck_vantage",
        "recheck_failures_before_unreachable",
        "recheck_allow_private_addresses",
    ];

    /// The defaults: evidence beside the SQLite store (`doxwatch-data/evidence` otherwise), 50 MiB
    /// per capture, rechecker off.
    pub fn defaults(service: &ServiceConfig) -> Self {
        Self::from_layers(&mut Layers::default(), service)
    }

    pub fn from_layers(layers: &mut Layers, service: &ServiceConfig) -> Self {
        let d = RecheckConfig::default();
        let day = Duration::from_secs(24 * 3600);
        let location = evidence::location(layers, || default_evidence_dir(service.database_url.expose_secret()));
        let max_bytes = evidence::max_bytes(layers, &location);
        Self {
            evidence: EvidenceConfig { location, max_bytes },
            recheck: RecheckConfig {
                interval: layers.get_millis("recheck_interval_ms", d.interval, Duration::ZERO, 365 * day),
                removed_every: layers.get_millis(
                    "recheck_removed_every_ms",
                    d.removed_every,
                    Duration::ZERO,
                    365 * day,
                ),
                concurrency: layers.get_range("recheck_concurrency", d.concurrency, 1, 256),
                per_host_interval: layers.get_millis(
                    "recheck_per_host_interval_ms",
                    d.per_host_interval,
                    Duration::ZERO,
                    Duration::from_secs(3600),
                ),
                timeout: layers.get_millis(
                    "recheck_timeout_ms",
                    d.timeout,
                    Duration::from_millis(10),
                    Duration::from_secs(600),
                ),
                vantage: layers.get_with("recheck_vantage", d.vantage, parse_vantage),
                failures_before_unreachable: layers.get_range(
                    "recheck_failures_before_unreachable",
                    d.failures_before_unreachable,
                    1,
                    100,
                ),
                allow_private_addresses: layers.get("recheck_allow_private_addresses", d.allow_private_addresses),
                resolve: Vec::new(),
            },
        }
    }
}

fn parse_vantage(s: &str) -> Result<Vantage, String> {
    match s {
        "inside-hk" => Ok(Vantage::InsideHk),
        "outside-hk" => Ok(Vantage::OutsideHk),
        "unknown" => Ok(Vantage::Unknown),
        other => Err(format!("expected inside-hk, outside-hk or unknown, found {other:?}")),
    }
}

/// `evidence/` beside a SQLite store's file; `doxwatch-data/evidence` for any other store.
fn default_evidence_dir(database_url: &str) -> PathBuf {
    let fallback = PathBuf::from("doxwatch-data").join("evidence");
    let Some(rest) = database_url.strip_prefix("sqlite:") else {
        return fallback;
    };
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return fallback;
    }
    match std::path::Path::new(path).parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("evidence"),
        _ => PathBuf::from("evidence"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_goes_beside_the_sqlite_store() {
        assert_eq!(default_evidence_dir("sqlite://doxwatch-data/links.db"), PathBuf::from("doxwatch-data/evidence"));
        assert_eq!(
            default_evidence_dir("sqlite:///var/lib/dw/links.db?mode=rwc"),
            PathBuf::from("/var/lib/dw/evidence")
        );
        assert_eq!(default_evidence_dir("sqlite:links.db"), PathBuf::from("evidence"));
        assert_eq!(default_evidence_dir("postgres://u@db/links"), PathBuf::from("doxwatch-data/evidence"));
    }

    #[test]
    fn every_bad_key_is_reported() {
        let env = [
            ("DOXWATCH_RECHECK_VANTAGE", "mars"),
            ("DOXWATCH_RECHECK_CONCURRENCY", "0"),
            ("DOXWATCH_EVIDENCE_MAX_BYTES", "12"),
            ("DOXWATCH_RECHECK_INTERVAL_MS", "60000"),
        ];
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let mut layers = Layers::load(None, env, LinksConfig::KEYS);
        let service =
            ServiceConfig::from_layers(&mut Layers::default(), "127.0.0.1:0".parse().unwrap(), "sqlite::memory:");
        let config = LinksConfig::from_layers(&mut layers, &service);
        assert_eq!(config.recheck.interval, Duration::from_secs(60));
        let text = layers.finish().unwrap_err().to_string();
        for key in ["DOXWATCH_RECHECK_VANTAGE", "DOXWATCH_RECHECK_CONCURRENCY", "DOXWATCH_EVIDENCE_MAX_BYTES"] {
            assert!(text.contains(key), "{key} missing from {text}");
        }
    }
}
