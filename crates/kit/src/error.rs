//! The shared vocabulary of errors: field violations for bad input and the helpers that turn each
//! kind of failure into a `tonic::Status` with `google.rpc` details. Each service keeps its own error
//! enum and maps it here, exhaustively.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every doxwatch error; the reasons within it are the `ErrorReason`
/// enums of the contracts (the ones every service shares have the same names in every package).
pub const ERROR_DOMAIN: &str = "doxwatch";

/// The reasons the kit itself gives, as the contracts name them.
pub use doxwatch_proto::ops::ErrorReason as CommonReason;

/// One bad field: its path in the request (`case.data_subjects[2].display_name`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Every bad field of a request, gathered so that the caller hears of all of them at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldViolations(Vec<FieldViolation>);

impl FieldViolations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation { field: field.into(), description: description.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.0.iter()
    }

    /// `Ok(value)` when nothing was wrong.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.0.is_empty() { Ok(value) } else { Err(self) }
    }

    /// Runs `check` and records its error, if any, under `field`; returns the value when valid.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
}

impl fmt::Display for FieldViolations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect();
        f.write_str(&parts.join("; "))
    }
}

/// How many field violations an error carries. Details travel in response headers, which
/// clients cap (16 KiB by default); a request with thousands of bad items names the first ones and
/// says how many more there are.
pub const MAX_VIOLATIONS_SENT: usize = 100;

/// INVALID_ARGUMENT with a `BadRequest` naming every bad field (up to [`MAX_VIOLATIONS_SENT`]).
pub fn invalid_argument(violations: &FieldViolations) -> Status {
    let mut details = ErrorDetails::new();
    for v in violations.iter().take(MAX_VIOLATIONS_SENT) {
        details.add_bad_request_violation(v.field.clone(), v.description.clone());
    }
    details.set_error_info(CommonReason::InvalidArgument.as_str_name(), ERROR_DOMAIN, []);
    let total = violations.iter().count();
    let message = if total > MAX_VIOLATIONS_SENT {
        let first: Vec<String> =
            violations.iter().take(10).map(|v| format!("{}: {}", v.field, v.description)).collect();
        format!("invalid request: {} (and {} more)", first.join("; "), total - 10)
    } else {
        format!("invalid request: {violations}")
    };
    Status::with_error_details(Code::InvalidArgument, message, details)
}

/// A status with an `ErrorInfo` whose `reason` is a stable UPPER_SNAKE_CASE code that clients
/// may branch on, and a message for people.
pub fn with_reason(code: Code, reason: &str, message: impl Into<String>) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, ERROR_DOMAIN, []);
    Status::with_error_details(code, message.into(), details)
}

/// NOT_FOUND for a resource name.
pub fn not_found(name: &str) -> Status {
    with_reason(Code::NotFound, CommonReason::NotFound.as_str_name(), format!("{name} not found"))
}

/// ABORTED for a `request_id` reused with another payload.
pub fn request_id_reused(request_id: &str) -> Status {
    with_reason(
        Code::Aborted,
        CommonReason::RequestIdReused.as_str_name(),
        format!("request_id {request_id:?} was already used for a different request"),
    )
}

/// UNAVAILABLE when a peer that must answer synchronously cannot.
pub fn peer_unavailable(peer: &str, cause: &dyn std::error::Error) -> Status {
    tracing::warn!(peer, error = %CauseChain(cause), "peer unavailable");
    with_reason(
        Code::Unavailable,
        CommonReason::PeerUnavailable.as_str_name(),
        format!("the {peer} service is unavailable; try again"),
    )
}

/// INTERNAL for anything the caller cannot act on: the cause chain goes to the log, never to
/// the caller.
pub fn internal(cause: &dyn std::error::Error) -> Status {
    tracing::error!(error = %CauseChain(cause), "internal error");
    with_reason(Code::Internal, CommonReason::Internal.as_str_name(), "internal error")
}

/// Displays an error with every `source()` below it, for logs.
pub struct CauseChain<'a>(pub &'a dyn std::error::Error);

impl fmt::Display for CauseChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}
