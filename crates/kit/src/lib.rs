//! What every doxwatch service shares: configuration, telemetry, the server stack, errors,
//! storage, request ids, pagination and the acting officer. Services build on these unchanged.

pub mod actor;
pub mod as_at;
pub mod audit;
pub mod auth;
pub mod config;
pub mod data_keys;
pub mod db;
pub mod erasure;
pub mod error;
pub mod group_commit;
pub mod idempotency;
pub mod identity;
pub mod late_records;
pub mod lifecycle;
pub mod markdown;
pub mod metrics;
pub mod outbox;
pub mod page;
pub mod peer;
pub mod pki;
pub mod policy;
pub mod profile;
pub mod reference;
pub mod resource;
pub mod rollup;
pub mod rows;
pub mod sealing;
pub mod server;
pub mod telemetry;
pub mod timestamp;
pub mod tls;
pub mod token;
pub mod transaction;
pub mod validate;
pub mod vocabulary;

#[cfg(feature = "testing")]
pub mod testing;

/// Installs ring as the process's one rustls crypto provider, shared by tonic, sqlx and the OTLP
/// exporter. Call it first thing in `main`; calling it again is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
