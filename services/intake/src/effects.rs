//! What intake owes its peers, and how the outbox relay delivers it: a case's reported URLs are
//! registered with link-tracking, citing the case.

use std::{future::Future, pin::Pin};

use doxwatch_kit::outbox::{Deliver, Effect, Message};
use doxwatch_proto::links::{self as links_pb, links_service_client::LinksServiceClient};
use prost::Message as _;
use time::OffsetDateTime;
use tonic::{Status, transport::Channel};

use crate::domain::CaseId;

/// The effect that registers `urls`, seen at `seen_at`, as cited by `case`.
pub fn register_links(case: CaseId, urls: &[String], seen_at: OffsetDateTime) -> Effect {
    let request = links_pb::RegisterLinksRequest {
        registrations: urls
            .iter()
            .map(|url| links_pb::LinkRegistration {
                url: url.clone(),
                case: case.name(),
                seen_at: Some(doxwatch_kit::timestamp::to_proto(seen_at)),
            })
            .collect(),
        request_id: String::new(),
    };
    Effect { peer: "links", method: "RegisterLinks", key: case.name(), payload: request.encode_to_vec() }
}

/// Delivers intake's effects with its peers' clients.
pub struct IntakeEffects {
    links: LinksServiceClient<Channel>,
}

impl IntakeEffects {
    pub fn new(links: LinksServiceClient<Channel>) -> Self {
        Self { links }
    }
}

impl Deliver for IntakeEffects {
    fn deliver<'a>(&'a self, message: &'a Message) -> Pin<Box<dyn Future<Output = Result<(), Status>> + Send + 'a>> {
        Box::pin(async move {
            match (message.peer.as_str(), message.method.as_str()) {
                ("links", "RegisterLinks") => {
                    let mut request = links_pb::RegisterLinksRequest::decode(message.payload.as_slice())
                        .map_err(|e| Status::invalid_argument(format!("undecodable effect: {e}")))?;
                    request.request_id = message.request_id();
                    self.links.clone().register_links(message.request(crate::SERVICE, request)).await?;
                    Ok(())
                }
                (peer, method) => Err(Status::unimplemented(format!("intake delivers no {peer}.{method}"))),
            }
        })
    }
}
