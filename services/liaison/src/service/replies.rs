//! Recording a platform's reply: a row for the reply as a whole and one per item it answers, and
//! each claim of compliance reported to link-tracking (which does not make a link removed).

use doxwatch_kit::{actor::Actor, error::FieldViolations, idempotency::RequestKey, timestamp};
use doxwatch_proto::liaison::ErrorReason;
use prost::Message;
use time::OffsetDateTime;

use super::{Liaison, enqueue_all, event, idempotent, precondition};
use crate::{
    domain::*,
    effects,
    error::LiaisonError,
    store::{self, events::EventDetails, replies::ReplyRecord},
};

/// A reply as recorded: per-item outcomes, an outcome for the rest, the text, and when.
#[derive(Debug, Clone)]
pub struct Reply {
    pub received_at: Option<OffsetDateTime>,
    pub items: Vec<(LinkRef, ReplyOutcome, String)>,
    pub all_items: Option<ReplyOutcome>,
    pub text: String,
}

/// What is wrong with `reply` to `notice`, served at `service`, if received at `received_at`.
fn check_reply(notice: &Notice, service: &Service, reply: &Reply, received_at: OffsetDateTime) -> FieldViolations {
    let mut v = FieldViolations::new();
    if received_at < service.served_at {
        v.add("received_at", "must not be before the notice was served");
    }
    for (i, (link, _, _)) in reply.items.iter().enumerate() {
        if !notice.items.iter().any(|item| item.link == *link) {
            v.add(format!("items[{i}].link"), format!("{} is not an item of {}", link.name(), notice.id.name()));
        }
        if reply.items[..i].iter().any(|(other, _, _)| other == link) {
            v.add(format!("items[{i}].link"), "is given twice");
        }
    }
    v
}

impl Liaison {
    #[tracing::instrument(skip_all, fields(notice = %id))]
    pub async fn record_reply<R: Message + Default>(
        &self,
        actor: &Actor,
        id: NoticeId,
        reply: Reply,
        key: Option<RequestKey>,
        respond: impl Fn(&Notice, AsAt) -> R,
    ) -> Result<R, LiaisonError> {
        let response = idempotent!(self, key, |tx| {
            let notice = self.locked(&mut tx, id).await?;
            let now = timestamp::now();
            let Some(service) = notice.service else {
                return Err(precondition(ErrorReason::NotServed, format!("{} has not been served", id.name())));
            };
            if notice.closure.is_some() {
                return Err(precondition(ErrorReason::Closed, format!("{} is closed", id.name())));
            }
            let received_at = reply.received_at.unwrap_or(now);
            let v = check_reply(&notice, &service, &reply, received_at);
            if !v.is_empty() {
                return Err(v.into());
            }
            let recorded_by = actor.name();
            let whole = ReplyRecord {
                notice: id,
                link: None,
                outcome: reply.all_items,
                text: &reply.text,
                received_at,
                recorded_by: &recorded_by,
                record_time: now,
            };
            store::replies::insert(&mut tx, self.db.keyring(), &whole).await?;
            let mut complied = Vec::new();
            for item in &notice.items {
                let given = reply.items.iter().find(|(link, _, _)| *link == item.link);
                let (outcome, text) = match (given, reply.all_items) {
                    (Some((_, outcome, text)), _) => (*outcome, text.as_str()),
                    (None, Some(all)) => (all, ""),
                    (None, None) => continue,
                };
                let answer = ReplyRecord { link: Some(item.link), outcome: Some(outcome), text, ..whole };
                store::replies::insert(&mut tx, self.db.keyring(), &answer).await?;
                if outcome == ReplyOutcome::Complied && item.action.asks_removal() {
                    complied.push(item.link);
                }
            }
            let recorded = event(NoticeEventKind::ReplyRecorded, actor, received_at, now, reply.text.clone());
            store::events::append(&mut tx, self.db.keyring(), id, &recorded, EventDetails { service: None }).await?;
            store::notices::touch(&mut tx, id, now).await?;
            enqueue_all(&mut tx, self.db.keyring(), effects::platform_reports(id, &complied, received_at)).await?;
            let before = notice;
            let notice = self.loaded(&mut tx, id).await?;
            store::rollups::count(&mut tx, Some(&before), &notice, now).await?;
            Ok(respond(&notice, AsAt::now(now)))
        })?;
        self.relay.notify_one();
        Ok(response)
    }
}
