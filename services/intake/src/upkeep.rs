//! Intake's background work while it serves: once at start, the blind indexes of data subjects
//! stored before there were any; then the retention sweep, at its interval.

use std::time::Duration;

use tokio::sync::watch;

use crate::{error::IntakeError, retention::RetentionPeriods, service::Intake, store};

/// Cases looked at per read of the backfill.
const BATCH: u32 = 500;

impl Intake {
    /// Gives every current data subject without blind indexes its indexes, a case per
    /// transaction; returns how many subjects it indexed.
    pub async fn index_unindexed_subjects(&self) -> Result<usize, IntakeError> {
        let mut indexed = 0;
        let mut after = None;
        loop {
            let batch = {
                let mut tx = self.db().begin_read().await?;
                store::cases_with_unindexed_subjects(&mut tx, after, BATCH).await?
            };
            let Some(last) = batch.last() else { break };
            after = Some(*last);
            for id in batch {
                let keys = self.db().keyring();
                indexed += doxwatch_kit::in_transaction!(self.db(), IntakeError, |tx| {
                    match store::get_case(&mut tx, keys, id).await? {
                        Some(case) if case.erase_time.is_none() => {
                            Ok(store::index_unindexed_subjects(&mut tx, keys, &case).await?)
                        }
                        _ => Ok(0),
                    }
                })?;
            }
        }
        Ok(indexed)
    }
}

/// Runs intake's background work until `stop` turns true.
pub async fn run(intake: Intake, periods: RetentionPeriods, every: Duration, stop: watch::Receiver<bool>) {
    match intake.index_unindexed_subjects().await {
        Ok(0) => {}
        Ok(indexed) => tracing::info!(indexed, "data subjects stored before blind indexes were indexed"),
        Err(e) => tracing::warn!(error = %doxwatch_kit::error::CauseChain(&e), "indexing earlier data subjects failed"),
    }
    crate::retention::sweep(intake, periods, every, stop).await;
}
