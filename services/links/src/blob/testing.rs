//! What tests need of an evidence store besides the service: a fresh bucket of their own on the
//! S3-compatible server `DOXWATCH_TEST_S3_ENDPOINT` names (read, never set; set but unreachable is
//! a failure, not a skip), and the stored blobs as they are, to count, damage or remove them the
//! way a fault on the disk or in the bucket would.

use std::path::PathBuf;

use doxwatch_kit::config::Secret;
use futures::TryStreamExt;
use object_store::{ObjectStore, PutPayload};

use super::{EvidenceLocation, S3Settings};
use crate::domain::Sha256Digest;

/// The variable naming the S3-compatible server the tests may use (e.g. `http://127.0.0.1:9000`).
pub const ENDPOINT_VARIABLE: &str = "DOXWATCH_TEST_S3_ENDPOINT";
const REGION: &str = "us-east-1";
/// A test server's credentials: any will do for a server that does not check them; one that does
/// is given its own in DOXWATCH_TEST_S3_ACCESS_KEY_ID and DOXWATCH_TEST_S3_SECRET_ACCESS_KEY.
const DEFAULT_KEY: &str = "doxwatch-test";

/// A bucket that exists for one test, emptied and deleted when dropped.
pub struct TestBucket {
    pub settings: S3Settings,
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl TestBucket {
    /// A new, empty bucket on the server `DOXWATCH_TEST_S3_ENDPOINT` names, or `None` without one.
    pub async fn fresh() -> Option<Self> {
        let endpoint = variable(ENDPOINT_VARIABLE)?;
        let key_id = variable("DOXWATCH_TEST_S3_ACCESS_KEY_ID").unwrap_or_else(|| DEFAULT_KEY.to_owned());
        let secret = variable("DOXWATCH_TEST_S3_SECRET_ACCESS_KEY").unwrap_or_else(|| DEFAULT_KEY.to_owned());
        let bucket = format!("doxwatch-test-{}", uuid::Uuid::now_v7().simple());
        let settings = S3Settings {
            bucket,
            endpoint: Some(endpoint.trim_end_matches('/').to_owned()),
            region: REGION.to_owned(),
            prefix: "evidence".to_owned(),
            credentials: Some((Secret::from(key_id), Secret::from(secret))),
            allow_http: endpoint.starts_with("http://"),
        };
        let status = settings.bucket_request(http::Method::PUT).await;
        assert!(
            status.is_success(),
            "{ENDPOINT_VARIABLE} is set but creating a bucket at {endpoint} answered {status}"
        );
        Some(Self { settings })
    }

    pub fn location(&self) -> EvidenceLocation {
        EvidenceLocation::S3(self.settings.clone())
    }
}

impl S3Settings {
    /// Sends a signed request about the bucket itself (create, delete), which the object store
    /// client does not make; its status.
    async fn bucket_request(&self, method: http::Method) -> http::StatusCode {
        use doxwatch_kit::config::ExposeSecret;
        let endpoint = self.endpoint.clone().expect("a test bucket's endpoint");
        let url = format!("{endpoint}/{}", self.bucket);
        let (id, secret) = self.credentials.as_ref().expect("a test bucket's credentials");
        let credential = object_store::aws::AwsCredential {
            key_id: id.expose_secret().to_owned(),
            secret_key: secret.expose_secret().to_owned(),
            token: None,
        };
        let mut request = http::Request::builder()
            .method(method)
            .uri(&url)
            .body(object_store::client::HttpRequestBody::empty())
            .expect("a bucket request");
        object_store::aws::AwsAuthorizer::new(&credential, "s3", &self.region).authorize(&mut request, None);
        let mut signed = reqwest::Client::new().request(request.method().clone(), &url);
        for (name, value) in request.headers() {
            signed = signed.header(name, value);
        }
        match signed.send().await {
            Ok(response) => response.status(),
            Err(e) => panic!("{ENDPOINT_VARIABLE} is set but {endpoint} does not answer: {e}"),
        }
    }
}

impl Drop for TestBucket {
    fn drop(&mut self) {
        let settings = self.settings.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on; a thread with its own
        // runtime empties the bucket and deletes it.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                let Ok(objects) = settings.connect() else { return };
                let listed: Vec<_> = objects.list(None).try_collect().await.unwrap_or_default();
                for meta in listed {
                    let _ = objects.delete(&meta.location).await;
                }
                settings.bucket_request(http::Method::DELETE).await;
            });
        })
        .join();
    }
}

/// The stored form of an evidence store's blobs, reached around the service.
#[derive(Debug, Clone)]
pub enum StoredBlobs {
    Local(PathBuf),
    S3(S3Settings),
}

impl StoredBlobs {
    pub fn of(location: &EvidenceLocation) -> Self {
        match location {
            EvidenceLocation::Local(dir) => Self::Local(dir.clone()),
            EvidenceLocation::S3(settings) => Self::S3(settings.clone()),
        }
    }

    /// Every file or object the store holds, blobs and anything left of a write, by name
    /// relative to the store.
    pub async fn names(&self) -> Vec<String> {
        match self {
            Self::Local(dir) => {
                let mut out = Vec::new();
                let mut dirs = vec![dir.clone()];
                while let Some(d) = dirs.pop() {
                    let Ok(entries) = std::fs::read_dir(&d) else { continue };
                    for path in entries.flatten().map(|e| e.path()) {
                        if path.is_dir() {
                            dirs.push(path);
                        } else {
                            out.push(path.strip_prefix(dir).unwrap_or(&path).display().to_string());
                        }
                    }
                }
                out.sort();
                out
            }
            Self::S3(settings) => {
                let objects = settings.connect().expect("the test bucket's client");
                let listed: Vec<_> = objects.list(None).try_collect().await.expect("the test bucket's objects");
                let prefix = format!("{}/", settings.prefix);
                let mut out: Vec<String> = listed
                    .into_iter()
                    .map(|m| m.location.to_string())
                    .map(|k| k.strip_prefix(&prefix).map(str::to_owned).unwrap_or(k))
                    .collect();
                out.sort();
                out
            }
        }
    }

    /// The stored bytes of a blob, sealed as they are; `None` if there are none.
    pub async fn read(&self, sha256: &Sha256Digest) -> Option<Vec<u8>> {
        match self {
            Self::Local(dir) => std::fs::read(local_path(dir, sha256)).ok(),
            Self::S3(settings) => {
                let objects = settings.connect().expect("the test bucket's client");
                let object = objects.get(&settings.key_of(sha256)).await.ok()?;
                Some(object.bytes().await.expect("the object's bytes").to_vec())
            }
        }
    }

    /// Puts `bytes` in place of a blob's stored bytes (a fault, or a blob stored before sealing).
    pub async fn write(&self, sha256: &Sha256Digest, bytes: &[u8]) {
        match self {
            Self::Local(dir) => {
                use std::os::unix::fs::PermissionsExt;
                let path = local_path(dir, sha256);
                std::fs::create_dir_all(path.parent().expect("a parent")).expect("the directories");
                if path.exists() {
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("made writable");
                }
                std::fs::write(&path, bytes).expect("the file written");
            }
            Self::S3(settings) => {
                let objects = settings.connect().expect("the test bucket's client");
                let payload = PutPayload::from(bytes.to_vec());
                objects.put(&settings.key_of(sha256), payload).await.expect("the object written");
            }
        }
    }

    /// Removes a blob's stored bytes.
    pub async fn remove(&self, sha256: &Sha256Digest) {
        match self {
            Self::Local(dir) => std::fs::remove_file(local_path(dir, sha256)).expect("the file removed"),
            Self::S3(settings) => {
                let objects = settings.connect().expect("the test bucket's client");
                objects.delete(&settings.key_of(sha256)).await.expect("the object removed");
            }
        }
    }
}

fn local_path(dir: &std::path::Path, sha256: &Sha256Digest) -> PathBuf {
    let hex = sha256.to_hex();
    dir.join("sha256").join(&hex[0..2]).join(&hex[2..4]).join(hex)
}
