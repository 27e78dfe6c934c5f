//! Who is acting: the officer whose verified token came with the call, or the doxwatch service or
//! agency whose certificate made it. The server stack authenticates every call before a handler
//! runs ([`crate::auth`]) and leaves its [`Principal`], and the policy it was admitted under, in
//! the request; handlers read them here. No header a client writes is taken on trust.

use tonic::{Code, Request, Status};

use crate::{
    auth::{Admitted, Principal},
    error::{CommonReason, with_reason},
    identity::Identity,
};

pub use crate::identity::SERVICES;

/// The officer or service on whose behalf a request acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An officer, by the id in their token.
    Officer(String),
    /// A doxwatch service acting on a peer's message.
    Service(&'static str),
}

impl Actor {
    /// The name recorded in timelines: the officer's id, or `service:<name>`.
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

    /// The actor of a request: an officer with a verified token, or a peer service.
    pub fn from_request<T>(request: &Request<T>) -> Result<Self, Status> {
        let principal = principal(request)?;
        match (&principal.identity, &principal.officer) {
            (Identity::Service(name), _) => Ok(Actor::Service(name)),
            (Identity::Officer(_), Some(officer)) => Ok(Actor::Officer(officer.id.clone())),
            (Identity::Officer(_), None) => Err(with_reason(
                Code::Unauthenticated,
                CommonReason::TokenMissing.as_str_name(),
                "this call records who acted: send the officer's token",
            )),
            (Identity::Agency(agency), _) => Err(with_reason(
                Code::PermissionDenied,
                CommonReason::PermissionDenied.as_str_name(),
                format!("agency {agency} acts through the agency interface only"),
            )),
        }
    }
}

/// The authenticated caller of a request. Every request that reaches a handler through the server
/// stack has one; a handler called otherwise is refused.
pub fn principal<T>(request: &Request<T>) -> Result<&Principal, Status> {
    request.extensions().get::<Principal>().ok_or_else(|| {
        with_reason(
            Code::Unauthenticated,
            CommonReason::CertificateUnrecognized.as_str_name(),
            "the call was not authenticated",
        )
    })
}

/// Whether the caller of `request` may also call `method` (its path, `/package.Service/Method`),
/// by the policy the server stack admitted the request under: for a handler that shows more to
/// callers the policy allows more (link-tracking's statistics name channels only to those who may
/// read them), so that the policy file stays the one place that says who reads what.
pub fn may_call<T>(request: &Request<T>, method: &str) -> Result<bool, Status> {
    let principal = principal(request)?;
    let admitted = request.extensions().get::<Admitted>().ok_or_else(|| {
        with_reason(
            Code::Unauthenticated,
            CommonReason::CertificateUnrecognized.as_str_name(),
            "the call was not authenticated",
        )
    })?;
    Ok(admitted.allows(method, principal))
}

/// The calling agency, as its upper-case name (`POLICE`), from its certificate.
pub fn agency<T>(request: &Request<T>) -> Result<String, Status> {
    match &principal(request)?.identity {
        Identity::Agency(name) => Ok(name.clone()),
        other => Err(with_reason(
            Code::PermissionDenied,
            CommonReason::PermissionDenied.as_str_name(),
            format!("only an agency's certificate may use the agency interface, not {other}"),
        )),
    }
}

/// The longest agency name accepted.
pub const MAX_AGENCY_LEN: usize = crate::identity::MAX_NAME_LEN;
