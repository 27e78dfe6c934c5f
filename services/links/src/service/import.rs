//! ImportLinks, atomic per stream. The stream's registrations are staged in the store as they
//! arrive (short transactions; memory holds one message), and merged into the links in one
//! transaction once the stream has ended well. A stream refused half way (a malformed case name,
//! a broken connection, a client that gives up) registers nothing: its staged rows are discarded.
//!
//! Why staging and not one transaction over the stream: the transaction would be open for as
//! long as the client takes to send, and on SQLite it would hold the only writer all that time.
//! The merge holds it only for the server's own work, never for the length of a client's upload.
//! That work still grows with the import: on SQLite, other writes wait while a very large import
//! merges (1,000,000 URLs take about 20 s in a release build on two cores), and fail once they
//! have waited longer than the store's time to hand out its writer. Imports of that size
//! belong on PostgreSQL, where only writes of the same URLs wait for the merge.

use doxwatch_kit::timestamp;
use uuid::Uuid;

use super::{Links, Resolved, register_in};
use crate::{domain::*, error::LinksError, store::imports};

/// Registrations merged per round of the merge: a few statements each, whatever the import's size
/// (a staged message holds as many as the client sent in it).
const MERGE_BATCH: usize = 500;

/// How long staged rows of an import that never ended (its server died) are kept.
const STALE_AFTER: time::Duration = time::Duration::days(1);

/// An import whose stream is arriving. Dropped without [`StagedImport::merge`], it discards what
/// it staged.
pub struct StagedImport {
    links: Links,
    id: Uuid,
    staged: i64,
    finished: bool,
}

impl Links {
    /// Starts an import, and forgets what imports staged long ago and never finished.
    pub async fn begin_import(&self) -> Result<StagedImport, LinksError> {
        let before = timestamp::now() - STALE_AFTER;
        let swept =
            doxwatch_kit::in_transaction!(self.db, LinksError, |tx| Ok(imports::sweep(&mut tx, before).await?))?;
        if swept > 0 {
            tracing::warn!(rows = swept, "discarded registrations of imports that never finished");
        }
        Ok(StagedImport { links: self.clone(), id: Uuid::now_v7(), staged: 0, finished: false })
    }

    async fn discard_import(&self, id: Uuid) -> Result<(), LinksError> {
        doxwatch_kit::in_transaction!(self.db, LinksError, |tx| Ok(imports::discard(&mut tx, id).await?))
    }
}

impl StagedImport {
    /// Stages the next registrations of the stream.
    pub async fn stage(&mut self, registrations: &[Registration]) -> Result<(), LinksError> {
        if registrations.is_empty() {
            // The API refuses an empty message; staged, it would take the next message's position.
            return Ok(());
        }
        let (id, first, now) = (self.id, self.staged, timestamp::now());
        doxwatch_kit::in_transaction!(self.links.db, LinksError, |tx| {
            Ok(imports::stage(&mut tx, id, first, registrations, now).await?)
        })?;
        // Counts what this server staged: at most the messages' size limit times their number.
        self.staged = self.staged.saturating_add(registrations.len() as i64);
        Ok(())
    }

    /// Registers everything staged, in one transaction, and says what became of it.
    #[tracing::instrument(skip_all, fields(import = %self.id, registrations = self.staged))]
    pub async fn merge(mut self) -> Result<ImportTally, LinksError> {
        let id = self.id;
        let tally = doxwatch_kit::in_transaction!(self.links.db, LinksError, |tx| {
            let mut tally = ImportTally::default();
            let mut after = -1;
            let mut resolved = Resolved::default();
            while let Some((position, registrations)) = imports::next_staged(&mut tx, id, after).await? {
                after = position;
                for batch in registrations.chunks(MERGE_BATCH) {
                    let (outcomes, _) =
                        register_in(&mut tx, batch, false, self.links.allow_private_hosts, &mut resolved).await?;
                    for (r, outcome) in batch.iter().zip(&outcomes) {
                        tally.add(&r.url, outcome);
                    }
                }
            }
            imports::discard(&mut tx, id).await?;
            Ok(tally)
        });
        if tally.is_ok() {
            self.finish();
        }
        tally
    }

    /// Discards what the import staged, now (the stream was refused).
    pub async fn discard(mut self) {
        self.finish();
        if let Err(e) = self.links.discard_import(self.id).await {
            tracing::warn!(import = %self.id, error = %e, "staged registrations left for the sweep");
        }
    }
}

impl StagedImport {
    /// Nothing is left for the drop to discard.
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for StagedImport {
    fn drop(&mut self) {
        // A stream dropped mid-way (the client went away, the merge failed or was cancelled):
        // discard on the runtime, since a drop cannot wait. If that fails too, the sweep does it.
        if self.finished || self.staged == 0 {
            return;
        }
        let (links, id) = (self.links.clone(), self.id);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = links.discard_import(id).await {
                    tracing::warn!(import = %id, error = %e, "staged registrations left for the sweep");
                }
            });
        }
    }
}
