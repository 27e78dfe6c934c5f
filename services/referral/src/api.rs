//! The gRPC face of the referral service for the regulator's officers (`ReferralService`); the
//! agencies' face is in `api/agency.rs`.

pub mod agency;
mod watch;

use doxwatch_kit::validate::checked;
use doxwatch_kit::{
    actor::Actor,
    error::{self, FieldViolations},
    page, timestamp, validate,
};
use doxwatch_proto::referral::{self as pb, referral_service_server::ReferralService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    convert,
    domain::*,
    service::{ReferralKey, Referrals},
    store::referrals::Filter,
};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;
/// A referral's events per page when the client does not say.
const DEFAULT_EVENTS_PAGE_SIZE: u32 = 100;

pub struct ReferralApi {
    referrals: Referrals,
}

impl ReferralApi {
    pub fn new(referrals: Referrals) -> Self {
        Self { referrals }
    }
}

/// A page of `items` (fetched with one extra) and the token after it.
fn page_of<T>(mut items: Vec<T>, limit: u32, fingerprint: &str, id: impl Fn(&T) -> Uuid) -> (Vec<T>, String) {
    let more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let token = match items.last() {
        Some(last) if more => page::encode_token(fingerprint, &id(last)),
        _ => String::new(),
    };
    (items, token)
}

#[tonic::async_trait]
impl ReferralService for ReferralApi {
    async fn create_assessment(
        &self,
        request: Request<pb::CreateAssessmentRequest>,
    ) -> Result<Response<pb::Assessment>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "CreateAssessment", &req.request_id, &req, |r| r.request_id.clear());
        let Some(a) = req.assessment.as_ref() else {
            v.add("assessment", "is required");
            return Err(error::invalid_argument(&v));
        };
        let draft = convert::assessment_draft(&mut v, a, timestamp::now());
        let draft = checked(v, draft)?;
        Ok(Response::new(self.referrals.create_assessment(&actor, draft, key, convert::assessment_out).await?))
    }

    async fn get_assessment(
        &self,
        request: Request<pb::GetAssessmentRequest>,
    ) -> Result<Response<pb::Assessment>, Status> {
        let mut v = FieldViolations::new();
        let id = convert::name(&mut v, "name", &request.get_ref().name, AssessmentId::parse_name);
        let assessment = self.referrals.get_assessment(checked(v, id)?).await?;
        Ok(Response::new(convert::assessment_out(&assessment)))
    }

    async fn list_assessments(
        &self,
        request: Request<pb::ListAssessmentsRequest>,
    ) -> Result<Response<pb::ListAssessmentsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let case = convert::optional_name(&mut v, "case", &req.case, CaseRef::parse_name);
        let fingerprint = page::filter_fingerprint(&req.case);
        let after = v.check("page_token", page::decode_token::<Uuid>(&req.page_token, &fingerprint)).flatten();
        let limit = checked(v, limit)?;
        let assessments = self.referrals.list_assessments(case, after, limit + 1).await?;
        let (assessments, next_page_token) = page_of(assessments, limit, &fingerprint, |a| a.id.0);
        Ok(Response::new(pb::ListAssessmentsResponse {
            assessments: assessments.iter().map(convert::assessment_out).collect(),
            next_page_token,
        }))
    }

    async fn create_referral(
        &self,
        request: Request<pb::CreateReferralRequest>,
    ) -> Result<Response<pb::Referral>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "CreateReferral", &req.request_id, &req, |r| r.request_id.clear());
        let Some(r) = req.referral.as_ref() else {
            v.add("referral", "is required");
            return Err(error::invalid_argument(&v));
        };
        let draft = convert::referral_draft(&mut v, r, timestamp::now());
        let draft = checked(v, draft)?;
        Ok(Response::new(self.referrals.create_referral(&actor, draft, key, convert::referral_out).await?))
    }

    async fn get_referral(&self, request: Request<pb::GetReferralRequest>) -> Result<Response<pb::Referral>, Status> {
        let mut v = FieldViolations::new();
        let key = ReferralKey::parse(&mut v, "name", &request.get_ref().name);
        let referral = self.referrals.get_referral(checked(v, key)?).await?;
        Ok(Response::new(convert::referral_out(&referral)))
    }

    async fn list_referrals(
        &self,
        request: Request<pb::ListReferralsRequest>,
    ) -> Result<Response<pb::ListReferralsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let status = validate::filter(&mut v, "status", req.status, ReferralStatus::from_code);
        let filter = Filter {
            agency: if req.agency.is_empty() { None } else { convert::agency(&mut v, "agency", &req.agency) },
            case: convert::optional_name(&mut v, "case", &req.case, CaseRef::parse_name),
            referred_after: validate::optional_time(&mut v, "referred_after", req.referred_after.as_ref()),
            referred_before: validate::optional_time(&mut v, "referred_before", req.referred_before.as_ref()),
        };
        let fingerprint = page::filter_fingerprint(&ReferralsFilter {
            status: req.status,
            agency: &req.agency,
            case: &req.case,
            referred_after: page::instant(req.referred_after.as_ref()),
            referred_before: page::instant(req.referred_before.as_ref()),
        });
        let after = v.check("page_token", page::decode_token::<Uuid>(&req.page_token, &fingerprint)).flatten();
        let limit = checked(v, limit)?;
        let referrals = self.referrals.list_referrals(&filter, status, after, limit + 1).await?;
        let (referrals, next_page_token) = page_of(referrals, limit, &fingerprint, |r| r.id.0);
        Ok(Response::new(pb::ListReferralsResponse {
            referrals: referrals.iter().map(convert::referral_out).collect(),
            next_page_token,
        }))
    }

    async fn withdraw_referral(
        &self,
        request: Request<pb::WithdrawReferralRequest>,
    ) -> Result<Response<pb::Referral>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "WithdrawReferral", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "name", &req.name, ReferralId::parse_name);
        let reason = validate::text(&mut v, "reason", &req.reason, MAX_NOTE_CHARS, true);
        let occurred_at = match &req.occurred_at {
            None => None,
            some => validate::business_time(&mut v, "occurred_at", some.as_ref(), timestamp::now()),
        };
        let id = checked(v, id)?;
        Ok(Response::new(self.referrals.withdraw(&actor, id, reason, occurred_at, key, convert::referral_out).await?))
    }

    async fn erase_case_data(
        &self,
        request: Request<pb::EraseCaseDataRequest>,
    ) -> Result<Response<pb::EraseCaseDataResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "EraseCaseData", &req.request_id, &req, |r| r.request_id.clear());
        let case = convert::name(&mut v, "case", &req.case, CaseRef::parse_name);
        let erase_time =
            validate::required_business_time(&mut v, "erase_time", req.erase_time.as_ref(), timestamp::now());
        let (case, erase_time) = checked(v, case.zip(erase_time))?;
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        let response = self
            .referrals
            .erase_case_data(case, erase_time, key, |done| pb::EraseCaseDataResponse {
                held: done.held,
                assessments_erased: count(done.assessments),
                referrals_erased: count(done.referrals),
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_referral_events(
        &self,
        request: Request<pb::ListReferralEventsRequest>,
    ) -> Result<Response<pb::ListReferralEventsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let id = convert::name(&mut v, "name", &req.name, ReferralId::parse_name);
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_EVENTS_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&req.name);
        let offset = v.check("page_token", page::decode_offset(&req.page_token, &fingerprint));
        let (id, limit, offset) = checked(v, id.zip(limit).zip(offset).map(|((i, l), o)| (i, l, o)))?;
        // A referral's timeline is short (a handful of steps), so it is read whole and paged here.
        let events = self.referrals.events(id).await?;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let page: Vec<pb::ReferralEvent> =
            events.iter().skip(start).take(limit as usize).map(convert::event_out).collect();
        let more = events.len() > start.saturating_add(page.len());
        let next_page_token = page::next_offset_token(&fingerprint, offset, limit, more);
        Ok(Response::new(pb::ListReferralEventsResponse { events: page, next_page_token }))
    }

    async fn get_referral_statistics(
        &self,
        request: Request<pb::GetReferralStatisticsRequest>,
    ) -> Result<Response<pb::ReferralStatistics>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let t = AsAt::from_request(&mut v, req.as_of.as_ref(), req.recorded_before.as_ref());
        let t = checked(v, t)?;
        let figures = self.referrals.figures(t).await?;
        Ok(Response::new(convert::statistics_out(&figures, t)))
    }
}

/// The filters of a ListReferrals call, as its page tokens are bound to them.
#[derive(serde::Serialize)]
struct ReferralsFilter<'a> {
    status: i32,
    agency: &'a str,
    case: &'a str,
    referred_after: Option<(i64, i32)>,
    referred_before: Option<(i64, i32)>,
}
