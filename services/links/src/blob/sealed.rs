//! The sealed form of an evidence blob, the same wherever it is kept: a header (a magic and a
//! random file id) and frames of at most [`FRAME`] plaintext bytes, each sealed with AES-256-GCM
//! under the store's data keys, its associated data naming the file, the frame's position and
//! whether it is the last, so that frames cannot be reordered, moved between blobs or cut off
//! unseen. [`Sealer`] makes the bytes a store writes; [`opened`] reads them back.

use doxwatch_kit::sealing::Keyring;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{BlobError, BlobStream, BlobWriter};
use crate::domain::Sha256Digest;

/// The most plaintext bytes one sealed frame holds.
pub const FRAME: usize = 64 * 1024;
/// What a sealed blob starts with, before its 16-byte file id.
pub(super) const MAGIC: &[u8; 8] = b"DWEVID1\n";
pub(super) const HEADER_LEN: usize = MAGIC.len() + 16;
/// A frame's header: whether it is the last (1) or not (0), and its sealed length.
pub(super) const FRAME_HEADER_LEN: usize = 5;
/// What sealing adds to a frame: format, key id, nonce and tag.
pub(super) const SEAL_OVERHEAD: usize = 3 + 4 + 12 + 16;
/// How many bytes of a blob tell which key its first frame is sealed under.
pub(super) const START_LEN: usize = HEADER_LEN + FRAME_HEADER_LEN + SEAL_OVERHEAD;
/// The field sealed frames are bound to.
const FIELD: &str = "evidence_bytes";
const READ_CHUNK: usize = 64 * 1024;

/// Turns plaintext, as it arrives, into the sealed bytes of one blob, and keeps its digest.
pub(super) struct Sealer {
    keys: Keyring,
    file_id: uuid::Uuid,
    /// Of the plaintext.
    hasher: Sha256,
    size: u64,
    /// Plaintext not yet sealed: a frame is sealed once it is known whether it is the last.
    pending: Vec<u8>,
    frames: u64,
}

impl Sealer {
    pub fn new(keys: Keyring) -> Self {
        Self {
            keys,
            file_id: uuid::Uuid::now_v7(),
            hasher: Sha256::new(),
            size: 0,
            pending: Vec::with_capacity(FRAME),
            frames: 0,
        }
    }

    /// The bytes a sealed blob starts with.
    pub fn header(&self) -> Vec<u8> {
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(self.file_id.as_bytes());
        header
    }

    /// Plaintext bytes taken so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Takes `chunk` and returns the sealed frames it completes (`object` names the blob in an
    /// error).
    pub fn push(&mut self, chunk: &[u8], object: &str) -> Result<Vec<u8>, BlobError> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        // A full frame is sealed only once more bytes follow it: the last frame says it is.
        while self.pending.len() > FRAME {
            let rest = self.pending.split_off(FRAME);
            let frame = std::mem::replace(&mut self.pending, rest);
            out.extend_from_slice(&self.frame(&frame, false, object)?);
        }
        Ok(out)
    }

    /// The last frame, and the digest and size of the whole plaintext.
    pub fn finish(&mut self, object: &str) -> Result<(Vec<u8>, Sha256Digest, u64), BlobError> {
        let last = std::mem::take(&mut self.pending);
        let frame = self.frame(&last, true, object)?;
        let sha256 = Sha256Digest(std::mem::take(&mut self.hasher).finalize().into());
        Ok((frame, sha256, self.size))
    }

    fn frame(&mut self, plaintext: &[u8], last: bool, object: &str) -> Result<Vec<u8>, BlobError> {
        let record = frame_record(&self.file_id, self.frames, last);
        let sealed = self
            .keys
            .seal_bytes(FIELD, &record, plaintext)
            .map_err(|e| BlobError::new("seal", object, doxwatch_kit::error::CauseChain(&e).to_string()))?;
        let len = u32::try_from(sealed.len()).map_err(|_| BlobError::new("seal", object, "a frame too large"))?;
        let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + sealed.len());
        frame.push(u8::from(last));
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&sealed);
        self.frames += 1;
        Ok(frame)
    }
}

/// Whether a blob that starts with `start` (its first [`START_LEN`] bytes, or all of a shorter
/// one) is sealed under the active key: its first frame names the key.
pub(super) fn sealed_under_active_key(keys: &Keyring, start: &[u8]) -> bool {
    start.len() >= START_LEN
        && start.starts_with(MAGIC)
        && keys.is_current_bytes(&start[HEADER_LEN + FRAME_HEADER_LEN..]).unwrap_or(false)
}

/// Reads into `buf` until it is full or the input ends; returns how much was read.
pub(super) async fn read_up_to(input: &mut (impl AsyncRead + Unpin), buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = input.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// The plaintext of a stored blob read from `input`: the frames opened when it is sealed, its
/// bytes as they are when it was stored before sealing began. `object` names it in errors.
pub(super) async fn open<R>(keys: Keyring, mut input: R, object: String) -> Result<BlobStream, BlobError>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let mut header = vec![0u8; HEADER_LEN];
    let read = read_up_to(&mut input, &mut header).await.map_err(|e| BlobError::new("read", &object, e))?;
    header.truncate(read);
    if read == HEADER_LEN && header.starts_with(MAGIC) {
        let file_id = uuid::Uuid::from_slice(&header[MAGIC.len()..]).unwrap_or_default();
        return Ok(opened(keys, input, object, file_id));
    }
    // Stored before sealing began: the bytes as they are, those already read first.
    let first = futures::stream::iter((!header.is_empty()).then_some(Ok(header)));
    Ok(first.chain(plain(input, object)).boxed())
}

/// The rest of `input` as it is.
fn plain<R: AsyncRead + Unpin + Send + 'static>(input: R, object: String) -> BlobStream {
    futures::stream::unfold(Some((input, object)), |state| async move {
        let (mut input, object) = state?;
        let mut buf = vec![0u8; READ_CHUNK];
        match input.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some((input, object))))
            }
            Err(e) => Some((Err(BlobError::new("read", &object, e)), None)),
        }
    })
    .boxed()
}

/// The associated record of frame `index` of the blob `file_id`.
fn frame_record(file_id: &uuid::Uuid, index: u64, last: bool) -> String {
    format!("{file_id}/{index}/{}", if last { "last" } else { "more" })
}

/// The plaintext of a sealed blob's frames, in order. A frame that does not open, a frame after
/// the last or a blob that ends before its last frame ends the stream with an error.
fn opened<R: AsyncRead + Unpin + Send + 'static>(
    keys: Keyring,
    input: R,
    object: String,
    file_id: uuid::Uuid,
) -> BlobStream {
    struct Reading<R> {
        keys: Keyring,
        input: tokio::io::BufReader<R>,
        object: String,
        file_id: uuid::Uuid,
        index: u64,
    }
    let state = Reading { keys, input: tokio::io::BufReader::new(input), object, file_id, index: 0 };
    futures::stream::unfold(Some(state), move |state| async move {
        let mut r = state?;
        let invalid = |r: &Reading<R>, what: &str| Some((Err(BlobError::new("open", &r.object, what)), None));
        let failed = |r: &Reading<R>, e| Some((Err(BlobError::new("read", &r.object, e)), None));
        let mut header = [0u8; FRAME_HEADER_LEN];
        match read_up_to(&mut r.input, &mut header).await {
            Ok(FRAME_HEADER_LEN) => {}
            Ok(_) => return invalid(&r, "the sealed blob ends before its last frame"),
            Err(e) => return failed(&r, e),
        }
        let last = match header[0] {
            0 => false,
            1 => true,
            _ => return invalid(&r, "a frame header is damaged"),
        };
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        if len > FRAME + SEAL_OVERHEAD {
            return invalid(&r, "a frame is longer than any the store writes");
        }
        let mut sealed = vec![0u8; len];
        match read_up_to(&mut r.input, &mut sealed).await {
            Ok(n) if n == len => {}
            Ok(_) => return invalid(&r, "the sealed blob ends inside a frame"),
            Err(e) => return failed(&r, e),
        }
        let Ok(plaintext) = r.keys.open_bytes(FIELD, &frame_record(&r.file_id, r.index, last), &sealed) else {
            return invalid(&r, "a frame does not open under the store's keys");
        };
        if last {
            let mut rest = [0u8; 1];
            return match read_up_to(&mut r.input, &mut rest).await {
                Ok(0) => Some((Ok(plaintext), None)),
                Ok(_) => invalid(&r, "bytes follow the last frame"),
                Err(e) => failed(&r, e),
            };
        }
        r.index += 1;
        Some((Ok(plaintext), Some(r)))
    })
    .boxed()
}

/// The SHA-256 of a stored blob's plaintext, to tell a good copy from a damaged one; `None` if it
/// cannot be read to the end or opened.
pub(super) async fn digest_of(bytes: Option<BlobStream>) -> Option<Sha256Digest> {
    let mut bytes = bytes?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = bytes.next().await {
        hasher.update(chunk.ok()?);
    }
    Some(Sha256Digest(hasher.finalize().into()))
}

/// Seals the blob `sha256`, read from `bytes`, again through `writer` (one that replaces it only
/// if the bytes still have its digest); false, and the stored blob left as it is, if its bytes do
/// not open or no longer match.
pub(super) async fn reseal(
    sha256: Sha256Digest,
    mut bytes: BlobStream,
    mut writer: Box<dyn BlobWriter>,
) -> Result<bool, BlobError> {
    while let Some(chunk) = bytes.next().await {
        match chunk {
            Ok(chunk) => writer.write(&chunk).await?,
            Err(e) => {
                tracing::warn!(sha256 = %sha256, error = %doxwatch_kit::error::CauseChain(&e), "an evidence blob does not open; left as it is");
                return Ok(false);
            }
        }
    }
    Ok(writer.commit().await.is_ok())
}
