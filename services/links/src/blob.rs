//! Where evidence bytes are kept: a content-addressed store behind [`BlobStore`], so that a
//! deployment can put an object store where the local directory is. Nothing partial is ever
//! visible: bytes go to a temporary object first and appear under their SHA-256 only once they
//! are complete and on disk.

use std::{
    path::{Path, PathBuf},
    pin::Pin,
};

use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::domain::Sha256Digest;

/// The bytes of a blob, in chunks.
pub type BlobStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, BlobError>> + Send>>;

#[derive(Debug, thiserror::Error)]
#[error("the evidence store failed to {action} {path}")]
pub struct BlobError {
    pub action: &'static str,
    pub path: String,
    #[source]
    pub source: std::io::Error,
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
    /// The bytes stored under `sha256`, as stored (the caller verifies them), or `None`.
    async fn get(&self, sha256: &Sha256Digest) -> Result<Option<BlobStream>, BlobError>;
    async fn exists(&self, sha256: &Sha256Digest) -> Result<bool, BlobError>;
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

/// Blobs as files in a directory: `sha256/<2 hex>/<2 hex>/<64 hex>`, written to `tmp/` first and
/// renamed into place (atomic on one file system), read-only once stored.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

const READ_CHUNK: usize = 64 * 1024;

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BlobError {
    let path = path.display().to_string();
    move |source| BlobError { action, path, source }
}

impl LocalBlobStore {
    /// Opens the store at `root`, clearing what interrupted writes left in `tmp/`. Directories
    /// are created with the first blob, so a replica that never stores evidence leaves none.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self, BlobError> {
        let root = root.into();
        let tmp = root.join("tmp");
        if tokio::fs::try_exists(&tmp).await.unwrap_or(false) {
            // Only files older than a day: another replica sharing the directory may be writing.
            let mut entries = tokio::fs::read_dir(&tmp).await.map_err(io("list", &tmp))?;
            while let Ok(Some(entry)) = entries.next_entry().await {
                let stale = entry
                    .metadata()
                    .await
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(24 * 3600));
                if stale {
                    let _ = tokio::fs::remove_file(entry.path()).await;
                }
            }
        }
        Ok(Self { root })
    }

    /// Where the blob with this digest is (or would be) kept.
    pub fn path_of(&self, sha256: &Sha256Digest) -> PathBuf {
        let hex = sha256.to_hex();
        self.root.join("sha256").join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }
}

/// Creates `dir` and any missing parents, each 0700.
async fn private_dir(dir: &Path) -> Result<(), BlobError> {
    tokio::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).await.map_err(io("create", dir))
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobStore {
    async fn begin(&self) -> Result<Box<dyn BlobWriter>, BlobError> {
        let tmp = self.root.join("tmp");
        private_dir(&tmp).await?;
        let path = tmp.join(format!("{}.part", uuid::Uuid::now_v7()));
        // Captures hold what a doxxer published: readable by the service alone.
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(io("create", &path))?;
        Ok(Box::new(LocalWriter {
            store: self.clone(),
            file: Some(file),
            path,
            hasher: Sha256::new(),
            size: 0,
            done: false,
        }))
    }

    async fn get(&self, sha256: &Sha256Digest) -> Result<Option<BlobStream>, BlobError> {
        let path = self.path_of(sha256);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("open", &path)(e)),
        };
        let stream = futures::stream::unfold(Some((file, path)), |state| async move {
            let (mut file, path) = state?;
            let mut buf = vec![0u8; READ_CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(buf), Some((file, path))))
                }
                Err(e) => Some((Err(io("read", &path)(e)), None)),
            }
        });
        Ok(Some(stream.boxed()))
    }

    async fn exists(&self, sha256: &Sha256Digest) -> Result<bool, BlobError> {
        let path = self.path_of(sha256);
        tokio::fs::try_exists(&path).await.map_err(io("look for", &path))
    }
}

struct LocalWriter {
    store: LocalBlobStore,
    file: Option<tokio::fs::File>,
    path: PathBuf,
    hasher: Sha256,
    size: u64,
    done: bool,
}

impl LocalWriter {
    /// The SHA-256 of a stored file, to tell a good copy from a damaged one.
    async fn digest_of(path: &Path) -> Result<Sha256Digest, BlobError> {
        let mut file = tokio::fs::File::open(path).await.map_err(io("open", path))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            let n = file.read(&mut buf).await.map_err(io("read", path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(Sha256Digest(hasher.finalize().into()))
    }
}

#[async_trait::async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(chunk).await.map_err(io("write", &self.path))?;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn commit(mut self: Box<Self>) -> Result<StoredBlob, BlobError> {
        if let Some(mut file) = self.file.take() {
            file.flush().await.map_err(io("write", &self.path))?;
            // Durable before it is visible: the rename must never expose bytes a crash can lose.
            file.sync_all().await.map_err(io("sync", &self.path))?;
        }
        let sha256 = Sha256Digest(std::mem::take(&mut self.hasher).finalize().into());
        let target = self.store.path_of(&sha256);
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            if Self::digest_of(&target).await.ok() == Some(sha256) {
                tokio::fs::remove_file(&self.path).await.map_err(io("remove", &self.path))?;
                self.done = true;
                return Ok(StoredBlob { sha256, size: self.size, deduplicated: true });
            }
            // The stored copy is damaged: the new bytes, which match the digest, replace it.
            tracing::warn!(sha256 = %sha256, "a stored evidence blob no longer matched its digest; replaced");
            let mut perms = tokio::fs::metadata(&target).await.map_err(io("inspect", &target))?.permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perms.set_readonly(false);
            tokio::fs::set_permissions(&target, perms).await.map_err(io("unlock", &target))?;
        }
        let dir = target.parent().map(Path::to_path_buf).unwrap_or_default();
        private_dir(&dir).await?;
        let mut perms = tokio::fs::metadata(&self.path).await.map_err(io("inspect", &self.path))?.permissions();
        perms.set_readonly(true);
        tokio::fs::set_permissions(&self.path, perms).await.map_err(io("protect", &self.path))?;
        tokio::fs::rename(&self.path, &target).await.map_err(io("move into place", &target))?;
        self.done = true;
        // The rename itself is durable only once the directory is synced.
        let sync_dir = dir.clone();
        let synced =
            tokio::task::spawn_blocking(move || std::fs::File::open(&sync_dir).and_then(|d| d.sync_all())).await;
        if let Ok(Err(e)) = synced {
            return Err(io("sync", &dir)(e));
        }
        Ok(StoredBlob { sha256, size: self.size, deduplicated: false })
    }
}

impl Drop for LocalWriter {
    fn drop(&mut self) {
        if !self.done {
            // An abandoned write (over the size limit, a broken stream) leaves nothing behind.
            self.file.take();
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[tokio::test]
    async fn stored_captures_are_readable_by_the_service_alone() {
        let base = tempfile::tempdir().expect("a temporary directory");
        let root = base.path().join("evidence");
        let store = LocalBlobStore::open(&root).await.expect("the store opens");
        let mut writer = store.begin().await.expect("a writer");
        writer.write(b"a captured post").await.expect("the bytes are written");
        let stored = writer.commit().await.expect("the blob is stored");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        let path = store.path_of(&stored.sha256);
        assert_eq!(mode(&path), 0o400, "the capture is read-only and private");
        let mut dir = path.parent().map(Path::to_path_buf);
        while let Some(d) = dir.filter(|d| d != base.path()) {
            assert_eq!(mode(&d), 0o700, "{} is private", d.display());
            dir = d.parent().map(Path::to_path_buf);
        }
        assert_eq!(mode(&root.join("tmp")), 0o700);
    }
}
