//! The one server stack every service runs: gRPC health and reflection beside the service, a
//! tower stack that bounds each request, and graceful shutdown. Production and tests use the same
//! builder; tests bind port 0.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use opentelemetry::{KeyValue, global, metrics::Histogram};
use tokio::net::TcpListener;
use tonic::{
    body::Body,
    server::NamedService,
    service::{Routes, RoutesBuilder},
    transport::Server,
};
use tonic_health::{ServingStatus, server::HealthReporter};
use tower::{
    BoxError, Layer, Service, ServiceBuilder, ServiceExt,
    limit::ConcurrencyLimitLayer,
    load_shed::{LoadShedLayer, error::Overloaded},
};

mod listen;

use crate::{
    auth::{Guard, GuardLayer},
    config::{SecurityConfig, ServerLimits},
    policy::Policy,
    telemetry,
    token::TokenVerifier,
};

/// The most metadata a request may carry (headers, token and all).
pub const MAX_METADATA_BYTES: u32 = 16 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("the gRPC server failed")]
    Transport(#[from] tonic::transport::Error),
    #[error("stopped after the grace period, cutting short: {0}")]
    CutShort(String),
    #[error("the TLS material is not usable")]
    Tls(#[from] crate::tls::TlsError),
    #[error("{0}")]
    Security(String),
}

/// What the server stack reports to health probes: SERVING while it serves and its store
/// answers; NOT_SERVING from the moment it starts to shut down, or while its store does not
/// answer. Clones share one state.
#[derive(Clone)]
pub struct Health {
    reporter: HealthReporter,
    names: Arc<Mutex<Vec<&'static str>>>,
    stopping: Arc<AtomicBool>,
    store_answers: Arc<AtomicBool>,
}

impl Health {
    fn new(reporter: HealthReporter) -> Self {
        Self {
            reporter,
            names: Arc::default(),
            stopping: Arc::default(),
            store_answers: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Records whether the store answers; health follows, unless the server is shutting down.
    pub async fn store_answers(&self, answers: bool) {
        if self.store_answers.swap(answers, Ordering::AcqRel) != answers {
            self.publish().await;
        }
    }

    async fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.publish().await;
    }

    async fn publish(&self) {
        let serving = !self.stopping.load(Ordering::Acquire) && self.store_answers.load(Ordering::Acquire);
        let status = if serving { ServingStatus::Serving } else { ServingStatus::NotServing };
        let names = self.names.lock().map(|n| n.clone()).unwrap_or_default();
        for name in names.into_iter().chain([""]) {
            self.reporter.set_service_status(name, status).await;
        }
    }
}

/// The calls a server is running, by method, so that a shutdown that has to cut them short can
/// say which.
#[derive(Clone, Default)]
struct InFlight(Arc<Mutex<BTreeMap<String, usize>>>);

impl InFlight {
    fn enter(&self, method: &str) -> InFlightGuard {
        if let Ok(mut calls) = self.0.lock() {
            *calls.entry(method.to_owned()).or_default() += 1;
        }
        InFlightGuard { in_flight: self.clone(), method: method.to_owned() }
    }

    /// "2 × /pkg.Service/Method, 1 × …", or empty when nothing runs.
    fn describe(&self) -> String {
        let calls = self.0.lock().map(|c| c.clone()).unwrap_or_default();
        let parts: Vec<String> = calls.iter().map(|(method, n)| format!("{n} × {method}")).collect();
        parts.join(", ")
    }
}

struct InFlightGuard {
    in_flight: InFlight,
    method: String,
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        if let Ok(mut calls) = self.in_flight.0.lock()
            && let Some(n) = calls.get_mut(&self.method)
        {
            *n -= 1;
            if *n == 0 {
                calls.remove(&self.method);
            }
        }
    }
}

/// A bound, not yet serving, gRPC server. Binding first lets the caller learn the port (port 0 in
/// tests) before serving starts.
pub struct GrpcServer {
    listener: TcpListener,
    routes: RoutesBuilder,
    services: Vec<&'static str>,
    limits: ServerLimits,
    streams: Vec<&'static str>,
    health: Health,
    in_flight: InFlight,
    tls: Arc<rustls::ServerConfig>,
    guard: Guard,
    /// The key the audit log's checkpoints are signed with, until [`GrpcServer::audit`] takes it.
    audit_signer: Option<crate::audit::Signer>,
    audit: Option<crate::audit::AuditLog>,
    /// The store's data keys, kept current while the server runs ([`GrpcServer::keys`]).
    keys: Option<crate::data_keys::Resealer>,
}

impl GrpcServer {
    /// Binds `addr`, with the TLS material, token verifier and policy of `security` ready; any of
    /// them unusable stops the start.
    pub async fn bind(addr: SocketAddr, limits: ServerLimits, security: &SecurityConfig) -> Result<Self, ServerError> {
        crate::timestamp::set_earliest_business_time(limits.earliest_business_time);
        let tls = security.tls.material()?.server_config()?;
        let tokens = TokenVerifier::new(security.tokens.clone()).await.map_err(ServerError::Security)?;
        let policy = match &security.policy_file {
            Some(path) => Policy::with_overrides(path, &crate::policy::served_methods())
                .map_err(|e| ServerError::Security(format!("the policy file is not usable: {e}")))?,
            None => Policy::default_policy(),
        };
        let guard = Guard::new(policy, tokens, security.rate_limits);
        let audit_signer = Some(crate::audit::Signer::load(&security.audit_key_file).map_err(ServerError::Security)?);
        let listener = listen::bind(addr).await.map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self {
            tls,
            guard,
            audit_signer,
            audit: None,
            keys: None,
            listener,
            routes: RoutesBuilder::default(),
            services: Vec::new(),
            limits,
            streams: Vec::new(),
            health: Health::new(HealthReporter::new()),
            in_flight: InFlight::default(),
        })
    }

    /// What health probes see; the store probe reports through it.
    pub fn health(&self) -> Health {
        self.health.clone()
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn limits(&self) -> ServerLimits {
        self.limits
    }

    /// Adds a generated service; it is reported SERVING by the health service under its name.
    pub fn add_service<S>(&mut self, service: S) -> &mut Self
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.services.push(S::NAME);
        self.routes.add_service(service);
        self
    }

    /// Keeps the service's audit log in `db`: refused calls are recorded in it, its checkpoints are
    /// signed while the server runs, and auditors read it through `doxwatch.ops.v1.AuditService`.
    /// Every service calls this once; its handlers record their accesses with [`crate::audit::record`].
    pub fn audit(&mut self, db: &crate::db::Db, service: &'static str) -> &mut Self {
        if let Some(signer) = self.audit_signer.take() {
            let log = crate::audit::AuditLog::new(db.clone(), signer, service);
            self.guard.set_audit(log.clone());
            self.add_service(doxwatch_proto::ops::audit_service_server::AuditServiceServer::new(
                crate::audit::AuditApi::new(log.clone()),
            ));
            self.audit = Some(log);
        }
        self
    }

    /// Serves the KeyService for the data keys of `db`, and while serving keeps them current:
    /// reloads keys other replicas added and seals `columns` (and the kit's own) again after a
    /// rotation.
    pub fn keys(
        &mut self,
        db: &crate::db::Db,
        service: &'static str,
        columns: &[crate::data_keys::SealedColumn],
    ) -> &mut Self {
        self.keys_of(crate::data_keys::Resealer::new(db.clone(), columns), service)
    }

    /// [`GrpcServer::keys`] for a service that also keeps sealed files, swept with its columns.
    pub fn keys_and_files(
        &mut self,
        db: &crate::db::Db,
        service: &'static str,
        columns: &[crate::data_keys::SealedColumn],
        files: std::sync::Arc<dyn crate::data_keys::SealedFiles>,
    ) -> &mut Self {
        self.keys_of(crate::data_keys::Resealer::new(db.clone(), columns).with_files(files), service)
    }

    fn keys_of(&mut self, resealer: crate::data_keys::Resealer, service: &'static str) -> &mut Self {
        self.add_service(doxwatch_proto::ops::key_service_server::KeyServiceServer::new(
            crate::data_keys::KeyApi::new(service, resealer.clone()),
        ));
        self.keys = Some(resealer);
        self
    }

    /// Marks a client-streaming method (by its path, `/package.Service/Method`) whose upload may
    /// take longer than an ordinary call: it is bounded by `stream_timeout` instead.
    pub fn long_upload(&mut self, path: &'static str) -> &mut Self {
        self.streams.push(path);
        self
    }

    /// Serves until `shutdown` completes; then reports NOT_SERVING, stops accepting, and lets
    /// in-flight calls finish within the configured grace period. Calls still running after it
    /// are abandoned (each has made its store's changes whole or not at all) and named in the
    /// error.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        if let Ok(mut names) = self.health.names.lock() {
            names.extend(&self.services);
        }
        self.health.publish().await;
        let health_service = tonic_health::pb::health_server::HealthServer::new(
            tonic_health::server::HealthService::from_health_reporter(self.health.reporter.clone()),
        );

        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(doxwatch_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let mut routes = self.routes;
        routes
            .add_service(health_service)
            .add_service(doxwatch_proto::ops::identity_service_server::IdentityServiceServer::new(
                crate::auth::IdentityApi,
            ))
            .add_service(reflection().build_v1()?)
            // Common clients (grpcurl before 1.9, Python's grpcio reflection) still speak v1alpha.
            .add_service(reflection().build_v1alpha()?);
        let routes: Routes = routes.routes();

        let grace = self.limits.shutdown_grace;
        let stopping = Arc::new(tokio::sync::Notify::new());
        let signal = {
            let stopping = stopping.clone();
            let health = self.health.clone();
            async move {
                shutdown.await;
                // Load balancers and probes stop sending new work before the listener closes.
                health.stop().await;
                tracing::info!("shutting down: finishing calls in flight");
                stopping.notify_one();
            }
        };

        let (connections, accepting) = crate::tls::accept(self.listener, self.tls);
        let _stop_accepting = AbortOnDrop(accepting);
        let _stop_checkpoints =
            self.audit.clone().map(|log| AbortOnDrop(tokio::spawn(log.run_checkpoints(AUDIT_CHECKPOINT_EVERY))));
        let _stop_key_upkeep = self.keys.clone().map(|r| AbortOnDrop(tokio::spawn(crate::data_keys::maintain(r))));
        let server = Server::builder()
            .http2_max_header_list_size(MAX_METADATA_BYTES)
            // A span per call, child of the caller's trace context when the caller sent one.
            .trace_fn(telemetry::server_span)
            .layer(stack(self.limits, Arc::new(self.streams), self.in_flight.clone(), self.guard))
            .add_routes(routes)
            .serve_with_incoming_shutdown(tokio_stream::wrappers::ReceiverStream::new(connections), signal);

        tokio::select! {
            result = server => Ok(result?),
            () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
                let cut = self.in_flight.describe();
                let cut = if cut.is_empty() { "open connections".to_owned() } else { cut };
                tracing::error!(grace_ms = grace.as_millis() as u64, cut_short = %cut, "calls still in flight after the grace period; abandoning them");
                Err(ServerError::CutShort(cut))
            }
        }
    }
}

/// How often a running service signs a checkpoint of its audit log (when records came since).
const AUDIT_CHECKPOINT_EVERY: Duration = Duration::from_secs(60);

/// Stops the accepting task when the server is done with it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The tower stack around every service, outermost first.
fn stack(
    limits: ServerLimits,
    streams: Arc<Vec<&'static str>>,
    in_flight: InFlight,
    guard: Guard,
) -> impl Layer<Routes, Service = Bounded<Inner>> + Clone {
    ServiceBuilder::new()
        // Outermost: measures every call, answers past-deadline calls with DEADLINE_EXCEEDED and
        // shed calls with RESOURCE_EXHAUSTED (tonic would report CANCELLED and UNKNOWN), and
        // keeps the list of calls in flight that a shutdown names if it must cut them short.
        .layer(BoundedLayer::new(limits.request_timeout, limits.stream_timeout, streams, in_flight))
        // Who is calling, and whether they may: before any work is queued for the call.
        .layer(GuardLayer::new(guard))
        // Refuses at once, rather than queueing, what the concurrency limit cannot take now: a
        // queue in front of an overloaded store only makes every caller late.
        .layer(LoadShedLayer::new())
        // Bounds the calls in flight across all connections (clones share one semaphore).
        .layer(ConcurrencyLimitLayer::new(limits.concurrency_limit))
}

type Inner = crate::auth::Guarded<tower::load_shed::LoadShed<tower::limit::ConcurrencyLimit<Routes>>>;

/// tonic's own deadline timer, outside the user's layers, answers with CANCELLED when it fires;
/// ours fires this much earlier so that the caller hears DEADLINE_EXCEEDED.
const DEADLINE_MARGIN: Duration = Duration::from_millis(3);

#[derive(Clone)]
struct BoundedLayer {
    cap: Duration,
    stream_cap: Duration,
    streams: Arc<Vec<&'static str>>,
    metrics: Arc<RpcMetrics>,
    in_flight: InFlight,
}

impl BoundedLayer {
    fn new(cap: Duration, stream_cap: Duration, streams: Arc<Vec<&'static str>>, in_flight: InFlight) -> Self {
        let meter = global::meter("doxwatch");
        let metrics = RpcMetrics {
            duration: meter
                .f64_histogram("rpc.server.duration")
                .with_unit("s")
                .with_description("Duration of gRPC calls by method and status code")
                .build(),
        };
        Self { cap, stream_cap, streams, metrics: Arc::new(metrics), in_flight }
    }
}

struct RpcMetrics {
    duration: Histogram<f64>,
}

impl<S> Layer<S> for BoundedLayer {
    type Service = Bounded<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Bounded {
            inner,
            cap: self.cap,
            stream_cap: self.stream_cap,
            streams: self.streams.clone(),
            metrics: self.metrics.clone(),
            in_flight: self.in_flight.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Bounded<S> {
    inner: S,
    cap: Duration,
    stream_cap: Duration,
    streams: Arc<Vec<&'static str>>,
    metrics: Arc<RpcMetrics>,
    in_flight: InFlight,
}

impl<S, B> Service<http::Request<B>> for Bounded<S>
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
        // Readiness is decided per call below, where load shedding turns "not ready" into an answer.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        let cap = if self.streams.contains(&request.uri().path()) { self.stream_cap } else { self.cap };
        let budget = match grpc_timeout(request.headers()) {
            Some(client) if client <= cap => client.saturating_sub(DEADLINE_MARGIN),
            _ => cap,
        };
        let method = request.uri().path().to_owned();
        let metrics = self.metrics.clone();
        let in_flight = self.in_flight.enter(&method);
        Box::pin(async move {
            let _in_flight = in_flight;
            let started = Instant::now();
            let outcome = tokio::time::timeout(budget, inner.oneshot(request)).await;
            let response = match outcome {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => {
                    let e: BoxError = e.into();
                    if e.is::<Overloaded>() {
                        crate::error::with_reason(
                            tonic::Code::ResourceExhausted,
                            crate::error::CommonReason::ResourceExhausted.as_str_name(),
                            "the server is at its concurrency limit; retry with backoff",
                        )
                        .into_http()
                    } else {
                        return Err(e);
                    }
                }
                Err(_elapsed) => crate::error::with_reason(
                    tonic::Code::DeadlineExceeded,
                    crate::error::CommonReason::DeadlineExceeded.as_str_name(),
                    "the request ran past its deadline",
                )
                .into_http(),
            };
            let response = oversized_as_exhausted(response);
            let code = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0);
            metrics.duration.record(
                started.elapsed().as_secs_f64(),
                &[KeyValue::new("rpc.method", method), KeyValue::new("rpc.grpc.status_code", code)],
            );
            Ok(response)
        })
    }
}

/// tonic refuses a request message over the size limit with OUT_OF_RANGE; gRPC clients expect
/// RESOURCE_EXHAUSTED for it (as they get for a response over their own limit). Only a refusal
/// made before the handler ran (in the response's headers) can be rewritten so.
fn oversized_as_exhausted(response: http::Response<Body>) -> http::Response<Body> {
    let headers = response.headers();
    let out_of_range = headers.get("grpc-status").is_some_and(|v| v.as_bytes() == b"11");
    let too_large = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m.contains("message%20length%20too%20large") || m.contains("message length too large"));
    if !(out_of_range && too_large) {
        return response;
    }
    crate::error::with_reason(
        tonic::Code::ResourceExhausted,
        crate::error::CommonReason::ResourceExhausted.as_str_name(),
        "the request message is larger than the server accepts (its max_message_bytes)",
    )
    .into_http()
}

/// The client's deadline from the `grpc-timeout` header (e.g. `250m`, `5S`).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what container runtimes send).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_grpc_timeouts() {
        let mut h = http::HeaderMap::new();
        for (v, d) in
            [("250m", Duration::from_millis(250)), ("5S", Duration::from_secs(5)), ("2M", Duration::from_secs(120))]
        {
            h.insert("grpc-timeout", v.parse().unwrap());
            assert_eq!(grpc_timeout(&h), Some(d));
        }
        h.insert("grpc-timeout", "12x".parse().unwrap());
        assert_eq!(grpc_timeout(&h), None);
    }
}
