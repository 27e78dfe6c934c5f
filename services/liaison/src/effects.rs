//! What liaison owes link-tracking, and how the outbox relay delivers it: a served removal
//! request, cessation notice or reminder of either records a removal request for each of its
//! links; a COMPLIED reply is passed on as the platform's report.

use std::{future::Future, pin::Pin};

use doxwatch_kit::outbox::{Deliver, Effect, Message};
use doxwatch_proto::links::{self as pb, links_service_client::LinksServiceClient};
use prost::Message as _;
use time::OffsetDateTime;
use tonic::{Status, transport::Channel};

use crate::domain::*;

/// The effects that record removal requests for `links`, in batches link-tracking accepts.
pub fn removal_requests(notice: NoticeId, links: &[LinkRef], served_at: OffsetDateTime) -> Vec<Effect> {
    links
        .chunks(10_000)
        .map(|chunk| {
            let request = pb::RecordRemovalRequestsRequest {
                notice: notice.name(),
                links: chunk.iter().map(|l| l.name()).collect(),
                served_at: Some(doxwatch_kit::timestamp::to_proto(served_at)),
                request_id: String::new(),
            };
            Effect {
                peer: "links",
                method: "RecordRemovalRequests",
                key: notice.name(),
                payload: request.encode_to_vec(),
            }
        })
        .collect()
}

/// The effects that pass a platform's claim of compliance to link-tracking.
pub fn platform_reports(notice: NoticeId, links: &[LinkRef], received_at: OffsetDateTime) -> Vec<Effect> {
    links
        .chunks(1000)
        .map(|chunk| {
            let request = pb::RecordObservationsRequest {
                observations: chunk
                    .iter()
                    .map(|l| pb::Observation {
                        link: l.name(),
                        status: pb::LinkStatus::Removed as i32,
                        observed_at: Some(doxwatch_kit::timestamp::to_proto(received_at)),
                        vantage: pb::Vantage::Unknown as i32,
                        source: pb::ObservationSource::PlatformReport as i32,
                        note: format!("the platform reported compliance in reply to {}", notice.name()),
                        ..Default::default()
                    })
                    .collect(),
                request_id: String::new(),
            };
            Effect { peer: "links", method: "RecordObservations", key: notice.name(), payload: request.encode_to_vec() }
        })
        .collect()
}

pub struct LiaisonEffects {
    links: LinksServiceClient<Channel>,
}

impl LiaisonEffects {
    pub fn new(links: LinksServiceClient<Channel>) -> Self {
        Self { links }
    }
}

fn undecodable(e: prost::DecodeError) -> Status {
    Status::invalid_argument(format!("undecodable effect: {e}"))
}

impl Deliver for LiaisonEffects {
    fn deliver<'a>(&'a self, message: &'a Message) -> Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>> {
        Box::pin(async move {
            let mut links = self.links.clone();
            match (message.peer.as_str(), message.method.as_str()) {
                ("links", "RecordRemovalRequests") => {
                    let mut request =
                        pb::RecordRemovalRequestsRequest::decode(message.payload.as_slice()).map_err(undecodable)?;
                    request.request_id = message.request_id();
                    links.record_removal_requests(message.request(crate::SERVICE, request)).await?;
                    Ok(())
                }
                ("links", "RecordObservations") => {
                    let mut request =
                        pb::RecordObservationsRequest::decode(message.payload.as_slice()).map_err(undecodable)?;
                    request.request_id = message.request_id();
                    links.record_observations(message.request(crate::SERVICE, request)).await?;
                    Ok(())
                }
                (peer, method) => Err(Status::unimplemented(format!("liaison delivers no {peer}.{method}"))),
            }
        })
    }
}
