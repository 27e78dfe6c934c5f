//! The import-links scenario: one ImportLinks stream (what `doxwatch link import` sends) of N
//! URLs over 50 platforms into a fresh link-tracking store, beside the store alone taking the same
//! canonical URLs into a table of the links table's shape (batched INSERT on SQLite, COPY on
//! PostgreSQL). The service's figure includes canonicalization; the baseline's does not.

use std::{path::Path, time::Instant};

use doxwatch_proto::links::{self as pb, links_service_client::LinksServiceClient};

use super::{
    baseline::{self, LinkRow},
    process::ServiceCost,
    progress,
    report::{Ratio, Report, Throughput},
    services::Setup,
};
use crate::output::CliError;

/// Registrations per stream message (the most a message may carry).
const PER_MESSAGE: usize = 1000;
/// Platforms the URLs are spread over.
pub const PLATFORMS: usize = 50;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// URLs to import.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=50_000_000))]
    count: u64,
    /// URLs (of other sites) imported first, untimed, so that the timed import goes into a store
    /// that already holds this many links.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=50_000_000))]
    existing: u64,
    /// A PostgreSQL server to make the stores on (fresh databases, dropped at the end); SQLite
    /// without it.
    #[arg(long)]
    database_url: Option<String>,
}

/// The i-th URL of a run and the platform (0..50) it is on: one platform in fifty is Telegram
/// (its channels known from the URL), the others sites of their own; every URL carries tracking
/// parameters and a host in capitals for canonicalization to remove.
pub fn url(run: &str, i: u64) -> (String, usize) {
    let platform = (i % PLATFORMS as u64) as usize;
    let url = if platform == 0 {
        format!("https://T.ME/bench{run}c{}/{i}?utm_source=share", (i / PLATFORMS as u64) % 100)
    } else {
        format!("https://WWW.Site{platform:02}-{run}.com/t/{i}/?utm_source=bench&fbclid=x{i}")
    };
    (url, platform)
}

/// The messages of one ImportLinks stream of `count` URLs of run `run`, made as they are sent.
fn import_stream(run: String, count: u64) -> impl futures::Stream<Item = pb::ImportLinksRequest> {
    futures::stream::iter((0..count).step_by(PER_MESSAGE).map(move |first| {
        pb::ImportLinksRequest {
            registrations: (first..(first + PER_MESSAGE as u64).min(count))
                .map(|i| pb::LinkRegistration { url: url(&run, i).0, ..Default::default() })
                .collect(),
        }
    }))
}

pub async fn run(args: &ImportArgs, work_dir: &Path) -> Result<Report, CliError> {
    Setup::run(work_dir, args.database_url.as_deref(), async |setup| run_on(setup, args).await).await
}

async fn run_on(setup: &Setup, args: &ImportArgs) -> Result<Report, CliError> {
    let mut report = Report { scenario: "import-links", backend: Some(setup.backend()), ..Default::default() };
    let run = &uuid::Uuid::now_v7().simple().to_string()[24..];
    progress(&format!("canonicalizing {} URLs for the raw baseline", args.count));
    let rows: Vec<LinkRow> = (0..args.count)
        .filter_map(|i| {
            let (reported_url, platform) = url(run, i);
            let canonical = doxwatch_urls::canonicalize(&reported_url).ok()?;
            Some(LinkRow { reported_url, canonical_url: canonical.url, platform })
        })
        .collect();
    progress("raw baseline: the same canonical URLs into the store alone");
    let raw = baseline::link_rows(&setup.stores, &rows).await?;
    drop(rows);
    progress("starting link-tracking");
    let links = setup.start("links", &[]).await?;
    let channel = setup.officer(&links.url, 1).await?.remove(0);
    let mut client = LinksServiceClient::new(channel).max_decoding_message_size(64 << 20);
    if args.existing > 0 {
        progress(&format!("ImportLinks of {} other URLs first, untimed", args.existing));
        let other = format!("{run}x");
        let started = Instant::now();
        let answer = client.import_links(import_stream(other, args.existing)).await;
        let seconds = started.elapsed().as_secs_f64();
        let held = answer
            .map_err(|status| {
                CliError::Other(format!("the untimed import failed after {seconds:.1} s: {}", status.message()))
            })?
            .into_inner();
        report.notes.push(format!(
            "the store held {} links before the timed import (imported in {seconds:.1} s)",
            held.new_links
        ));
    }
    let before = links.reading();
    progress(&format!("ImportLinks of {} URLs", args.count));
    let started = Instant::now();
    let count = args.count;
    let answer = client.import_links(import_stream(run.to_owned(), count)).await;
    let seconds = started.elapsed().as_secs_f64();
    let after = links.reading();
    report.services.push(ServiceCost::between("links", links.idle, before, after));
    match answer {
        Ok(answer) => {
            let answer = answer.into_inner();
            let stored = u64::try_from(answer.new_links + answer.known_links).unwrap_or(0);
            let service = Throughput::new(format!("ImportLinks of {count} URLs"), false, stored, seconds, "URLs");
            report.ratios.push(Ratio::at_least(
                "ImportLinks URLs/s over the raw baseline's rows/s",
                service.per_second / raw.per_second,
                0.30,
            ));
            report.notes.push(format!(
                "the import answered {} new, {} known, {} refused",
                answer.new_links, answer.known_links, answer.refused
            ));
            report.throughputs.push(service);
        }
        Err(status) => {
            report.notes.push(format!(
                "the import failed after {seconds:.1} s: {:?}: {}",
                status.code(),
                status.message()
            ));
            report.ratios.push(Ratio::at_least("ImportLinks completed", 0.0, 1.0));
        }
    }
    report.throughputs.push(raw);
    if let Some(peak) = report.services[0].peak_rss_mib {
        report.ratios.push(Ratio::at_most("links peak RSS MiB over the import", peak, 256.0));
    }
    links.stop().await;
    Ok(report)
}
