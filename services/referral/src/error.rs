//! The referral service's one error type: the kit's shared failures, and what is this service's
//! own, with the one mapping to gRPC statuses.

use doxwatch_kit::error::{self, Error, FieldViolations};
use tonic::Status;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ReferralError {
    #[error(transparent)]
    Common(Error),
    /// Intake could not answer a read this request depends on.
    #[error("intake is unavailable")]
    IntakeUnavailable(#[source] Status),
    /// Link-tracking could not answer a read this request depends on.
    #[error("link-tracking is unavailable")]
    LinksUnavailable(#[source] Status),
}

doxwatch_kit::service_error!(ReferralError, StoreError);

impl ReferralError {
    /// INVALID_ARGUMENT naming one field.
    pub fn field(field: &str, description: impl Into<String>) -> Self {
        let mut v = FieldViolations::new();
        v.add(field, description);
        ReferralError::Common(Error::InvalidArgument(v))
    }

    pub fn not_found(name: String) -> Self {
        ReferralError::Common(Error::NotFound(name))
    }

    pub fn invalid(violations: FieldViolations) -> Self {
        ReferralError::Common(Error::InvalidArgument(violations))
    }
}

impl From<ReferralError> for Status {
    fn from(e: ReferralError) -> Self {
        match e {
            ReferralError::Common(e) => e.into(),
            ReferralError::IntakeUnavailable(status) => error::peer_unavailable("intake", &status),
            ReferralError::LinksUnavailable(status) => error::peer_unavailable("link-tracking", &status),
        }
    }
}
