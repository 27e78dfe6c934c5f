//! The create-case scenario: durable CreateCase calls (each with a `request_id`, 2 data subjects
//! and 3 URLs, one of them cited by every case) on intake, whose outbox registers the URLs with
//! link-tracking; beside a one-row insert-and-commit loop on the same store. The intake outbox is
//! sampled every second: does delivery keep up with the cases?

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use doxwatch_proto::{
    intake::{self as pb, intake_service_client::IntakeServiceClient},
    ops::{GetOutboxStatusRequest, OutboxStatus, outbox_service_client::OutboxServiceClient},
};

use super::{
    LoadArgs, baseline,
    load::{self, Load},
    process::{self, ServiceCost},
    progress,
    report::{OutboxFigures, Ratio, Report, Throughput},
    services::{Officer, Setup},
};
use crate::output::CliError;

#[derive(clap::Args, Debug)]
pub struct CreateCaseArgs {
    /// Cases offered per second; by default 26% of the raw commit rate just measured, a little
    /// above the target of 25%, so that the load itself says whether the target is met.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    rate: Option<u32>,
    /// Clients: calls in flight at most.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    clients: u32,
    /// How long the raw baseline runs, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=3600))]
    baseline_seconds: u32,
    /// How long to wait after the load for the outbox to empty, in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=3600))]
    drain_wait: u32,
    /// A PostgreSQL server to make the stores on (a fresh database per service and baseline,
    /// dropped at the end), e.g. postgres://user:pass@localhost/postgres; SQLite without it.
    #[arg(long)]
    database_url: Option<String>,
    #[command(flatten)]
    load: LoadArgs,
}

pub async fn run(args: &CreateCaseArgs, work_dir: &Path) -> Result<Report, CliError> {
    Setup::run(work_dir, args.database_url.as_deref(), async |setup| run_on(setup, args).await).await
}

async fn run_on(setup: &Setup, args: &CreateCaseArgs) -> Result<Report, CliError> {
    let mut report = Report { scenario: "create-case", backend: Some(setup.backend()), ..Default::default() };
    progress(&format!("raw baseline: one-row commits for {} s", args.baseline_seconds));
    let clients = args.clients as usize;
    let raw =
        baseline::commit_loop(&setup.stores, Duration::from_secs(u64::from(args.baseline_seconds)), clients).await?;
    progress("starting link-tracking and intake");
    let links = setup.start("links", &[]).await?;
    let intake = setup.start("intake", &[("LINKS_URL", links.url.clone())]).await?;
    let channels = setup.officer(&intake.url, args.load.connections()).await?;
    let mut outbox = OutboxServiceClient::new(channels[0].clone());
    let sampler = Sampler::start(outbox.clone());
    let rate = args.rate.map_or((raw.per_second * 0.26).ceil().max(1.0), f64::from);
    let load = Load {
        label: format!("CreateCase, {} clients", args.clients),
        rate,
        duration: args.load.duration(),
        in_flight: clients,
        connections: channels.len(),
    };
    progress(&format!("{} at {rate}/s for {} s", load.label, args.load.duration));
    let (intake_before, links_before) = (intake.reading(), links.reading());
    let (machine_before, client_before) = (process::machine(), process::read(std::process::id()));
    let run = uuid::Uuid::now_v7().simple().to_string();
    let phase = load::run(&load, move |i| {
        let mut client = IntakeServiceClient::new(channels[(i as usize) % channels.len()].clone());
        let request = case_request(&run, i);
        async move { client.create_case(request).await.map(|_| ()) }
    })
    .await;
    let (intake_after, links_after) = (intake.reading(), links.reading());
    let (machine_after, client_after) = (process::machine(), process::read(std::process::id()));
    let samples = sampler.stop().await;
    let mut figures = outbox_figures(&samples, phase.ok as f64 / phase.seconds);
    progress("waiting for the outbox to empty");
    figures.seconds_to_empty_after_load =
        wait_empty(&mut outbox, Duration::from_secs(u64::from(args.drain_wait))).await;
    // What the work left on disk, per case: the same figure from a longer run shows whether the
    // stores grow with the number of cases (linear) or faster.
    for store in ["intake", "links"] {
        if let Some(bytes) = setup.stores.bytes(store).await {
            report.ratios.push(Ratio {
                label: format!("{store} store bytes per case ({:.1} MiB in all)", bytes as f64 / 1_048_576.0),
                value: bytes as f64 / (phase.ok.max(1) as f64),
                target: "-".into(),
                met: None,
            });
        }
    }
    report.services.push(ServiceCost::between("intake", intake.idle, intake_before, intake_after));
    report.services.push(ServiceCost::between("links", links.idle, links_before, links_after));
    report.ratios.extend(machine_ratios(machine_before.zip(machine_after), &phase));
    report.ratios.push(Ratio::at_least(
        "CreateCase/s over the raw commit rate",
        phase.achieved_rate / raw.per_second,
        0.25,
    ));
    let p99 = phase.latency_ms.as_ref().map_or(f64::INFINITY, |l| l.p99);
    report.ratios.push(Ratio::at_most(format!("p99 ms at {} clients", args.clients), p99, 20.0));
    let errors: u64 = phase.errors.values().sum();
    report.ratios.push(Ratio::at_most("errors", errors as f64, 0.0));
    report.ratios.push(Ratio {
        label: "outbox deliveries/s over cases/s during the load".into(),
        value: figures.drain_rate / figures.intake_rate.max(1e-9),
        target: "-".into(),
        met: None,
    });
    // Bounded: what is pending when the load ends is at most a second's worth of cases.
    report.ratios.push(Ratio::at_most(
        "outbox pending at the end of the load, in seconds of cases",
        figures.pending_at_end_of_load as f64 / figures.intake_rate.max(1e-9),
        1.0,
    ));
    for cost in &report.services {
        if let Some(peak) = cost.peak_rss_mib {
            report.ratios.push(Ratio::at_most(format!("{} peak RSS MiB under load", cost.service), peak, 256.0));
        }
        if let Some(idle) = cost.idle_rss_mib {
            report.ratios.push(Ratio::at_most(format!("{} idle RSS MiB", cost.service), idle, 64.0));
        }
    }
    // The load's own client, which shares the machine's cores: a cost, not a service's target.
    report.services.push(ServiceCost::between("client", client_before, client_before, client_after));
    report.throughputs.push(Throughput::of_load(&phase, "cases"));
    report.throughputs.push(raw);
    report.loads.push(phase);
    report.outbox = Some(figures);
    intake.stop().await;
    links.stop().await;
    Ok(report)
}

/// The i-th case of a run: a paper complaint received in 2019, two victims, three URLs (the last
/// cited by every case of every run, so link-tracking holds one link that all of them cite).
fn case_request(run: &str, i: u64) -> pb::CreateCaseRequest {
    let tag = format!("{run}-{i}");
    let subject = |n: u32| pb::DataSubject {
        display_name: format!("Bench Subject {n} {tag}"),
        category: pb::DataSubjectCategory::Student as i32,
        hong_kong_nexus: pb::HongKongNexus::Resident as i32,
        ..Default::default()
    };
    pb::CreateCaseRequest {
        case: Some(pb::Case {
            kind: pb::CaseKind::Complaint as i32,
            received_at: Some(prost_types::Timestamp { seconds: 1_546_300_800 + (i % 1_000_000) as i64, nanos: 0 }),
            channel: pb::IntakeChannel::OnlineForm as i32,
            summary: format!("Personal data posted on two sites [{tag}]"),
            reported_urls: vec![
                format!("https://forum.example.com/t/bench-{tag}"),
                format!("https://paste.example.org/{tag}"),
                "https://forum.example.com/t/bench-shared".to_owned(),
            ],
            data_subjects: vec![subject(1), subject(2)],
            ..Default::default()
        }),
        request_id: format!("bench-{tag}"),
    }
}

/// GetOutboxStatus every second on a task of its own.
struct Sampler {
    samples: Arc<Mutex<Vec<(Instant, OutboxStatus)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start(mut outbox: OutboxServiceClient<Officer>) -> Self {
        let samples: Arc<Mutex<Vec<(Instant, OutboxStatus)>>> = Arc::default();
        let kept = samples.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Ok(status) = outbox.get_outbox_status(GetOutboxStatusRequest {}).await
                    && let Ok(mut kept) = kept.lock()
                {
                    kept.push((Instant::now(), status.into_inner()));
                }
            }
        });
        Self { samples, task }
    }

    async fn stop(self) -> Vec<(Instant, OutboxStatus)> {
        self.task.abort();
        let _ = self.task.await;
        self.samples.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn outbox_figures(samples: &[(Instant, OutboxStatus)], intake_rate: f64) -> OutboxFigures {
    let (Some((t0, first)), Some((t1, last))) = (samples.first(), samples.last()) else {
        return OutboxFigures { intake_rate, ..Default::default() };
    };
    let seconds = t1.saturating_duration_since(*t0).as_secs_f64().max(1e-9);
    OutboxFigures {
        pending_at_start: first.pending,
        pending_max: samples.iter().map(|(_, s)| s.pending).max().unwrap_or(0),
        pending_at_end_of_load: last.pending,
        drain_rate: (last.delivered - first.delivered).max(0) as f64 / seconds,
        intake_rate,
        oldest_pending_seconds: last
            .oldest_pending_age
            .as_ref()
            .map_or(0.0, |d| d.seconds as f64 + f64::from(d.nanos) / 1e9),
        seconds_to_empty_after_load: None,
        rejected: last.rejected,
    }
}

/// How long the outbox took to empty, polling every 100 ms for at most `within`.
async fn wait_empty(outbox: &mut OutboxServiceClient<Officer>, within: Duration) -> Option<f64> {
    let started = Instant::now();
    loop {
        if let Ok(status) = outbox.get_outbox_status(GetOutboxStatusRequest {}).await
            && status.into_inner().pending == 0
        {
            return Some(started.elapsed().as_secs_f64());
        }
        if started.elapsed() >= within {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The machine's busy cores while the load ran, and its CPU time a case: what the services, the
/// store and the client spent together. None without /proc.
fn machine_ratios(
    readings: Option<(process::MachineReading, process::MachineReading)>,
    phase: &load::Phase,
) -> Vec<Ratio> {
    let Some((before, after)) = readings else { return Vec::new() };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    vec![
        Ratio {
            label: format!("the machine's busy cores during the load, of {cores}"),
            value: process::busy_cores(before, after, phase.seconds),
            target: "-".into(),
            met: None,
        },
        Ratio {
            label: "CPU ms a case, every process on the machine".into(),
            value: (after.busy_seconds - before.busy_seconds).max(0.0) * 1000.0 / (phase.ok.max(1) as f64),
            target: "-".into(),
            met: None,
        },
    ]
}
