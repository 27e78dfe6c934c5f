//! Loading a configuration: layers, every problem at once, secrets never shown.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn all_keys() -> Vec<&'static str> {
    ServiceConfig::KEYS.iter().chain(SecurityConfig::KEYS).chain(TelemetryConfig::KEYS).copied().collect()
}

#[test]
fn environment_overrides_file_and_defaults() {
    let dir = tempfile_dir();
    let file = dir.join("doxwatch.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:7000\"\nconcurrency_limit = 8\ntls_ca_file = \"ca.pem\"\n\
         tls_cert_file = \"intake.pem\"\ntls_key_file = \"intake.key\"\ntoken_jwks = \"https://idp.example/jwks\"\n\
         audit_key_file = \"audit/intake.key\"\nencryption_key_file = \"encryption/intake.key\"\n",
    )
    .unwrap();
    let mut layers =
        Layers::load(Some(&file), env(&[("DOXWATCH_LISTEN", "127.0.0.1:7001"), ("OTHER", "x")]), &all_keys());
    let config = ServiceConfig::from_layers(&mut layers, "127.0.0.1:1".parse().unwrap(), "sqlite::memory:");
    layers.finish().unwrap();
    assert_eq!(config.listen, "127.0.0.1:7001".parse().unwrap());
    assert_eq!(config.limits.concurrency_limit, 8);
    assert_eq!(config.database_url.expose_secret(), "sqlite::memory:");
    assert!(matches!(&config.security.tls, TlsSource::Files { cert, .. } if cert == Path::new("intake.pem")));
    assert_eq!(config.security.tokens.keys, crate::token::KeySource::Url("https://idp.example/jwks".into()));
}

#[test]
fn without_certificates_and_a_key_set_a_service_does_not_start() {
    let mut layers = Layers::load(None, env(&[("DOXWATCH_TOKEN_JWKS", "http://idp.example/jwks")]), &all_keys());
    let _ = ServiceConfig::from_layers(&mut layers, "127.0.0.1:1".parse().unwrap(), "sqlite::memory:");
    let text = layers.finish().unwrap_err().to_string();
    for key in
        ["tls_ca_file", "tls_cert_file", "tls_key_file", "DOXWATCH_TOKEN_JWKS", "audit_key_file", "encryption_key_file"]
    {
        assert!(text.contains(key), "{key} missing from {text}");
    }
    assert!(text.contains("must be https://"), "{text}");
}

#[test]
fn traces_leave_the_machine_only_over_tls() {
    for ok in ["https://otel-collector:4317", "http://127.0.0.1:4317", "http://localhost:4317", "http://[::1]:4317"] {
        let mut layers = Layers::load(None, env(&[("DOXWATCH_OTLP_ENDPOINT", ok)]), TelemetryConfig::KEYS);
        let config = TelemetryConfig::from_layers(&mut layers);
        layers.finish().unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(config.otlp_endpoint.as_deref(), Some(ok));
    }
    for (bad, says) in [
        ("http://otel-collector:4317", "plaintext across the network"),
        ("http://10.0.0.7:4317", "plaintext across the network"),
        ("grpc://otel-collector:4317", "expected an https:// URL"),
        ("otel-collector:4317", "expected an https:// URL"),
    ] {
        let mut layers = Layers::load(None, env(&[("DOXWATCH_OTLP_ENDPOINT", bad)]), TelemetryConfig::KEYS);
        let _ = TelemetryConfig::from_layers(&mut layers);
        let text = layers.finish().unwrap_err().to_string();
        assert!(text.contains("DOXWATCH_OTLP_ENDPOINT") && text.contains(says), "{bad}: {text}");
    }
}

#[test]
fn every_invalid_value_is_reported_with_its_key() {
    let dir = tempfile_dir();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "colour = \"blue\"\nconcurrency_limit = 0\n").unwrap();
    let mut layers = Layers::load(
        Some(&file),
        env(&[
            ("DOXWATCH_LISTEN", "not an address"),
            ("DOXWATCH_DATABASE_URL", "mysql://user:hunter2@db/x"),
            ("DOXWATCH_LOG_FORMAT", "xml"),
        ]),
        &all_keys(),
    );
    let _ = ServiceConfig::from_layers(&mut layers, "127.0.0.1:1".parse().unwrap(), "sqlite::memory:");
    let _ = TelemetryConfig::from_layers(&mut layers);
    let err = layers.finish().unwrap_err();
    let text = err.to_string();
    for key in ["colour", "concurrency_limit", "DOXWATCH_LISTEN", "DOXWATCH_DATABASE_URL", "DOXWATCH_LOG_FORMAT"] {
        assert!(text.contains(key), "{key} missing from {text}");
    }
    assert!(!text.contains("hunter2"), "a secret was printed: {text}");
    // The five bad values, and the six security keys that are required and not set.
    assert_eq!(err.problems.len(), 11, "{text}");
}

#[test]
fn secrets_are_redacted() {
    let shown = format!("{:?}", Secret::from("hunter2"));
    assert!(!shown.contains("hunter2"), "{shown}");
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("doxwatch-config-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_misspelt_variable_is_named_with_the_key_meant() {
    let layers = Layers::load(
        None,
        env(&[
            ("DOXWATCH_DATABSE_URL", "sqlite::memory:"),
            ("DOXWATCH_INTAKE_URL", "https://127.0.0.1:50051"),
            ("DOXWATCH_ZZZ", "1"),
            ("DOXWATCH_LISTEN", "127.0.0.1:7000"),
        ]),
        &all_keys(),
    );
    let unknown = layers.unknown_variables(&["DOXWATCH_INTAKE_URL"]);
    assert_eq!(
        unknown,
        vec![
            ("DOXWATCH_DATABSE_URL".to_owned(), Some("DOXWATCH_DATABASE_URL".to_owned())),
            ("DOXWATCH_ZZZ".to_owned(), None),
        ]
    );
}

#[test]
fn the_office_zone_and_reference_prefix_are_read_and_checked() {
    let mut layers = Layers::load(
        None,
        env(&[("DOXWATCH_TIME_ZONE", "Asia/Hong_Kong"), ("DOXWATCH_REFERENCE_PREFIX", "PCPD")]),
        &all_keys(),
    );
    let config = ServiceConfig::from_layers(&mut layers, "127.0.0.1:1".parse().unwrap(), "sqlite::memory:");
    assert_eq!(config.time_zone.iana_name(), Some("Asia/Hong_Kong"));
    assert_eq!(config.reference_prefix.as_deref(), Some("PCPD"));

    let mut layers = Layers::load(
        None,
        env(&[("DOXWATCH_TIME_ZONE", "Asia/Hongkong_Central"), ("DOXWATCH_REFERENCE_PREFIX", "dox-")]),
        &all_keys(),
    );
    let _ = ServiceConfig::from_layers(&mut layers, "127.0.0.1:1".parse().unwrap(), "sqlite::memory:");
    let text = layers.finish().unwrap_err().to_string();
    assert!(text.contains("DOXWATCH_TIME_ZONE") && text.contains("IANA time zone name"), "{text}");
    assert!(text.contains("DOXWATCH_REFERENCE_PREFIX") && text.contains("capital letters"), "{text}");
}

#[test]
fn the_relay_keeps_as_many_deliveries_in_flight_as_configured() {
    let mut layers = Layers::load(None, env(&[("DOXWATCH_OUTBOX_IN_FLIGHT", "64")]), &all_keys());
    let config = ServiceConfig::from_layers(&mut layers, "127.0.0.1:1".parse().unwrap(), "sqlite::memory:");
    let _ = layers.finish();
    assert_eq!(config.outbox.in_flight, 64);
    assert_eq!(crate::outbox::RelaySettings::from_config(&config.outbox).batch_size, 64);
    let mut layers = Layers::load(None, env(&[("DOXWATCH_OUTBOX_IN_FLIGHT", "0")]), &all_keys());
    let _ = ServiceConfig::from_layers(&mut layers, "127.0.0.1:1".parse().unwrap(), "sqlite::memory:");
    let text = layers.finish().unwrap_err().to_string();
    assert!(text.contains("DOXWATCH_OUTBOX_IN_FLIGHT: must be between 1 and 4096"), "{text}");
}
