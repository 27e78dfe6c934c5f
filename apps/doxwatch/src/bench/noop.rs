//! The noop scenario: gRPC health checks through link-tracking's whole server stack (mutual TLS,
//! the officer's token, the policy, the limits), against a bare tonic health server on the same
//! TLS listener code and certificate: what the stack costs over the transport alone.

use std::{net::SocketAddr, path::Path, path::PathBuf};

use doxwatch_kit::tls::TlsMaterial;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use super::{
    LoadArgs,
    load::{self, Load},
    process::ServiceCost,
    progress,
    report::{Ratio, Report},
    services::{Officer, Service, Setup},
};
use crate::output::CliError;

/// The noop target: calls per second achieved as shipped.
const TARGET_RATE: f64 = 50_000.0;
/// The offered rate the latency target is stated at, and the target.
const LATENCY_RATE: u32 = 10_000;
const TARGET_P99_MS: f64 = 2.0;

#[derive(clap::Args, Debug)]
pub struct NoopArgs {
    /// Offered rates in calls per second, one load each, comma-separated: by default one well
    /// above the 50,000 target (what is achieved is the capacity), then 10,000 for the p99 target.
    #[arg(long, value_delimiter = ',', default_value = "60000,10000",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate: Vec<u32>,
    /// Calls in flight at most (the service's concurrency limit is 256).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    in_flight: u32,
    #[command(flatten)]
    load: LoadArgs,
}

pub async fn run(args: &NoopArgs, work_dir: &Path) -> Result<Report, CliError> {
    let setup = Setup::new(work_dir, None).await?;
    progress("starting link-tracking and the bare health server");
    let links = setup.start("links", &[]).await?;
    let raw = setup.start_raw_health().await?;
    let mut report = Report { scenario: "noop", ..Default::default() };
    let (links_start, raw_start) = (links.reading(), raw.reading());
    let mut links_cpu = 0.0;
    let mut raw_cpu = 0.0;
    for &rate in &args.rate {
        let raw_phase = measure(&setup, &raw, "raw: bare tonic health", rate, args, &mut raw_cpu).await?;
        let phase = measure(&setup, &links, "doxwatch health, full stack", rate, args, &mut links_cpu).await?;
        report.ratios.push(Ratio {
            label: format!("achieved at {rate}/s offered, doxwatch / raw"),
            value: phase.achieved_rate / raw_phase.achieved_rate.max(1e-9),
            target: "-".into(),
            met: None,
        });
        if f64::from(rate) >= TARGET_RATE {
            report.ratios.push(Ratio::at_least(
                format!("calls/s achieved at {rate}/s offered"),
                phase.achieved_rate,
                TARGET_RATE,
            ));
        }
        if rate == LATENCY_RATE {
            let p99 = phase.latency_ms.as_ref().map_or(f64::INFINITY, |l| l.p99);
            report.ratios.push(Ratio::at_most(format!("p99 ms at {rate}/s offered"), p99, TARGET_P99_MS));
        }
        report.loads.push(raw_phase);
        report.loads.push(phase);
    }
    let cost = |service: &Service, start, cpu: f64| {
        let mut cost = ServiceCost::between(service.name, service.idle, start, service.reading());
        cost.cpu_seconds = cost.cpu_seconds.map(|_| cpu);
        cost
    };
    report.services.push(cost(&links, links_start, links_cpu));
    report.services.push(cost(&raw, raw_start, raw_cpu));
    report.notes.push(
        "the client shares the machine's cores with the servers: its own CPU time is not counted above, \
         but it competes with them"
            .into(),
    );
    links.stop().await;
    raw.stop().await;
    setup.stores.drop_all().await;
    Ok(report)
}

/// One load of health checks at `rate` on `service`, adding the CPU time it took to `cpu`.
async fn measure(
    setup: &Setup,
    service: &Service,
    label: &str,
    rate: u32,
    args: &NoopArgs,
    cpu: &mut f64,
) -> Result<load::Phase, CliError> {
    let channels: Vec<Officer> = setup.officer(&service.url, args.load.connections()).await?;
    let load = Load {
        label: format!("{label} @{rate}"),
        rate: f64::from(rate),
        duration: args.load.duration(),
        in_flight: args.in_flight as usize,
        connections: channels.len(),
    };
    progress(&format!("{} for {} s", load.label, args.load.duration));
    let before = service.reading();
    let phase = load::run(&load, move |i| {
        let mut health = HealthClient::new(channels[(i as usize) % channels.len()].clone());
        async move { health.check(HealthCheckRequest { service: String::new() }).await.map(|_| ()) }
    })
    .await;
    let after = service.reading();
    *cpu += before.cpu_seconds.zip(after.cpu_seconds).map_or(0.0, |(b, a)| a - b);
    Ok(phase)
}

#[derive(clap::Args, Debug)]
pub struct RawHealthArgs {
    /// The address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// The CA whose certificates clients must present.
    #[arg(long)]
    ca: PathBuf,
    /// The server's certificate and key.
    #[arg(long)]
    cert: PathBuf,
    #[arg(long)]
    key: PathBuf,
}

/// Serves gRPC health alone, on the suite's TLS listener (TLS 1.3, client certificates, the same
/// acceptor), until SIGTERM or Ctrl-C: the transport's own cost, without the suite's stack.
pub async fn raw_health(args: RawHealthArgs) -> Result<(), CliError> {
    let material = TlsMaterial::load(&args.ca, &args.cert, &args.key).map_err(|e| CliError::chain(&e))?;
    let config = material.server_config().map_err(|e| CliError::chain(&e))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::Other(format!("--listen {}: {e}", args.listen)))?;
    let (connections, _accepting) = doxwatch_kit::tls::accept(listener, config);
    let (_reporter, health) = tonic_health::server::health_reporter();
    tonic::transport::Server::builder()
        .add_service(health)
        .serve_with_incoming_shutdown(
            tokio_stream::wrappers::ReceiverStream::new(connections),
            doxwatch_kit::server::shutdown_signal(),
        )
        .await
        .map_err(|e| CliError::chain(&e))
}
