//! The shared vocabulary of errors: field violations for bad input, the failures every service
//! shares ([`Error`]) with their one mapping to a `tonic::Status` with `google.rpc` details, and
//! [`service_error!`](crate::service_error), which gives a service's own error enum (embedding
//! [`Error`]) every conversion the kit's code needs.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every doxwatch error; the reasons within it are the `ErrorReason`
/// enums of the contracts (the ones every service shares have the same names in every package).
pub const ERROR_DOMAIN: &str = "doxwatch";

/// The reasons the kit itself gives, as the contracts name them.
pub use doxwatch_proto::ops::ErrorReason as CommonReason;

/// The failures every service shares. A service's error embeds it and adds only what is its own.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: every bad field, named.
    #[error("invalid request: {0}")]
    InvalidArgument(FieldViolations),
    #[error("{0} not found")]
    NotFound(String),
    /// The request is well formed but the resource's state does not allow it; `reason` is a value
    /// of the package's `ErrorReason`.
    #[error("{message}")]
    FailedPrecondition { reason: &'static str, message: String },
    /// A `request_id` reused with another payload.
    #[error("request_id {0:?} was already used for a different request")]
    RequestIdReused(String),
    /// The store cannot be reached now (down, or every connection busy): worth retrying.
    #[error("the store is unavailable")]
    StoreUnavailable(#[source] sqlx::Error),
    #[error("the request ran past its deadline")]
    DeadlineExceeded,
    #[error("{0}")]
    ResourceExhausted(String),
    /// Anything the caller cannot act on; the cause goes to the log only.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Error::FailedPrecondition { reason, message: message.into() }
    }

    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Box::new(cause))
    }

    /// Whether the store refused a write because another writer took its key first (or an earlier
    /// request of the same group commit holds its request id unanswered).
    pub fn is_unique_violation(&self) -> bool {
        use crate::idempotency::IdempotencyError;
        matches!(self, Error::Internal(cause)
            if cause.downcast_ref::<sqlx::Error>().is_some_and(crate::db::is_unique_violation)
                || matches!(cause.downcast_ref::<IdempotencyError>(), Some(IdempotencyError::Unanswered(_))))
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if crate::db::is_store_unavailable(&e) { Error::StoreUnavailable(e) } else { Error::internal(e) }
    }
}

impl From<FieldViolations> for Error {
    fn from(v: FieldViolations) -> Self {
        Error::InvalidArgument(v)
    }
}

impl From<crate::idempotency::IdempotencyError> for Error {
    fn from(e: crate::idempotency::IdempotencyError) -> Self {
        use crate::idempotency::IdempotencyError;
        match e {
            IdempotencyError::Reused(id) => Error::RequestIdReused(id),
            IdempotencyError::Store(e) => e.into(),
            IdempotencyError::Decode(e) => Error::internal(e),
            IdempotencyError::Sealed(e) => Error::internal(e),
            e @ IdempotencyError::Unanswered(_) => Error::internal(e),
        }
    }
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::internal(e)
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidArgument(v) => invalid_argument(&v),
            Error::NotFound(name) => not_found(&name),
            Error::FailedPrecondition { reason, message } => with_reason(Code::FailedPrecondition, reason, message),
            Error::RequestIdReused(id) => request_id_reused(&id),
            Error::StoreUnavailable(cause) => {
                tracing::warn!(error = %CauseChain(&cause), "store unavailable");
                with_reason(
                    Code::Unavailable,
                    CommonReason::Unavailable.as_str_name(),
                    "the service's store is unavailable; try again",
                )
            }
            Error::DeadlineExceeded => with_reason(
                Code::DeadlineExceeded,
                CommonReason::DeadlineExceeded.as_str_name(),
                "the request ran past its deadline",
            ),
            Error::ResourceExhausted(message) => {
                with_reason(Code::ResourceExhausted, CommonReason::ResourceExhausted.as_str_name(), message)
            }
            Error::Internal(cause) => internal(cause.as_ref()),
        }
    }
}

/// Gives a service's error enum, which must have a variant `Common(doxwatch_kit::error::Error)`,
/// the conversions the kit's code and `?` need (from the store, field violations, request-id
/// replay and decoding) and [`StoreFailure`](crate::transaction::StoreFailure), so that each
/// service writes only its own variants and their statuses.
#[macro_export]
macro_rules! service_error {
    ($error:ident) => {
        impl From<$crate::error::Error> for $error {
            fn from(e: $crate::error::Error) -> Self {
                $error::Common(e)
            }
        }
        impl From<sqlx::Error> for $error {
            fn from(e: sqlx::Error) -> Self {
                $error::Common(e.into())
            }
        }
        impl From<$crate::error::FieldViolations> for $error {
            fn from(v: $crate::error::FieldViolations) -> Self {
                $error::Common(v.into())
            }
        }
        impl From<$crate::idempotency::IdempotencyError> for $error {
            fn from(e: $crate::idempotency::IdempotencyError) -> Self {
                $error::Common(e.into())
            }
        }
        impl From<prost::DecodeError> for $error {
            fn from(e: prost::DecodeError) -> Self {
                $error::Common(e.into())
            }
        }
        impl $crate::transaction::StoreFailure for $error {
            fn is_unique_violation(&self) -> bool {
                matches!(self, $error::Common(e) if e.is_unique_violation())
            }
        }
    };
    // The same, and the service's store error (which must have a `Sqlx(sqlx::Error)` variant):
    // its database failures are the kit's, the rest internal.
    ($error:ident, $store:ident) => {
        $crate::service_error!($error);
        impl From<$store> for $error {
            fn from(e: $store) -> Self {
                match e {
                    $store::Sqlx(e) => $error::Common(e.into()),
                    other => $error::Common($crate::error::Error::internal(other)),
                }
            }
        }
    };
}

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
        let mut last = self.0.to_string();
        f.write_str(&last)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            // Some errors say their source's words again in their own; say them once.
            let text = s.to_string();
            if !last.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            last = text;
            source = s.source();
        }
        Ok(())
    }
}

/// A status as a person reads it: what went wrong in plain words, then what the service said.
/// Where the service named bad fields, they are listed one to a line instead of the message that
/// repeats them (at most twenty; an import can be refused for thousands of URLs).
pub struct StatusText<'a>(pub &'a tonic::Status);

impl fmt::Display for StatusText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_VIOLATIONS: usize = 20;
        let status = self.0;
        let violations = status.get_details_bad_request().map(|bad| bad.field_violations).unwrap_or_default();
        f.write_str(&code_words(status.code()))?;
        if violations.is_empty() {
            return write!(f, ": {}", status.message());
        }
        for v in violations.iter().take(MAX_VIOLATIONS) {
            write!(f, "\n  {}: {}", v.field, v.description)?;
        }
        if violations.len() > MAX_VIOLATIONS {
            write!(f, "\n  … and {} more", violations.len() - MAX_VIOLATIONS)?;
        }
        Ok(())
    }
}

/// `InvalidArgument` as "invalid argument".
fn code_words(code: tonic::Code) -> String {
    let mut words = String::new();
    for c in format!("{code:?}").chars() {
        if c.is_uppercase() && !words.is_empty() {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::CauseChain;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_status_is_said_once_in_plain_words() {
        use super::{FieldViolations, StatusText, invalid_argument};
        let mut v = FieldViolations::new();
        v.add("as_of", "must not be in the future");
        let text = StatusText(&invalid_argument(&v)).to_string();
        assert_eq!(text, "invalid argument\n  as_of: must not be in the future");
        let gone = tonic::Status::not_found("cases/1 does not exist");
        assert_eq!(StatusText(&gone).to_string(), "not found: cases/1 does not exist");
    }

    #[test]
    fn a_cause_is_said_once() {
        let refused = Layer("connection refused", None);
        let inner = Layer("tcp connect error", Some(Box::new(refused)));
        let outer = Layer("tcp connect error", Some(Box::new(inner)));
        let top = Layer("transport error", Some(Box::new(outer)));
        assert_eq!(CauseChain(&top).to_string(), "transport error: tcp connect error: connection refused");
        let saying = Layer("cannot open the store: disk full", Some(Box::new(Layer("disk full", None))));
        assert_eq!(CauseChain(&saying).to_string(), "cannot open the store: disk full");
    }
}
