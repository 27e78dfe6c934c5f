//! GetLinkStatistics: the removal figures as at a moment, with the channels' figures a page at a
//! time.

use doxwatch_kit::{actor, as_at::AsAt, error::FieldViolations, page, validate::checked};
use doxwatch_proto::links as pb;
use tonic::{Request, Response, Status};

use super::{GET_CHANNEL, LinksApi};
use crate::convert::{self, Handles};

impl LinksApi {
    pub(super) async fn get_link_statistics_call(
        &self,
        request: Request<pb::GetLinkStatisticsRequest>,
    ) -> Result<Response<pb::LinkStatistics>, Status> {
        // A channel's handle can identify its victim: it goes to those who may read channels.
        let handles = if actor::may_call(&request, GET_CHANNEL)? { Handles::Shown } else { Handles::Withheld };
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let size = page::page_size(req.channel_page_size, CHANNELS_PER_PAGE, MAX_CHANNELS_PER_PAGE)
            .map_err(|e| v.add("channel_page_size", e))
            .ok();
        let fingerprint =
            page::filter_fingerprint(&(page::instant(req.as_of.as_ref()), page::instant(req.recorded_before.as_ref())));
        let pinned = page::decode_token::<ChannelPage>(&req.channel_page_token, &fingerprint)
            .map_err(|e| v.add("channel_page_token", e))
            .ok()
            .flatten();
        let t = match &pinned {
            // A later page counts what the first one counted; the token's moments are client input
            // like any other and are checked as such.
            Some(p) => {
                let (as_of, recorded_before) = (timestamp_of(p.as_of), timestamp_of(p.recorded_before));
                let mut in_token = FieldViolations::new();
                let t = AsAt::from_request(&mut in_token, Some(&as_of), Some(&recorded_before));
                if !in_token.is_empty() || p.offset > page::MAX_OFFSET {
                    v.add("channel_page_token", "is not a page token from this listing");
                }
                t
            }
            None => AsAt::from_request(&mut v, req.as_of.as_ref(), req.recorded_before.as_ref()),
        };
        let (t, size) = checked(v, t.zip(size))?;
        let answered_at = doxwatch_kit::timestamp::now();
        let (figures, platforms, channels) = self.links.statistics(t).await?;
        let offset = pinned.as_ref().map_or(0, |p| p.offset);
        let page = convert::ChannelPage { offset, size };
        let mut answer = convert::statistics(&figures, &platforms, &channels, t, handles, page);
        let next = offset.saturating_add(u64::from(size));
        if next < answer.channels_involved.unsigned_abs() && next <= page::MAX_OFFSET {
            let position = ChannelPage {
                offset: next,
                as_of: (t.at.unix_timestamp(), t.at.nanosecond() as i32),
                recorded_before: {
                    let r = t.recorded_before.unwrap_or(answered_at);
                    (r.unix_timestamp(), r.nanosecond() as i32)
                },
            };
            answer.next_channel_page_token = page::encode_token(&fingerprint, &position);
        }
        Ok(Response::new(answer))
    }
}

/// Channels' figures per page of GetLinkStatistics, by default and at most.
const CHANNELS_PER_PAGE: u32 = 20;
const MAX_CHANNELS_PER_PAGE: u32 = 500;

/// Where the next page of channels' figures starts, and the moments every page counts as at.
#[derive(serde::Serialize, serde::Deserialize)]
struct ChannelPage {
    offset: u64,
    as_of: (i64, i32),
    recorded_before: (i64, i32),
}

fn timestamp_of((seconds, nanos): (i64, i32)) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos }
}
