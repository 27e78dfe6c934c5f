//! Link-tracking's one error type and its one mapping to gRPC statuses.

use doxwatch_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotencyError,
};
use tonic::{Code, Status};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LinksError {
    #[error("invalid request: {0}")]
    Invalid(FieldViolations),
    #[error("domains already belong to other platforms: {0}")]
    DomainTaken(FieldViolations),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{1}")]
    Precondition(&'static str, String),
    #[error("request_id {0:?} was already used for a different request")]
    RequestIdReused(String),
    #[error("the platform registry is invalid: {0}")]
    Registry(String),
    #[error("store failure")]
    Store(#[from] StoreError),
    #[error("stored response cannot be decoded")]
    Replay(#[from] prost::DecodeError),
    /// Stored evidence no longer matches its SHA-256 (or is gone); it is never served.
    #[error("{0}: the stored bytes do not match their SHA-256")]
    EvidenceCorrupted(String),
    #[error("evidence store failure")]
    Blob(#[from] crate::blob::BlobError),
}

impl From<sqlx::Error> for LinksError {
    fn from(e: sqlx::Error) -> Self {
        LinksError::Store(StoreError::Sqlx(e))
    }
}

impl doxwatch_kit::transaction::StoreFailure for LinksError {
    fn is_unique_violation(&self) -> bool {
        matches!(self, LinksError::Store(StoreError::Sqlx(e)) if doxwatch_kit::db::is_unique_violation(e))
    }
}

impl From<FieldViolations> for LinksError {
    fn from(v: FieldViolations) -> Self {
        LinksError::Invalid(v)
    }
}

impl From<IdempotencyError> for LinksError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Reused(id) => LinksError::RequestIdReused(id),
            IdempotencyError::Store(e) => e.into(),
            IdempotencyError::Decode(e) => LinksError::Replay(e),
        }
    }
}

impl From<LinksError> for Status {
    fn from(e: LinksError) -> Self {
        match e {
            LinksError::Invalid(v) => error::invalid_argument(&v),
            LinksError::DomainTaken(v) => error::with_reason(Code::FailedPrecondition, "DOMAIN_TAKEN", v.to_string()),
            LinksError::NotFound(name) => error::not_found(&name),
            LinksError::Precondition(reason, message) => error::with_reason(Code::FailedPrecondition, reason, message),
            LinksError::RequestIdReused(id) => error::request_id_reused(&id),
            e @ LinksError::Registry(_) => error::internal(&e),
            LinksError::Store(e) => error::internal(&e),
            LinksError::Replay(e) => error::internal(&e),
            LinksError::EvidenceCorrupted(name) => {
                tracing::error!(evidence = %name, "stored evidence does not match its SHA-256; not served");
                error::with_reason(
                    Code::DataLoss,
                    "EVIDENCE_CORRUPTED",
                    format!("{name}: the stored bytes no longer match their SHA-256 and are not served"),
                )
            }
            LinksError::Blob(e) => error::internal(&e),
        }
    }
}
