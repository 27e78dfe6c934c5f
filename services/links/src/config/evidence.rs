//! The evidence store's keys: `evidence_store` chooses a local directory (`evidence_dir`) or an
//! S3-compatible bucket (`evidence_s3_*`); keys of the store not chosen are refused rather than
//! silently ignored, and the secret access key is never echoed.

use std::path::PathBuf;

use doxwatch_kit::config::{Layers, Secret};

use super::LinksConfig;
use crate::{
    blob::{EvidenceLocation, S3Settings},
    domain::DEFAULT_MAX_EVIDENCE_BYTES,
};

/// The largest object S3 copies in one request (a blob is copied under its digest once complete).
const S3_LARGEST_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// Where evidence is kept; `default_dir` is the local directory when none is set.
pub(super) fn location(layers: &mut Layers, default_dir: impl FnOnce() -> PathBuf) -> EvidenceLocation {
    let s3 = layers.get_with("evidence_store", false, |s| match s {
        "local" => Ok(false),
        "s3" => Ok(true),
        other => Err(format!("expected local or s3, found {other:?}")),
    });
    if !s3 {
        // The S3 store's keys, as link-tracking lists them.
        for key in LinksConfig::KEYS.iter().filter(|k| k.starts_with("evidence_s3_")) {
            if layers.get_optional(key).is_some() {
                layers.problem(key, "only read with evidence_store = s3".to_owned());
            }
        }
        return EvidenceLocation::Local(
            layers.get_optional("evidence_dir").map(PathBuf::from).unwrap_or_else(default_dir),
        );
    }
    if layers.get_optional("evidence_dir").is_some() {
        layers.problem("evidence_dir", "only read with evidence_store = local".to_owned());
    }
    let bucket = match layers.get_optional("evidence_s3_bucket") {
        Some(bucket) => {
            layers.get_with("evidence_s3_bucket", bucket.clone(), |_| check_bucket(&bucket).map(|()| bucket.clone()))
        }
        None => {
            layers.problem("evidence_s3_bucket", "required with evidence_store = s3".to_owned());
            String::new()
        }
    };
    let allow_http = layers.get("evidence_s3_allow_http", false);
    let endpoint = layers.get_optional("evidence_s3_endpoint").map(|e| e.trim_end_matches('/').to_owned());
    if let Some(endpoint) = &endpoint {
        layers.get_with("evidence_s3_endpoint", (), |_| check_endpoint(endpoint, allow_http));
    }
    EvidenceLocation::S3(S3Settings {
        bucket,
        endpoint,
        region: layers.get("evidence_s3_region", "us-east-1".to_owned()),
        prefix: layers.get_with("evidence_s3_prefix", String::new(), check_prefix),
        credentials: credentials(layers),
        allow_http,
    })
}

/// The access key id and secret access key, both or neither; the secret from the environment or
/// a file (so that it need be in no environment variable).
fn credentials(layers: &mut Layers) -> Option<(Secret, Secret)> {
    let id = layers.get_optional("evidence_s3_access_key_id");
    let secret = match (
        layers.get_optional("evidence_s3_secret_access_key"),
        layers.get_optional("evidence_s3_secret_access_key_file"),
    ) {
        (Some(secret), None) => Some(secret),
        (None, Some(path)) => match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            Ok(_) => {
                layers.problem("evidence_s3_secret_access_key_file", format!("{path} is empty"));
                None
            }
            Err(e) => {
                layers.problem("evidence_s3_secret_access_key_file", format!("cannot read {path}: {e}"));
                None
            }
        },
        (Some(_), Some(_)) => {
            let message = "set evidence_s3_secret_access_key or evidence_s3_secret_access_key_file, not both";
            layers.problem("evidence_s3_secret_access_key", message.to_owned());
            None
        }
        (None, None) => None,
    };
    match (id, secret) {
        (Some(id), Some(secret)) => Some((Secret::from(id), Secret::from(secret))),
        (None, None) => None,
        (Some(_), None) => {
            let message = "needs evidence_s3_secret_access_key (or its _file) with it";
            layers.problem("evidence_s3_access_key_id", message.to_owned());
            None
        }
        (None, Some(_)) => {
            layers.problem("evidence_s3_secret_access_key", "needs evidence_s3_access_key_id with it".to_owned());
            None
        }
    }
}

/// The largest capture: S3 copies at most 5 GiB at once, so that is the bound with the S3 store.
pub(super) fn max_bytes(layers: &mut Layers, location: &EvidenceLocation) -> u64 {
    let largest = match location {
        EvidenceLocation::Local(_) => 16 * 1024 * 1024 * 1024,
        EvidenceLocation::S3(_) => S3_LARGEST_COPY,
    };
    layers.get_range("evidence_max_bytes", DEFAULT_MAX_EVIDENCE_BYTES, 1024, largest)
}

/// A bucket name as S3 allows it: 3 to 63 lower-case letters, digits, dots and hyphens, starting
/// and ending with a letter or digit.
fn check_bucket(name: &str) -> Result<(), String> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
        && edge(name.chars().next())
        && edge(name.chars().last());
    if valid {
        Ok(())
    } else {
        Err(format!("expected a bucket name of 3 to 63 lower-case letters, digits, dots and hyphens, found {name:?}"))
    }
}

/// An `https://` URL, or `http://` to a loopback address with `evidence_s3_allow_http`: captures
/// are sealed, but requests still name them and carry the credentials' signatures.
fn check_endpoint(endpoint: &str, allow_http: bool) -> Result<(), String> {
    let expected = || format!("expected an https:// URL, found {endpoint:?}");
    let uri: http::Uri = endpoint.parse().map_err(|_| expected())?;
    let host = uri.host().ok_or_else(expected)?;
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") => match (allow_http, doxwatch_kit::config::is_loopback_host(host)) {
            (true, true) => Ok(()),
            (false, _) => Err(format!(
                "{endpoint:?} is plain http: use https://, or set evidence_s3_allow_http = true for a test server on a loopback address"
            )),
            (true, false) => Err(format!(
                "{endpoint:?} would reach the evidence store in plaintext across the network: plain http is only for a test server on a loopback address"
            )),
        },
        _ => Err(expected()),
    }
}

/// Slash-separated parts of letters, digits, `.`, `_` and `-`, without a slash at either end.
fn check_prefix(prefix: &str) -> Result<String, String> {
    let part = |p: &str| {
        !p.is_empty() && p != "." && p != ".." && p.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    if prefix.split('/').all(part) {
        Ok(prefix.to_owned())
    } else {
        Err(format!(
            "expected parts of letters, digits, '.', '_' and '-' separated by single slashes, without one at either end, found {prefix:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use doxwatch_kit::config::{ExposeSecret, ServiceConfig};

    use super::*;

    fn load(env: &[(&str, &str)]) -> (LinksConfig, Result<(), String>) {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        let mut layers = Layers::load(None, env, LinksConfig::KEYS);
        let service =
            ServiceConfig::from_layers(&mut Layers::default(), "127.0.0.1:0".parse().unwrap(), "sqlite::memory:");
        let config = LinksConfig::from_layers(&mut layers, &service);
        (config, layers.finish().map_err(|e| e.to_string()))
    }

    #[test]
    fn an_s3_store_is_read_whole() {
        let secret = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(secret.path(), "wJalrXUtnFEMI/K7MDENG\n").unwrap();
        let (config, result) = load(&[
            ("DOXWATCH_EVIDENCE_STORE", "s3"),
            ("DOXWATCH_EVIDENCE_S3_BUCKET", "pcpd-evidence"),
            ("DOXWATCH_EVIDENCE_S3_ENDPOINT", "https://s3.example.org/"),
            ("DOXWATCH_EVIDENCE_S3_REGION", "ap-east-1"),
            ("DOXWATCH_EVIDENCE_S3_PREFIX", "links/prod"),
            ("DOXWATCH_EVIDENCE_S3_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY_FILE", secret.path().to_str().unwrap()),
        ]);
        result.unwrap();
        let EvidenceLocation::S3(s3) = config.evidence.location else { panic!("not the S3 store") };
        assert_eq!(
            (s3.bucket.as_str(), s3.region.as_str(), s3.prefix.as_str()),
            ("pcpd-evidence", "ap-east-1", "links/prod")
        );
        assert_eq!(s3.endpoint.as_deref(), Some("https://s3.example.org"));
        let (id, key) = s3.credentials.expect("credentials");
        assert_eq!((id.expose_secret(), key.expose_secret()), ("AKIAEXAMPLE", "wJalrXUtnFEMI/K7MDENG"));
        assert!(!s3.allow_http);
    }

    #[test]
    fn every_bad_s3_key_is_reported_and_no_secret_echoed() {
        let (_, result) = load(&[
            ("DOXWATCH_EVIDENCE_STORE", "s3"),
            ("DOXWATCH_EVIDENCE_DIR", "/var/lib/evidence"),
            ("DOXWATCH_EVIDENCE_S3_BUCKET", "Not_A_Bucket"),
            ("DOXWATCH_EVIDENCE_S3_ENDPOINT", "http://10.0.0.5:9000"),
            ("DOXWATCH_EVIDENCE_S3_PREFIX", "/leading"),
            ("DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY", "very-secret-value"),
            ("DOXWATCH_EVIDENCE_MAX_BYTES", "6442450944"),
        ]);
        let text = result.unwrap_err();
        for key in [
            "DOXWATCH_EVIDENCE_DIR",
            "DOXWATCH_EVIDENCE_S3_BUCKET",
            "DOXWATCH_EVIDENCE_S3_ENDPOINT",
            "DOXWATCH_EVIDENCE_S3_PREFIX",
            "DOXWATCH_EVIDENCE_S3_SECRET_ACCESS_KEY",
            "DOXWATCH_EVIDENCE_MAX_BYTES",
        ] {
            assert!(text.contains(key), "{key} missing from {text}");
        }
        assert!(!text.contains("very-secret-value"), "{text}");

        // Plain http only when asked for, and only to a loopback address.
        let (_, result) = load(&[
            ("DOXWATCH_EVIDENCE_STORE", "s3"),
            ("DOXWATCH_EVIDENCE_S3_BUCKET", "evidence"),
            ("DOXWATCH_EVIDENCE_S3_ENDPOINT", "http://10.0.0.5:9000"),
            ("DOXWATCH_EVIDENCE_S3_ALLOW_HTTP", "true"),
        ]);
        assert!(result.unwrap_err().contains("loopback"));
        let (config, result) = load(&[
            ("DOXWATCH_EVIDENCE_STORE", "s3"),
            ("DOXWATCH_EVIDENCE_S3_BUCKET", "evidence"),
            ("DOXWATCH_EVIDENCE_S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("DOXWATCH_EVIDENCE_S3_ALLOW_HTTP", "true"),
        ]);
        result.unwrap();
        assert!(
            matches!(config.evidence.location, EvidenceLocation::S3(ref s3) if s3.allow_http && s3.credentials.is_none())
        );
    }

    #[test]
    fn s3_keys_without_the_s3_store_are_refused() {
        let (config, result) = load(&[("DOXWATCH_EVIDENCE_S3_BUCKET", "evidence")]);
        assert!(result.unwrap_err().contains("DOXWATCH_EVIDENCE_S3_BUCKET"));
        assert!(matches!(config.evidence.location, EvidenceLocation::Local(_)));
        let (_, result) = load(&[("DOXWATCH_EVIDENCE_STORE", "s3")]);
        assert!(result.unwrap_err().contains("evidence_s3_bucket"));
    }
}
