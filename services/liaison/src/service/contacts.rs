//! Platform contacts: who to write to at each platform, checked with link-tracking when set.

use doxwatch_kit::{actor::Actor, error::FieldViolations, idempotency::RequestKey, timestamp};
use prost::Message;

use super::{Liaison, idempotent};
use crate::{domain::*, error::LiaisonError, store};

impl Liaison {
    pub async fn set_contact<R: Message + Default>(
        &self,
        actor: &Actor,
        mut contact: PlatformContact,
        key: Option<RequestKey>,
        respond: impl Fn(&PlatformContact) -> R,
    ) -> Result<R, LiaisonError> {
        let mut v = FieldViolations::new();
        self.links.check_platform(&mut v, "contact.platform", contact.platform).await?;
        if !v.is_empty() {
            return Err(v.into());
        }
        contact.update_time = timestamp::now();
        contact.updated_by = actor.name();
        idempotent!(self, key, |tx| {
            store::contacts::upsert(&mut tx, &contact).await?;
            Ok(respond(&contact))
        })
    }

    pub async fn get_contact(&self, platform: PlatformRef) -> Result<PlatformContact, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        store::contacts::get(&mut tx, platform)
            .await?
            .ok_or_else(|| LiaisonError::not_found(format!("{}/contact", platform.name())))
    }

    pub async fn list_contacts(&self, after: &str, limit: u32) -> Result<Vec<PlatformContact>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::contacts::list(&mut tx, after, limit).await?)
    }

    pub async fn contact_language(&self, platform: PlatformRef) -> Result<Option<Language>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::contacts::get(&mut tx, platform).await?.map(|c| c.language))
    }
}
