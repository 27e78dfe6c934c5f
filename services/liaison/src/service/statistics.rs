//! The correspondence figures, from every notice as recorded before a moment.

use super::Liaison;
use crate::{domain::*, error::LiaisonError, store};

impl Liaison {
    /// The figures as at `t`, of one platform's notices or of all.
    pub async fn figures(&self, t: AsAt, platform: Option<PlatformRef>) -> Result<LiaisonFigures, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        let mut notices = store::notices::all(&mut tx, self.db.keyring(), t.recorded_before_or_max()).await?;
        if let Some(p) = platform {
            notices.retain(|n| n.platform == p);
        }
        Ok(tally(&notices, t))
    }
}
