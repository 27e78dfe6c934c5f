//! Service configuration: defaults < an optional TOML file < `DOXWATCH_*` environment variables.
//! Every key is parsed on its own, so that one run reports every invalid value at once, each with
//! the key's name. Secrets are wrapped so that they never reach a log.

use std::{
    collections::BTreeMap,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

mod outbox;
mod security;

pub use outbox::OutboxConfig;
pub use security::{EncryptionKey, SecurityConfig, TlsSource};

/// The prefix of every environment variable that configures doxwatch.
pub const ENV_PREFIX: &str = "DOXWATCH_";

/// A value that must not be printed (`Debug` redacts it) and is zeroed when dropped; read it with
/// [`ExposeSecret::expose_secret`], and never log what that gives.
pub use secrecy::{ExposeSecret, SecretString as Secret};

/// The known key most like `key`, when one is like enough to be what was meant.
fn closest_key<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), *k))
        .filter(|(likeness, _)| *likeness > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Every problem found while loading a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<ConfigProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The key, as written in the file (`database_url`) or the environment (`DOXWATCH_DATABASE_URL`).
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration:")?;
        for p in &self.problems {
            write!(f, "\n  {}: {}", p.key, p.message)?;
        }
        Ok(())
    }
}

/// Where a raw value came from, so that an error names the key the operator wrote.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Env,
}

#[derive(Debug, Clone)]
struct Raw {
    value: String,
    source: Source,
}

/// The raw layers of a configuration, before any value is parsed.
#[derive(Debug, Default)]
pub struct Layers {
    values: BTreeMap<String, Raw>,
    problems: Vec<ConfigProblem>,
    /// `DOXWATCH_*` variables that name no key of this program, with the closest known key.
    unknown_variables: Vec<(String, Option<String>)>,
}

impl Layers {
    /// Reads the optional TOML file (a flat table of keys) and then the environment, which wins.
    /// `known` lists the keys this program understands; anything else is reported.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>, known: &[&str]) -> Self {
        let mut layers = Self::default();
        if let Some(path) = file {
            layers.read_file(path, known);
        }
        for (name, value) in env {
            let Some(key) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            if known.contains(&key.as_str()) {
                layers.values.insert(key, Raw { value, source: Source::Env });
            } else {
                let closest = closest_key(&key, known).map(|k| format!("{ENV_PREFIX}{}", k.to_ascii_uppercase()));
                layers.unknown_variables.push((name, closest));
            }
        }
        layers
    }

    /// The `DOXWATCH_*` variables that configure nothing here, leaving out those in `elsewhere`
    /// (read by other parts of the program, such as the client's addresses), each with the known
    /// variable closest to it. A misspelt variable is otherwise silently ignored, while the same
    /// typo in the file is an error; the caller warns of these.
    pub fn unknown_variables(&self, elsewhere: &[&str]) -> Vec<(String, Option<String>)> {
        self.unknown_variables.iter().filter(|(name, _)| !elsewhere.contains(&name.as_str())).cloned().collect()
    }

    fn read_file(&mut self, path: &Path, known: &[&str]) {
        let key = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                self.problems.push(ConfigProblem { key, message: format!("cannot read: {e}") });
                return;
            }
        };
        let table: toml::Table = match text.parse() {
            Ok(table) => table,
            Err(e) => {
                self.problems.push(ConfigProblem { key, message: format!("not valid TOML: {e}") });
                return;
            }
        };
        for (name, value) in table {
            if !known.contains(&name.as_str()) {
                self.problems.push(ConfigProblem { key: name, message: format!("unknown key in {}", path.display()) });
                continue;
            }
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => {
                    self.problems.push(ConfigProblem {
                        key: name,
                        message: format!("expected a string, number or boolean, found {}", other.type_str()),
                    });
                    continue;
                }
            };
            self.values.insert(name, Raw { value, source: Source::File(path.to_owned()) });
        }
    }

    /// Records a problem with `key` that its own parsing cannot see (a required key not set).
    pub fn problem(&mut self, key: &str, message: String) {
        let key = match self.values.get(key) {
            Some(raw) => Self::key_name(key, raw),
            None => key.to_owned(),
        };
        self.problems.push(ConfigProblem { key, message });
    }

    /// Sets a value programmatically, as a default that the file and environment did not set.
    pub fn default_value(&mut self, key: &str, value: impl Into<String>) {
        self.values.entry(key.to_owned()).or_insert(Raw { value: value.into(), source: Source::Env });
    }

    fn key_name(key: &str, raw: &Raw) -> String {
        match &raw.source {
            Source::Env => format!("{ENV_PREFIX}{}", key.to_ascii_uppercase()),
            Source::File(path) => format!("{key} (in {})", path.display()),
        }
    }

    /// Parses `key` with `parse`, or returns `default` when it is not set. A bad value is recorded
    /// and `default` returned, so that loading goes on and reports every problem.
    pub fn get_with<T>(&mut self, key: &str, default: T, parse: impl FnOnce(&str) -> Result<T, String>) -> T {
        let Some(raw) = self.values.get(key).cloned() else {
            return default;
        };
        match parse(raw.value.trim()) {
            Ok(value) => value,
            Err(message) => {
                self.problems.push(ConfigProblem { key: Self::key_name(key, &raw), message });
                default
            }
        }
    }

    /// Parses `key` with its `FromStr`, or returns `default`.
    pub fn get<T: FromStr>(&mut self, key: &str, default: T) -> T
    where
        T::Err: fmt::Display,
    {
        self.get_with(key, default, |s| s.parse::<T>().map_err(|e| e.to_string()))
    }

    /// An optional string; empty means unset.
    pub fn get_optional(&mut self, key: &str) -> Option<String> {
        self.values.get(key).map(|raw| raw.value.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// A duration given in milliseconds, between `min` and `max`.
    pub fn get_millis(&mut self, key: &str, default: Duration, min: Duration, max: Duration) -> Duration {
        self.get_with(key, default, |s| {
            let ms: u64 = s.parse().map_err(|_| format!("expected milliseconds, found {s:?}"))?;
            let d = Duration::from_millis(ms);
            if d < min || d > max {
                return Err(format!("must be between {} and {} milliseconds", min.as_millis(), max.as_millis()));
            }
            Ok(d)
        })
    }

    /// A whole number between `min` and `max`.
    pub fn get_range<T>(&mut self, key: &str, default: T, min: T, max: T) -> T
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        self.get_with(key, default, |s| {
            let v: T = s.parse().map_err(|_| format!("expected a whole number, found {s:?}"))?;
            if v < min || v > max {
                return Err(format!("must be between {min} and {max}"));
            }
            Ok(v)
        })
    }

    /// Ends loading: every problem found, or nothing.
    pub fn finish(self) -> Result<(), ConfigError> {
        if self.problems.is_empty() { Ok(()) } else { Err(ConfigError { problems: self.problems }) }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "human" | "text" => Ok(Self::Human),
            "json" => Ok(Self::Json),
            other => Err(format!("expected \"human\" or \"json\", found {other:?}")),
        }
    }
}

/// What the telemetry set-up needs.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    pub log_format: LogFormat,
    /// A `tracing` filter directive, e.g. `info,sqlx=warn`.
    pub log_filter: String,
    /// The OTLP/gRPC endpoint traces and metrics go to; none means export is off. `https://`
    /// verifies the collector's certificate and presents the service's own; `http://` is accepted
    /// only to a loopback address (a collector beside the process).
    pub otlp_endpoint: Option<String>,
    /// The CA (PEM) the collector's certificate is verified with; the suite's CA when unset.
    pub otlp_ca_file: Option<PathBuf>,
}

impl TelemetryConfig {
    pub const KEYS: &'static [&'static str] = &["log_format", "log_filter", "otlp_endpoint", "otlp_ca_file"];

    pub fn from_layers(layers: &mut Layers) -> Self {
        let otlp_endpoint = layers.get_optional("otlp_endpoint");
        if let Some(endpoint) = &otlp_endpoint {
            let endpoint = endpoint.clone();
            layers.get_with("otlp_endpoint", (), |_| check_otlp_endpoint(&endpoint));
        }
        Self {
            log_format: layers.get("log_format", LogFormat::Human),
            log_filter: layers.get("log_filter", "info".to_owned()),
            otlp_endpoint,
            otlp_ca_file: layers.get_optional("otlp_ca_file").map(PathBuf::from),
        }
    }
}

/// Whether a URL's host (`localhost`, `127.0.0.1`, `[::1]`) is this machine: the only place a
/// plaintext `http://` endpoint is accepted.
pub fn is_loopback_host(host: &str) -> bool {
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>();
    host.eq_ignore_ascii_case("localhost") || ip.is_ok_and(|ip| ip.is_loopback())
}

/// An OTLP endpoint is an `https://` URL, or an `http://` one to a loopback address: traces name
/// methods, case and link resource names and peers, which must not cross a network in plaintext.
pub fn check_otlp_endpoint(endpoint: &str) -> Result<(), String> {
    let expected = || format!("expected an https:// URL (or http:// to a loopback address), found {endpoint:?}");
    let uri: http::Uri = endpoint.parse().map_err(|_| expected())?;
    let host = uri.host().ok_or_else(expected)?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") => {
            if is_loopback_host(host) {
                Ok(())
            } else {
                Err(format!(
                    "{endpoint:?} would send traces in plaintext across the network: use https:// (the \
                     collector's certificate is verified with otlp_ca_file, else the suite's CA), or http:// \
                     only to a loopback address"
                ))
            }
        }
        _ => Err(expected()),
    }
}

/// What every service's server needs: where to listen, its store, the limits of its stack, and
/// where its peers are.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen: SocketAddr,
    pub database_url: Secret,
    pub database_max_connections: u32,
    pub limits: ServerLimits,
    pub peers: PeerUrls,
    pub outbox: OutboxConfig,
    pub security: SecurityConfig,
    /// The office's time zone (`time_zone`): the year a reference number is counted in, the dates
    /// of letters.
    pub time_zone: jiff::tz::TimeZone,
    /// The prefix of the reference numbers the service gives (`reference_prefix`); each service
    /// has its own default.
    pub reference_prefix: Option<String>,
}

/// Where each service of the suite answers, for the services that call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerUrls {
    pub intake: String,
    pub links: String,
    pub liaison: String,
    pub referral: String,
}

impl PeerUrls {
    /// The suite on one host, each service on its default port.
    pub fn local(host: &str) -> Self {
        Self {
            intake: format!("https://{host}:50051"),
            links: format!("https://{host}:50052"),
            liaison: format!("https://{host}:50053"),
            referral: format!("https://{host}:50054"),
        }
    }

    fn from_layers(layers: &mut Layers) -> Self {
        let defaults = Self::local("127.0.0.1");
        let mut url = |key: &str, default: String| {
            layers.get_with(key, default, |s| {
                if s.starts_with("https://") && s.len() > 8 {
                    Ok(s.trim_end_matches('/').to_owned())
                } else {
                    Err(format!("expected an https:// URL (every doxwatch service speaks TLS only), found {s:?}"))
                }
            })
        };
        Self {
            intake: url("intake_url", defaults.intake),
            links: url("links_url", defaults.links),
            liaison: url("liaison_url", defaults.liaison),
            referral: url("referral_url", defaults.referral),
        }
    }
}

/// The bounds every server enforces.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// The longest a request may run; a client's shorter deadline wins.
    pub request_timeout: Duration,
    /// The longest a streaming upload (an import, an evidence capture) may run.
    pub stream_timeout: Duration,
    /// Requests in flight at once; more are refused with RESOURCE_EXHAUSTED, not queued.
    pub concurrency_limit: usize,
    /// The largest message decoded or encoded, in bytes.
    pub max_message_bytes: usize,
    /// How long in-flight requests may take to finish after a shutdown signal; then whatever is
    /// still running is abandoned and the process exits.
    pub shutdown_grace: Duration,
    /// How long the store may take to answer the health probe (on SQLite: to yield its write
    /// lock) before the service reports NOT_SERVING.
    pub store_probe_timeout: Duration,
    /// How long the first answer to a `request_id` is kept for a retry; then it is deleted, with
    /// the personal data it may hold.
    pub request_id_retention: Duration,
    /// The earliest business time (when something happened, as opposed to when it was recorded)
    /// a request may give.
    pub earliest_business_time: time::OffsetDateTime,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            stream_timeout: Duration::from_secs(3600),
            concurrency_limit: 256,
            max_message_bytes: 4 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(20),
            store_probe_timeout: Duration::from_secs(5),
            request_id_retention: Duration::from_secs(7 * 24 * 3600),
            earliest_business_time: crate::timestamp::DEFAULT_EARLIEST_BUSINESS_TIME,
        }
    }
}

impl ServiceConfig {
    pub const KEYS: &'static [&'static str] = &[
        "listen",
        "database_url",
        "database_max_connections",
        "request_timeout_ms",
        "stream_timeout_ms",
        "concurrency_limit",
        "max_message_bytes",
        "shutdown_grace_ms",
        "store_probe_timeout_ms",
        "request_id_retention_hours",
        "earliest_business_time",
        "intake_url",
        "links_url",
        "liaison_url",
        "referral_url",
        "outbox_poll_ms",
        "outbox_max_backoff_ms",
        "outbox_lease_ms",
        "outbox_in_flight",
        "time_zone",
        "reference_prefix",
    ];

    /// Reads the service's keys; `default_listen` and `default_database_url` are the service's own.
    pub fn from_layers(layers: &mut Layers, default_listen: SocketAddr, default_database_url: &str) -> Self {
        let defaults = ServerLimits::default();
        let database_url = layers.get_with("database_url", default_database_url.to_owned(), |s| {
            if s.starts_with("postgres://") || s.starts_with("postgresql://") || s.starts_with("sqlite:") {
                Ok(s.to_owned())
            } else {
                // The value may hold a password: do not echo it.
                Err("expected a postgres:// or sqlite: URL".to_owned())
            }
        });
        Self {
            listen: layers.get_with("listen", default_listen, |s| {
                s.parse().map_err(|_| {
                    format!(
                        "expected an IP address and a port, such as 127.0.0.1:{0} or 0.0.0.0:{0}",
                        default_listen.port()
                    )
                })
            }),
            database_url: Secret::from(database_url),
            database_max_connections: layers.get_range("database_max_connections", 10u32, 1, 1000),
            limits: ServerLimits {
                request_timeout: layers.get_millis(
                    "request_timeout_ms",
                    defaults.request_timeout,
                    Duration::from_millis(10),
                    Duration::from_secs(3600),
                ),
                stream_timeout: layers.get_millis(
                    "stream_timeout_ms",
                    defaults.stream_timeout,
                    Duration::from_millis(10),
                    Duration::from_secs(24 * 3600),
                ),
                concurrency_limit: layers.get_range("concurrency_limit", defaults.concurrency_limit, 1, 100_000),
                max_message_bytes: layers.get_range(
                    "max_message_bytes",
                    defaults.max_message_bytes,
                    1024,
                    256 * 1024 * 1024,
                ),
                shutdown_grace: layers.get_millis(
                    "shutdown_grace_ms",
                    defaults.shutdown_grace,
                    Duration::ZERO,
                    Duration::from_secs(600),
                ),
                store_probe_timeout: layers.get_millis(
                    "store_probe_timeout_ms",
                    defaults.store_probe_timeout,
                    Duration::from_millis(10),
                    Duration::from_secs(600),
                ),
                request_id_retention: Duration::from_secs(
                    3600 * u64::from(layers.get_range("request_id_retention_hours", 168u32, 1, 24 * 366)),
                ),
                earliest_business_time: layers.get_with(
                    "earliest_business_time",
                    crate::timestamp::DEFAULT_EARLIEST_BUSINESS_TIME,
                    |s| {
                        time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
                            .map_err(|_| format!("expected an RFC 3339 time, e.g. 2000-01-01T00:00:00Z, found {s:?}"))
                    },
                ),
            },
            peers: PeerUrls::from_layers(layers),
            outbox: OutboxConfig::from_layers(layers),
            security: SecurityConfig::from_layers(layers),
            time_zone: crate::reference::zone_from_layers(layers),
            reference_prefix: layers
                .get_with("reference_prefix", None, |s| crate::reference::check_prefix(s).map(Some)),
        }
    }
}

#[cfg(test)]
mod tests;
