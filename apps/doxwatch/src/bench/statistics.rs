//! The statistics scenario: GetLinkStatistics at several `as_of` and `recorded_before` moments over
//! one link-tracking store grown through its API to each size asked (10 observations a link, a
//! removal request for every other link, recorded as liaison does), each size's latency against the
//! smallest's, and the situation report (`report --as-of`, all four services) at the same cuts.
//! Warm: every query is asked once before it is timed.

use std::{path::Path, time::Instant};

use doxwatch_proto::links::{self as pb, links_service_client::LinksServiceClient};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use prost_types::Timestamp;
use tonic::Status;

use super::{
    cuts::{self, DAY, FIRST_DAY, at, now},
    import,
    process::ServiceCost,
    progress,
    report::{Held, Report, SizeFigures},
    services::{Officer, Peer, Setup},
    situation::{self, Others},
};
use crate::output::CliError;

/// Links registered (and seen on the same day) per RegisterLinks call.
const CHUNK: u64 = 1000;
/// Observations per link.
const OBSERVATIONS: u64 = 10;
/// Calls of the seeding in flight at once.
const SEEDING_CALLS: usize = 4;

#[derive(clap::Args, Debug)]
pub struct StatisticsArgs {
    /// The store sizes, in links, comma-separated and growing: the store is grown to each in turn.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000",
          value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    links: Vec<u64>,
    /// Timed calls per moment asked, after one untimed.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// A PostgreSQL server to make the store on (a fresh database, dropped at the end); SQLite
    /// without it.
    #[arg(long)]
    database_url: Option<String>,
}

pub async fn run(args: &StatisticsArgs, work_dir: &Path) -> Result<Report, CliError> {
    cuts::growing("--links", &args.links, "10000,100000,1000000")?;
    Setup::run(work_dir, args.database_url.as_deref(), async |setup| run_on(setup, args).await).await
}

async fn run_on(setup: &Setup, args: &StatisticsArgs) -> Result<Report, CliError> {
    let mut report = Report { scenario: "statistics", backend: Some(setup.backend()), ..Default::default() };
    progress("starting link-tracking");
    let links = setup.start("links", &[]).await?;
    let officer = setup.officer(&links.url, 1).await?.remove(0);
    let others = Others::start(setup, &links).await?;
    let peers = Peers {
        intake: setup.peer(Peer::Service("intake"), &links.url).await?,
        liaison: setup.peer(Peer::Service("liaison"), &links.url).await?,
    };
    let run = uuid::Uuid::now_v7().simple().to_string()[24..].to_owned();
    let before = links.reading();
    let mut held = 0;
    let mut earlier_moment = None;
    for &size in &args.links {
        progress(&format!("growing the store to {size} links ({} observations)", size * OBSERVATIONS));
        let recorded_before_growth = now();
        let started = Instant::now();
        seed(&officer, &peers, &run, held..size).await?;
        let seed_seconds = started.elapsed().as_secs_f64();
        held = size;
        let fold_seconds = cuts::wait_for_fold(setup, "links", "link_figure_pending").await?;
        progress(&format!("GetLinkStatistics and report --as-of over {size} links"));
        let moments = [at(FIRST_DAY + 30 * DAY), at(FIRST_DAY + 120 * DAY), at(FIRST_DAY + 210 * DAY), None];
        let cutoffs = [None, earlier_moment.or(Some(recorded_before_growth)), Some(now())];
        let store = Held::Links { links: size, observations: size * OBSERVATIONS };
        let mut figures = query(&officer, store, args.repeat, &moments, &cutoffs).await;
        (figures.report_latency_ms, figures.report_errors) =
            situation::time_reports(&others.endpoints, args.repeat, &moments, &cutoffs).await;
        earlier_moment = Some(recorded_before_growth);
        figures.seed_seconds = seed_seconds;
        figures.fold_seconds = fold_seconds;
        report.sizes.push(figures);
    }
    cuts::against_smallest(&mut report);
    report.services.push(ServiceCost::between("links", links.idle, before, links.reading()));
    report.notes.push("the store is grown through the API (RegisterLinks, RecordObservations, and RecordRemovalRequests as liaison): its seeding time is the service's too".into());
    others.stop().await;
    links.stop().await;
    Ok(report)
}

/// The peers whose calls the policy leaves to them: intake registers URLs, liaison records the
/// removal requests of the notices it serves.
struct Peers {
    intake: Officer,
    liaison: Officer,
}

/// Registers links `range` (a chunk of 1,000 seen on one day of 2019), records 10 observations of
/// each over the 10 days after, and a removal request for every other link on the second day.
async fn seed(officer: &Officer, peers: &Peers, run: &str, range: std::ops::Range<u64>) -> Result<(), CliError> {
    let chunks: Vec<u64> = range.clone().step_by(CHUNK as usize).collect();
    futures::stream::iter(chunks)
        .map(|first| {
            let chunk = first..(first + CHUNK).min(range.end);
            seed_chunk(officer.clone(), peers.intake.clone(), peers.liaison.clone(), run, chunk)
        })
        .buffer_unordered(SEEDING_CALLS)
        .try_collect::<Vec<()>>()
        .await
        .map_err(|status| CliError::Other(format!("seeding the store: {:?}: {}", status.code(), status.message())))?;
    Ok(())
}

async fn seed_chunk(
    officer: Officer,
    intake: Officer,
    liaison: Officer,
    run: &str,
    range: std::ops::Range<u64>,
) -> Result<(), Status> {
    let day = FIRST_DAY + ((range.start / CHUNK) % 200) as i64 * DAY;
    let mut links = LinksServiceClient::new(officer).max_decoding_message_size(64 << 20);
    let mut registrar = LinksServiceClient::new(intake).max_decoding_message_size(64 << 20);
    let registrations = range
        .clone()
        .map(|i| pb::LinkRegistration { url: import::url(run, i).0, seen_at: at(day), ..Default::default() })
        .collect();
    let answer =
        registrar.register_links(pb::RegisterLinksRequest { registrations, request_id: String::new() }).await?;
    let names: Vec<String> = answer.into_inner().results.into_iter().filter_map(|r| r.link.map(|l| l.name)).collect();
    let statuses =
        [pb::LinkStatus::Online, pb::LinkStatus::Removed, pb::LinkStatus::AccessRestricted, pb::LinkStatus::Removed];
    for batch in names.chunks((1000 / OBSERVATIONS) as usize) {
        let observations = batch
            .iter()
            .enumerate()
            .flat_map(|(n, link)| {
                (1..=OBSERVATIONS as i64).map(move |k| pb::Observation {
                    link: link.clone(),
                    status: statuses[(n + k as usize) % statuses.len()] as i32,
                    observed_at: at(day + k * DAY),
                    source: pb::ObservationSource::OfficerCheck as i32,
                    ..Default::default()
                })
            })
            .collect();
        links.record_observations(pb::RecordObservationsRequest { observations, request_id: String::new() }).await?;
    }
    let requested: Vec<String> = names.iter().step_by(2).cloned().collect();
    if !requested.is_empty() {
        let notice = format!("notices/{}", uuid::Uuid::now_v7());
        let request = pb::RecordRemovalRequestsRequest {
            notice,
            links: requested,
            served_at: at(day + 2 * DAY),
            request_id: String::new(),
        };
        LinksServiceClient::new(liaison).record_removal_requests(request).await?;
    }
    Ok(())
}

/// GetLinkStatistics at each moment × `recorded_before` (none, before the last growth, now),
/// once untimed and then `repeat` times timed, one call at a time, over a store holding `held`.
async fn query(
    officer: &Officer,
    held: Held,
    repeat: u32,
    moments: &[Option<Timestamp>],
    cutoffs: &[Option<Timestamp>],
) -> SizeFigures {
    let links = LinksServiceClient::new(officer.clone()).max_decoding_message_size(256 << 20);
    cuts::time_cuts(held, repeat, moments, cutoffs, |as_of, recorded_before| {
        let mut links = links.clone();
        let request = pb::GetLinkStatisticsRequest { as_of, recorded_before, ..Default::default() };
        async move { links.get_link_statistics(request).await.map(|answer| answer.get_ref().encoded_len()) }
    })
    .await
}
