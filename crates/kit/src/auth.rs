//! Authentication and authorization in the one server stack, before any handler runs: the
//! caller's identity from its client certificate, an officer's token verified and bound to that
//! certificate, the policy's rule for the method, and a per-identity rate limit. A call that
//! passes carries its [`Principal`] in the request's extensions (where [`crate::actor`] reads it)
//! and runs with its caller's key in scope, which makes request ids per caller.

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

    /// The principal of a request to `method`, or the status that refuses it.
    pub async fn admit(
        &self,
        method: &str,
        headers: &http::HeaderMap,
        peer: Option<&PeerInfo>,
    ) -> Result<Principal, Status> {
        let peer =
            peer.ok_or_else(|| refuse(CommonReason::CertificateUnrecognized, "the connection is not authenticated"))?;
        let identity = peer.identity.clone().map_err(|why| {
            refuse(CommonReason::CertificateUnrecognized, format!("the client certificate is not usable: {why}"))
        })?;
        let officer = match (&identity, bearer(headers)?) {
            (Identity::Officer(_), Some(token)) => {
                Some(self.tokens.verify(token, &peer.thumbprint).await.map_err(token_refused)?)
            }
            _ => None,
        };
        let caller = match &identity {
            Identity::Service(name) => Caller::Service(name),
            Identity::Agency(name) => Caller::Agency(name),
            Identity::Officer(_) => Caller::Officer(officer.as_ref().map(|o| &o.roles)),
        };
        self.policy.check(method, &caller).map_err(|denial| match denial {
            Denial::Unauthenticated => refuse(
                CommonReason::TokenMissing,
                "an officer's client must send its token as `authorization: Bearer <token>`",
            ),
            Denial::Forbidden(why) => {
                with_reason(Code::PermissionDenied, CommonReason::PermissionDenied.as_str_name(), why)
            }
        })?;
        let principal = Principal { identity, officer, remote: peer.remote };
        let limiter = if matches!(principal.identity, Identity::Service(_)) { &self.services } else { &self.people };
        if let Err(not_until) = limiter.check_key(&principal.key()) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let message = format!("too many requests from this caller; retry in {} ms", wait.as_millis().max(1));
            return Err(rate_limited(wait, message));
        }
        Ok(principal)
    }
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
            let principal = match admitted {
                Ok(principal) => principal,
                Err(status) => {
                    tracing::info!(method = request.uri().path(), code = ?status.code(), reason = status.message(), "call refused");
                    return Ok(status.into_http());
                }
            };
            let key = principal.key();
            let place = match guard.streams.open(request.uri().path(), &key) {
                Ok(place) => place,
                Err(status) => return Ok(status.into_http()),
            };
            request.extensions_mut().insert(principal);
            let response = CALLER.scope(key, inner.oneshot(request)).await.map_err(Into::into)?;
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
