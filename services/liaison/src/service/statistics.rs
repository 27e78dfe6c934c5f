//! The correspondence figures as at a moment, as recorded before another, from their sums.

use super::Liaison;
use crate::{domain::*, error::LiaisonError, store};

impl Liaison {
    /// Builds the figures' sums from the notices if the store has not got them yet (a store
    /// migrated with notices in it): once, whichever replica starts first.
    pub async fn build_figures(&self) -> Result<bool, LiaisonError> {
        let mut tx = self.db.begin().await?;
        let built = store::rollups::build_if_unbuilt(&mut tx, self.db.keyring()).await?;
        tx.commit().await?;
        Ok(built)
    }

    /// The figures as at `t`, of one platform's notices or of all.
    pub async fn figures(&self, t: AsAt, platform: Option<PlatformRef>) -> Result<LiaisonFigures, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::rollups::figures(&mut tx, t, platform).await?)
    }
}
