//! The notice-statistics scenario: GetLiaisonStatistics at several `as_of` and `recorded_before`
//! moments over one liaison store grown through its API to each size asked (notices to fifty
//! platforms over 2019, each about two links: nine in ten served, half of those answered, half of
//! the answered closed), each size's latency against the smallest's: is liaison's read flat in the
//! length of its correspondence? Warm: every query is asked once before it is timed.

use std::{collections::HashMap, path::Path, time::Instant};

use doxwatch_proto::{
    liaison::{self as pb, liaison_service_client::LiaisonServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use prost_types::Timestamp;
use tonic::Status;

use super::{
    cuts::{self, DAY, at, in_2019, now},
    import::{self, PLATFORMS},
    process::ServiceCost,
    progress,
    report::{Held, Report, SizeFigures},
    services::{Officer, Peer, Setup},
};
use crate::output::CliError;

/// Calls of the growth in flight at once.
const SEEDING_CALLS: usize = 16;
/// Notices whose links one RegisterLinks call registers (two links each).
const CHUNK: u64 = 500;
/// Items a notice asks about.
const ITEMS: u64 = 2;

#[derive(clap::Args, Debug)]
pub struct NoticeStatisticsArgs {
    /// The store sizes, in notices, comma-separated and growing: the store is grown to each in
    /// turn.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,50000",
          value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
    notices: Vec<u64>,
    /// Timed calls per moment asked, after one untimed.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// A PostgreSQL server to make the stores on (a fresh database per service, dropped at the
    /// end); SQLite without it.
    #[arg(long)]
    database_url: Option<String>,
}

pub async fn run(args: &NoticeStatisticsArgs, work_dir: &Path) -> Result<Report, CliError> {
    cuts::growing("--notices", &args.notices, "1000,10000,50000")?;
    Setup::run(work_dir, args.database_url.as_deref(), async |setup| run_on(setup, args).await).await
}

async fn run_on(setup: &Setup, args: &NoticeStatisticsArgs) -> Result<Report, CliError> {
    let mut report = Report { scenario: "notice-statistics", backend: Some(setup.backend()), ..Default::default() };
    progress("starting link-tracking and liaison");
    let links = setup.start("links", &[]).await?;
    let liaison = setup.start("liaison", &[("LINKS_URL", links.url.clone())]).await?;
    let officer = setup.officer(&liaison.url, 1).await?.remove(0);
    let registrar = setup.peer(Peer::Service("intake"), &links.url).await?;
    let run = uuid::Uuid::now_v7().simple().to_string()[24..].to_owned();
    let before = liaison.reading();
    let mut held = 0;
    for &size in &args.notices {
        progress(&format!("growing liaison's store to {size} notices ({} replies)", replied(size)));
        let recorded_before_growth = now();
        let started = Instant::now();
        seed(&officer, &registrar, &run, held..size).await?;
        let seed_seconds = started.elapsed().as_secs_f64();
        held = size;
        let fold_seconds = cuts::wait_for_fold(setup, "liaison", "notice_figure_pending").await?;
        check_counts(&officer, size).await?;
        progress(&format!("GetLiaisonStatistics over {size} notices"));
        let cutoffs = [None, Some(recorded_before_growth), Some(now())];
        let store = Held::Notices { notices: size, replies: replied(size) };
        let mut figures = query(&officer, store, args.repeat, &cuts::moments_of_2019(), &cutoffs).await;
        figures.seed_seconds = seed_seconds;
        figures.fold_seconds = fold_seconds;
        report.sizes.push(figures);
    }
    cuts::against_smallest(&mut report);
    report.services.push(ServiceCost::between("liaison", liaison.idle, before, liaison.reading()));
    report.notes.push("the store is grown through the API (CreateNotice, ServeNotice, RecordReply, CloseNotice; the links registered as intake does): its growth time is the service's too".into());
    report.notes.push(
        "each served removal request and cessation notice is also sent to link-tracking by liaison's outbox".into(),
    );
    liaison.stop().await;
    links.stop().await;
    Ok(report)
}

/// Whether notice `n` is served: all but one in ten.
fn served(n: u64) -> bool {
    n % 10 != 3
}

/// Whether the platform answers served notice `n`: every other one.
fn answered(n: u64) -> bool {
    served(n) && n.is_multiple_of(2)
}

/// How many of the first `notices` notices are answered.
fn replied(notices: u64) -> u64 {
    (0..notices).filter(|&n| answered(n)).count() as u64
}

/// How many of the first `notices` notices are served.
fn served_of(notices: u64) -> u64 {
    (0..notices).filter(|&n| served(n)).count() as u64
}

/// The run's URL indices notice `n` asks about: two on its platform (`n` modulo fifty), each
/// asked about by this notice alone.
fn items_of(n: u64) -> [u64; ITEMS as usize] {
    let platforms = PLATFORMS as u64;
    let first = 2 * platforms * (n / platforms) + n % platforms;
    [first, first + platforms]
}

/// Records notices `range`, registering their links `CHUNK` notices at a time, and the notices
/// `SEEDING_CALLS` at a time.
async fn seed(officer: &Officer, registrar: &Officer, run: &str, range: std::ops::Range<u64>) -> Result<(), CliError> {
    let refused =
        |status: Status| CliError::Other(format!("growing liaison's store: {:?}: {}", status.code(), status.message()));
    let mut first = range.start;
    while first < range.end {
        let chunk = first..(first + CHUNK).min(range.end);
        first = chunk.end;
        let links = register(registrar.clone(), run, chunk.clone()).await.map_err(refused)?;
        futures::stream::iter(chunk)
            .map(|n| seed_notice(LiaisonServiceClient::new(officer.clone()), &links, n))
            .buffer_unordered(SEEDING_CALLS)
            .try_collect::<()>()
            .await
            .map_err(refused)?;
    }
    Ok(())
}

/// Registers the links of notices `chunk`, seen on their notice's day, as intake does; answers
/// each URL index's link.
async fn register(
    registrar: Officer,
    run: &str,
    chunk: std::ops::Range<u64>,
) -> Result<HashMap<u64, links_pb::Link>, Status> {
    let indices: Vec<(u64, u64)> = chunk.flat_map(|n| items_of(n).map(|i| (n, i))).collect();
    let registrations = indices
        .iter()
        .map(|&(n, i)| links_pb::LinkRegistration {
            url: import::url(run, i).0,
            seen_at: at(in_2019(n)),
            ..Default::default()
        })
        .collect();
    let mut links = LinksServiceClient::new(registrar).max_decoding_message_size(64 << 20);
    let answer =
        links.register_links(links_pb::RegisterLinksRequest { registrations, request_id: String::new() }).await?;
    let results = answer.into_inner().results;
    indices
        .iter()
        .zip(results)
        .map(|(&(_, i), result)| {
            result.link.map(|link| (i, link)).ok_or_else(|| Status::internal(format!("URL {i} was not registered")))
        })
        .collect()
}

/// Notice `n`: drafted to its links' platform (six in ten removal requests, two cessation notices,
/// one disclosure request, one warning-post request), served by email on its day of 2019 unless
/// it is the one in ten left in draft; every other one answered 3 to 22 days later about all its
/// items, and every other answered one closed the day after.
async fn seed_notice(
    mut liaison: LiaisonServiceClient<Officer>,
    links: &HashMap<u64, links_pb::Link>,
    n: u64,
) -> Result<(), Status> {
    let (kind, action) = match n % 10 {
        0..=5 => (pb::NoticeKind::RemovalRequest, pb::NoticeAction::Remove),
        6 | 7 => (pb::NoticeKind::CessationNotice, pb::NoticeAction::Remove),
        8 => (pb::NoticeKind::DisclosureRequest, pb::NoticeAction::DiscloseUploaderData),
        _ => (pb::NoticeKind::WarningPostRequest, pb::NoticeAction::PostWarning),
    };
    let items = items_of(n)
        .iter()
        .map(|i| links.get(i).map(|link| (link.platform.clone(), link.name.clone())))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Status::internal(format!("notice {n}'s links were not registered")))?;
    let notice = pb::Notice {
        platform: items[0].0.clone(),
        kind: kind as i32,
        items: items.into_iter().map(|(_, link)| pb::NoticeItem { link, action: action as i32, reply: None }).collect(),
        legal_basis: "Personal Data (Privacy) Ordinance, section 66M".into(),
        ..Default::default()
    };
    let drafted = liaison.create_notice(pb::CreateNoticeRequest { notice: Some(notice), request_id: String::new() });
    let name = drafted.await?.into_inner().name;
    if !served(n) {
        return Ok(());
    }
    let served_at = in_2019(n);
    let serve = pb::ServeNoticeRequest {
        name: name.clone(),
        served_at: at(served_at),
        service_method: pb::ServiceMethod::Email as i32,
        request_id: String::new(),
    };
    liaison.serve_notice(serve).await?;
    if !answered(n) {
        return Ok(());
    }
    let received_at = served_at + (3 + (n % 20) as i64) * DAY;
    let outcome = match kind {
        pb::NoticeKind::DisclosureRequest if n.is_multiple_of(4) => pb::ReplyOutcome::DataProvided,
        pb::NoticeKind::DisclosureRequest => pb::ReplyOutcome::DataRefused,
        _ => [
            pb::ReplyOutcome::Complied,
            pb::ReplyOutcome::Refused,
            pb::ReplyOutcome::PartiallyComplied,
            pb::ReplyOutcome::NoAction,
        ][((n / 2) % 4) as usize],
    };
    let reply = pb::RecordReplyRequest {
        name: name.clone(),
        received_at: at(received_at),
        all_items: outcome as i32,
        text: "The platform's letter of reply.".into(),
        ..Default::default()
    };
    liaison.record_reply(reply).await?;
    if n.is_multiple_of(4) {
        let close = pb::CloseNoticeRequest {
            name,
            reason: "Settled by the platform's reply.".into(),
            occurred_at: at(received_at + DAY),
            request_id: String::new(),
        };
        liaison.close_notice(close).await?;
    }
    Ok(())
}

/// Whether liaison, asked now, counts every notice served and every item answered: a read that
/// misses some is not the read to time.
async fn check_counts(officer: &Officer, notices: u64) -> Result<(), CliError> {
    let mut liaison = LiaisonServiceClient::new(officer.clone());
    let figures = liaison.get_liaison_statistics(pb::GetLiaisonStatisticsRequest::default()).await?.into_inner();
    let total = figures.total.unwrap_or_default();
    let items: i64 = total.replies_by_outcome.iter().map(|c| c.items).sum();
    let expected = (served_of(notices), ITEMS * replied(notices));
    if (u64::try_from(total.notices_served).ok(), u64::try_from(items).ok()) != (Some(expected.0), Some(expected.1)) {
        return Err(CliError::Other(format!(
            "liaison counts {} notices served and {items} items answered, where {} and {} were recorded",
            total.notices_served, expected.0, expected.1
        )));
    }
    Ok(())
}

/// GetLiaisonStatistics at each moment × `recorded_before` (none, before the last growth, now),
/// once untimed and then `repeat` times timed, one call at a time, over a store holding `held`.
async fn query(
    officer: &Officer,
    held: Held,
    repeat: u32,
    moments: &[Option<Timestamp>],
    cutoffs: &[Option<Timestamp>],
) -> SizeFigures {
    let liaison = LiaisonServiceClient::new(officer.clone()).max_decoding_message_size(64 << 20);
    cuts::time_cuts(held, repeat, moments, cutoffs, |as_of, recorded_before| {
        let mut liaison = liaison.clone();
        let request = pb::GetLiaisonStatisticsRequest { as_of, recorded_before, platform: String::new() };
        async move { liaison.get_liaison_statistics(request).await.map(|answer| answer.get_ref().encoded_len()) }
    })
    .await
}
