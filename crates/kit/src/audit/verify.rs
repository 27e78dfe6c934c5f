//! Verifying a log: the chain record by record, every checkpoint's signature and head, and an
//! older checkpoint an auditor kept, which proves the log only grew since.

use std::collections::BTreeMap;

use doxwatch_proto::ops::{self as pb, AuditCheckpoint, AuditRecord};
use ring::signature::{ED25519, UnparsedPublicKey};
use tonic::Status;

use super::{Entry, GENESIS, checkpoint::checkpoint_message, service::MAX_PAGE_SIZE};
use crate::timestamp;

/// What a verified log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: i64,
    pub checkpoints: usize,
    pub head: [u8; 32],
}

/// The first thing wrong with a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("record {0} is missing: the log goes on at record {1}")]
    Missing(i64, i64),
    #[error("record {0} is out of place: record {1} was expected")]
    OutOfOrder(i64, i64),
    #[error("record {0} was changed: its hash is not that of its contents")]
    Changed(i64),
    #[error("record {0} does not follow record {1}: its previous hash is not that record's hash")]
    Unchained(i64, i64),
    #[error("record {0} cannot be read as a record")]
    Unreadable(i64),
    #[error("the checkpoint at {0} records is not signed by the given key (key id {1})")]
    BadSignature(i64, String),
    #[error("the checkpoint at {0} records is of service {1:?}, not {2:?}")]
    WrongService(i64, String, String),
    #[error(
        "the log at record {0} is not what the checkpoint signed: records up to it were changed, removed or replaced"
    )]
    CheckpointMismatch(i64),
    #[error("the log ends at record {0}, but a checkpoint counted {1} records: records were removed")]
    Truncated(i64, i64),
}

/// Checks a service's log record by record against a public key and the signed checkpoints.
pub struct Verifier {
    /// Checkpoints by record count, each signature already checked.
    checkpoints: BTreeMap<i64, AuditCheckpoint>,
    previous: [u8; 32],
    next: i64,
}

impl Verifier {
    /// A verifier of `service`'s log; every checkpoint (those the service lists and any the auditor
    /// kept) must be signed with `public_key`.
    pub fn new(
        public_key: &[u8],
        service: &str,
        checkpoints: impl IntoIterator<Item = AuditCheckpoint>,
    ) -> Result<Self, Broken> {
        let mut kept: BTreeMap<i64, AuditCheckpoint> = BTreeMap::new();
        for checkpoint in checkpoints {
            if checkpoint.service != service {
                return Err(Broken::WrongService(checkpoint.record_count, checkpoint.service, service.to_owned()));
            }
            let signed_at = checkpoint.sign_time.as_ref().and_then(|t| timestamp::from_proto(t).ok());
            let valid = signed_at.is_some_and(|t| {
                let message = checkpoint_message(service, checkpoint.record_count, &checkpoint.head_hash, t);
                UnparsedPublicKey::new(&ED25519, public_key).verify(&message, &checkpoint.signature).is_ok()
            });
            if !valid {
                return Err(Broken::BadSignature(checkpoint.record_count, checkpoint.key_id));
            }
            if checkpoint.record_count == 0 && checkpoint.head_hash != GENESIS {
                return Err(Broken::CheckpointMismatch(0));
            }
            if let Some(other) = kept.get(&checkpoint.record_count)
                && other.head_hash != checkpoint.head_hash
            {
                // Two signed heads for one count: the log was rewritten between them.
                return Err(Broken::CheckpointMismatch(checkpoint.record_count));
            }
            kept.insert(checkpoint.record_count, checkpoint);
        }
        Ok(Self { checkpoints: kept, previous: GENESIS, next: 1 })
    }

    /// Checks the next record of the log.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), Broken> {
        let seq = record.sequence;
        if seq > self.next {
            return Err(Broken::Missing(self.next, seq));
        }
        if seq < self.next {
            return Err(Broken::OutOfOrder(seq, self.next));
        }
        if record.previous_hash != self.previous {
            return Err(Broken::Unchained(seq, seq - 1));
        }
        let entry = Entry::from_record(record).ok_or(Broken::Unreadable(seq))?;
        let hash = entry.hash(seq, &self.previous);
        if record.hash != hash {
            return Err(Broken::Changed(seq));
        }
        if let Some(checkpoint) = self.checkpoints.get(&seq)
            && checkpoint.head_hash != hash
        {
            return Err(Broken::CheckpointMismatch(seq));
        }
        self.previous = hash;
        self.next = seq + 1;
        Ok(())
    }

    /// The end of the log: every checkpoint must have been met.
    pub fn finish(self) -> Result<Verified, Broken> {
        let records = self.next - 1;
        if let Some((&count, _)) = self.checkpoints.range(records + 1..).next() {
            return Err(Broken::Truncated(records, count));
        }
        Ok(Verified { records, checkpoints: self.checkpoints.len(), head: self.previous })
    }
}

/// Why a service's log could not be verified: it could not be read, or it is broken.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read the audit log: {0}")]
    Read(#[from] Status),
    #[error(transparent)]
    Broken(#[from] Broken),
}

/// Reads `service`'s whole log through `client` (its checkpoints first, then every record) and
/// verifies it against `public_key` and the checkpoints the auditor `kept`.
pub async fn verify_remote<T>(
    client: &mut pb::audit_service_client::AuditServiceClient<T>,
    public_key: &[u8],
    service: &str,
    kept: Vec<AuditCheckpoint>,
) -> Result<Verified, VerifyError>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut checkpoints = kept;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_audit_checkpoints(pb::ListAuditCheckpointsRequest { page_size: MAX_PAGE_SIZE as i32, page_token })
            .await?
            .into_inner();
        checkpoints.extend(page.checkpoints);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut verifier = Verifier::new(public_key, service, checkpoints)?;
    let mut page_token = String::new();
    loop {
        let page = client
            .list_audit_records(pb::ListAuditRecordsRequest {
                page_size: MAX_PAGE_SIZE as i32,
                page_token,
                ..Default::default()
            })
            .await?
            .into_inner();
        for record in &page.records {
            verifier.push(record)?;
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(verifier.finish()?)
}
