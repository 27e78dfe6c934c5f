//! The gRPC face of the referral service for agencies (`AgencyReferralService`). The calling
//! agency is taken from request metadata by the kit (later, its client certificate); every
//! referral addressed to another agency is NOT_FOUND.

use doxwatch_kit::{actor, error::FieldViolations, timestamp, validate};
use doxwatch_proto::referral::{self as pb, agency_referral_service_server::AgencyReferralService};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{checked, watch::Watcher};
use crate::{
    config::ReferralConfig,
    convert,
    domain::*,
    service::{OutcomeReport, ReferralKey, Referrals},
};

/// Messages a watch stream may have queued for a slow client before it waits.
const STREAM_BUFFER: usize = 16;

pub struct AgencyApi {
    referrals: Referrals,
    config: ReferralConfig,
    stopping: watch::Receiver<bool>,
}

impl AgencyApi {
    /// `stopping` turns true when the server shuts down, which ends every watch stream.
    pub fn new(referrals: Referrals, config: ReferralConfig, stopping: watch::Receiver<bool>) -> Self {
        Self { referrals, config, stopping }
    }
}

/// A feed cursor: the seq of the last entry seen; empty is the start of the feed.
pub fn parse_cursor(text: &str) -> Result<i64, String> {
    if text.is_empty() {
        return Ok(0);
    }
    text.parse::<i64>().ok().filter(|seq| *seq >= 0).ok_or_else(|| "is not a cursor of this feed".to_owned())
}

#[tonic::async_trait]
impl AgencyReferralService for AgencyApi {
    type WatchReferralsStream = ReceiverStream<Result<pb::WatchReferralsResponse, Status>>;

    async fn watch_referrals(
        &self,
        request: Request<pb::WatchReferralsRequest>,
    ) -> Result<Response<Self::WatchReferralsStream>, Status> {
        let agency = actor::agency(&request)?;
        let mut v = FieldViolations::new();
        let cursor = v.check("after_cursor", parse_cursor(&request.get_ref().after_cursor));
        let cursor = checked(v, cursor)?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let watcher = Watcher {
            referrals: self.referrals.clone(),
            agency,
            heartbeat: self.config.watch_heartbeat,
            poll: self.config.watch_poll,
            stopping: self.stopping.clone(),
        };
        // The feed is read on a task of its own, which keeps the call's audit context.
        tokio::spawn(doxwatch_kit::audit::scoped(doxwatch_kit::audit::current(), watcher.run(cursor, tx)));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_referral(&self, request: Request<pb::GetReferralRequest>) -> Result<Response<pb::Referral>, Status> {
        let agency = actor::agency(&request)?;
        let mut v = FieldViolations::new();
        let key = ReferralKey::parse(&mut v, "name", &request.get_ref().name);
        let referral = self.referrals.get_for_agency(&agency, checked(v, key)?).await?;
        Ok(Response::new(convert::referral_out(&referral)))
    }

    async fn acknowledge_referral(
        &self,
        request: Request<pb::AcknowledgeReferralRequest>,
    ) -> Result<Response<pb::Referral>, Status> {
        let agency = actor::agency(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "AcknowledgeReferral", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "name", &req.name, ReferralId::parse_name);
        let reference =
            validate::line(&mut v, "agency_reference", &req.agency_reference, MAX_AGENCY_REFERENCE_CHARS, true);
        let acknowledged_at = match &req.acknowledged_at {
            None => None,
            some => validate::business_time(&mut v, "acknowledged_at", some.as_ref(), timestamp::now()),
        };
        let id = checked(v, id)?;
        let response =
            self.referrals.acknowledge(&agency, id, reference, acknowledged_at, key, convert::referral_out).await?;
        Ok(Response::new(response))
    }

    async fn report_outcome(
        &self,
        request: Request<pb::ReportOutcomeRequest>,
    ) -> Result<Response<pb::Referral>, Status> {
        let agency = actor::agency(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "ReportOutcome", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "name", &req.name, ReferralId::parse_name);
        let outcome = validate::required(&mut v, "outcome", req.outcome, ReferralStatus::from_code);
        if outcome.is_some_and(|o| !o.is_outcome()) {
            v.add(
                "outcome",
                "must be UNDER_INVESTIGATION, ARREST_MADE, CHARGED, CONVICTED, ACQUITTED or NO_FURTHER_ACTION",
            );
        }
        let occurred_at = validate::business_time(&mut v, "occurred_at", req.occurred_at.as_ref(), timestamp::now());
        let details = convert::details(&mut v, "details", req.details.as_ref(), outcome);
        let (id, (outcome, occurred_at)) = checked(v, id.zip(outcome.zip(occurred_at)))?;
        let report = OutcomeReport { outcome, occurred_at, details };
        Ok(Response::new(self.referrals.report_outcome(&agency, id, report, key, convert::referral_out).await?))
    }
}
