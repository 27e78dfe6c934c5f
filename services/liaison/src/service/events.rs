//! A notice's timeline, a page at a time.

use super::Liaison;
use crate::{domain::*, error::LiaisonError, store};

impl Liaison {
    /// `limit` entries of the notice's timeline from the `offset`-th, in business-time order.
    pub async fn events(&self, id: NoticeId, offset: u64, limit: u32) -> Result<Vec<NoticeEvent>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        if !store::notices::exists(&mut tx, id).await? {
            return Err(LiaisonError::not_found(id.name()));
        }
        Ok(store::events::page(&mut tx, self.db.keyring(), id, offset, limit).await?)
    }
}
