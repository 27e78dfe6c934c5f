//! Synchronous reads of link-tracking: does this platform, channel or link exist, and where is it.
//! A read that cannot be made fails the request with UNAVAILABLE; nothing is guessed.

use doxwatch_kit::{error::FieldViolations, peer::PeerChannel, timestamp};
use doxwatch_proto::links::{self as pb, links_service_client::LinksServiceClient};
use time::OffsetDateTime;
use tonic::Code;

use crate::{domain::*, error::LiaisonError};

#[derive(Clone)]
pub struct LinkTracking {
    client: LinksServiceClient<PeerChannel>,
}

fn unavailable_or(status: tonic::Status, not_found: impl FnOnce() -> LiaisonError) -> LiaisonError {
    match status.code() {
        Code::NotFound => not_found(),
        _ => LiaisonError::LinksUnavailable(status),
    }
}

impl LinkTracking {
    pub fn new(client: LinksServiceClient<PeerChannel>) -> Self {
        Self { client }
    }

    pub fn client(&self) -> LinksServiceClient<PeerChannel> {
        self.client.clone()
    }

    /// Checks that the platform exists; an unknown one is a violation of `field`.
    pub async fn check_platform(
        &self,
        v: &mut FieldViolations,
        field: &str,
        platform: PlatformRef,
    ) -> Result<(), LiaisonError> {
        let result = self.client.clone().get_platform(pb::GetPlatformRequest { name: platform.name() }).await;
        match result {
            Ok(_) => Ok(()),
            Err(status) if status.code() == Code::NotFound => {
                v.add(field, format!("{} is not a platform known to link-tracking", platform.name()));
                Ok(())
            }
            Err(status) => Err(LiaisonError::LinksUnavailable(status)),
        }
    }

    /// Checks that the channel exists on the platform.
    pub async fn check_channel(
        &self,
        v: &mut FieldViolations,
        field: &str,
        channel: ChannelRef,
        platform: PlatformRef,
    ) -> Result<(), LiaisonError> {
        let result = self.client.clone().get_channel(pb::GetChannelRequest { name: channel.name(), as_of: None }).await;
        match result {
            Ok(found) if found.get_ref().platform == platform.name() => Ok(()),
            Ok(found) => {
                v.add(
                    field,
                    format!("{} is on {}, not on the notice's platform", channel.name(), found.get_ref().platform),
                );
                Ok(())
            }
            Err(status) if status.code() == Code::NotFound => {
                v.add(field, format!("{} is not a channel known to link-tracking", channel.name()));
                Ok(())
            }
            Err(status) => Err(LiaisonError::LinksUnavailable(status)),
        }
    }

    /// Checks that every link exists and is on the platform; each bad one is a violation of
    /// `{field}[i].link`.
    pub async fn check_links(
        &self,
        v: &mut FieldViolations,
        field: &str,
        links: &[LinkRef],
        platform: PlatformRef,
    ) -> Result<(), LiaisonError> {
        for (chunk_index, chunk) in links.chunks(1000).enumerate() {
            let names: Vec<String> = chunk.iter().map(|l| l.name()).collect();
            let found =
                match self.client.clone().batch_get_links(pb::BatchGetLinksRequest { names: names.clone() }).await {
                    Ok(response) => response.into_inner().links,
                    Err(status) if status.code() == Code::NotFound => {
                        // Some link is unknown: ask one by one to name each.
                        let mut found = Vec::new();
                        for name in &names {
                            match self.client.clone().get_link(pb::GetLinkRequest { name: name.clone() }).await {
                                Ok(link) => found.push(link.into_inner()),
                                Err(status) => {
                                    if let e @ LiaisonError::LinksUnavailable(_) =
                                        unavailable_or(status, || LiaisonError::not_found(name.clone()))
                                    {
                                        return Err(e);
                                    }
                                }
                            }
                        }
                        found
                    }
                    Err(status) => return Err(LiaisonError::LinksUnavailable(status)),
                };
            for (i, name) in names.iter().enumerate() {
                let index = chunk_index * 1000 + i;
                match found.iter().find(|l| &l.name == name) {
                    None => {
                        v.add(format!("{field}[{index}].link"), format!("{name} is not a link known to link-tracking"))
                    }
                    Some(link) if link.platform != platform.name() => v.add(
                        format!("{field}[{index}].link"),
                        format!("{name} is on {}, not on the notice's platform", link.platform),
                    ),
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The links of `links` first seen after `at`, each with its first sighting, for a notice
    /// served at `at`: a removal request may not predate its link.
    pub async fn seen_after(
        &self,
        links: &[LinkRef],
        at: OffsetDateTime,
    ) -> Result<Vec<(String, OffsetDateTime)>, LiaisonError> {
        let mut later = Vec::new();
        for chunk in links.chunks(1000) {
            let names: Vec<String> = chunk.iter().map(|l| l.name()).collect();
            let found = match self.client.clone().batch_get_links(pb::BatchGetLinksRequest { names }).await {
                Ok(response) => response.into_inner().links,
                // A link gone since the notice was drafted (its case erased) has no sighting to
                // compare; serving goes on as it did before this check.
                Err(status) if status.code() == Code::NotFound => continue,
                Err(status) => return Err(LiaisonError::LinksUnavailable(status)),
            };
            for link in found {
                let first_seen = link.first_seen_at.as_ref().and_then(|t| timestamp::from_proto(t).ok());
                if let Some(first_seen) = first_seen.filter(|seen| *seen > at) {
                    later.push((link.name, first_seen));
                }
            }
        }
        Ok(later)
    }
}
