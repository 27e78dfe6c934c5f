//! Synchronous reads of intake: does this case exist, what kind is it, where does it stand, and
//! when was it received. A read that cannot be made fails the request with UNAVAILABLE.

use doxwatch_kit::peer::PeerChannel;
use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use time::OffsetDateTime;
use tonic::Code;

use crate::{domain::*, error::ReferralError};

/// What the referral service needs to know of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseFacts {
    pub is_enquiry: bool,
    pub standing: CaseStanding,
    pub received_at: OffsetDateTime,
    /// Intake has erased the case's personal data.
    pub erased: bool,
}

#[derive(Clone)]
pub struct Intake {
    client: IntakeServiceClient<PeerChannel>,
}

impl Intake {
    pub fn new(client: IntakeServiceClient<PeerChannel>) -> Self {
        Self { client }
    }

    /// The case's facts; an unknown case is a violation of `field`.
    pub async fn case(&self, field: &str, case: CaseRef) -> Result<CaseFacts, ReferralError> {
        let found = match self.client.clone().get_case(pb::GetCaseRequest { name: case.name() }).await {
            Ok(found) => found.into_inner(),
            Err(status) if status.code() == Code::NotFound => {
                return Err(ReferralError::field(field, format!("{} is not a case known to intake", case.name())));
            }
            Err(status) => return Err(ReferralError::IntakeUnavailable(status)),
        };
        let standing = match pb::CaseStatus::try_from(found.status) {
            Ok(pb::CaseStatus::Received) => CaseStanding::Received,
            Ok(pb::CaseStatus::UnderAssessment) => CaseStanding::UnderAssessment,
            Ok(pb::CaseStatus::Referred) => CaseStanding::Referred,
            Ok(pb::CaseStatus::Closed) => CaseStanding::Closed,
            Ok(pb::CaseStatus::Answered) => CaseStanding::Answered,
            _ => {
                return Err(ReferralError::IntakeUnavailable(tonic::Status::unknown(
                    "intake answered with an unknown case status",
                )));
            }
        };
        let received_at =
            found.received_at.as_ref().and_then(|t| doxwatch_kit::timestamp::from_proto(t).ok()).ok_or_else(|| {
                ReferralError::IntakeUnavailable(tonic::Status::unknown("intake answered without received_at"))
            })?;
        Ok(CaseFacts {
            is_enquiry: found.kind == pb::CaseKind::Enquiry as i32,
            standing,
            received_at,
            erased: found.erase_time.is_some(),
        })
    }
}
