//! What the referral service owes intake, and how the outbox relay delivers it: status moves of
//! the case (TransitionCase, which intake lets only this service make into and out of REFERRED)
//! and notes on its timeline (AddCaseNote). Keyed by the case, so they arrive in order.

use std::{future::Future, pin::Pin};

use doxwatch_kit::outbox::{Deliver, Effect, Message};
use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use prost::Message as _;
use time::OffsetDateTime;
use tonic::{Status, transport::Channel};

use crate::domain::*;

/// The outbox effect that does `effect` to `case` at `occurred_at`.
pub fn on_case(case: CaseRef, effect: CaseEffect, occurred_at: OffsetDateTime) -> Effect {
    let occurred_at = Some(doxwatch_kit::timestamp::to_proto(occurred_at));
    let transition = |to: pb::CaseStatus, closure_reason: pb::ClosureReason, note: String| pb::TransitionCaseRequest {
        name: case.name(),
        to_status: to as i32,
        closure_reason: closure_reason as i32,
        duplicate_of: String::new(),
        note: truncate(note),
        occurred_at,
        request_id: String::new(),
    };
    let (method, payload) = match effect {
        CaseEffect::ToUnderAssessment { note } => (
            "TransitionCase",
            transition(pb::CaseStatus::UnderAssessment, pb::ClosureReason::Unspecified, note).encode_to_vec(),
        ),
        CaseEffect::Close { note } => (
            "TransitionCase",
            transition(pb::CaseStatus::Closed, pb::ClosureReason::NoPrimaFacieCase, note).encode_to_vec(),
        ),
        CaseEffect::ToReferred { note } => (
            "TransitionCase",
            transition(pb::CaseStatus::Referred, pb::ClosureReason::Unspecified, note).encode_to_vec(),
        ),
        CaseEffect::Note(note) => (
            "AddCaseNote",
            pb::AddCaseNoteRequest { name: case.name(), note: truncate(note), occurred_at, request_id: String::new() }
                .encode_to_vec(),
        ),
    };
    Effect { peer: "intake", method, key: case.name(), payload }
}

/// Intake takes notes of at most 2,000 characters.
fn truncate(note: String) -> String {
    const MAX: usize = 2000;
    if note.chars().count() <= MAX { note } else { note.chars().take(MAX - 1).chain(std::iter::once('…')).collect() }
}

pub struct ReferralEffects {
    intake: IntakeServiceClient<Channel>,
}

impl ReferralEffects {
    pub fn new(intake: IntakeServiceClient<Channel>) -> Self {
        Self { intake }
    }
}

fn undecodable(e: prost::DecodeError) -> Status {
    Status::invalid_argument(format!("undecodable effect: {e}"))
}

impl Deliver for ReferralEffects {
    fn deliver<'a>(&'a self, message: &'a Message) -> Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>> {
        Box::pin(async move {
            let mut intake = self.intake.clone();
            match (message.peer.as_str(), message.method.as_str()) {
                ("intake", "TransitionCase") => {
                    let mut request =
                        pb::TransitionCaseRequest::decode(message.payload.as_slice()).map_err(undecodable)?;
                    request.request_id = message.request_id();
                    intake.transition_case(message.request(crate::SERVICE, request)).await?;
                    Ok(())
                }
                ("intake", "AddCaseNote") => {
                    let mut request =
                        pb::AddCaseNoteRequest::decode(message.payload.as_slice()).map_err(undecodable)?;
                    request.request_id = message.request_id();
                    intake.add_case_note(message.request(crate::SERVICE, request)).await?;
                    Ok(())
                }
                (peer, method) => Err(Status::unimplemented(format!("referral delivers no {peer}.{method}"))),
            }
        })
    }
}
