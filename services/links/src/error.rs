//! Link-tracking's one error type: the kit's shared failures, and what is link-tracking's own,
//! with the one mapping to gRPC statuses.

use doxwatch_kit::error::{self, Error, FieldViolations};
use doxwatch_proto::links::ErrorReason;
use tonic::{Code, Status};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LinksError {
    #[error(transparent)]
    Common(Error),
    #[error("domains already belong to other platforms: {0}")]
    DomainTaken(FieldViolations),
    #[error("the platform registry is invalid: {0}")]
    Registry(String),
    /// Stored evidence no longer matches its SHA-256 (or is gone); it is never served.
    #[error("{0}: the stored bytes do not match their SHA-256")]
    EvidenceCorrupted(String),
    #[error("evidence store failure")]
    Blob(#[from] crate::blob::BlobError),
}

doxwatch_kit::service_error!(LinksError, StoreError);

impl LinksError {
    pub fn not_found(name: String) -> Self {
        LinksError::Common(Error::NotFound(name))
    }

    pub fn invalid(violations: FieldViolations) -> Self {
        LinksError::Common(Error::InvalidArgument(violations))
    }

    pub fn precondition(reason: ErrorReason, message: String) -> Self {
        LinksError::Common(Error::precondition(reason.as_str_name(), message))
    }
}

impl From<LinksError> for Status {
    fn from(e: LinksError) -> Self {
        match e {
            LinksError::Common(e) => e.into(),
            LinksError::DomainTaken(v) => {
                error::with_reason(Code::FailedPrecondition, ErrorReason::DomainTaken.as_str_name(), v.to_string())
            }
            e @ LinksError::Registry(_) => error::internal(&e),
            LinksError::EvidenceCorrupted(name) => {
                tracing::error!(evidence = %name, "stored evidence does not match its SHA-256; not served");
                error::with_reason(
                    Code::DataLoss,
                    ErrorReason::EvidenceCorrupted.as_str_name(),
                    format!("{name}: the stored bytes no longer match their SHA-256 and are not served"),
                )
            }
            LinksError::Blob(e) => error::internal(&e),
        }
    }
}
