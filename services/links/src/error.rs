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
}

impl From<sqlx::Error> for LinksError {
    fn from(e: sqlx::Error) -> Self {
        LinksError::Store(StoreError::Sqlx(e))
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
        }
    }
}
