//! Telemetry is set up here and nowhere else: logs (human or JSON) through `tracing`, and, when an
//! OTLP endpoint is configured, traces and metrics exported over OTLP/gRPC. W3C trace context is
//! read from incoming metadata and written to outgoing metadata so a trace crosses services.
//!
//! Export to an `https://` collector is TLS 1.3 with the collector's certificate verified (against
//! `otlp_ca_file`, else the suite's CA) and the service's own certificate presented, so a collector
//! that requires client certificates accepts it; `http://` is allowed only to a loopback address.

use opentelemetry::{
    global,
    propagation::{Extractor, Injector},
    trace::TracerProvider as _,
};
use std::time::Duration;

use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::{
    Resource, metrics::SdkMeterProvider, propagation::TraceContextPropagator, trace::SdkTracerProvider,
};
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

use crate::{
    config::{LogFormat, TelemetryConfig},
    tls::TlsMaterial,
};

/// How long one export may take: the exporter's own timeout and its channel's.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("cannot build the OTLP exporter")]
    Exporter(#[from] opentelemetry_otlp::ExporterBuildError),
    #[error("the OTLP endpoint {endpoint:?} is not usable: {reason}")]
    Endpoint { endpoint: String, reason: String },
    #[error("cannot read the collector's CA file {path}")]
    CaFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("a global tracing subscriber is already installed")]
    AlreadyInstalled(#[from] tracing_subscriber::util::TryInitError),
}

/// Keeps the exporters alive; `shutdown` flushes what they hold.
#[must_use = "dropping the guard without shutdown loses buffered spans"]
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    meter: Option<SdkMeterProvider>,
}

impl Telemetry {
    /// Flushes and stops the exporters.
    pub fn shutdown(self) {
        if let Some(tracer) = &self.tracer
            && let Err(e) = tracer.shutdown()
        {
            tracing::warn!(error = %e, "flushing traces failed");
        }
        if let Some(meter) = &self.meter
            && let Err(e) = meter.shutdown()
        {
            tracing::warn!(error = %e, "flushing metrics failed");
        }
    }
}

/// Installs logging and, if configured, OTLP export for the process. `service` names the
/// process in traces (`doxwatch-intake`, or `doxwatch` for the whole suite in one process);
/// `tls` is its TLS material: the suite's CA, and the certificate it presents to a collector.
pub fn init(config: &TelemetryConfig, service: &str, tls: Option<&TlsMaterial>) -> Result<Telemetry, TelemetryError> {
    global::set_text_map_propagator(TraceContextPropagator::new());
    // The log filter decides what is written to the log only; spans go to the trace exporter at
    // INFO and above whatever the log shows.
    let filter = EnvFilter::try_new(&config.log_filter)?;
    let fmt = match config.log_format {
        LogFormat::Human => tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(filter).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };

    let (tracer, meter, otel_layer) = match &config.otlp_endpoint {
        None => (None, None, None),
        Some(endpoint) => {
            let resource = Resource::builder().with_service_name(service.to_owned()).build();
            let channel = collector_channel(endpoint, config.otlp_ca_file.as_deref(), tls)?;
            let spans = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_channel(channel.clone())
                .with_timeout(EXPORT_TIMEOUT)
                .build()?;
            let tracer =
                SdkTracerProvider::builder().with_batch_exporter(spans).with_resource(resource.clone()).build();
            let metrics = opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_channel(channel)
                .with_timeout(EXPORT_TIMEOUT)
                .build()?;
            let meter = SdkMeterProvider::builder().with_periodic_exporter(metrics).with_resource(resource).build();
            global::set_tracer_provider(tracer.clone());
            global::set_meter_provider(meter.clone());
            let layer = tracing_opentelemetry::layer()
                .with_tracer(tracer.tracer("doxwatch"))
                .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
            (Some(tracer), Some(meter), Some(layer))
        }
    };

    tracing_subscriber::registry().with(fmt).with(otel_layer).try_init()?;
    Ok(Telemetry { tracer, meter })
}

/// The channel to the collector at `endpoint`: TLS for `https://` (the collector verified with
/// `ca_file`, else the suite's CA in `tls`; the service's certificate presented when there is
/// one), plaintext for `http://`, which configuration allows only to a loopback address.
fn collector_channel(
    endpoint: &str,
    ca_file: Option<&std::path::Path>,
    tls: Option<&TlsMaterial>,
) -> Result<tonic::transport::Channel, TelemetryError> {
    let unusable = |reason: String| TelemetryError::Endpoint { endpoint: endpoint.to_owned(), reason };
    crate::config::check_otlp_endpoint(endpoint).map_err(unusable)?;
    let mut channel = crate::peer::base_endpoint(endpoint).map_err(|e| unusable(e.to_string()))?;
    if endpoint.starts_with("https://") {
        let ca_pem = match (ca_file, tls) {
            (Some(path), _) => std::fs::read_to_string(path)
                .map_err(|source| TelemetryError::CaFile { path: path.to_owned(), source })?,
            (None, Some(tls)) => tls.ca_pem().to_owned(),
            (None, None) => return Err(unusable("no CA to verify the collector with: set otlp_ca_file".into())),
        };
        let mut config =
            tonic::transport::ClientTlsConfig::new().ca_certificate(tonic::transport::Certificate::from_pem(ca_pem));
        if let Some(tls) = tls {
            config = config.identity(tls.tonic_identity());
        }
        channel = channel.tls_config(config).map_err(|e| unusable(e.to_string()))?;
    }
    Ok(channel.connect_timeout(Duration::from_secs(3)).timeout(EXPORT_TIMEOUT).connect_lazy())
}

/// Reads W3C trace context from HTTP/2 headers (gRPC metadata).
pub struct HeaderExtractor<'a>(pub &'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Writes W3C trace context into outgoing gRPC metadata.
pub struct MetadataInjector<'a>(pub &'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) =
            (tonic::metadata::MetadataKey::from_bytes(key.as_bytes()), tonic::metadata::MetadataValue::try_from(value))
        {
            self.0.insert(key, value);
        }
    }
}

/// The trace context of the current span, for a call to a peer.
pub fn inject_current(metadata: &mut tonic::metadata::MetadataMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut MetadataInjector(metadata)));
}

/// The server span of an incoming request, child of the caller's trace when it sent one.
pub fn server_span(request: &http::Request<()>) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let path = request.uri().path();
    let (service, method) = path.trim_start_matches('/').split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc.request",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        trace_id = tracing::field::Empty,
    );
    let parent = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(request.headers())));
    let _ = span.set_parent(parent);
    // Log lines inside the call carry the trace id, so a log line leads to its trace.
    let trace_id = {
        use opentelemetry::trace::TraceContextExt;
        span.context().span().span_context().trace_id()
    };
    if trace_id != opentelemetry::trace::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
    span
}
