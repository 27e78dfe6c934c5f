//! Publications' use cases: a report recorded as published, with who published it and when, and
//! its reading back. They hold no personal data, so neither the writes nor the reads are audited
//! as personal data; the publication itself names who published it.

use doxwatch_kit::{actor::Actor, idempotency::RequestKey, idempotent, reference};
use prost::Message;

use crate::{
    domain::{NewPublication, Publication, PublicationId},
    error::IntakeError,
    service::Intake,
    store,
};

/// How GetPublication names a publication: by id, or by its reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicationKey {
    Id(PublicationId),
    /// As [`reference::normalize`] writes it.
    Reference(String),
}

/// The counter series of publication references.
const REFERENCE_SERIES: &str = "publications";

impl Intake {
    /// Records a publication, numbered in the year of its `as_of` in the office's zone.
    #[tracing::instrument(skip_all)]
    pub async fn create_publication<R: Message + Default>(
        &self,
        actor: &Actor,
        new: NewPublication,
        key: Option<RequestKey>,
        respond: impl Fn(&Publication) -> R,
    ) -> Result<R, IntakeError> {
        idempotent!(self.db(), IntakeError, key, |tx| {
            let year = self.publications.year_of(new.as_of);
            let number = reference::next_number(&mut tx, REFERENCE_SERIES, year).await?;
            let publication = Publication {
                id: PublicationId::new(),
                reference: self.publications.render(year, number),
                as_of: new.as_of,
                recorded_before: new.recorded_before,
                figures: new.figures.clone(),
                published_by: actor.name(),
                publish_time: doxwatch_kit::timestamp::now(),
            };
            store::insert_publication(&mut tx, &publication).await?;
            tracing::info!(publication = %publication.id, reference = %publication.reference, "report published");
            Ok(respond(&publication))
        })
    }

    #[tracing::instrument(skip(self))]
    pub async fn publication(&self, key: PublicationKey) -> Result<Publication, IntakeError> {
        let mut tx = self.db().begin_read().await?;
        let (found, name) = match &key {
            PublicationKey::Id(id) => (store::get_publication(&mut tx, Some(*id), None).await?, id.name()),
            PublicationKey::Reference(r) => {
                (store::get_publication(&mut tx, None, Some(r)).await?, format!("publications/{r}"))
            }
        };
        found.ok_or_else(|| IntakeError::not_found(name))
    }

    #[tracing::instrument(skip(self))]
    pub async fn publications(&self, after: Option<uuid::Uuid>, limit: u32) -> Result<Vec<Publication>, IntakeError> {
        let mut tx = self.db().begin_read().await?;
        Ok(store::list_publications(&mut tx, after, limit).await?)
    }
}
