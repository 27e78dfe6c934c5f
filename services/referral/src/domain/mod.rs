//! The referral domain: assessments and the decisions their criteria support, referrals with their
//! timeline in business time, the order of the agency's outcomes, and the referral figures. No wire
//! or storage types here.

mod assessment;
mod codes;
mod referral;
mod statistics;

pub use assessment::*;
pub use codes::*;
pub use referral::*;
pub use statistics::*;

use time::OffsetDateTime;

doxwatch_kit::resource_id!(
    /// An assessment's id.
    AssessmentId,
    "assessments"
);
doxwatch_kit::resource_id!(
    /// A referral's id.
    ReferralId,
    "referrals"
);
doxwatch_kit::resource_id!(
    /// A case of intake, known here by name.
    CaseRef,
    "cases"
);
doxwatch_kit::resource_id!(
    /// A link of link-tracking, known here by name.
    LinkRef,
    "links"
);

/// What is known as at a moment of business time, among what was recorded before a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsAt {
    pub at: OffsetDateTime,
    pub recorded_before: OffsetDateTime,
}

impl AsAt {
    pub fn now(now: OffsetDateTime) -> Self {
        Self { at: now, recorded_before: doxwatch_kit::db::Ts::max().0 }
    }

    /// Whether a fact of business time `at`, recorded at `record_time`, is seen.
    pub fn sees(&self, at: OffsetDateTime, record_time: OffsetDateTime) -> bool {
        at <= self.at && record_time < self.recorded_before
    }
}

/// The name an agency acts under in timelines.
pub fn agency_actor(agency: &str) -> String {
    format!("agency:{agency}")
}
