//! Erasure of a case intake has erased: the correspondence of every notice that names only
//! erased cases is emptied, audited in the same transaction.

use doxwatch_kit::{
    audit::{self, Access},
    idempotency::{self, RequestKey},
    timestamp,
};
use prost::Message;
use time::OffsetDateTime;

use super::{Liaison, idempotent};
use crate::{domain::*, error::LiaisonError, store};

/// The personal-data fields an erasure empties, as its audit record names them.
const ERASED_FIELDS: &[&str] = &["reply_texts", "notes"];

impl Liaison {
    /// Records that intake erased `case`, and empties the replies' texts and timeline notes of
    /// every notice that now names only erased cases. Returns how many notices it emptied.
    #[tracing::instrument(skip_all, fields(case = %case))]
    pub async fn erase_case_data<R: Message + Default>(
        &self,
        case: CaseRef,
        erase_time: OffsetDateTime,
        key: Option<RequestKey>,
        respond: impl Fn(usize) -> R,
    ) -> Result<R, LiaisonError> {
        idempotent!(self, key, |tx| {
            doxwatch_kit::erasure::record_case(&mut tx, &case.name(), erase_time, timestamp::now()).await?;
            let notices = store::erasure::notices_only_erased_cases_name(&mut tx, case).await?;
            let mut names = Vec::with_capacity(notices.len());
            for notice in &notices {
                store::erasure::erase_notice(&mut tx, self.db.keyring(), *notice).await?;
                idempotency::forget_answers_naming(&mut tx, self.db.keyring(), &notice.name()).await?;
                names.push(notice.name());
            }
            if !names.is_empty() {
                audit::record(&mut tx, Access::Write, &names, ERASED_FIELDS).await?;
            }
            tracing::info!(notices = notices.len(), "case erased");
            Ok(respond(notices.len()))
        })
    }
}
