//! Authentication and authorization in the one server stack, before any handler runs: the
//! caller's identity from its client certificate, an officer's token verified and bound to that
//! certificate, the policy's rule for the method, and a per-identity rate limit. A call that
//! passes carries its [`Principal`] and the policy it was admitted under in the request's
//! extensions (where [`crate::actor`] reads them) and runs with its caller's key in scope, which
//! makes request ids per caller.

use std::{
    collections::BTreeSet,
    future::Future,
    net::SocketAddr,
    num::NonZeroU32,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use governor::{Quota, RateLimiter, clock::Clock, clock::DefaultClock};
use tonic::{Code, Status, body::Body};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{BoxError, Layer, Service, ServiceExt};

use crate::{
    error::{CommonReason, ERROR_DOMAIN, with_reason},
    identity::Identity,
    policy::{Caller, Denial, Policy, Role},
    tls::PeerInfo,
    token::{Officer, TokenError, TokenVerifier},
};

/// The caller of a request, authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The identity in the client certificate.
    pub identity: Identity,
    /// The officer the token names, for an officer's client that sent one.
    pub officer: Option<Officer>,
    pub remote: Option<SocketAddr>,
}

impl Principal {
    /// The caller's stable key: `service:intake`, `agency:POLICE` or `officer:<id>` (the token's
    /// subject; a client without a token is keyed by its certificate).
    pub fn key(&self) -> String {
        match &self.officer {
            Some(officer) => format!("officer:{}", officer.id),
            None => self.identity.to_string(),
        }
    }

    /// The officer's roles; none for a service or agency.
    pub fn roles(&self) -> BTreeSet<Role> {
        self.officer.as_ref().map(|o| o.roles.clone()).unwrap_or_default()
    }

    /// The caller as the policy sees it.
    pub fn caller(&self) -> Caller<'_> {
        match &self.identity {
            Identity::Service(name) => Caller::Service(name),
            Identity::Agency(name) => Caller::Agency(name),
            Identity::Officer(_) => Caller::Officer(self.officer.as_ref().map(|o| &o.roles)),
        }
    }
}

/// The policy a call was admitted under, left in the request's extensions beside its
/// [`Principal`], so that a handler that answers some callers with more than others asks the
/// policy ([`crate::actor::may_call`]) instead of naming roles itself.
#[derive(Debug, Clone)]
pub struct Admitted(Arc<Policy>);

impl Admitted {
    /// Whether `principal` may call `method` (its path). Says nothing of a purpose: the call
    /// that asks has stated its own, or needed none.
    pub fn allows(&self, method: &str, principal: &Principal) -> bool {
        self.0.check(method, &principal.caller()).is_ok()
    }
}

tokio::task_local! {
    static CALLER: String;
}

/// The key of the caller whose request the current task serves, if any: request ids are scoped
/// by it, so that one caller can neither replay nor block another's.
pub fn current_caller() -> Option<String> {
    CALLER.try_with(String::clone).ok()
}

/// Runs `future` as if serving `caller` (for code that acts for a caller outside the stack).
pub async fn as_caller<F: Future>(caller: String, future: F) -> F::Output {
    CALLER.scope(caller, future).await
}

/// How many requests an identity may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Sustained requests per second per officer or agency.
    pub per_second: u32,
    /// How many may come at once above the sustained rate.
    pub burst: u32,
    /// The same for a peer service, whose relay delivers in bursts.
    pub service_per_second: u32,
    /// Server streams (an agency's WatchReferrals, a health watch) one identity may hold open at
    /// once.
    pub streams_per_identity: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self { per_second: 100, burst: 200, service_per_second: 2000, streams_per_identity: 4 }
    }
}

type KeyedLimiter = RateLimiter<
    String,
    governor::state::keyed::DashMapStateStore<String>,
    DefaultClock,
    governor::middleware::NoOpMiddleware,
>;

/// What the stack checks every call against. Clones share the policy, verifier and limiters.
#[derive(Clone)]
pub struct Guard {
    policy: Arc<Policy>,
    /// Where refused calls are recorded, once the service has given its audit log.
    audit: Option<crate::audit::AuditLog>,
    tokens: TokenVerifier,
    people: Arc<KeyedLimiter>,
    services: Arc<KeyedLimiter>,
    streams: Arc<OpenStreams>,
}

/// The server streams each identity holds open, for the per-identity cap.
struct OpenStreams {
    methods: BTreeSet<String>,
    per_identity: u32,
    open: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

impl OpenStreams {
    /// A place for a stream of `method` opened by `key`; `Ok(None)` for a method that does not
    /// stream its response; `Err` when the identity holds as many as it may.
    fn open(&self, method: &str, key: &str) -> Result<Option<tokio::sync::OwnedSemaphorePermit>, Status> {
        if !self.methods.contains(method) {
            return Ok(None);
        }
        let semaphore = {
            let mut open = self.open.lock().map_err(|_| Status::internal("internal error"))?;
            // Identities that hold nothing are forgotten, so the map stays as small as the callers.
            open.retain(|_, s| s.available_permits() < self.per_identity as usize);
            open.entry(key.to_owned())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_identity as usize)))
                .clone()
        };
        semaphore.try_acquire_owned().map(Some).map_err(|_| {
            rate_limited(
                Duration::from_secs(1),
                format!("this caller already holds {} open streams; close one first", self.per_identity),
            )
        })
    }
}

impl Guard {
    pub fn new(policy: Policy, tokens: TokenVerifier, limits: RateLimits) -> Self {
        let quota = |per_second: u32, burst: u32| {
            let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
            let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
            Quota::per_second(rate).allow_burst(burst)
        };
        Self {
            policy: Arc::new(policy),
            audit: None,
            tokens,
            people: Arc::new(RateLimiter::dashmap(quota(limits.per_second, limits.burst))),
            services: Arc::new(RateLimiter::dashmap(quota(
                limits.service_per_second,
                limits.service_per_second.saturating_mul(2),
            ))),
            streams: Arc::new(OpenStreams {
                methods: crate::policy::streaming_methods(),
                per_identity: limits.streams_per_identity.max(1),
                open: Default::default(),
            }),
        }
    }

    /// A refusal of a call whose token failed, counted against its certificate's rate, so that a
    /// stream of bad tokens cannot fill the audit log faster than the rate allows.
    fn limited(&self, key: &str, status: Status, context: crate::audit::Context) -> Refusal {
        match self.people.check_key(&key.to_owned()) {
            Ok(()) => Refusal::audited(status, context),
            Err(_) => Refusal::unaudited(status),
        }
    }

    /// Records the calls it refuses in `log`.
    pub fn set_audit(&mut self, log: crate::audit::AuditLog) {
        self.audit = Some(log);
    }

    /// The principal of a request to `method` and the audit context of its call, or the refusal.
    /// The rate limit comes before the policy, so that a caller refused again and again is slowed
    /// like any other, and its refusals' audit records with it.
    pub async fn admit(
        &self,
        method: &str,
        headers: &http::HeaderMap,
        peer: Option<&PeerInfo>,
    ) -> Result<(Principal, crate::audit::Context), Refusal> {
        let mut context = crate::audit::Context {
            identity: "unauthenticated".to_owned(),
            method: method.to_owned(),
            ..Default::default()
        };
        let Some(peer) = peer else {
            return Err(Refusal::unaudited(refuse(
                CommonReason::CertificateUnrecognized,
                "the connection is not authenticated",
            )));
        };
        context.peer = peer.remote.map(|a| a.to_string()).unwrap_or_default();
        let identity = match &peer.identity {
            Ok(identity) => identity.clone(),
            Err(why) => {
                let status = refuse(
                    CommonReason::CertificateUnrecognized,
                    format!("the client certificate is not usable: {why}"),
                );
                return Err(Refusal::audited(status, context));
            }
        };
        context.identity = identity.uri();
        let purpose = crate::audit::stated_purpose(headers);
        context.purpose = purpose.clone().ok().flatten().unwrap_or_default();
        let officer = match (&identity, bearer(headers)) {
            (_, Err(status)) => return Err(self.limited(&identity.to_string(), status, context)),
            (Identity::Officer(_), Ok(Some(token))) => match self.tokens.verify(token, &peer.thumbprint).await {
                Ok(officer) => Some(officer),
                Err(e) => return Err(self.limited(&identity.to_string(), token_refused(e), context)),
            },
            _ => None,
        };
        let key = match &officer {
            Some(officer) => format!("officer:{}", officer.id),
            None => identity.to_string(),
        };
        let limiter = if matches!(identity, Identity::Service(_)) { &self.services } else { &self.people };
        if let Err(not_until) = limiter.check_key(&key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let message = format!("too many requests from this caller; retry in {} ms", wait.as_millis().max(1));
            return Err(Refusal::unaudited(rate_limited(wait, message)));
        }
        context.officer = officer.as_ref().map(|o| o.id.clone()).unwrap_or_default();
        let principal = Principal { identity, officer, remote: peer.remote };
        if let Err(denial) = self.policy.check(method, &principal.caller()) {
            let status = match denial {
                Denial::Unauthenticated => refuse(
                    CommonReason::TokenMissing,
                    "an officer's client must send its token as `authorization: Bearer <token>`",
                ),
                Denial::Forbidden(why) => {
                    with_reason(Code::PermissionDenied, CommonReason::PermissionDenied.as_str_name(), why)
                }
            };
            return Err(Refusal::audited(status, context));
        }
        let needs_purpose = principal.officer.is_some() && self.policy.rule(method).is_some_and(|r| r.requires_purpose);
        match purpose {
            Err(why) => return Err(Refusal::audited(purpose_required(why), context)),
            Ok(None) if needs_purpose => {
                let why = format!(
                    "{method} reads personal data: state why in the {} metadata (the CLI's --purpose)",
                    crate::audit::PURPOSE_HEADER
                );
                return Err(Refusal::audited(purpose_required(why), context));
            }
            Ok(_) => {}
        }
        Ok((principal, context))
    }

    /// The policy calls are admitted under, for the handlers that ask it again.
    fn admitted(&self) -> Admitted {
        Admitted(self.policy.clone())
    }
}

/// A refused call: the status its caller gets, and the audit context to record it with (none
/// for a call refused for its rate, or one that reached no certificate).
pub struct Refusal {
    pub status: Status,
    pub context: Option<crate::audit::Context>,
}

impl Refusal {
    fn audited(status: Status, context: crate::audit::Context) -> Self {
        Self { status, context: Some(context) }
    }

    fn unaudited(status: Status) -> Self {
        Self { status, context: None }
    }

    /// The refusal's reason, as its ErrorInfo names it.
    pub fn reason(&self) -> String {
        self.status
            .get_error_details()
            .error_info()
            .map(|info| info.reason.clone())
            .unwrap_or_else(|| format!("{:?}", self.status.code()))
    }
}

fn purpose_required(why: String) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(CommonReason::PurposeRequired.as_str_name(), ERROR_DOMAIN, []);
    details.add_bad_request_violation(crate::audit::PURPOSE_HEADER, why.clone());
    Status::with_error_details(Code::InvalidArgument, why, details)
}

/// The token of an `authorization: Bearer` header, if one was sent.
fn bearer(headers: &http::HeaderMap) -> Result<Option<&str>, Status> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value =
        value.to_str().map_err(|_| refuse(CommonReason::TokenInvalid, "the authorization metadata is not ASCII"))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(Some(token.trim()))
        }
        _ => Err(refuse(CommonReason::TokenInvalid, "the authorization metadata must be `Bearer <token>`")),
    }
}

fn refuse(reason: CommonReason, message: impl Into<String>) -> Status {
    with_reason(Code::Unauthenticated, reason.as_str_name(), message)
}

fn token_refused(e: TokenError) -> Status {
    let reason = match e {
        TokenError::Invalid(_) => CommonReason::TokenInvalid,
        TokenError::Expired => CommonReason::TokenExpired,
        TokenError::Unbound => CommonReason::TokenUnbound,
    };
    refuse(reason, e.to_string())
}

/// RESOURCE_EXHAUSTED for a caller over one of its limits, with how long to wait.
fn rate_limited(wait: Duration, message: String) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(CommonReason::RateLimited.as_str_name(), ERROR_DOMAIN, []);
    details.set_retry_info(Some(wait));
    Status::with_error_details(Code::ResourceExhausted, message, details)
}

/// The layer that admits every call through a [`Guard`].
#[derive(Clone)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    pub fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guarded<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Guarded { inner, guard: self.guard.clone() }
    }
}

#[derive(Clone)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S, B> Service<http::Request<B>> for Guarded<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        let guard = self.guard.clone();
        Box::pin(async move {
            let admitted =
                guard.admit(request.uri().path(), request.headers(), request.extensions().get::<PeerInfo>()).await;
            let (principal, context) = match admitted {
                Ok(admitted) => admitted,
                Err(refusal) => {
                    let status = &refusal.status;
                    tracing::info!(method = request.uri().path(), code = ?status.code(), reason = status.message(), "call refused");
                    if let (Some(log), Some(context)) = (&guard.audit, refusal.context.clone())
                        && let Err(e) = log.denied(context, &refusal.reason()).await
                    {
                        tracing::error!(error = %crate::error::CauseChain(&e), "cannot record a refused call in the audit log");
                    }
                    return Ok(refusal.status.into_http());
                }
            };
            let key = principal.key();
            let place = match guard.streams.open(request.uri().path(), &key) {
                Ok(place) => place,
                Err(status) => return Ok(status.into_http()),
            };
            request.extensions_mut().insert(principal);
            request.extensions_mut().insert(guard.admitted());
            let call = crate::audit::scoped(context, inner.oneshot(request));
            let response = CALLER.scope(key, call).await.map_err(Into::into)?;
            // A stream keeps its place until its body ends or the client goes away.
            Ok(match place {
                Some(permit) => response.map(|body| Body::new(Held { body, _permit: permit })),
                None => response,
            })
        })
    }
}

/// `doxwatch.ops.v1.IdentityService`, served by every service: the caller as authenticated.
#[derive(Clone, Copy, Default)]
pub struct IdentityApi;

#[tonic::async_trait]
impl doxwatch_proto::ops::identity_service_server::IdentityService for IdentityApi {
    async fn who_am_i(
        &self,
        request: tonic::Request<doxwatch_proto::ops::WhoAmIRequest>,
    ) -> Result<tonic::Response<doxwatch_proto::ops::WhoAmIResponse>, Status> {
        let principal = crate::actor::principal(&request)?;
        let officer = principal.officer.as_ref();
        Ok(tonic::Response::new(doxwatch_proto::ops::WhoAmIResponse {
            identity: principal.identity.uri(),
            kind: principal.identity.kind().to_owned(),
            officer_id: officer.map(|o| o.id.clone()).unwrap_or_default(),
            display_name: officer.map(|o| o.name.clone()).unwrap_or_default(),
            roles: officer.map(|o| o.roles.iter().map(|r| r.as_str().to_owned()).collect()).unwrap_or_default(),
            team: officer.map(|o| o.team.clone()).unwrap_or_default(),
            token_expires: officer.map(|o| crate::timestamp::to_proto(o.expires)),
            peer_address: principal.remote.map(|a| a.to_string()).unwrap_or_default(),
        }))
    }
}

/// A response body that holds its stream's place until it is dropped.
struct Held {
    body: Body,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl http_body::Body for Held {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
