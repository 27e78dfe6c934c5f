//! What liaison owes link-tracking: a served removal request, cessation notice or reminder of
//! either records a removal request for each of its links; a COMPLIED reply is passed on as the
//! platform's report. The outbox relay delivers them.

use doxwatch_kit::outbox::{Effect, LegacyEffect};
use doxwatch_proto::links as pb;
use time::OffsetDateTime;

use crate::domain::*;

const RECORD_REMOVAL_REQUESTS: &str = "/doxwatch.links.v1.LinksService/RecordRemovalRequests";
const RECORD_OBSERVATIONS: &str = "/doxwatch.links.v1.LinksService/RecordObservations";

/// Effects written before delivery was generic, as stores may still hold them.
pub const LEGACY: &[LegacyEffect] = &[
    LegacyEffect { method: "RecordRemovalRequests", path: RECORD_REMOVAL_REQUESTS, request_id_field: 4 },
    LegacyEffect { method: "RecordObservations", path: RECORD_OBSERVATIONS, request_id_field: 2 },
];

/// The effects that record removal requests for `links`, in batches link-tracking accepts.
pub fn removal_requests(notice: NoticeId, links: &[LinkRef], served_at: OffsetDateTime) -> Vec<Effect> {
    links
        .chunks(10_000)
        .map(|chunk| {
            Effect::new("links", RECORD_REMOVAL_REQUESTS, notice.name(), |request_id| {
                pb::RecordRemovalRequestsRequest {
                    notice: notice.name(),
                    links: chunk.iter().map(|l| l.name()).collect(),
                    served_at: Some(doxwatch_kit::timestamp::to_proto(served_at)),
                    request_id,
                }
            })
        })
        .collect()
}

/// The effects that pass a platform's claim of compliance to link-tracking.
pub fn platform_reports(notice: NoticeId, links: &[LinkRef], received_at: OffsetDateTime) -> Vec<Effect> {
    links
        .chunks(1000)
        .map(|chunk| {
            Effect::new("links", RECORD_OBSERVATIONS, notice.name(), |request_id| pb::RecordObservationsRequest {
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
                request_id,
            })
        })
        .collect()
}
