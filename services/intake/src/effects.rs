//! What intake owes the other services: to link-tracking, the URLs of a case, registered as links
//! that the case cites; to the referral and liaison services, the news that a case's personal data
//! was erased, so that they erase theirs. The outbox relay delivers them; intake's part is only to
//! say which call to make.

use doxwatch_kit::outbox::{Effect, LegacyEffect, Mergeable};
use doxwatch_proto::links as links_pb;
use time::OffsetDateTime;

use crate::domain::CaseId;

const REGISTER_LINKS: &str = "/doxwatch.links.v1.LinksService/RegisterLinks";
const REFERRAL_ERASE: &str = "/doxwatch.referral.v1.ReferralService/EraseCaseData";
const LIAISON_ERASE: &str = "/doxwatch.liaison.v1.LiaisonService/EraseCaseData";

/// Effects written before delivery was generic, as stores may still hold them.
pub const LEGACY: &[LegacyEffect] =
    &[LegacyEffect { method: "RegisterLinks", path: REGISTER_LINKS, request_id_field: 2 }];

/// Registrations RegisterLinks takes in one call (its contract: 1 to 1,000).
const REGISTRATIONS_PER_CALL: usize = 1000;

/// Effects the relay may send several at a time: registering a case's URLs again changes nothing
/// (its sightings and citations are kept once), so a merged call needs no request id. Up to ten
/// cases of the most URLs a case may report fit in one call.
pub const MERGEABLE: &[Mergeable] = &[Mergeable {
    peer: "links",
    method: REGISTER_LINKS,
    request_id_field: 2,
    most: REGISTRATIONS_PER_CALL / crate::domain::MAX_REPORTED_URLS,
}];

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

/// The effects that tell the referral and liaison services that `case` was erased at
/// `erase_time`. The referral service passes it on to link-tracking once no live referral holds
/// the case's evidence.
pub fn erasure(case: CaseId, erase_time: OffsetDateTime) -> [Effect; 2] {
    let at = Some(doxwatch_kit::timestamp::to_proto(erase_time));
    let key = format!("{}/erasure", case.name());
    [
        Effect::new("referral", REFERRAL_ERASE, key.clone(), |request_id| {
            doxwatch_proto::referral::EraseCaseDataRequest { case: case.name(), erase_time: at, request_id }
        }),
        Effect::new("liaison", LIAISON_ERASE, key, |request_id| doxwatch_proto::liaison::EraseCaseDataRequest {
            case: case.name(),
            erase_time: at,
            request_id,
        }),
    ]
}
