//! A notice's timeline.

use super::Liaison;
use crate::{domain::*, error::LiaisonError, store};

impl Liaison {
    /// The notice's timeline, in business-time order.
    pub async fn events(&self, id: NoticeId) -> Result<Vec<NoticeEvent>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        if !store::notices::lock(&mut tx, id).await? {
            return Err(LiaisonError::NotFound(id.name()));
        }
        Ok(store::events::list(&mut tx, id).await?)
    }
}
