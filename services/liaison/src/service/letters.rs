//! The letter of a notice, rendered with what link-tracking knows of its platform, links and
//! channel (read at once: UNAVAILABLE when link-tracking is down) and the platform's contact.

use std::collections::BTreeMap;

use doxwatch_proto::links as links_pb;

use super::Liaison;
use crate::{domain::*, error::LiaisonError, render};

/// The formats a letter is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LetterFormat {
    Markdown,
    Html,
}

/// A letter, ready to send.
#[derive(Debug, Clone)]
pub struct Letter {
    pub content: String,
    pub media_type: &'static str,
    pub language: Language,
}

impl Liaison {
    /// The notice's letter in `language`, or else the contact's language, or else English.
    #[tracing::instrument(skip_all, fields(notice = %id, ?format))]
    pub async fn render(
        &self,
        id: NoticeId,
        language: Option<Language>,
        format: LetterFormat,
    ) -> Result<Letter, LiaisonError> {
        let notice = self.get(id).await?;
        let contact = self.get_contact(notice.platform).await.ok();
        let language = language.or(contact.as_ref().map(|c| c.language)).unwrap_or(Language::English);
        // The letter lists each link's URL and names the platform: both are link-tracking's.
        let mut client = self.links.client();
        let platform = client
            .get_platform(links_pb::GetPlatformRequest { name: notice.platform.name() })
            .await
            .map_err(LiaisonError::LinksUnavailable)?
            .into_inner();
        let mut urls = BTreeMap::new();
        let names: Vec<String> = notice.items.iter().map(|i| i.link.name()).collect();
        for chunk in names.chunks(1000) {
            let links = client
                .batch_get_links(links_pb::BatchGetLinksRequest { names: chunk.to_vec() })
                .await
                .map_err(LiaisonError::LinksUnavailable)?
                .into_inner()
                .links;
            urls.extend(links.into_iter().map(|l| (l.name, l.canonical_url)));
        }
        let channel_url = match notice.channel {
            Some(channel) => Some(
                client
                    .get_channel(links_pb::GetChannelRequest { name: channel.name(), as_of: None })
                    .await
                    .map_err(LiaisonError::LinksUnavailable)?
                    .into_inner()
                    .url,
            ),
            None => None,
        };
        let follows = match notice.follows {
            Some(f) => Some(self.get(f).await?.reference).filter(|r| !r.is_empty()),
            None => None,
        };
        let ctx = render::LetterContext {
            contact: contact.as_ref(),
            platform_name: &platform.display_name,
            urls: &urls,
            channel_url: channel_url.as_deref(),
            follows: follows.as_deref(),
            zone: self.references.zone(),
        };
        let markdown = render::markdown(&notice, language, &ctx).map_err(LiaisonError::Render)?;
        let (content, media_type) = match format {
            LetterFormat::Html => (render::html(&markdown, language, &notice.id.name()), "text/html; charset=utf-8"),
            LetterFormat::Markdown => (markdown, "text/markdown; charset=utf-8"),
        };
        Ok(Letter { content, media_type, language })
    }
}
