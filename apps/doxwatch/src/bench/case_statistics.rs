//! The case-statistics scenario: GetIntakeStatistics at several `as_of` and `recorded_before`
//! moments over one intake store grown through its API to each size asked (cases received over
//! 2019, of every kind and many data-subject categories, every third moved on some days later),
//! each size's latency against the smallest's: is intake's read flat in the length of its history?
//! Warm: every query is asked once before it is timed.

use std::{path::Path, time::Instant};

use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use prost_types::Timestamp;

use super::{
    cuts::{self, DAY, at, in_2019, now},
    process::ServiceCost,
    progress,
    report::{Held, Report, SizeFigures},
    services::{Officer, Setup},
};
use crate::output::CliError;

/// Calls of the growth in flight at once.
const SEEDING_CALLS: usize = 16;
/// One case in this many changes status after it is received.
const MOVE_EVERY: u64 = 3;
/// The data-subject categories the cases' subjects cycle through: all of them.
const CATEGORIES: [pb::DataSubjectCategory; 12] = [
    pb::DataSubjectCategory::PoliceOfficer,
    pb::DataSubjectCategory::PoliceFamilyMember,
    pb::DataSubjectCategory::GovernmentOfficial,
    pb::DataSubjectCategory::Legislator,
    pb::DataSubjectCategory::JudicialOfficer,
    pb::DataSubjectCategory::Child,
    pb::DataSubjectCategory::Student,
    pb::DataSubjectCategory::Teacher,
    pb::DataSubjectCategory::Protester,
    pb::DataSubjectCategory::Journalist,
    pb::DataSubjectCategory::MedicalWorker,
    pb::DataSubjectCategory::Other,
];

#[derive(clap::Args, Debug)]
pub struct CaseStatisticsArgs {
    /// The store sizes, in cases, comma-separated and growing: the store is grown to each in turn.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000",
          value_parser = clap::value_parser!(u64).range(1..=2_000_000))]
    cases: Vec<u64>,
    /// Timed calls per moment asked, after one untimed.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    repeat: u32,
    /// A PostgreSQL server to make the stores on (a fresh database per service, dropped at the
    /// end); SQLite without it.
    #[arg(long)]
    database_url: Option<String>,
}

pub async fn run(args: &CaseStatisticsArgs, work_dir: &Path) -> Result<Report, CliError> {
    cuts::growing("--cases", &args.cases, "1000,10000,100000")?;
    Setup::run(work_dir, args.database_url.as_deref(), async |setup| run_on(setup, args).await).await
}

async fn run_on(setup: &Setup, args: &CaseStatisticsArgs) -> Result<Report, CliError> {
    let mut report = Report { scenario: "case-statistics", backend: Some(setup.backend()), ..Default::default() };
    progress("starting link-tracking and intake");
    let links = setup.start("links", &[]).await?;
    let intake = setup.start("intake", &[("LINKS_URL", links.url.clone())]).await?;
    let officer = setup.officer(&intake.url, 1).await?.remove(0);
    let run = uuid::Uuid::now_v7().simple().to_string()[24..].to_owned();
    let before = intake.reading();
    let mut held = 0;
    for &size in &args.cases {
        progress(&format!("growing intake's store to {size} cases ({} status changes)", status_changes(size)));
        let recorded_before_growth = now();
        let started = Instant::now();
        seed(&officer, &run, held..size).await?;
        let seed_seconds = started.elapsed().as_secs_f64();
        held = size;
        let fold_seconds = cuts::wait_for_fold(setup, "intake", "case_figure_pending").await?;
        check_counts(&officer, size).await?;
        progress(&format!("GetIntakeStatistics over {size} cases"));
        let moments = cuts::moments_of_2019();
        let cutoffs = [None, Some(recorded_before_growth), Some(now())];
        let store = Held::Cases { cases: size, status_changes: status_changes(size) };
        let mut figures = query(&officer, store, args.repeat, &moments, &cutoffs).await;
        figures.seed_seconds = seed_seconds;
        figures.fold_seconds = fold_seconds;
        report.sizes.push(figures);
    }
    cuts::against_smallest(&mut report);
    report.services.push(ServiceCost::between("intake", intake.idle, before, intake.reading()));
    report.notes.push("the store is grown through the API (CreateCase, and TransitionCase for every third case): its growth time is the service's too".into());
    report.notes.push("no case reports a URL: intake's outbox stays idle, link-tracking is only its peer".into());
    intake.stop().await;
    links.stop().await;
    Ok(report)
}

/// How many of the first `cases` cases change status: every third, from the first.
fn status_changes(cases: u64) -> u64 {
    cases.div_ceil(MOVE_EVERY)
}

/// Records cases `range`, `SEEDING_CALLS` at a time, each with its status change if it has one.
async fn seed(officer: &Officer, run: &str, range: std::ops::Range<u64>) -> Result<(), CliError> {
    futures::stream::iter(range)
        .map(|i| seed_case(IntakeServiceClient::new(officer.clone()), run, i))
        .buffer_unordered(SEEDING_CALLS)
        .try_collect::<()>()
        .await
}

async fn seed_case(mut intake: IntakeServiceClient<Officer>, run: &str, i: u64) -> Result<(), CliError> {
    let refused = |rpc: &str, status: tonic::Status| {
        CliError::Other(format!("growing intake's store: {rpc}: {:?}: {}", status.code(), status.message()))
    };
    let case = intake.create_case(case_request(run, i)).await.map_err(|s| refused("CreateCase", s))?.into_inner();
    if let Some(request) = status_change(case.name, i) {
        intake.transition_case(request).await.map_err(|s| refused("TransitionCase", s))?;
    }
    Ok(())
}

/// The i-th case's kind: six in ten complaints, two enquiries, one patrol discovery, one agency
/// referral.
fn kind(i: u64) -> pb::CaseKind {
    match i % 10 {
        0..=5 => pb::CaseKind::Complaint,
        6 | 7 => pb::CaseKind::Enquiry,
        8 => pb::CaseKind::PatrolDiscovery,
        _ => pb::CaseKind::AgencyReferral,
    }
}

/// The i-th case of a run: received in 2019 through its kind's channel, with no, one or two data
/// subjects of categories that vary with `i`, and no reported URL.
fn case_request(run: &str, i: u64) -> pb::CreateCaseRequest {
    let tag = format!("{run}-{i}");
    let kind = kind(i);
    let channel = match kind {
        pb::CaseKind::PatrolDiscovery => pb::IntakeChannel::Patrol,
        pb::CaseKind::AgencyReferral => pb::IntakeChannel::Agency,
        pb::CaseKind::Enquiry => pb::IntakeChannel::Phone,
        _ => [pb::IntakeChannel::OnlineForm, pb::IntakeChannel::Email, pb::IntakeChannel::Letter][(i % 3) as usize],
    };
    let subject = |n: u64| pb::DataSubject {
        display_name: format!("Bench Subject {n} {tag}"),
        category: CATEGORIES[((i + 5 * n) % 12) as usize] as i32,
        hong_kong_nexus: pb::HongKongNexus::Resident as i32,
        ..Default::default()
    };
    let subjects = [1, 2, 1, 0, 1][(i % 5) as usize];
    pb::CreateCaseRequest {
        case: Some(pb::Case {
            kind: kind as i32,
            received_at: at(in_2019(i)),
            channel: channel as i32,
            summary: format!("Personal data posted on a forum [{tag}]"),
            data_subjects: (0..subjects).map(subject).collect(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// The status change of the i-th case, `case`, if it has one: every third case moves 3 to 27
/// days after it was received, an enquiry to ANSWERED, any other case to UNDER_ASSESSMENT or, every
/// other time, to CLOSED (resolved).
fn status_change(case: String, i: u64) -> Option<pb::TransitionCaseRequest> {
    if !i.is_multiple_of(MOVE_EVERY) {
        return None;
    }
    let (to, reason) = match kind(i) {
        pb::CaseKind::Enquiry => (pb::CaseStatus::Answered, pb::ClosureReason::Unspecified),
        _ if (i / MOVE_EVERY).is_multiple_of(2) => (pb::CaseStatus::UnderAssessment, pb::ClosureReason::Unspecified),
        _ => (pb::CaseStatus::Closed, pb::ClosureReason::Resolved),
    };
    Some(pb::TransitionCaseRequest {
        name: case,
        to_status: to as i32,
        closure_reason: reason as i32,
        occurred_at: at(in_2019(i) + (3 + (i % 25) as i64) * DAY),
        ..Default::default()
    })
}

/// Whether intake, asked now, counts every case of the store and every case that moved: a read
/// that misses some is not the read to time.
async fn check_counts(officer: &Officer, cases: u64) -> Result<(), CliError> {
    let mut intake = IntakeServiceClient::new(officer.clone());
    let figures = intake.get_intake_statistics(pb::GetIntakeStatisticsRequest::default()).await?.into_inner();
    let moved: i64 =
        figures.by_status.iter().filter(|c| c.status != pb::CaseStatus::Received as i32).map(|c| c.cases).sum();
    let counted = (u64::try_from(figures.total_cases).ok(), u64::try_from(moved).ok());
    if counted != (Some(cases), Some(status_changes(cases))) {
        return Err(CliError::Other(format!(
            "intake counts {} cases, {moved} of them moved on, where {cases} and {} were recorded",
            figures.total_cases,
            status_changes(cases)
        )));
    }
    Ok(())
}

/// GetIntakeStatistics at each moment × `recorded_before` (none, before the last growth, now),
/// once untimed and then `repeat` times timed, one call at a time, over a store holding `held`.
async fn query(
    officer: &Officer,
    held: Held,
    repeat: u32,
    moments: &[Option<Timestamp>],
    cutoffs: &[Option<Timestamp>],
) -> SizeFigures {
    let intake = IntakeServiceClient::new(officer.clone());
    cuts::time_cuts(held, repeat, moments, cutoffs, |as_of, recorded_before| {
        let mut intake = intake.clone();
        let request = pb::GetIntakeStatisticsRequest { as_of, recorded_before };
        async move { intake.get_intake_statistics(request).await.map(|answer| answer.get_ref().encoded_len()) }
    })
    .await
}
