//! Intake's one error type: the kit's shared failures, and what is intake's own, with the one
//! mapping to gRPC statuses.

use doxwatch_kit::error::{self, Error};
use doxwatch_proto::intake::ErrorReason;
use tonic::{Code, Status};

use crate::{domain::TransitionRefusal, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Common(Error),
    #[error(transparent)]
    Transition(#[from] TransitionRefusal),
    /// Link-tracking's answer to a synchronous read.
    #[error("link-tracking answered {}", .0.code())]
    Links(Status),
}

doxwatch_kit::service_error!(IntakeError, StoreError);

impl IntakeError {
    pub fn not_found(name: String) -> Self {
        IntakeError::Common(Error::NotFound(name))
    }
}

impl From<IntakeError> for Status {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Common(e) => e.into(),
            IntakeError::Transition(refusal) => {
                let reason = match refusal {
                    TransitionRefusal::NotAllowed { .. } => ErrorReason::TransitionNotAllowed,
                    TransitionRefusal::ReservedToReferral => ErrorReason::ReservedToReferralService,
                };
                error::with_reason(Code::FailedPrecondition, reason.as_str_name(), refusal.to_string())
            }
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
