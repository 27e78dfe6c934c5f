//! Who is acting. Every change records the acting officer (or the service acting for a peer),
//! taken from request metadata. Today that is a plain header; the security work replaces it with
//! a signed token here, without touching the services.

// Every service package names these reasons alike (the ops package, which has no actor, does
// not); the agency ones are the referral package's, the only one with agencies.
use doxwatch_proto::{intake::ErrorReason as ActorReason, referral::ErrorReason as AgencyReason};
use tonic::{Code, Request, Status, metadata::MetadataMap};

use crate::error::with_reason;

/// The metadata key that names the acting officer.
pub const OFFICER_HEADER: &str = "x-doxwatch-officer";

/// The longest actor name accepted.
pub const MAX_ACTOR_LEN: usize = 100;

/// The metadata key with which a doxwatch service calling a peer names itself. Until services
/// authenticate each other with client certificates, this is taken on trust.
pub const SERVICE_HEADER: &str = "x-doxwatch-service";

/// The services that may name themselves in [`SERVICE_HEADER`].
pub const SERVICES: &[&str] = &["intake", "links", "liaison", "referral"];

/// The officer or service on whose behalf a request acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An officer, by the name their client sent.
    Officer(String),
    /// A doxwatch service acting on a peer's message.
    Service(&'static str),
}

impl Actor {
    /// The name recorded in timelines: the officer's name, or `service:<name>`.
    pub fn name(&self) -> String {
        match self {
            Actor::Officer(name) => name.clone(),
            Actor::Service(name) => format!("service:{name}"),
        }
    }

    /// Whether this is the named doxwatch service.
    pub fn is_service(&self, service: &str) -> bool {
        matches!(self, Actor::Service(s) if *s == service)
    }

    /// The actor of a request; UNAUTHENTICATED when none is named or the name is unusable.
    pub fn from_request<T>(request: &Request<T>) -> Result<Self, Status> {
        Self::from_metadata(request.metadata())
    }

    pub fn from_metadata(metadata: &MetadataMap) -> Result<Self, Status> {
        if let Some(value) = metadata.get(SERVICE_HEADER) {
            let name = value.to_str().unwrap_or_default();
            return SERVICES.iter().find(|s| **s == name).map(|s| Actor::Service(s)).ok_or_else(|| {
                with_reason(
                    Code::Unauthenticated,
                    ActorReason::ServiceUnknown.as_str_name(),
                    format!("{SERVICE_HEADER} names no doxwatch service"),
                )
            });
        }
        let value = metadata.get(OFFICER_HEADER).ok_or_else(|| {
            with_reason(
                Code::Unauthenticated,
                ActorReason::ActorMissing.as_str_name(),
                format!("the {OFFICER_HEADER} metadata is required"),
            )
        })?;
        let name = value.to_str().map(str::trim).unwrap_or_default();
        if name.is_empty() || name.chars().count() > MAX_ACTOR_LEN || name.chars().any(char::is_control) {
            return Err(with_reason(
                Code::Unauthenticated,
                ActorReason::ActorInvalid.as_str_name(),
                format!("{OFFICER_HEADER} must be 1 to {MAX_ACTOR_LEN} printable characters"),
            ));
        }
        Ok(Actor::Officer(name.to_owned()))
    }
}

/// The metadata key with which an agency's system (the Police's, say) names itself on the
/// agency-facing interfaces. The security work replaces it with the identity in the agency's
/// client certificate, here, without changing the services.
pub const AGENCY_HEADER: &str = "x-doxwatch-agency";

/// The longest agency name accepted.
pub const MAX_AGENCY_LEN: usize = 64;

/// The calling agency, as an upper-case name (`POLICE`); UNAUTHENTICATED when none is named.
pub fn agency_from_metadata(metadata: &MetadataMap) -> Result<String, Status> {
    let value = metadata.get(AGENCY_HEADER).ok_or_else(|| {
        with_reason(
            Code::Unauthenticated,
            AgencyReason::AgencyMissing.as_str_name(),
            format!("the {AGENCY_HEADER} metadata is required"),
        )
    })?;
    let name = value.to_str().map(str::trim).unwrap_or_default().to_ascii_uppercase();
    if name.is_empty()
        || name.len() > MAX_AGENCY_LEN
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(with_reason(
            Code::Unauthenticated,
            AgencyReason::AgencyInvalid.as_str_name(),
            format!("{AGENCY_HEADER} must be 1 to {MAX_AGENCY_LEN} letters, digits, '-' or '_'"),
        ));
    }
    Ok(name)
}
