//! Checkpoints: the service's Ed25519 signature over its log's record count and head hash, made at
//! intervals and when an auditor asks, with a key read from a file, never from the database; and
//! the log's own writes outside a handler's transaction (a refused call).

use std::{path::Path, sync::Arc, time::Duration};

use doxwatch_proto::ops::AuditCheckpoint;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::{Access, CHECKPOINT_DOMAIN, Context, Entry, append, micros};
use crate::{
    db::{Db, Ts},
    error::Error,
    on_tx, timestamp,
};

/// The key a service signs its checkpoints with: Ed25519, PKCS#8 PEM in a file of its own.
pub struct Signer {
    key: Ed25519KeyPair,
    key_id: String,
}

impl Signer {
    /// Reads the key in `path`.
    pub fn load(path: &Path) -> Result<Self, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the audit signing key {}: {e}", path.display()))?;
        Self::from_pem(&pem).map_err(|e| format!("the audit signing key {} is not usable: {e}", path.display()))
    }

    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let pair = rcgen::KeyPair::from_pem(pem).map_err(|e| e.to_string())?;
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pair.serialize_der())
            .map_err(|_| "not an Ed25519 key".to_owned())?;
        let key_id = key_id(key.public_key().as_ref());
        Ok(Self { key, key_id })
    }

    /// A new key: its PKCS#8 PEM, and its public key as a PEM `PUBLIC KEY` for auditors.
    pub fn generate() -> Result<(String, String), String> {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(|e| e.to_string())?;
        Ok((pair.serialize_pem(), pair.public_key_pem()))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn public_key(&self) -> &[u8] {
        self.key.public_key().as_ref()
    }

    pub(super) fn sign(&self, service: &str, count: i64, head: &[u8], signed_at: OffsetDateTime) -> AuditCheckpoint {
        let signature = self.key.sign(&checkpoint_message(service, count, head, signed_at));
        AuditCheckpoint {
            service: service.to_owned(),
            record_count: count,
            head_hash: head.to_vec(),
            sign_time: Some(timestamp::to_proto(signed_at)),
            key_id: self.key_id.clone(),
            signature: signature.as_ref().to_vec(),
        }
    }
}

/// The id of an Ed25519 public key: the first 8 bytes of its SHA-256, in hex.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

/// The raw Ed25519 public key in a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) text.
pub fn public_key_from_pem(pem: &str) -> Result<Vec<u8>, String> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|_| "not a PEM text".to_owned())?;
    if pem.label != "PUBLIC KEY" {
        return Err(format!("expected a PUBLIC KEY, found {}", pem.label));
    }
    use x509_parser::prelude::FromDer;
    let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&pem.contents)
        .map_err(|_| "not a SubjectPublicKeyInfo".to_owned())?;
    let key = spki.subject_public_key.data.to_vec();
    if key.len() != 32 {
        return Err("not an Ed25519 public key".to_owned());
    }
    Ok(key)
}

pub(super) fn checkpoint_message(service: &str, count: i64, head: &[u8], signed_at: OffsetDateTime) -> Vec<u8> {
    let mut message = CHECKPOINT_DOMAIN.to_vec();
    message.extend((service.len() as u32).to_be_bytes());
    message.extend(service.as_bytes());
    message.extend(count.to_be_bytes());
    message.extend(head);
    message.extend(micros(signed_at).to_be_bytes());
    message
}

/// A service's audit log: its store, its signing key and its name.
#[derive(Clone)]
pub struct AuditLog {
    pub(super) db: Db,
    pub(super) signer: Arc<Signer>,
    pub(super) service: &'static str,
}

impl AuditLog {
    pub fn new(db: Db, signer: Signer, service: &'static str) -> Self {
        Self { db, signer: Arc::new(signer), service }
    }

    /// Records a call the server stack refused, with `outcome` the refusal's reason.
    pub async fn denied(&self, context: Context, outcome: &str) -> Result<(), sqlx::Error> {
        let entry = Entry::new(context, Access::Denied, Vec::new(), Vec::new(), outcome);
        let mut tx = self.db.begin().await?;
        append(&mut tx, entry).await?;
        tx.commit().await
    }

    /// A checkpoint of the log as it is now: the latest one if no record came since, else a new
    /// one, signed and kept.
    pub async fn checkpoint(&self) -> Result<AuditCheckpoint, Error> {
        let mut tx = self.db.begin().await?;
        let (count, head) = super::head(&mut tx).await?;
        let latest: Option<CheckpointRow> = on_tx!(&mut tx, c => {
            sqlx::query_as(
                "SELECT record_count, head_hash, signed_at, key_id, signature FROM audit_checkpoints \
                 ORDER BY record_count DESC LIMIT 1",
            )
            .fetch_optional(c)
            .await?
        });
        if let Some(latest) = latest.filter(|l| l.0 == count && l.3 == self.signer.key_id) {
            tx.rollback().await?;
            return Ok(latest.into_proto(self.service));
        }
        let checkpoint = self.signer.sign(self.service, count, &head, timestamp::now());
        on_tx!(&mut tx, c => {
            sqlx::query(
                "INSERT INTO audit_checkpoints (record_count, head_hash, signed_at, key_id, signature) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (record_count) DO NOTHING",
            )
            .bind(count)
            .bind(&head)
            .bind(Ts(checkpoint.sign_time.as_ref().and_then(|t| timestamp::from_proto(t).ok()).unwrap_or_else(timestamp::now)))
            .bind(&checkpoint.key_id)
            .bind(&checkpoint.signature)
            .execute(c)
            .await?;
        });
        tx.commit().await?;
        Ok(checkpoint)
    }

    /// Signs a checkpoint every `every` while records come in, until the task is dropped.
    pub async fn run_checkpoints(self, every: Duration) {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(e) = self.checkpoint().await {
                tracing::warn!(error = %crate::error::CauseChain(&e), "cannot sign an audit checkpoint; will try again");
            }
        }
    }
}

pub(super) type CheckpointRow = (i64, Vec<u8>, Ts, String, Vec<u8>);

pub(super) trait IntoCheckpoint {
    fn into_proto(self, service: &str) -> AuditCheckpoint;
}

impl IntoCheckpoint for CheckpointRow {
    fn into_proto(self, service: &str) -> AuditCheckpoint {
        AuditCheckpoint {
            service: service.to_owned(),
            record_count: self.0,
            head_hash: self.1,
            sign_time: Some(timestamp::to_proto(self.2.0)),
            key_id: self.3,
            signature: self.4,
        }
    }
}
