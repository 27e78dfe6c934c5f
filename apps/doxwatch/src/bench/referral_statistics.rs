//! The referral-statistics scenario: GetReferralStatistics at several `as_of` and
//! `recorded_before` moments over one referral store grown through the API to each size asked
//! (complaints received over 2019, each assessed; five in eight referred to the Police, who
//! acknowledge two in three and report an investigation on every other acknowledged one), each
//! size's latency against the smallest's: is referral's read flat in the length of its history?
//! Warm: every query is asked once before it is timed.

use std::{path::Path, time::Instant};

use doxwatch_proto::{
    intake::{self as intake_pb, intake_service_client::IntakeServiceClient},
    referral::{
        self as pb, agency_referral_service_client::AgencyReferralServiceClient,
        referral_service_client::ReferralServiceClient,
    },
};
use futures::{StreamExt, TryStreamExt};
use prost::Message;
use prost_types::Timestamp;
use tonic::Status;

use super::{
    cuts::{self, DAY, at, in_2019, now},
    process::ServiceCost,
    progress,
    report::{Held, Report, SizeFigures},
    services::{Officer, Peer, Setup},
};
use crate::output::CliError;

/// Cases of the growth in flight at once.
const SEEDING_CALLS: usize = 16;

#[derive(clap::Args, Debug)]
pub struct ReferralStatisticsArgs {
    /// The store sizes, in cases assessed, comma-separated and growing: the store is grown to each
    /// in turn.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,50000",
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

pub async fn run(args: &ReferralStatisticsArgs, work_dir: &Path) -> Result<Report, CliError> {
    cuts::growing("--cases", &args.cases, "1000,10000,50000")?;
    Setup::run(work_dir, args.database_url.as_deref(), async |setup| run_on(setup, args).await).await
}

/// The three services the growth goes through, and who calls them.
struct Callers {
    intake: Officer,
    referral: Officer,
    police: Officer,
}

async fn run_on(setup: &Setup, args: &ReferralStatisticsArgs) -> Result<Report, CliError> {
    let mut report = Report { scenario: "referral-statistics", backend: Some(setup.backend()), ..Default::default() };
    progress("starting link-tracking, intake and referral");
    let links = setup.start("links", &[]).await?;
    let intake = setup.start("intake", &[("LINKS_URL", links.url.clone())]).await?;
    let peers = [("LINKS_URL", links.url.clone()), ("INTAKE_URL", intake.url.clone())];
    let referral = setup.start("referral", &peers).await?;
    let callers = Callers {
        intake: setup.officer(&intake.url, 1).await?.remove(0),
        referral: setup.officer(&referral.url, 1).await?.remove(0),
        police: setup.peer(Peer::Agency, &referral.url).await?,
    };
    let run = uuid::Uuid::now_v7().simple().to_string()[24..].to_owned();
    let before = referral.reading();
    let mut held = 0;
    for &size in &args.cases {
        progress(&format!("growing referral's store to {size} cases assessed ({} referred)", referred_of(size)));
        let recorded_before_growth = now();
        let started = Instant::now();
        seed(&callers, &run, held..size).await?;
        let seed_seconds = started.elapsed().as_secs_f64();
        held = size;
        let fold_seconds = cuts::wait_for_fold(setup, "referral", "referral_figure_pending").await?;
        check_counts(&callers.referral, size).await?;
        progress(&format!("GetReferralStatistics over {size} cases assessed"));
        let cutoffs = [None, Some(recorded_before_growth), Some(now())];
        let store = Held::Assessed { cases: size, referrals: referred_of(size) };
        let mut figures = query(&callers.referral, store, args.repeat, &cuts::moments_of_2019(), &cutoffs).await;
        figures.seed_seconds = seed_seconds;
        figures.fold_seconds = fold_seconds;
        report.sizes.push(figures);
    }
    cuts::against_smallest(&mut report);
    report.services.push(ServiceCost::between("referral", referral.idle, before, referral.reading()));
    report.notes.push("the store is grown through the API (CreateCase in intake; CreateAssessment, CreateReferral; AcknowledgeReferral and ReportOutcome as the Police): its growth time is the services' too".into());
    referral.stop().await;
    intake.stop().await;
    links.stop().await;
    Ok(report)
}

/// The decision on case `i`: five in eight referred to the Police, then one each of no further
/// action, more information needed, and prosecution by the regulator.
fn decision(i: u64) -> pb::Decision {
    match i % 8 {
        0..=4 => pb::Decision::ReferToPolice,
        5 => pb::Decision::NoFurtherAction,
        6 => pb::Decision::MoreInformationNeeded,
        _ => pb::Decision::ProsecuteSummary,
    }
}

/// How many of the first `cases` cases are referred.
fn referred_of(cases: u64) -> u64 {
    (0..cases).filter(|&i| decision(i) == pb::Decision::ReferToPolice).count() as u64
}

/// Whether the Police acknowledge the referral of case `i`: two in three referred.
fn acknowledged(i: u64) -> bool {
    decision(i) == pb::Decision::ReferToPolice && i % 3 != 2
}

/// Records cases `range`, `SEEDING_CALLS` at a time, each with its assessment and what follows.
async fn seed(callers: &Callers, run: &str, range: std::ops::Range<u64>) -> Result<(), CliError> {
    futures::stream::iter(range)
        .map(|i| seed_case(callers, run, i))
        .buffer_unordered(SEEDING_CALLS)
        .try_collect::<()>()
        .await
        .map_err(|status| {
            CliError::Other(format!("growing referral's store: {:?}: {}", status.code(), status.message()))
        })
}

/// How long after its receipt case `i` is referred: three to four days after its assessment, to
/// the second, so that the times behind the median differ from case to case as real ones do.
fn referral_delay(i: u64) -> i64 {
    5 * DAY + (i.wrapping_mul(7_919) % DAY as u64) as i64
}

/// How long after its referral case `i`'s is acknowledged: one to two days, to the second.
fn acknowledgement_delay(i: u64) -> i64 {
    DAY + (i.wrapping_mul(104_729) % DAY as u64) as i64
}

/// Case `i`: a complaint received on its day of 2019, assessed two days later; if referred, some
/// days after that ([`referral_delay`]); acknowledged a day or two later, and under investigation
/// from 30 days after receipt.
async fn seed_case(callers: &Callers, run: &str, i: u64) -> Result<(), Status> {
    let received_at = in_2019(i);
    let case = intake_pb::Case {
        kind: intake_pb::CaseKind::Complaint as i32,
        received_at: at(received_at),
        channel: intake_pb::IntakeChannel::OnlineForm as i32,
        summary: format!("Personal data posted with a call to harass [{run}-{i}]"),
        data_subjects: vec![intake_pb::DataSubject {
            display_name: format!("Bench Subject {run}-{i}"),
            category: intake_pb::DataSubjectCategory::PoliceFamilyMember as i32,
            hong_kong_nexus: intake_pb::HongKongNexus::Resident as i32,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut intake = IntakeServiceClient::new(callers.intake.clone());
    let created = intake.create_case(intake_pb::CreateCaseRequest { case: Some(case), request_id: String::new() });
    let case = created.await?.into_inner().name;
    let decision = decision(i);
    let reason = match decision {
        pb::Decision::NoFurtherAction => "The discloser could not be traced.".to_owned(),
        _ => String::new(),
    };
    let assessment = pb::Assessment {
        case,
        criteria: Some(criteria()),
        decision: decision as i32,
        reason,
        assessed_at: at(received_at + 2 * DAY),
        ..Default::default()
    };
    let mut referral = ReferralServiceClient::new(callers.referral.clone());
    let assessed = referral
        .create_assessment(pb::CreateAssessmentRequest { assessment: Some(assessment), request_id: String::new() });
    let assessment = assessed.await?.into_inner().name;
    if decision != pb::Decision::ReferToPolice {
        return Ok(());
    }
    let made = pb::Referral {
        assessment,
        referred_at: at(received_at + referral_delay(i)),
        summary: "Doxxing of a police officer's family in a public channel.".into(),
        ..Default::default()
    };
    let referred =
        referral.create_referral(pb::CreateReferralRequest { referral: Some(made), request_id: String::new() });
    let name = referred.await?.into_inner().name;
    if !acknowledged(i) {
        return Ok(());
    }
    let mut police = AgencyReferralServiceClient::new(callers.police.clone());
    let acknowledgement = pb::AcknowledgeReferralRequest {
        name: name.clone(),
        agency_reference: format!("RN{run}{i}"),
        acknowledged_at: at(received_at + referral_delay(i) + acknowledgement_delay(i)),
        request_id: String::new(),
    };
    police.acknowledge_referral(acknowledgement).await?;
    if i.is_multiple_of(2) {
        let outcome = pb::ReportOutcomeRequest {
            name,
            outcome: pb::ReferralStatus::UnderInvestigation as i32,
            occurred_at: at(received_at + 30 * DAY),
            details: None,
            request_id: String::new(),
        };
        police.report_outcome(outcome).await?;
    }
    Ok(())
}

/// Criteria that support every decision the scenario makes.
fn criteria() -> pb::Criteria {
    pb::Criteria {
        disclosed_without_consent: true,
        intent_or_recklessness: pb::IntentOrRecklessness::Intent as i32,
        harms_intended: vec![intake_pb::Harm::Harassment as i32],
        harm_caused: vec![intake_pb::Harm::PsychologicalHarm as i32],
        hong_kong_nexus: intake_pb::HongKongNexus::Resident as i32,
        discloser: pb::Discloser::Unidentified as i32,
        legal_basis: vec![pb::LegalBasis::S643a as i32, pb::LegalBasis::S643c as i32],
    }
}

/// Whether referral, asked now, counts every case assessed, referred and acknowledged: a read that
/// misses some is not the read to time.
async fn check_counts(officer: &Officer, cases: u64) -> Result<(), CliError> {
    let mut referral = ReferralServiceClient::new(officer.clone());
    let figures = referral.get_referral_statistics(pb::GetReferralStatisticsRequest::default()).await?.into_inner();
    let counted = [figures.cases_assessed, figures.cases_referred, figures.referrals_acknowledged];
    let acknowledged = (0..cases).filter(|&i| acknowledged(i)).count() as u64;
    let recorded = [cases, referred_of(cases), acknowledged];
    if counted.iter().zip(recorded).any(|(&c, r)| u64::try_from(c).ok() != Some(r)) {
        return Err(CliError::Other(format!(
            "referral counts {counted:?} cases assessed, cases referred and referrals acknowledged, where {recorded:?} were recorded"
        )));
    }
    Ok(())
}

/// GetReferralStatistics at each moment × `recorded_before` (none, before the last growth, now),
/// once untimed and then `repeat` times timed, one call at a time, over a store holding `held`.
async fn query(
    officer: &Officer,
    held: Held,
    repeat: u32,
    moments: &[Option<Timestamp>],
    cutoffs: &[Option<Timestamp>],
) -> SizeFigures {
    let referral = ReferralServiceClient::new(officer.clone());
    cuts::time_cuts(held, repeat, moments, cutoffs, |as_of, recorded_before| {
        let mut referral = referral.clone();
        let request = pb::GetReferralStatisticsRequest { as_of, recorded_before };
        async move { referral.get_referral_statistics(request).await.map(|answer| answer.get_ref().encoded_len()) }
    })
    .await
}
