//! Liaison's one error type and its one mapping to gRPC statuses.

use doxwatch_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotencyError,
};
use tonic::{Code, Status};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LiaisonError {
    #[error("invalid request: {0}")]
    Invalid(FieldViolations),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{1}")]
    Precondition(&'static str, String),
    #[error("request_id {0:?} was already used for a different request")]
    RequestIdReused(String),
    /// Link-tracking could not answer a read this request depends on.
    #[error("link-tracking is unavailable")]
    LinksUnavailable(#[source] Status),
    #[error("the letter cannot be rendered")]
    Render(String),
    #[error("store failure")]
    Store(#[from] StoreError),
    #[error("stored response cannot be decoded")]
    Replay(#[from] prost::DecodeError),
}

impl From<sqlx::Error> for LiaisonError {
    fn from(e: sqlx::Error) -> Self {
        LiaisonError::Store(StoreError::Sqlx(e))
    }
}

impl From<FieldViolations> for LiaisonError {
    fn from(v: FieldViolations) -> Self {
        LiaisonError::Invalid(v)
    }
}

impl From<IdempotencyError> for LiaisonError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Reused(id) => LiaisonError::RequestIdReused(id),
            IdempotencyError::Store(e) => e.into(),
            IdempotencyError::Decode(e) => LiaisonError::Replay(e),
        }
    }
}

impl doxwatch_kit::transaction::StoreFailure for LiaisonError {
    fn is_unique_violation(&self) -> bool {
        matches!(self, LiaisonError::Store(StoreError::Sqlx(e)) if doxwatch_kit::db::is_unique_violation(e))
    }
}

impl From<LiaisonError> for Status {
    fn from(e: LiaisonError) -> Self {
        match e {
            LiaisonError::Invalid(v) => error::invalid_argument(&v),
            LiaisonError::NotFound(name) => error::not_found(&name),
            LiaisonError::Precondition(reason, message) => {
                error::with_reason(Code::FailedPrecondition, reason, message)
            }
            LiaisonError::RequestIdReused(id) => error::request_id_reused(&id),
            LiaisonError::LinksUnavailable(status) => error::peer_unavailable("link-tracking", &status),
            e @ LiaisonError::Render(_) => error::internal(&e),
            LiaisonError::Store(e) => error::internal(&e),
            LiaisonError::Replay(e) => error::internal(&e),
        }
    }
}
