//! Blobs as files in a directory: `sha256/<2 hex>/<2 hex>/<64 hex>`, written to `tmp/` first and
//! renamed into place (atomic on one file system), read-only once stored, private to the service.

use std::{
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use doxwatch_kit::sealing::Keyring;
use tokio::io::AsyncWriteExt;

use super::{
    BlobError, BlobStore, BlobStream, BlobWriter, StoredBlob,
    sealed::{self, Sealer},
};
use crate::domain::Sha256Digest;

#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
    keys: Keyring,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BlobError {
    let path = path.display().to_string();
    move |source| BlobError::new(action, &path, source)
}

impl LocalBlobStore {
    /// Opens the store at `root`, sealing with `keys`, clearing what interrupted writes left in
    /// `tmp/`. Directories are created with the first blob, so a replica that never stores
    /// evidence leaves none.
    pub async fn open(root: impl Into<PathBuf>, keys: Keyring) -> Result<Self, BlobError> {
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
                    .is_some_and(|age| age > super::STALE_WRITE);
                if stale {
                    let _ = tokio::fs::remove_file(entry.path()).await;
                }
            }
        }
        Ok(Self { root, keys })
    }

    /// Where the blob with this digest is (or would be) kept.
    pub fn path_of(&self, sha256: &Sha256Digest) -> PathBuf {
        let hex = sha256.to_hex();
        self.root.join("sha256").join(&hex[0..2]).join(&hex[2..4]).join(hex)
    }

    /// A writer of a new file; one that `replaces` a stored blob is put in its place only if its
    /// bytes have that blob's digest.
    async fn writer(&self, replaces: Option<Sha256Digest>) -> Result<LocalWriter, BlobError> {
        let tmp = self.root.join("tmp");
        private_dir(&tmp).await?;
        let path = tmp.join(format!("{}.part", uuid::Uuid::now_v7()));
        // Captures hold what a doxxer published: readable by the service alone. Created without
        // an await before the writer that removes it exists: a call cancelled meanwhile (its
        // client gone) would otherwise leave the file behind, created after the call was dropped.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("create", &path))?;
        let file = tokio::fs::File::from_std(file);
        let sealer = Sealer::new(self.keys.clone());
        let header = sealer.header();
        // Dropped without a commit, the writer removes the file, header and all.
        let mut writer = LocalWriter { store: self.clone(), file: Some(file), path, sealer, done: false, replaces };
        writer.append(&header).await?;
        Ok(writer)
    }

    /// Whether the file at `path` is sealed under the active key.
    async fn sealed_under_active_key(&self, path: &Path) -> Result<bool, BlobError> {
        let mut file = tokio::fs::File::open(path).await.map_err(io("open", path))?;
        let mut start = vec![0u8; sealed::START_LEN];
        let read = sealed::read_up_to(&mut file, &mut start).await.map_err(io("read", path))?;
        Ok(sealed::sealed_under_active_key(&self.keys, &start[..read]))
    }

    /// Seals the blob `sha256` again under the active key, in a new file put in the old one's
    /// place once complete; false (and the old file kept) if its bytes do not open or no longer
    /// match their digest.
    async fn reseal_one(&self, sha256: Sha256Digest) -> Result<bool, BlobError> {
        let Some(bytes) = self.get(&sha256).await? else { return Ok(false) };
        sealed::reseal(sha256, bytes, Box::new(self.writer(Some(sha256)).await?)).await
    }
}

/// Creates `dir` and any missing parents, each 0700.
async fn private_dir(dir: &Path) -> Result<(), BlobError> {
    tokio::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).await.map_err(io("create", dir))
}

#[async_trait::async_trait]
impl doxwatch_kit::data_keys::SealedFiles for LocalBlobStore {
    /// Every evidence file not sealed under the active key (older keys, or stored before sealing
    /// began) is sealed again. Readers of the old file keep reading it; new readers get the new.
    async fn reseal(&self) -> Result<(i64, i64), String> {
        let (mut resealed, mut remaining) = (0, 0);
        let mut dirs = vec![self.root.join("sha256")];
        while let Some(dir) = dirs.pop() {
            let mut entries = match tokio::fs::read_dir(&dir).await {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("list", &dir)(e).to_string()),
            };
            while let Some(entry) = entries.next_entry().await.map_err(|e| io("list", &dir)(e).to_string())? {
                let path = entry.path();
                if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
                    dirs.push(path);
                    continue;
                }
                let name = entry.file_name().to_string_lossy().into_owned();
                let Ok(sha256) = Sha256Digest::parse_hex(&name) else { continue };
                if self.sealed_under_active_key(&path).await.map_err(|e| e.to_string())? {
                    continue;
                }
                super::count_reseal(sha256, self.reseal_one(sha256).await, &mut resealed, &mut remaining);
            }
        }
        Ok((resealed, remaining))
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobStore {
    async fn begin(&self) -> Result<Box<dyn BlobWriter>, BlobError> {
        Ok(Box::new(self.writer(None).await?))
    }

    async fn get(&self, sha256: &Sha256Digest) -> Result<Option<BlobStream>, BlobError> {
        let path = self.path_of(sha256);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("open", &path)(e)),
        };
        Ok(Some(sealed::open(self.keys.clone(), file, path.display().to_string()).await?))
    }

    async fn exists(&self, sha256: &Sha256Digest) -> Result<bool, BlobError> {
        let path = self.path_of(sha256);
        tokio::fs::try_exists(&path).await.map_err(io("look for", &path))
    }

    async fn delete(&self, sha256: &Sha256Digest) -> Result<bool, BlobError> {
        let path = self.path_of(sha256);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io("delete", &path)(e)),
        }
        // The removal is durable once the directory that held the file is synced.
        if let Some(dir) = path.parent() {
            let dir = tokio::fs::File::open(dir).await.map_err(io("open", dir))?;
            dir.sync_all().await.map_err(io("sync", &path))?;
        }
        Ok(true)
    }
}

struct LocalWriter {
    store: LocalBlobStore,
    file: Option<tokio::fs::File>,
    path: PathBuf,
    sealer: Sealer,
    done: bool,
    /// The stored blob this file is to replace (sealed again under another key).
    replaces: Option<Sha256Digest>,
}

impl LocalWriter {
    async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        file.write_all(bytes).await.map_err(io("write", &self.path))
    }
}

#[async_trait::async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        let frames = self.sealer.push(chunk, &self.path.display().to_string())?;
        self.append(&frames).await
    }

    fn size(&self) -> u64 {
        self.sealer.size()
    }

    async fn commit(mut self: Box<Self>) -> Result<StoredBlob, BlobError> {
        let (last, sha256, size) = self.sealer.finish(&self.path.display().to_string())?;
        self.append(&last).await?;
        if let Some(mut file) = self.file.take() {
            file.flush().await.map_err(io("write", &self.path))?;
            // Durable before it is visible: the rename must never expose bytes a crash can lose.
            file.sync_all().await.map_err(io("sync", &self.path))?;
        }
        let target = self.store.path_of(&sha256);
        if let Some(expected) = self.replaces {
            if expected != sha256 {
                // Dropped, the writer removes its file: the stored one stays as it is.
                tracing::warn!(sha256 = %expected, "an evidence file's bytes no longer match their digest; left as it is");
                return Err(io("check", &target)(std::io::Error::other("the bytes do not match their digest")));
            }
        } else if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            if sealed::digest_of(self.store.get(&sha256).await.ok().flatten()).await == Some(sha256) {
                tokio::fs::remove_file(&self.path).await.map_err(io("remove", &self.path))?;
                self.done = true;
                return Ok(StoredBlob { sha256, size, deduplicated: true });
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
        Ok(StoredBlob { sha256, size, deduplicated: false })
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
