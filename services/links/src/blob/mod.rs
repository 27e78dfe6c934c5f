//! Where evidence bytes are kept: a content-addressed store behind [`BlobStore`], so that a
//! deployment can put an object store where the local directory is. Nothing partial is ever
//! visible: bytes go to a temporary object first and appear under their SHA-256 only once they
//! are complete and on disk.
//!
//! A capture holds what a doxxer published, so its bytes are sealed before they reach the disk:
//! a file is a header (a magic and a random file id) and frames of at most [`FRAME`] plaintext
//! bytes, each sealed with AES-256-GCM under the store's data keys, its associated data naming
//! the file, the frame's position and whether it is the last, so that frames cannot be reordered,
//! moved between files or cut off unseen. A blob keeps the SHA-256 of its plaintext as its name;
//! the evidence service checks the bytes against it after they are opened. Files stored before
//! sealing began are read as they are.

use std::{
    path::{Path, PathBuf},
    pin::Pin,
};

use doxwatch_kit::sealing::Keyring;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

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

/// Blobs as files in a directory: `sha256/<2 hex>/<2 hex>/<64 hex>`, written to `tmp/` first and
/// renamed into place (atomic on one file system), read-only once stored, sealed with `keys`.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
    keys: Keyring,
}

const READ_CHUNK: usize = 64 * 1024;

/// The most plaintext bytes one sealed frame holds.
pub const FRAME: usize = 64 * 1024;
/// What a sealed file starts with, before its 16-byte file id.
const MAGIC: &[u8; 8] = b"DWEVID1\n";
const HEADER_LEN: usize = MAGIC.len() + 16;
/// A frame's header: whether it is the last (1) or not (0), and its sealed length.
const FRAME_HEADER_LEN: usize = 5;
/// What sealing adds to a frame: format, key id, nonce and tag.
const SEAL_OVERHEAD: usize = 3 + 4 + 12 + 16;
/// The field sealed frames are bound to.
const FIELD: &str = "evidence_bytes";

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BlobError {
    let path = path.display().to_string();
    move |source| BlobError { action, path, source }
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
                    .is_some_and(|age| age > std::time::Duration::from_secs(24 * 3600));
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
}

/// Creates `dir` and any missing parents, each 0700.
async fn private_dir(dir: &Path) -> Result<(), BlobError> {
    tokio::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).await.map_err(io("create", dir))
}

impl LocalBlobStore {
    /// A writer of a new file; one that `replaces` a stored blob is put in its place only if its
    /// bytes have that blob's digest.
    async fn writer(&self, replaces: Option<Sha256Digest>) -> Result<LocalWriter, BlobError> {
        let tmp = self.root.join("tmp");
        private_dir(&tmp).await?;
        let path = tmp.join(format!("{}.part", uuid::Uuid::now_v7()));
        // Captures hold what a doxxer published: readable by the service alone.
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(io("create", &path))?;
        let file_id = uuid::Uuid::now_v7();
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(file_id.as_bytes());
        // Dropped without a commit, the writer removes the file, header and all.
        let mut writer = LocalWriter {
            store: self.clone(),
            file: None,
            path,
            hasher: Sha256::new(),
            size: 0,
            done: false,
            file_id,
            pending: Vec::with_capacity(FRAME),
            frames: 0,
            replaces,
        };
        file.write_all(&header).await.map_err(io("write", &writer.path))?;
        writer.file = Some(file);
        Ok(writer)
    }

    /// Whether the file at `path` is sealed under the active key: its first frame names the key.
    async fn sealed_under_active_key(&self, path: &Path) -> Result<bool, BlobError> {
        let mut file = tokio::fs::File::open(path).await.map_err(io("open", path))?;
        let mut start = vec![0u8; HEADER_LEN + FRAME_HEADER_LEN + SEAL_OVERHEAD];
        let read = read_up_to(&mut file, &mut start).await.map_err(io("read", path))?;
        if read < start.len() || !start.starts_with(MAGIC) {
            return Ok(false);
        }
        Ok(self.keys.is_current_bytes(&start[HEADER_LEN + FRAME_HEADER_LEN..]).unwrap_or(false))
    }

    /// Seals the blob `sha256` again under the active key, in a new file put in the old one's
    /// place once complete; false (and the old file kept) if its bytes do not open or no longer
    /// match their digest.
    async fn reseal_one(&self, sha256: Sha256Digest) -> Result<bool, BlobError> {
        let Some(mut bytes) = self.get(&sha256).await? else { return Ok(false) };
        let mut writer = self.writer(Some(sha256)).await?;
        while let Some(chunk) = bytes.next().await {
            match chunk {
                Ok(chunk) => writer.write(&chunk).await?,
                Err(e) => {
                    tracing::warn!(sha256 = %sha256, error = %doxwatch_kit::error::CauseChain(&e), "an evidence file does not open; left as it is");
                    return Ok(false);
                }
            }
        }
        Ok(Box::new(writer).commit().await.is_ok())
    }
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
                match self.reseal_one(sha256).await {
                    Ok(true) => resealed += 1,
                    Ok(false) => remaining += 1,
                    Err(e) => {
                        tracing::warn!(sha256 = %sha256, error = %doxwatch_kit::error::CauseChain(&e), "re-sealing an evidence file failed");
                        remaining += 1;
                    }
                }
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
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("open", &path)(e)),
        };
        let mut header = vec![0u8; HEADER_LEN];
        let read = read_up_to(&mut file, &mut header).await.map_err(io("read", &path))?;
        header.truncate(read);
        if read == HEADER_LEN && header.starts_with(MAGIC) {
            let file_id = uuid::Uuid::from_slice(&header[MAGIC.len()..]).unwrap_or_default();
            return Ok(Some(opened(self.keys.clone(), file, path, file_id)));
        }
        // Stored before sealing began: the bytes as they are, those already read first.
        let first = futures::stream::iter((!header.is_empty()).then_some(Ok(header)));
        Ok(Some(first.chain(plain(file, path)).boxed()))
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

/// Reads into `buf` until it is full or the file ends; returns how much was read.
async fn read_up_to(file: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = file.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// The rest of a file as it is.
fn plain(file: tokio::fs::File, path: PathBuf) -> BlobStream {
    futures::stream::unfold(Some((file, path)), |state| async move {
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
    })
    .boxed()
}

/// The associated record of frame `index` of the file `file_id`.
fn frame_record(file_id: &uuid::Uuid, index: u64, last: bool) -> String {
    format!("{file_id}/{index}/{}", if last { "last" } else { "more" })
}

/// The plaintext of a sealed file's frames, in order. A frame that does not open, a frame after
/// the last or a file that ends before its last frame ends the stream with an error.
fn opened(keys: Keyring, file: tokio::fs::File, path: PathBuf, file_id: uuid::Uuid) -> BlobStream {
    struct Reading {
        keys: Keyring,
        file: tokio::io::BufReader<tokio::fs::File>,
        path: PathBuf,
        file_id: uuid::Uuid,
        index: u64,
    }
    let invalid =
        |path: &Path, what: &str| io("open", path)(std::io::Error::new(std::io::ErrorKind::InvalidData, what));
    let state = Reading { keys, file: tokio::io::BufReader::new(file), path, file_id, index: 0 };
    futures::stream::unfold(Some(state), move |state| async move {
        let mut r = state?;
        let mut header = [0u8; FRAME_HEADER_LEN];
        match read_up_to(&mut r.file, &mut header).await {
            Ok(FRAME_HEADER_LEN) => {}
            Ok(_) => return Some((Err(invalid(&r.path, "the sealed file ends before its last frame")), None)),
            Err(e) => return Some((Err(io("read", &r.path)(e)), None)),
        }
        let last = match header[0] {
            0 => false,
            1 => true,
            _ => return Some((Err(invalid(&r.path, "a frame header is damaged")), None)),
        };
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > FRAME + SEAL_OVERHEAD {
            return Some((Err(invalid(&r.path, "a frame is longer than any the store writes")), None));
        }
        let mut sealed = vec![0u8; len];
        match read_up_to(&mut r.file, &mut sealed).await {
            Ok(n) if n == len => {}
            Ok(_) => return Some((Err(invalid(&r.path, "the sealed file ends inside a frame")), None)),
            Err(e) => return Some((Err(io("read", &r.path)(e)), None)),
        }
        let plaintext = match r.keys.open_bytes(FIELD, &frame_record(&r.file_id, r.index, last), &sealed) {
            Ok(plaintext) => plaintext,
            Err(_) => return Some((Err(invalid(&r.path, "a frame does not open under the store's keys")), None)),
        };
        if last {
            let mut rest = [0u8; 1];
            return match read_up_to(&mut r.file, &mut rest).await {
                Ok(0) => Some((Ok(plaintext), None)),
                Ok(_) => Some((Err(invalid(&r.path, "bytes follow the last frame")), None)),
                Err(e) => Some((Err(io("read", &r.path)(e)), None)),
            };
        }
        r.index += 1;
        Some((Ok(plaintext), Some(r)))
    })
    .boxed()
}

struct LocalWriter {
    store: LocalBlobStore,
    file: Option<tokio::fs::File>,
    path: PathBuf,
    /// Of the plaintext.
    hasher: Sha256,
    size: u64,
    done: bool,
    file_id: uuid::Uuid,
    /// Plaintext not yet sealed: a frame is sealed once it is known whether it is the last.
    pending: Vec<u8>,
    frames: u64,
    /// The stored blob this file is to replace (sealed again under another key).
    replaces: Option<Sha256Digest>,
}

impl LocalWriter {
    /// The SHA-256 of a stored blob's plaintext, to tell a good copy from a damaged one; `None`
    /// if it cannot be read or opened.
    async fn digest_of(&self, sha256: &Sha256Digest) -> Option<Sha256Digest> {
        let mut bytes = self.store.get(sha256).await.ok()??;
        let mut hasher = Sha256::new();
        while let Some(chunk) = bytes.next().await {
            hasher.update(chunk.ok()?);
        }
        Some(Sha256Digest(hasher.finalize().into()))
    }

    /// Seals `plaintext` as the next frame and writes it.
    async fn write_frame(&mut self, plaintext: &[u8], last: bool) -> Result<(), BlobError> {
        let record = frame_record(&self.file_id, self.frames, last);
        let sealed = self.store.keys.seal_bytes(FIELD, &record, plaintext).map_err(|e| {
            io("seal", &self.path)(std::io::Error::other(doxwatch_kit::error::CauseChain(&e).to_string()))
        })?;
        let len = u32::try_from(sealed.len()).map_err(|_| {
            io("seal", &self.path)(std::io::Error::new(std::io::ErrorKind::InvalidInput, "a frame too large"))
        })?;
        let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + sealed.len());
        frame.push(u8::from(last));
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&sealed);
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        file.write_all(&frame).await.map_err(io("write", &self.path))?;
        self.frames += 1;
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for LocalWriter {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.pending.extend_from_slice(chunk);
        // A full frame is sealed only once more bytes follow it: the last frame says it is.
        while self.pending.len() > FRAME {
            let rest = self.pending.split_off(FRAME);
            let frame = std::mem::replace(&mut self.pending, rest);
            self.write_frame(&frame, false).await?;
        }
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }

    async fn commit(mut self: Box<Self>) -> Result<StoredBlob, BlobError> {
        let last = std::mem::take(&mut self.pending);
        self.write_frame(&last, true).await?;
        if let Some(mut file) = self.file.take() {
            file.flush().await.map_err(io("write", &self.path))?;
            // Durable before it is visible: the rename must never expose bytes a crash can lose.
            file.sync_all().await.map_err(io("sync", &self.path))?;
        }
        let sha256 = Sha256Digest(std::mem::take(&mut self.hasher).finalize().into());
        let target = self.store.path_of(&sha256);
        if let Some(expected) = self.replaces {
            if expected != sha256 {
                // Dropped, the writer removes its file: the stored one stays as it is.
                tracing::warn!(sha256 = %expected, "an evidence file's bytes no longer match their digest; left as it is");
                return Err(io("check", &target)(std::io::Error::other("the bytes do not match their digest")));
            }
        } else if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            if self.digest_of(&sha256).await == Some(sha256) {
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
mod tests;
