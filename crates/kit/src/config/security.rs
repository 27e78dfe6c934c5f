//! The security keys of a service's configuration: its certificate and key, how officers' tokens
//! are verified, the access policy, rate limits, the audit signing key and the key-encryption key.

use std::{path::PathBuf, time::Duration};

use super::{ExposeSecret, Layers, Secret};

/// How a service proves who it is and decides who its callers are.
#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// The CA, and the service's own certificate and key (its listener's and its calls' to peers).
    pub tls: TlsSource,
    /// How officers' tokens are verified.
    pub tokens: crate::token::TokenSettings,
    /// A policy file whose rules replace the defaults, method by method.
    pub policy_file: Option<PathBuf>,
    pub rate_limits: crate::auth::RateLimits,
    /// The Ed25519 key (PKCS#8 PEM) the service signs its audit checkpoints with: a file, never
    /// the database, so that whoever can change the store cannot re-sign its log.
    pub audit_key_file: PathBuf,
    /// The key-encryption key the store's data keys are wrapped with: never in the store.
    pub encryption_key: EncryptionKey,
    /// How old a rotated data key must be before new values are sealed with it: longer than any
    /// replica takes to read it (replicas read new keys at a quarter of this, at most every 30 s).
    pub key_activation: Duration,
}

/// Where a service's key-encryption key comes from.
#[derive(Debug, Clone)]
pub enum EncryptionKey {
    /// A file holding the key as base64 (`doxwatch certs init` writes `encryption/<service>.key`).
    File(PathBuf),
    /// The key itself, as base64 (`DOXWATCH_ENCRYPTION_KEY`).
    Value(Secret),
}

impl EncryptionKey {
    pub fn load(&self) -> Result<crate::sealing::Kek, crate::sealing::SealError> {
        match self {
            EncryptionKey::File(path) => crate::sealing::Kek::load(path),
            EncryptionKey::Value(text) => crate::sealing::Kek::from_base64(text.expose_secret()),
        }
    }
}

/// Where a party's TLS material comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// PEM files, read when the service is built.
    Files { ca: PathBuf, cert: PathBuf, key: PathBuf },
    /// Material already read.
    Loaded(crate::tls::TlsMaterial),
}

impl TlsSource {
    pub fn material(&self) -> Result<crate::tls::TlsMaterial, crate::tls::TlsError> {
        match self {
            TlsSource::Files { ca, cert, key } => crate::tls::TlsMaterial::load(ca, cert, key),
            TlsSource::Loaded(material) => Ok(material.clone()),
        }
    }
}

impl SecurityConfig {
    pub const KEYS: &'static [&'static str] = &[
        "tls_ca_file",
        "tls_cert_file",
        "tls_key_file",
        "token_jwks",
        "token_jwks_ca_file",
        "token_issuer",
        "token_audience",
        "token_leeway_ms",
        "policy_file",
        "rate_limit_per_second",
        "rate_limit_burst",
        "max_streams_per_identity",
        "audit_key_file",
        "encryption_key_file",
        "encryption_key",
        "key_activation_ms",
    ];

    /// The issuer and audience of the suite's own tokens (`doxwatch officer add`).
    pub const DEFAULT_ISSUER: &'static str = "doxwatch";
    pub const DEFAULT_AUDIENCE: &'static str = "doxwatch";

    /// Reads the security keys. The TLS files and the key set are required: there is no
    /// plaintext mode and no unauthenticated one.
    pub fn from_layers(layers: &mut Layers) -> Self {
        let required = |layers: &mut Layers, key: &str, what: &str| -> PathBuf {
            match layers.get_optional(key) {
                Some(p) => PathBuf::from(p),
                None => {
                    layers.problem(key, format!("required: {what}"));
                    PathBuf::new()
                }
            }
        };
        const TLS: &str = "every doxwatch listener speaks TLS with client certificates (see `doxwatch certs init`)";
        let tls = TlsSource::Files {
            ca: required(layers, "tls_ca_file", TLS),
            cert: required(layers, "tls_cert_file", TLS),
            key: required(layers, "tls_key_file", TLS),
        };
        let keys = match layers.get_optional("token_jwks") {
            Some(s) if s.starts_with("https://") => crate::token::KeySource::Url(s),
            Some(s) if s.starts_with("http://") => {
                layers.problem("token_jwks", "a key set URL must be https://".to_owned());
                crate::token::KeySource::Url(s)
            }
            Some(s) => crate::token::KeySource::File(PathBuf::from(s)),
            None => crate::token::KeySource::File(required(
                layers,
                "token_jwks",
                "the key set (a JWKS file or https:// URL) that officers' tokens are verified with",
            )),
        };
        let defaults = crate::auth::RateLimits::default();
        Self {
            tls,
            tokens: crate::token::TokenSettings {
                keys,
                jwks_ca_file: layers.get_optional("token_jwks_ca_file").map(PathBuf::from),
                issuer: layers.get("token_issuer", Self::DEFAULT_ISSUER.to_owned()),
                audience: layers.get("token_audience", Self::DEFAULT_AUDIENCE.to_owned()),
                leeway: layers.get_millis(
                    "token_leeway_ms",
                    Duration::from_secs(30),
                    Duration::ZERO,
                    Duration::from_secs(300),
                ),
            },
            policy_file: layers.get_optional("policy_file").map(PathBuf::from),
            audit_key_file: required(
                layers,
                "audit_key_file",
                "the key the service signs its audit log's checkpoints with (see `doxwatch certs init`)",
            ),
            encryption_key: match (layers.get_optional("encryption_key_file"), layers.get_optional("encryption_key")) {
                (Some(path), None) => EncryptionKey::File(PathBuf::from(path)),
                (None, Some(value)) => EncryptionKey::Value(Secret::from(value)),
                (Some(path), Some(_)) => {
                    layers.problem("encryption_key", "set encryption_key_file or encryption_key, not both".to_owned());
                    EncryptionKey::File(PathBuf::from(path))
                }
                (None, None) => EncryptionKey::File(required(
                    layers,
                    "encryption_key_file",
                    "the key (base64, 32 bytes) the store's personal data keys are wrapped with (see `doxwatch certs init`), or encryption_key",
                )),
            },
            key_activation: layers.get_millis(
                "key_activation_ms",
                Duration::from_secs(120),
                Duration::ZERO,
                Duration::from_secs(24 * 3600),
            ),
            rate_limits: crate::auth::RateLimits {
                per_second: layers.get_range("rate_limit_per_second", defaults.per_second, 1, 1_000_000),
                burst: layers.get_range("rate_limit_burst", defaults.burst, 1, 1_000_000),
                streams_per_identity: layers.get_range(
                    "max_streams_per_identity",
                    defaults.streams_per_identity,
                    1,
                    10_000,
                ),
                ..defaults
            },
        }
    }
}
