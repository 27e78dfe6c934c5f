//! The referral domain: assessments and the decisions their criteria support, referrals with their
//! timeline in business time, the order of the agency's outcomes, and the referral figures. No wire
//! or storage types here.

mod assessment;
mod codes;
mod referral;
pub mod rollups;
mod statistics;

pub use assessment::*;
pub use codes::*;
pub use referral::*;
pub use statistics::*;

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

pub use doxwatch_kit::as_at::AsAt;

/// The name an agency acts under in timelines.
pub fn agency_actor(agency: &str) -> String {
    format!("agency:{agency}")
}
