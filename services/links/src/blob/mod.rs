//! Where evidence bytes are kept: a content-addressed store behind [`BlobStore`], a local
//! directory ([`LocalBlobStore`]) or an S3-compatible bucket that several replicas share
//! ([`S3BlobStore`]). Nothing partial is ever visible: bytes go to a temporary file or object
//! first and appear under their SHA-256 only once they are complete and durable.
//!
//! A capture holds what a doxxer published, so its bytes are sealed before they leave the
//! service, in the same form in either store ([`sealed`]). A blob keeps the SHA-256 of its
//! plaintext as its name; the evidence service checks the bytes against it after they are
//! opened. Blobs stored before sealing began are read as they are.

use std::pin::Pin;

use futures::Stream;

use crate::domain::Sha256Digest;

mod local;
mod s3;
mod sealed;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use local::LocalBlobStore;
pub use s3::{S3BlobStore, S3Settings};
pub use sealed::FRAME;

/// The bytes of a blob, in chunks.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, BlobError>> + Send>>;

/// What the evidence store failed to do, and to what: a file's path or an object's
/// `s3://bucket/key` (never a credential), with the cause.
#[derive(Debug, thiserror::Error)]
#[error("the evidence store failed to {action} {object}")]
pub struct BlobError {
    pub action: &'static str,
    pub object: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl BlobError {
    pub fn new(
        action: &'static str,
        object: &str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self { action, object: object.to_owned(), source: source.into() }
    }
}

/// How old a temporary file or object must be before a start clears it: another replica may
/// still be writing a newer one.
const STALE_WRITE: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Counts one blob of a re-sealing sweep.
fn count_reseal(sha256: Sha256Digest, outcome: Result<bool, BlobError>, resealed: &mut i64, remaining: &mut i64) {
    match outcome {
        Ok(true) => *resealed += 1,
        Ok(false) => *remaining += 1,
        Err(e) => {
            tracing::warn!(sha256 = %sha256, error = %doxwatch_kit::error::CauseChain(&e), "re-sealing an evidence blob failed");
            *remaining += 1;
        }
    }
}

/// A blob once stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlob {
    pub sha256: Sha256Digest,
    pub size: u64,
    /// The same bytes were already stored; nothing new was written.
    pub deduplicated: bool,
}

/// A content-addressed store of immutable blobs.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob. Its bytes are visible only after [`BlobWriter::commit`]; a writer
    /// dropped before that leaves nothing behind.
    async fn begin(&self) -> Result<Box<dyn BlobWriter>, BlobError>;
    /// The bytes stored under `sha256`, opened (the caller verifies them), or `None`.
    async fn get(&self, sha256: &Sha256Digest) -> Result<Option<BlobStream>, BlobError>;
    async fn exists(&self, sha256: &Sha256Digest) -> Result<bool, BlobError>;
    /// Deletes the bytes stored under `sha256`, durably; false if there were none.
    async fn delete(&self, sha256: &Sha256Digest) -> Result<bool, BlobError>;
}

/// A blob being written.
#[async_trait::async_trait]
pub trait BlobWriter: Send {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError>;
    /// Bytes written so far.
    fn size(&self) -> u64;
    /// Makes the blob visible under its SHA-256, durably.
    async fn commit(self: Box<Self>) -> Result<StoredBlob, BlobError>;
}

/// Where evidence is kept.
#[derive(Debug, Clone)]
pub enum EvidenceLocation {
    /// A directory (shared by every replica, if there are several).
    Local(std::path::PathBuf),
    /// An S3-compatible bucket.
    S3(S3Settings),
}

/// The store `location` names, sealing with `keys`: as the evidence service uses it, and as the
/// re-sealing sweep after a key rotation does.
pub async fn open(
    location: &EvidenceLocation,
    keys: doxwatch_kit::sealing::Keyring,
) -> Result<(std::sync::Arc<dyn BlobStore>, std::sync::Arc<dyn doxwatch_kit::data_keys::SealedFiles>), BlobError> {
    Ok(match location {
        EvidenceLocation::Local(dir) => {
            let store = std::sync::Arc::new(LocalBlobStore::open(dir, keys).await?);
            (store.clone(), store)
        }
        EvidenceLocation::S3(settings) => {
            let store = std::sync::Arc::new(S3BlobStore::open(settings.clone(), keys).await?);
            (store.clone(), store)
        }
    })
}

#[cfg(test)]
mod tests;
