//! `report --as-of` in the statistics scenario: the situation report assembled from the four
//! services' statistics, as the CLI assembles it (its own connections, every service asked), at
//! the same cuts as GetLinkStatistics. Intake, liaison and referral run beside link-tracking with
//! empty stores: what grows is link-tracking's, and the report's time is its figures plus the
//! others' and the round trips.

use std::{collections::BTreeMap, time::Instant};

use doxwatch_report::{Endpoints, report};
use prost_types::Timestamp;

use super::{
    load::{self, Percentiles},
    progress,
    services::{Service, Setup},
};
use crate::output::CliError;

/// The three services the report needs besides link-tracking.
pub struct Others {
    services: Vec<Service>,
    pub endpoints: Endpoints,
}

impl Others {
    /// Starts intake, liaison and referral, each knowing where the others answer.
    pub async fn start(setup: &Setup, links: &Service) -> Result<Self, CliError> {
        progress("starting intake, liaison and referral for the situation report");
        let intake = setup.start("intake", &[("LINKS_URL", links.url.clone())]).await?;
        let peers = [("LINKS_URL", links.url.clone()), ("INTAKE_URL", intake.url.clone())];
        let liaison = setup.start("liaison", &peers).await?;
        let referral = setup.start("referral", &peers).await?;
        let endpoints = Endpoints {
            intake: intake.url.clone(),
            links: links.url.clone(),
            liaison: liaison.url.clone(),
            referral: referral.url.clone(),
            credentials: setup.credentials()?,
        };
        Ok(Self { services: vec![intake, liaison, referral], endpoints })
    }

    pub async fn stop(self) {
        for service in self.services {
            service.stop().await;
        }
    }
}

/// The report's latency over every pair of `moments` (`None`: now) and `cutoffs` (`None`: any
/// time), each asked once untimed and then `repeat` times, and its failures by kind.
pub async fn time_reports(
    endpoints: &Endpoints,
    repeat: u32,
    moments: &[Option<Timestamp>],
    cutoffs: &[Option<Timestamp>],
) -> (Option<Percentiles>, BTreeMap<String, u64>) {
    let mut histogram = load::histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let time = |t: &Timestamp| time::OffsetDateTime::from_unix_timestamp(t.seconds).ok();
    for as_of in moments {
        for recorded_before in cutoffs {
            let as_of = as_of.as_ref().map_or_else(|| Some(doxwatch_kit::timestamp::now()), time);
            let (Some(as_of), recorded_before) = (as_of, recorded_before.as_ref().and_then(time)) else { continue };
            for timed in std::iter::once(false).chain(std::iter::repeat_n(true, repeat as usize)) {
                let started = Instant::now();
                match report::gather(endpoints, as_of, recorded_before).await {
                    Ok(_) if timed => load::record(&mut histogram, started.elapsed()),
                    Ok(_) => {}
                    Err(e) => *errors.entry(kind(&e)).or_default() += 1,
                }
            }
        }
    }
    (Percentiles::of(&histogram), errors)
}

/// A failure's kind, for counting: the service and gRPC code of a refusal, else its variant.
fn kind(e: &report::ReportError) -> String {
    match e {
        report::ReportError::Refused { service, status, .. } => format!("{service} {:?}", status.code()),
        report::ReportError::Unavailable { service, .. } => format!("{service} unavailable"),
        other => other.to_string(),
    }
}
