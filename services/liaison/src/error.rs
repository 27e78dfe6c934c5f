//! Liaison's one error type: the kit's shared failures, and what is liaison's own, with the one
//! mapping to gRPC statuses.

use doxwatch_kit::error::{self, Error};
use tonic::Status;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum LiaisonError {
    #[error(transparent)]
    Common(Error),
    /// Link-tracking could not answer a read this request depends on.
    #[error("link-tracking is unavailable")]
    LinksUnavailable(#[source] Status),
    #[error("the letter cannot be rendered")]
    Render(String),
}

doxwatch_kit::service_error!(LiaisonError, StoreError);

impl LiaisonError {
    pub fn not_found(name: String) -> Self {
        LiaisonError::Common(Error::NotFound(name))
    }
}

impl From<LiaisonError> for Status {
    fn from(e: LiaisonError) -> Self {
        match e {
            LiaisonError::Common(e) => e.into(),
            LiaisonError::LinksUnavailable(status) => error::peer_unavailable("link-tracking", &status),
            e @ LiaisonError::Render(_) => error::internal(&e),
        }
    }
}
