//! A recheck round on demand, streamed: each link as it is checked, then the round's counts, the
//! round ending within the caller's time limit rather than at the server's request timeout.

use std::{pin::Pin, time::Duration};

use doxwatch_kit::{actor::Actor, error::FieldViolations};
use doxwatch_proto::links as pb;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::{LinksApi, checked};
use crate::{
    convert,
    recheck::{Checked, Outcome},
};

pub type RecheckStream = Pin<Box<dyn Stream<Item = Result<pb::StreamRecheckResponse, Status>> + Send>>;

/// A round's time limit when the caller gives none: inside a client's usual 30-second deadline.
const DEFAULT_LIMIT: Duration = Duration::from_secs(25);
const MIN_LIMIT: Duration = Duration::from_secs(1);
const MAX_LIMIT: Duration = Duration::from_secs(3600);

/// Links sent ahead of a slow reader before the round waits for it.
const AHEAD: usize = 64;

/// The round's time limit: unset is [`DEFAULT_LIMIT`]; 1 second to 1 hour.
fn time_limit(v: &mut FieldViolations, given: Option<&prost_types::Duration>) -> Option<Duration> {
    let Some(d) = given else { return Some(DEFAULT_LIMIT) };
    // A well-formed positive Duration has its nanos in 0..1e9: prost's conversion would carry
    // others into the seconds rather than refuse them, and refuses negative durations.
    let well_formed = (0..1_000_000_000).contains(&d.nanos);
    let limit = Duration::try_from(*d).ok().filter(|_| well_formed);
    match limit.filter(|l| (MIN_LIMIT..=MAX_LIMIT).contains(l)) {
        Some(l) => Some(l),
        None => {
            v.add("time_limit", "must be from 1 second to 1 hour");
            None
        }
    }
}

fn checked_message(c: Checked) -> pb::StreamRecheckResponse {
    let (outcome, status) = match c.outcome {
        Some(Outcome::Recorded(status)) => (pb::RecheckOutcome::Recorded, status.code()),
        Some(Outcome::Failed) => (pb::RecheckOutcome::Failed, 0),
        Some(Outcome::Inconclusive) => (pb::RecheckOutcome::Inconclusive, 0),
        None => (pb::RecheckOutcome::ClaimLost, 0),
    };
    pb::StreamRecheckResponse {
        event: Some(pb::stream_recheck_response::Event::Checked(pb::RecheckedLink {
            link: c.link.name(),
            url: c.url,
            outcome: outcome as i32,
            status,
            detail: c.detail,
            reappeared: c.reappeared,
        })),
    }
}

impl LinksApi {
    pub(super) async fn stream_recheck_call(
        &self,
        request: Request<pb::StreamRecheckRequest>,
    ) -> Result<Response<RecheckStream>, Status> {
        Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = time_limit(&mut v, req.time_limit.as_ref());
        let limit = checked(v, limit)?;
        let deadline = tokio::time::Instant::now() + limit;
        let (links_tx, links_rx) = tokio::sync::mpsc::channel::<Checked>(AHEAD);
        let (end_tx, end_rx) = tokio::sync::oneshot::channel();
        let rechecker = self.rechecker.clone();
        let round = async move {
            let end = rechecker.round_until(Some(deadline), Some(&links_tx)).await;
            let _ = end_tx.send(end);
        };
        tokio::spawn(doxwatch_kit::audit::scoped(doxwatch_kit::audit::current(), round));
        let links = futures::stream::unfold(links_rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
            .map(|c| Ok(checked_message(c)));
        let summary = futures::stream::once(async move {
            match end_rx.await {
                Ok(Ok(end)) => Ok(pb::StreamRecheckResponse {
                    event: Some(pb::stream_recheck_response::Event::Summary(pb::RecheckSummary {
                        counts: Some(convert::round(&end.tally)),
                        cut_short: end.cut_short,
                        still_due: end.still_due,
                    })),
                }),
                Ok(Err(e)) => Err(Status::from(e)),
                Err(_) => Err(Status::internal("the recheck round stopped before it ended")),
            }
        });
        Ok(Response::new(Box::pin(links.chain(summary))))
    }
}
