//! Synchronous reads of link-tracking: the links a case cites, as link-tracking has them now. A
//! read that cannot be made fails the request with UNAVAILABLE.

use doxwatch_kit::peer::PeerChannel;
use doxwatch_proto::links::{self as pb, links_service_client::LinksServiceClient};

use crate::{domain::CaseId, error::IntakeError};

#[derive(Clone)]
pub struct LinkTracking {
    client: LinksServiceClient<PeerChannel>,
}

impl LinkTracking {
    pub fn new(client: LinksServiceClient<PeerChannel>) -> Self {
        Self { client }
    }

    /// One page of the links `case` cites.
    pub async fn cited_by(
        &self,
        case: CaseId,
        page_size: i32,
        page_token: String,
    ) -> Result<pb::ListLinksResponse, IntakeError> {
        let request = pb::ListLinksRequest { page_size, page_token, case: case.name(), ..Default::default() };
        Ok(self.client.clone().list_links(request).await.map_err(IntakeError::Links)?.into_inner())
    }
}
