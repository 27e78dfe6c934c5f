//! What intake owes link-tracking: the URLs of a case, registered as links that the case cites.
//! The outbox relay delivers them; intake's part is only to say which call to make.

use doxwatch_kit::outbox::{Effect, LegacyEffect};
use doxwatch_proto::links as links_pb;
use time::OffsetDateTime;

use crate::domain::CaseId;

const REGISTER_LINKS: &str = "/doxwatch.links.v1.LinksService/RegisterLinks";

/// Effects written before delivery was generic, as stores may still hold them.
pub const LEGACY: &[LegacyEffect] =
    &[LegacyEffect { method: "RegisterLinks", path: REGISTER_LINKS, request_id_field: 2 }];

/// The effect that registers `urls`, seen at `seen_at`, as links cited by `case`.
pub fn register_links(case: CaseId, urls: &[String], seen_at: OffsetDateTime) -> Effect {
    Effect::new("links", REGISTER_LINKS, case.name(), |request_id| links_pb::RegisterLinksRequest {
        registrations: urls
            .iter()
            .map(|url| links_pb::LinkRegistration {
                url: url.clone(),
                case: case.name(),
                seen_at: Some(doxwatch_kit::timestamp::to_proto(seen_at)),
            })
            .collect(),
        request_id,
    })
}
