//! Traces cross service boundaries: one CreateCase with a URL is one trace through intake, its
//! outbox delivery, and link-tracking's RegisterLinks, as an OTLP collector receives it. RPC
//! metrics are exported too. The collector speaks TLS and requires a client certificate, as the
//! deployed one does: the export verifies it against the suite's CA and presents the service's
//! certificate.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use doxwatch_kit::{
    config::{LogFormat, TelemetryConfig},
    identity::Identity,
    telemetry,
    testing::{TestDatabase, pki, ts},
};
use doxwatch_proto::intake as pb;
use doxwatch_suite_tests::*;
use opentelemetry_proto::tonic::{
    collector::{
        metrics::v1::{
            ExportMetricsServiceRequest, ExportMetricsServiceResponse,
            metrics_service_server::{MetricsService, MetricsServiceServer},
        },
        trace::v1::{
            ExportTraceServiceRequest, ExportTraceServiceResponse,
            trace_service_server::{TraceService, TraceServiceServer},
        },
    },
    trace::v1::Span,
};
use tonic::{Request, Response, Status};

/// An in-process OTLP/gRPC collector that keeps what it receives.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
    metrics: Arc<Mutex<HashSet<String>>>,
    /// The identities in the client certificates exports came with.
    callers: Arc<Mutex<HashSet<String>>>,
}

impl Collector {
    fn note_caller<T>(&self, request: &Request<T>) {
        let identity = request
            .peer_certs()
            .and_then(|certs| certs.first().map(|c| Identity::from_certificate(c.as_ref())))
            .map_or_else(|| "no certificate".to_owned(), |i| i.map_or_else(|e| e, |i| i.to_string()));
        self.callers.lock().unwrap().insert(identity);
    }
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.note_caller(&request);
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Collector {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.note_caller(&request);
        let mut names = self.metrics.lock().unwrap();
        for resource in request.into_inner().resource_metrics {
            for scope in resource.scope_metrics {
                names.extend(scope.metrics.into_iter().map(|m| m.name));
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_case_with_a_url_is_one_trace_through_intake_and_link_tracking() {
    doxwatch_kit::install_crypto_provider();
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // The collector's server-only certificate from the suite's CA; it requires a client certificate
    // of that CA.
    let server =
        pki().ca().issue_server("otel-collector", &["127.0.0.1".to_owned()], Duration::from_secs(3600)).unwrap();
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(&server.cert_pem, &server.key_pem))
        .client_ca_root(tonic::transport::Certificate::from_pem(pki().ca_pem()));
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(TraceServiceServer::new(collector.clone()))
            .add_service(MetricsServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let telemetry = telemetry::init(
        &TelemetryConfig {
            log_format: LogFormat::Human,
            log_filter: "warn".into(),
            otlp_endpoint: Some(format!("https://{addr}")),
            otlp_ca_file: None,
        },
        "doxwatch-test",
        Some(&pki().material(&Identity::Service("intake"))),
    )
    .expect("telemetry installs");

    let (intake_db, links_db) = (TestDatabase::sqlite(), TestDatabase::sqlite());
    let links_service = start_links(&links_db, "127.0.0.1:0".parse().unwrap()).await;
    let intake_service = start_intake(&intake_db, &links_service.url()).await;
    let mut client = intake(&intake_service);
    let case = client
        .create_case(pb::CreateCaseRequest {
            case: Some(pb::Case {
                kind: pb::CaseKind::Complaint as i32,
                received_at: Some(ts("2019-07-01T09:00:00+08:00")),
                channel: pb::IntakeChannel::Email as i32,
                summary: "A traced complaint".into(),
                reported_urls: vec!["https://t.me/tracechan/1".into()],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    eventually(Duration::from_secs(10), || {
        let mut client = client.clone();
        let name = case.name.clone();
        async move {
            client
                .list_case_links(pb::ListCaseLinksRequest { name, ..Default::default() })
                .await
                .ok()
                .filter(|r| r.get_ref().links.len() == 1)
        }
    })
    .await
    .expect("the link reaches link-tracking");
    intake_service.stop().await;
    links_service.stop().await;
    telemetry.shutdown();

    let spans = collector.spans.lock().unwrap().clone();
    let named = |name: &str| spans.iter().filter(|s| s.name == name).cloned().collect::<Vec<_>>();
    let create = named("doxwatch.intake.v1.IntakeService/CreateCase");
    assert_eq!(create.len(), 1, "spans: {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>());
    let trace = create[0].trace_id.clone();
    let deliver: Vec<Span> = named("outbox.deliver").into_iter().filter(|s| s.trace_id == trace).collect();
    assert_eq!(deliver.len(), 1, "the outbox delivery is in the CreateCase trace");
    let register: Vec<Span> =
        named("doxwatch.links.v1.LinksService/RegisterLinks").into_iter().filter(|s| s.trace_id == trace).collect();
    assert_eq!(register.len(), 1, "link-tracking's RegisterLinks is in the same trace");
    assert_eq!(register[0].parent_span_id, deliver[0].span_id, "and is called from the delivery");
    let in_trace: HashSet<&[u8]> = spans.iter().filter(|s| s.trace_id == trace).map(|s| s.span_id.as_slice()).collect();
    assert!(
        in_trace.contains(deliver[0].parent_span_id.as_slice()),
        "the delivery's parent is a span of the CreateCase trace"
    );
    let metrics = collector.metrics.lock().unwrap().clone();
    for name in [
        "rpc.server.duration",
        "outbox.deliveries",
        "outbox.pending",
        "outbox.oldest_pending_age",
        "db.pool.connections",
    ] {
        assert!(metrics.contains(name), "{name} missing from {metrics:?}");
    }
    let callers = collector.callers.lock().unwrap().clone();
    assert_eq!(
        callers,
        HashSet::from([Identity::Service("intake").to_string()]),
        "every export came over mutual TLS with the service's certificate"
    );
    serving.abort();
}
