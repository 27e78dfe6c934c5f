//! Who is acting. Every change records the acting officer (or the service acting for a peer),
//! taken from request metadata. Today that is a plain header; the security work replaces it with
//! a signed token here, without touching the services.

use tonic::{Code, Request, Status, metadata::MetadataMap};

use crate::error::with_reason;

/// The metadata key that names the acting officer.
pub const OFFICER_HEADER: &str = "x-doxwatch-officer";

/// The longest actor name accepted.
pub const MAX_ACTOR_LEN: usize = 100;

/// The officer or service on whose behalf a request acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

impl Actor {
    /// An actor named by the system itself, e.g. a service acting on a peer's message.
    pub fn system(name: &str) -> Self {
        Actor(name.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The actor of a request; UNAUTHENTICATED when none is named or the name is unusable.
    pub fn from_request<T>(request: &Request<T>) -> Result<Self, Status> {
        Self::from_metadata(request.metadata())
    }

    pub fn from_metadata(metadata: &MetadataMap) -> Result<Self, Status> {
        let value = metadata.get(OFFICER_HEADER).ok_or_else(|| {
            with_reason(Code::Unauthenticated, "ACTOR_MISSING", format!("the {OFFICER_HEADER} metadata is required"))
        })?;
        let name = value.to_str().map(str::trim).unwrap_or_default();
        if name.is_empty() || name.chars().count() > MAX_ACTOR_LEN || name.chars().any(char::is_control) {
            return Err(with_reason(
                Code::Unauthenticated,
                "ACTOR_INVALID",
                format!("{OFFICER_HEADER} must be 1 to {MAX_ACTOR_LEN} printable characters"),
            ));
        }
        Ok(Actor(name.to_owned()))
    }
}
