//! Blobs as objects in an S3-compatible bucket, for replicas that share no disk:
//! `<prefix>/sha256/<2 hex>/<2 hex>/<64 hex>`, sealed as the local store seals its files. A blob
//! streams in parts (a multipart upload) to `<prefix>/tmp/<id>.part`, and is copied under its
//! SHA-256 only once that upload is complete, so nothing partial is ever visible under a digest;
//! the temporary object is deleted after the copy. Errors name the bucket and key, never the
//! credentials.

use std::sync::Arc;

use doxwatch_kit::{
    config::{ExposeSecret, Secret},
    sealing::Keyring,
};
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, RetryConfig, WriteMultipart, aws::AmazonS3Builder, path::Path};

use super::{
    BlobError, BlobStore, BlobStream, BlobWriter, StoredBlob,
    sealed::{self, Sealer},
};
use crate::domain::Sha256Digest;

/// Where an S3-compatible evidence store is and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// The service's URL (`https://minio.example:9000`); AWS S3 itself when unset.
    pub endpoint: Option<String>,
    pub region: String,
    /// Prepended to every key, without slashes at either end; empty for none.
    pub prefix: String,
    /// The access key id and secret access key; without them, the machine's role (the instance
    /// metadata service).
    pub credentials: Option<(Secret, Secret)>,
    /// Whether an `http://` endpoint may be used: for a local test server only.
    pub allow_http: bool,
}

/// The size of each part of an upload (S3's smallest part but the last), and how many parts one
/// upload may have in flight: what a capture costs in memory, whatever its size.
const PART: usize = 5 * 1024 * 1024;
const PARTS_IN_FLIGHT: usize = 2;
/// How long a request may be retried in all.
const RETRY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl S3Settings {
    /// A client of the bucket. Nothing is sent until it is used.
    pub fn connect(&self) -> Result<Arc<dyn ObjectStore>, BlobError> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_allow_http(self.allow_http)
            // A few quick retries: a capture's call has its own deadline, and a bucket that does
            // not answer for long should fail the call, not outlast it.
            .with_retry(RetryConfig { max_retries: 3, retry_timeout: RETRY_TIMEOUT, ..RetryConfig::default() });
        if let Some(endpoint) = &self.endpoint {
            // Path-style requests: an endpoint of one's own rarely has a name per bucket.
            builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
        }
        if let Some((id, secret)) = &self.credentials {
            builder = builder.with_access_key_id(id.expose_secret()).with_secret_access_key(secret.expose_secret());
        }
        let store = builder.build().map_err(|e| BlobError::new("connect to", &self.bucket_url(), e))?;
        Ok(Arc::new(store))
    }

    fn bucket_url(&self) -> String {
        format!("s3://{}", self.bucket)
    }

    fn key(&self, rest: &str) -> Path {
        if self.prefix.is_empty() { Path::from(rest) } else { Path::from(format!("{}/{rest}", self.prefix)) }
    }

    /// The key the blob with this digest is (or would be) kept under.
    pub fn key_of(&self, sha256: &Sha256Digest) -> Path {
        let hex = sha256.to_hex();
        self.key(&format!("sha256/{}/{}/{hex}", &hex[0..2], &hex[2..4]))
    }

    /// Where blobs being written are, and where the stored ones are.
    pub fn tmp_prefix(&self) -> Path {
        self.key("tmp")
    }

    pub fn blobs_prefix(&self) -> Path {
        self.key("sha256")
    }

    /// `s3://bucket/key`, as errors name an object.
    pub fn url_of(&self, key: &Path) -> String {
        format!("s3://{}/{key}", self.bucket)
    }
}

#[derive(Clone)]
pub struct S3BlobStore {
    objects: Arc<dyn ObjectStore>,
    settings: S3Settings,
    keys: Keyring,
}

impl std::fmt::Debug for S3BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3BlobStore").field("bucket", &self.settings.bucket).finish_non_exhaustive()
    }
}

impl S3BlobStore {
    /// Opens the store in the bucket `settings` names, sealing with `keys`, and deletes what
    /// interrupted writes left under `tmp/` more than a day ago (another replica may be writing
    /// the newer ones). Listing them checks that the bucket answers, so that a wrong bucket,
    /// endpoint or key stops the start rather than the first capture.
    pub async fn open(settings: S3Settings, keys: Keyring) -> Result<Self, BlobError> {
        let objects = settings.connect()?;
        let tmp = settings.tmp_prefix();
        let url = settings.url_of(&tmp);
        let listed: Vec<_> =
            objects.list(Some(&tmp)).try_collect().await.map_err(|e| BlobError::new("list", &url, e))?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        for meta in listed {
            if now.saturating_sub(meta.last_modified.timestamp()) > super::STALE_WRITE.as_secs() as i64 {
                let _ = objects.delete(&meta.location).await;
            }
        }
        Ok(Self { objects, settings, keys })
    }

    fn failed(&self, action: &'static str, key: &Path) -> impl FnOnce(object_store::Error) -> BlobError {
        let url = self.settings.url_of(key);
        move |e| BlobError::new(action, &url, e)
    }

    async fn writer(&self, replaces: Option<Sha256Digest>) -> Result<S3Writer, BlobError> {
        let tmp = self.settings.key(&format!("tmp/{}.part", uuid::Uuid::now_v7()));
        let upload = self.objects.put_multipart(&tmp).await.map_err(self.failed("start an upload to", &tmp))?;
        let mut upload = WriteMultipart::new_with_chunk_size(upload, PART);
        let sealer = Sealer::new(self.keys.clone());
        upload.write(&sealer.header());
        Ok(S3Writer { store: self.clone(), tmp, upload: Some(upload), uploaded: false, sealer, replaces })
    }

    async fn reseal_one(&self, sha256: Sha256Digest) -> Result<bool, BlobError> {
        let Some(bytes) = self.get(&sha256).await? else { return Ok(false) };
        sealed::reseal(sha256, bytes, Box::new(self.writer(Some(sha256)).await?)).await
    }

    /// Whether the object `meta` names is sealed under the active key: its first bytes tell.
    async fn sealed_under_active_key(&self, meta: &object_store::ObjectMeta) -> Result<bool, BlobError> {
        let end = meta.size.min(sealed::START_LEN as u64);
        if end == 0 {
            return Ok(false);
        }
        let start =
            self.objects.get_range(&meta.location, 0..end).await.map_err(self.failed("read", &meta.location))?;
        Ok(sealed::sealed_under_active_key(&self.keys, &start))
    }
}

#[async_trait::async_trait]
impl doxwatch_kit::data_keys::SealedFiles for S3BlobStore {
    /// Every evidence object not sealed under the active key (older keys, or stored before
    /// sealing began) is sealed again and copied over the old one once complete.
    async fn reseal(&self) -> Result<(i64, i64), String> {
        let (mut resealed, mut remaining) = (0, 0);
        let prefix = self.settings.blobs_prefix();
        let mut listing = self.objects.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(|e| BlobError::new("list", &self.settings.url_of(&prefix), e).to_string())?;
            let Some(Ok(sha256)) = meta.location.filename().map(Sha256Digest::parse_hex) else { continue };
            if self.sealed_under_active_key(&meta).await.map_err(|e| e.to_string())? {
                continue;
            }
            super::count_reseal(sha256, self.reseal_one(sha256).await, &mut resealed, &mut remaining);
        }
        Ok((resealed, remaining))
    }
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn begin(&self) -> Result<Box<dyn BlobWriter>, BlobError> {
        Ok(Box::new(self.writer(None).await?))
    }

    async fn get(&self, sha256: &Sha256Digest) -> Result<Option<BlobStream>, BlobError> {
        let key = self.settings.key_of(sha256);
        let object = match self.objects.get(&key).await {
            Ok(object) => object,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.failed("read", &key)(e)),
        };
        // One response read as it arrives: the memory of a read does not grow with the blob.
        let body = object.into_stream().map_err(std::io::Error::from);
        let reader = tokio_util::io::StreamReader::new(body);
        Ok(Some(sealed::open(self.keys.clone(), reader, self.settings.url_of(&key)).await?))
    }

    async fn exists(&self, sha256: &Sha256Digest) -> Result<bool, BlobError> {
        let key = self.settings.key_of(sha256);
        match self.objects.head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed("look for", &key)(e)),
        }
    }

    /// An acknowledged DELETE is durable in S3; false if there was no object to delete.
    async fn delete(&self, sha256: &Sha256Digest) -> Result<bool, BlobError> {
        if !self.exists(sha256).await? {
            return Ok(false);
        }
        let key = self.settings.key_of(sha256);
        self.objects.delete(&key).await.map_err(self.failed("delete", &key))?;
        Ok(true)
    }
}

struct S3Writer {
    store: S3BlobStore,
    tmp: Path,
    /// The upload under way; `None` once finished (or failed).
    upload: Option<WriteMultipart>,
    /// The temporary object is complete and must be deleted when done with.
    uploaded: bool,
    sealer: Sealer,
    /// The stored blob this one is to replace (sealed again under another key).
    replaces: Option<Sha256Digest>,
}

impl S3Writer {
    async fn append(&mut self, bytes: &[u8]) -> Result<(), BlobError> {
        let failed = self.store.failed("upload", &self.tmp);
        let Some(upload) = self.upload.as_mut() else { return Ok(()) };
        // Waits while parts are in flight: a slow bucket slows the upload, not memory.
        upload.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(failed)?;
        upload.write(bytes);
        Ok(())
    }

    /// Moves the complete temporary object under `sha256`, replacing what is there.
    async fn publish(&mut self, sha256: &Sha256Digest) -> Result<(), BlobError> {
        let target = self.store.settings.key_of(sha256);
        let objects = &self.store.objects;
        objects.copy(&self.tmp, &target).await.map_err(self.store.failed("copy into place", &target))?;
        objects.delete(&self.tmp).await.map_err(self.store.failed("delete", &self.tmp))?;
        self.uploaded = false;
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        let frames = self.sealer.push(chunk, &self.store.settings.url_of(&self.tmp))?;
        self.append(&frames).await
    }

    fn size(&self) -> u64 {
        self.sealer.size()
    }

    /// Runs to its end in a task of its own: a call cancelled while the upload completes (its
    /// client gone) would otherwise drop the writer when the object exists but before it knows
    /// to delete it, leaving a whole temporary object behind.
    async fn commit(self: Box<Self>) -> Result<StoredBlob, BlobError> {
        let url = self.store.settings.url_of(&self.tmp);
        tokio::spawn(self.complete()).await.map_err(|e| BlobError::new("complete the upload of", &url, e))?
    }
}

impl S3Writer {
    /// Completes the upload and puts the object under its digest, or finds it there already.
    async fn complete(mut self: Box<Self>) -> Result<StoredBlob, BlobError> {
        let (last, sha256, size) = self.sealer.finish(&self.store.settings.url_of(&self.tmp))?;
        self.append(&last).await?;
        if let Some(upload) = self.upload.take() {
            // Dropped on an error, an unfinished upload is aborted (see Drop).
            upload.finish().await.map_err(self.store.failed("complete the upload of", &self.tmp))?;
            self.uploaded = true;
        }
        let target = self.store.settings.key_of(&sha256);
        if let Some(expected) = self.replaces {
            if expected != sha256 {
                tracing::warn!(sha256 = %expected, "an evidence object's bytes no longer match their digest; left as it is");
                return Err(BlobError::new(
                    "check",
                    &self.store.settings.url_of(&target),
                    "the bytes do not match their digest",
                ));
            }
        } else if self.store.exists(&sha256).await? {
            if sealed::digest_of(self.store.get(&sha256).await.ok().flatten()).await == Some(sha256) {
                self.store.objects.delete(&self.tmp).await.map_err(self.store.failed("delete", &self.tmp))?;
                self.uploaded = false;
                return Ok(StoredBlob { sha256, size, deduplicated: true });
            }
            // The stored copy is damaged: the new bytes, which match the digest, replace it.
            tracing::warn!(sha256 = %sha256, "a stored evidence blob no longer matched its digest; replaced");
        }
        self.publish(&sha256).await?;
        Ok(StoredBlob { sha256, size, deduplicated: false })
    }
}

impl Drop for S3Writer {
    fn drop(&mut self) {
        // An abandoned write (over the size limit, a broken stream) leaves no upload and no
        // temporary object behind; what a crash leaves, the next start clears after a day.
        let (upload, uploaded) = (self.upload.take(), self.uploaded);
        if upload.is_none() && !uploaded {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (objects, tmp) = (self.store.objects.clone(), self.tmp.clone());
        runtime.spawn(async move {
            if let Some(upload) = upload {
                let _ = upload.abort().await;
            }
            if uploaded {
                let _ = objects.delete(&tmp).await;
            }
        });
    }
}
