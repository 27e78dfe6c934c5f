//! What the referral service owes intake: status moves of the case (TransitionCase, which intake
//! lets only this service make into and out of REFERRED) and notes on its timeline (AddCaseNote).
//! Keyed by the case, so they arrive in order; the outbox relay delivers them. And what it owes
//! link-tracking once an erased case's data is erased here: the erasure of its evidence.

use doxwatch_kit::outbox::{Effect, LegacyEffect};
use doxwatch_proto::intake as pb;
use time::OffsetDateTime;

use crate::domain::*;

const TRANSITION_CASE: &str = "/doxwatch.intake.v1.IntakeService/TransitionCase";
const ADD_CASE_NOTE: &str = "/doxwatch.intake.v1.IntakeService/AddCaseNote";
const ERASE_CASE_DATA: &str = "/doxwatch.links.v1.LinksService/EraseCaseData";

/// Effects written before delivery was generic, as stores may still hold them.
pub const LEGACY: &[LegacyEffect] = &[
    LegacyEffect { method: "TransitionCase", path: TRANSITION_CASE, request_id_field: 7 },
    LegacyEffect { method: "AddCaseNote", path: ADD_CASE_NOTE, request_id_field: 4 },
];

/// The outbox effect that does `effect` to `case` at `occurred_at`.
pub fn on_case(case: CaseRef, effect: CaseEffect, occurred_at: OffsetDateTime) -> Effect {
    let occurred_at = Some(doxwatch_kit::timestamp::to_proto(occurred_at));
    let transition = |to: pb::CaseStatus, closure_reason: pb::ClosureReason, note: String| {
        Effect::new("intake", TRANSITION_CASE, case.name(), |request_id| pb::TransitionCaseRequest {
            name: case.name(),
            to_status: to as i32,
            closure_reason: closure_reason as i32,
            duplicate_of: String::new(),
            note: truncate(note),
            occurred_at,
            request_id,
        })
    };
    match effect {
        CaseEffect::ToUnderAssessment { note } => {
            transition(pb::CaseStatus::UnderAssessment, pb::ClosureReason::Unspecified, note)
        }
        CaseEffect::Close { note } => transition(pb::CaseStatus::Closed, pb::ClosureReason::NoPrimaFacieCase, note),
        CaseEffect::ToReferred { note } => transition(pb::CaseStatus::Referred, pb::ClosureReason::Unspecified, note),
        CaseEffect::Note(note) => Effect::new("intake", ADD_CASE_NOTE, case.name(), |request_id| {
            pb::AddCaseNoteRequest { name: case.name(), note: truncate(note), occurred_at, request_id }
        }),
    }
}

/// The effect that asks link-tracking to erase the evidence of `case`, which intake erased at
/// `erase_time`. Keyed apart from the case's moves, which it need not wait for.
pub fn erase_evidence(case: CaseRef, erase_time: OffsetDateTime) -> Effect {
    let key = format!("{}/erasure", case.name());
    Effect::new("links", ERASE_CASE_DATA, key, |request_id| doxwatch_proto::links::EraseCaseDataRequest {
        case: case.name(),
        erase_time: Some(doxwatch_kit::timestamp::to_proto(erase_time)),
        request_id,
    })
}

/// Intake takes notes of at most 2,000 characters.
fn truncate(note: String) -> String {
    const MAX: usize = 2000;
    if note.chars().count() <= MAX { note } else { note.chars().take(MAX - 1).chain(std::iter::once('…')).collect() }
}
