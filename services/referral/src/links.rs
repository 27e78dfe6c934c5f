//! Synchronous reads of link-tracking: a case's links and the evidence captured of each, frozen
//! into a referral's evidence bundle. A read that cannot be made fails the request with
//! UNAVAILABLE; a bundle is never frozen half read.

use doxwatch_kit::peer::PeerChannel;
use doxwatch_proto::links::{self as pb, links_service_client::LinksServiceClient};
use futures::{StreamExt, TryStreamExt, stream};

use crate::{domain::*, error::ReferralError};

/// Links whose evidence is listed at once.
const CONCURRENT_READS: usize = 8;

#[derive(Clone)]
pub struct LinkTracking {
    client: LinksServiceClient<PeerChannel>,
}

impl LinkTracking {
    pub fn new(client: LinksServiceClient<PeerChannel>) -> Self {
        Self { client }
    }

    /// The evidence bundle of a case: every link citing it (all pages), each with the SHA-256 of
    /// every distinct capture, oldest first.
    pub async fn bundle(&self, case: CaseRef) -> Result<Vec<BundledLink>, ReferralError> {
        let mut links = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_links(pb::ListLinksRequest {
                    page_size: 500,
                    page_token,
                    case: case.name(),
                    ..Default::default()
                })
                .await
                .map_err(ReferralError::LinksUnavailable)?
                .into_inner();
            links.extend(page.links);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        stream::iter(links).map(|link| self.bundled(link)).buffered(CONCURRENT_READS).try_collect().await
    }

    async fn bundled(&self, link: pb::Link) -> Result<BundledLink, ReferralError> {
        let unusable = |what: &str| {
            ReferralError::LinksUnavailable(tonic::Status::unknown(format!("link-tracking answered with {what}")))
        };
        let mut evidence_sha256: Vec<String> = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .client
                .clone()
                .list_evidence(pb::ListEvidenceRequest { link: link.name.clone(), page_size: 500, page_token })
                .await
                .map_err(ReferralError::LinksUnavailable)?
                .into_inner();
            for capture in page.evidence {
                if !evidence_sha256.contains(&capture.sha256) {
                    evidence_sha256.push(capture.sha256);
                }
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        Ok(BundledLink {
            link: LinkRef::parse_name(&link.name).map_err(|_| unusable("a malformed link name"))?,
            canonical_url: link.canonical_url,
            status: LinkStatus::from_code(link.status).ok_or_else(|| unusable("an unknown link status"))?,
            evidence_sha256,
        })
    }
}
