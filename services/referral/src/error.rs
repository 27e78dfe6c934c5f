//! The referral service's one error type and its one mapping to gRPC statuses.

use doxwatch_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotencyError,
};
use tonic::{Code, Status};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReferralError {
    #[error("invalid request: {0}")]
    Invalid(FieldViolations),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{1}")]
    Precondition(&'static str, String),
    #[error("request_id {0:?} was already used for a different request")]
    RequestIdReused(String),
    /// Intake could not answer a read this request depends on.
    #[error("intake is unavailable")]
    IntakeUnavailable(#[source] Status),
    /// Link-tracking could not answer a read this request depends on.
    #[error("link-tracking is unavailable")]
    LinksUnavailable(#[source] Status),
    #[error("store failure")]
    Store(#[from] StoreError),
    #[error("stored response cannot be decoded")]
    Replay(#[from] prost::DecodeError),
}

impl From<sqlx::Error> for ReferralError {
    fn from(e: sqlx::Error) -> Self {
        ReferralError::Store(StoreError::Sqlx(e))
    }
}

impl From<FieldViolations> for ReferralError {
    fn from(v: FieldViolations) -> Self {
        ReferralError::Invalid(v)
    }
}

impl From<IdempotencyError> for ReferralError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Reused(id) => ReferralError::RequestIdReused(id),
            IdempotencyError::Store(e) => e.into(),
            IdempotencyError::Decode(e) => ReferralError::Replay(e),
        }
    }
}

impl doxwatch_kit::transaction::StoreFailure for ReferralError {
    fn is_unique_violation(&self) -> bool {
        matches!(self, ReferralError::Store(StoreError::Sqlx(e)) if doxwatch_kit::db::is_unique_violation(e))
    }
}

impl ReferralError {
    /// INVALID_ARGUMENT naming one field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = FieldViolations::new();
        v.add(field, description);
        ReferralError::Invalid(v)
    }
}

impl From<ReferralError> for Status {
    fn from(e: ReferralError) -> Self {
        match e {
            ReferralError::Invalid(v) => error::invalid_argument(&v),
            ReferralError::NotFound(name) => error::not_found(&name),
            ReferralError::Precondition(reason, message) => {
                error::with_reason(Code::FailedPrecondition, reason, message)
            }
            ReferralError::RequestIdReused(id) => error::request_id_reused(&id),
            ReferralError::IntakeUnavailable(status) => error::peer_unavailable("intake", &status),
            ReferralError::LinksUnavailable(status) => error::peer_unavailable("link-tracking", &status),
            ReferralError::Store(e) => error::internal(&e),
            ReferralError::Replay(e) => error::internal(&e),
        }
    }
}
