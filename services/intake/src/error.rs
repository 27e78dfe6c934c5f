//! Intake's one error type and its one mapping to gRPC statuses.

use doxwatch_kit::{
    error::{self, FieldViolations},
    idempotency::IdempotencyError,
};
use tonic::{Code, Status};

use crate::{domain::TransitionRefusal, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("invalid request: {0}")]
    Invalid(FieldViolations),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Transition(#[from] TransitionRefusal),
    #[error("request_id {0:?} was already used for a different request")]
    RequestIdReused(String),
    #[error("store failure")]
    Store(#[from] StoreError),
    #[error("stored response cannot be decoded")]
    Replay(#[from] prost::DecodeError),
    /// Link-tracking's answer to a synchronous read.
    #[error("link-tracking answered {}", .0.code())]
    Links(Status),
}

impl From<sqlx::Error> for IntakeError {
    fn from(e: sqlx::Error) -> Self {
        IntakeError::Store(StoreError::Sqlx(e))
    }
}

impl doxwatch_kit::transaction::StoreFailure for IntakeError {
    fn is_unique_violation(&self) -> bool {
        matches!(self, IntakeError::Store(StoreError::Sqlx(e)) if doxwatch_kit::db::is_unique_violation(e))
    }
}

impl From<FieldViolations> for IntakeError {
    fn from(v: FieldViolations) -> Self {
        IntakeError::Invalid(v)
    }
}

impl From<IdempotencyError> for IntakeError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::Reused(id) => IntakeError::RequestIdReused(id),
            IdempotencyError::Store(e) => e.into(),
            IdempotencyError::Decode(e) => IntakeError::Replay(e),
        }
    }
}

impl From<IntakeError> for Status {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Invalid(violations) => error::invalid_argument(&violations),
            IntakeError::NotFound(name) => error::not_found(&name),
            IntakeError::Transition(refusal) => {
                let reason = match refusal {
                    TransitionRefusal::NotAllowed { .. } => "TRANSITION_NOT_ALLOWED",
                    TransitionRefusal::ReservedToReferral => "RESERVED_TO_REFERRAL_SERVICE",
                };
                error::with_reason(Code::FailedPrecondition, reason, refusal.to_string())
            }
            IntakeError::RequestIdReused(id) => error::request_id_reused(&id),
            IntakeError::Store(e) => error::internal(&e),
            IntakeError::Replay(e) => error::internal(&e),
            IntakeError::Links(status) => match status.code() {
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown | Code::Internal => {
                    error::peer_unavailable("link-tracking", &status)
                }
                // The peer judged the request itself (a bad page token): the caller should hear it.
                _ => status,
            },
        }
    }
}
