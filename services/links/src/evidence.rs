//! Evidence use cases: storing a capture's bytes (size-limited while they stream in, nothing kept
//! on failure), recording the capture, and serving the bytes only after they are checked against
//! their SHA-256, with every fetch entered in the custody log first.

use std::sync::Arc;

use doxwatch_kit::{
    actor::Actor,
    audit::{self, Access},
    db::Db,
    error::FieldViolations,
    idempotency::RequestKey,
    timestamp,
};
use doxwatch_proto::links::ErrorReason;
use futures::{Stream, StreamExt};
use prost::Message;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{
    blob::{BlobStore, BlobStream, StoredBlob},
    domain::*,
    error::LinksError,
    store::{erasure, evidence, links},
};

/// The personal-data fields an erasure empties, as its audit record names them.
const ERASED_FIELDS: &[&str] = &["evidence_bytes", "capture_notes", "custody_reasons", "observation_notes"];

/// What one EraseCaseData call erased.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CaseErasure {
    pub links: usize,
    pub captures: usize,
    pub files: usize,
}

#[derive(Clone)]
pub struct EvidenceService {
    db: Db,
    blobs: Arc<dyn BlobStore>,
    max_bytes: u64,
}

/// The bytes of one evidence name, checked, as they are sent.
pub type VerifiedStream = std::pin::Pin<Box<dyn Stream<Item = Result<Vec<u8>, LinksError>> + Send>>;

impl EvidenceService {
    pub fn new(db: Db, blobs: Arc<dyn BlobStore>, max_bytes: u64) -> Self {
        Self { db, blobs, max_bytes }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// NOT_FOUND unless the link exists, so that no bytes are taken for a capture that cannot be
    /// recorded.
    pub async fn require_link(&self, link: LinkId) -> Result<(), LinksError> {
        let mut tx = self.db.begin_read().await?;
        if links::existing(&mut tx, &[link]).await?.is_empty() {
            return Err(LinksError::not_found(link.name()));
        }
        Ok(())
    }

    /// Stores the bytes of `chunks` as a blob. Over the size limit, or on a broken stream, the
    /// partial blob is dropped and nothing is kept.
    pub async fn receive<E: From<LinksError>>(
        &self,
        mut chunks: impl Stream<Item = Result<Vec<u8>, E>> + Unpin,
    ) -> Result<StoredBlob, E> {
        let mut writer = self.blobs.begin().await.map_err(LinksError::from)?;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if writer.size() + chunk.len() as u64 > self.max_bytes {
                let mut v = FieldViolations::new();
                v.add("chunk", format!("the capture is larger than the limit of {} bytes", self.max_bytes));
                return Err(LinksError::invalid(v).into());
            }
            writer.write(&chunk).await.map_err(LinksError::from)?;
        }
        if writer.size() == 0 {
            let mut v = FieldViolations::new();
            v.add("chunk", "a capture must have at least one byte");
            return Err(LinksError::invalid(v).into());
        }
        Ok(writer.commit().await.map_err(LinksError::from)?)
    }

    /// Records a capture of stored bytes, with its entry in the custody log.
    #[tracing::instrument(skip_all, fields(link = %new.link, sha256 = %stored.sha256, size = stored.size))]
    pub async fn record<R: Message + Default>(
        &self,
        actor: &Actor,
        new: &NewCapture,
        stored: StoredBlob,
        key: Option<RequestKey>,
        respond: impl Fn(&Capture) -> R,
    ) -> Result<R, LinksError> {
        doxwatch_kit::idempotent!(self.db, LinksError, key, |tx| {
            if links::existing(&mut tx, &[new.link]).await?.is_empty() {
                return Err(LinksError::not_found(new.link.name()));
            }
            let now = timestamp::now();
            let capture = Capture {
                id: Uuid::now_v7(),
                link: new.link,
                sha256: stored.sha256,
                size_bytes: stored.size as i64,
                media_type: new.media_type.clone(),
                captured_at: new.captured_at,
                captured_by: actor.name(),
                note: new.note.clone(),
                record_time: now,
                erase_time: None,
            };
            evidence::insert_capture(&mut tx, self.db.keyring(), &capture).await?;
            let reason = if new.note.is_empty() { "captured".to_owned() } else { new.note.clone() };
            let event = CustodyEvent {
                id: Uuid::now_v7(),
                evidence: capture.evidence(),
                kind: CustodyKind::Captured,
                actor: actor.name(),
                reason,
                occurred_at: now,
            };
            evidence::insert_custody_event(&mut tx, self.db.keyring(), &event).await?;
            audit::record(&mut tx, Access::Write, &[capture.evidence().name()], &["evidence_bytes"]).await?;
            Ok(respond(&capture))
        })
    }

    /// Opens evidence for a fetch: checks the stored bytes against their digest, enters the
    /// fetch (or the integrity failure) in the custody log, and returns the capture records with
    /// the bytes, checked again as they are read.
    #[tracing::instrument(skip_all, fields(evidence = %name.name()))]
    pub async fn fetch(
        &self,
        actor: &Actor,
        name: EvidenceName,
        reason: &str,
    ) -> Result<(Vec<Capture>, VerifiedStream), LinksError> {
        let captures = {
            let mut tx = self.db.begin_read().await?;
            evidence::captures_of(&mut tx, self.db.keyring(), name).await?
        };
        if captures.is_empty() {
            return Err(LinksError::not_found(name.name()));
        }
        if let Some(erased) = captures.iter().find_map(|c| c.erase_time) {
            return Err(LinksError::precondition(
                ErrorReason::EvidenceErased,
                format!(
                    "{} was erased on {} with the cases that cite its link",
                    name.name(),
                    timestamp::rfc3339(erased)
                ),
            ));
        }
        let size = captures[0].size_bytes as u64;
        let intact = match self.blobs.get(&name.sha256).await? {
            None => false,
            Some(bytes) => digest(bytes).await? == Some((name.sha256, size)),
        };
        let kind = if intact { CustodyKind::Fetched } else { CustodyKind::IntegrityFailure };
        self.log(actor, name, kind, reason).await?;
        if !intact {
            return Err(LinksError::EvidenceCorrupted(name.name()));
        }
        let bytes = self.blobs.get(&name.sha256).await?.ok_or_else(|| LinksError::EvidenceCorrupted(name.name()))?;
        Ok((captures, verified(bytes, name, size)))
    }

    async fn log(
        &self,
        actor: &Actor,
        evidence: EvidenceName,
        kind: CustodyKind,
        reason: &str,
    ) -> Result<(), LinksError> {
        let event = CustodyEvent {
            id: Uuid::now_v7(),
            evidence,
            kind,
            actor: actor.name(),
            reason: reason.to_owned(),
            occurred_at: timestamp::now(),
        };
        doxwatch_kit::in_transaction!(self.db, LinksError, |tx| {
            evidence::insert_custody_event(&mut tx, self.db.keyring(), &event).await?;
            // A fetch is a read of the captured post: audited with its custody entry, or not at all.
            audit::record(&mut tx, Access::Read, &[evidence.name()], &["evidence_bytes"]).await?;
            Ok(())
        })
    }

    /// Erases what link-tracking holds of an erased case: for each link that only erased cases
    /// cite, its evidence and the notes about it, audited in the same transaction; then the
    /// bytes no kept capture needs. Running it again for the same case erases nothing more, but
    /// finishes a deletion of files that a crash cut short.
    #[tracing::instrument(skip_all, fields(case = case))]
    pub async fn erase_case(
        &self,
        actor: &Actor,
        case: &str,
        erase_time: OffsetDateTime,
    ) -> Result<CaseErasure, LinksError> {
        let mut done = doxwatch_kit::in_transaction!(self.db, LinksError, |tx| {
            let now = timestamp::now();
            let mut done = CaseErasure::default();
            // The case's erasure commits whole: once recorded, it was made.
            if !doxwatch_kit::erasure::record_case(&mut tx, case, erase_time, now).await? {
                return Ok(done);
            }
            let mut names = Vec::new();
            for link in erasure::links_only_erased_cases_cite(&mut tx, case).await? {
                let erased = erasure::erase_link(&mut tx, self.db.keyring(), link, &actor.name(), now).await?;
                done.links += 1;
                done.captures += erased.captures;
                doxwatch_kit::idempotency::forget_answers_naming(&mut tx, self.db.keyring(), &link.name()).await?;
                names.push(link.name());
            }
            if !names.is_empty() {
                audit::record(&mut tx, Access::Write, &names, ERASED_FIELDS).await?;
            }
            Ok(done)
        })?;
        let files = {
            let mut tx = self.db.begin_read().await?;
            erasure::files_to_delete(&mut tx, case).await?
        };
        for sha256 in files {
            if self.blobs.delete(&sha256).await? {
                done.files += 1;
            }
        }
        tracing::info!(links = done.links, captures = done.captures, files = done.files, "case erased");
        Ok(done)
    }

    /// A page of a link's captures; the read of their notes is audited with it.
    pub async fn list(&self, link: LinkId, offset: u64, limit: u32) -> Result<Vec<Capture>, LinksError> {
        let mut tx = self.db.begin().await?;
        if links::existing(&mut tx, &[link]).await?.is_empty() {
            return Err(LinksError::not_found(link.name()));
        }
        let captures = evidence::list_captures(&mut tx, self.db.keyring(), link, offset, limit).await?;
        audit::record(&mut tx, Access::Read, &[link.name()], &["capture_notes"]).await?;
        tx.commit().await?;
        Ok(captures)
    }

    /// A page of an evidence name's custody log; the read of its reasons is audited with it.
    pub async fn custody(&self, name: EvidenceName, offset: u64, limit: u32) -> Result<Vec<CustodyEvent>, LinksError> {
        let mut tx = self.db.begin().await?;
        if evidence::captures_of(&mut tx, self.db.keyring(), name).await?.is_empty() {
            return Err(LinksError::not_found(name.name()));
        }
        let events = evidence::custody_events(&mut tx, self.db.keyring(), name, offset, limit).await?;
        audit::record(&mut tx, Access::Read, &[name.name()], &["custody_reasons"]).await?;
        tx.commit().await?;
        Ok(events)
    }
}

/// The digest and size of a blob's bytes; `None` if they cannot be read to the end.
async fn digest(mut bytes: BlobStream) -> Result<Option<(Sha256Digest, u64)>, LinksError> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = bytes.next().await {
        match chunk {
            Ok(chunk) => {
                hasher.update(&chunk);
                size += chunk.len() as u64;
            }
            Err(e) => {
                tracing::error!(error = %doxwatch_kit::error::CauseChain(&e), "reading stored evidence failed");
                return Ok(None);
            }
        }
    }
    Ok(Some((Sha256Digest(hasher.finalize().into()), size)))
}

/// `bytes`, hashed as they pass: if they end up not matching (changed since they were checked),
/// the stream ends with an error instead of its last chunk.
fn verified(bytes: BlobStream, name: EvidenceName, size: u64) -> VerifiedStream {
    struct State {
        bytes: BlobStream,
        hasher: Sha256,
        size: u64,
        held: Option<Vec<u8>>,
    }
    let state = State { bytes, hasher: Sha256::new(), size: 0, held: None };
    futures::stream::unfold(Some(state), move |state| async move {
        let mut s = state?;
        loop {
            match s.bytes.next().await {
                Some(Ok(chunk)) => {
                    s.hasher.update(&chunk);
                    s.size += chunk.len() as u64;
                    // One chunk is held back, so that the last is sent only once the whole is checked.
                    if let Some(previous) = s.held.replace(chunk) {
                        return Some((Ok(previous), Some(s)));
                    }
                }
                Some(Err(e)) => return Some((Err(LinksError::from(e)), None)),
                None => {
                    let digest = Sha256Digest(std::mem::take(&mut s.hasher).finalize().into());
                    if digest != name.sha256 || s.size != size {
                        return Some((Err(LinksError::EvidenceCorrupted(name.name())), None));
                    }
                    return s.held.take().map(|last| (Ok(last), None));
                }
            }
        }
    })
    .boxed()
}
