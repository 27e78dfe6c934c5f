//! Following up a served notice: a reminder, or an escalation to a stronger kind of notice, drafted
//! with the items still outstanding and recorded on the timeline of the notice it follows.

use doxwatch_kit::{actor::Actor, idempotency::RequestKey, timestamp};
use doxwatch_proto::liaison::ErrorReason;
use prost::Message;

use super::{Liaison, event, idempotent, precondition};
use crate::{domain::*, error::LiaisonError, store, store::events::EventDetails};

/// The items a follow-up of `original` as at `t` carries, asked as a notice of `to_kind` asks.
fn outstanding_items(original: &Notice, to_kind: NoticeKind, t: AsAt) -> Vec<Item> {
    let mut items: Vec<Item> = original
        .outstanding(t)
        .into_iter()
        .map(|i| Item { link: i.link, action: i.action, replies: Vec::new() })
        .collect();
    if to_kind == NoticeKind::CessationNotice {
        // A cessation notice requires the content to go; an item asked of the platform in
        // another way is asked again as removal.
        for item in &mut items {
            if !item.action.asks_removal() {
                item.action = NoticeAction::Remove;
            }
        }
    }
    items
}

impl Liaison {
    /// Drafts a notice that follows `id` and carries its outstanding items: a reminder, or an
    /// escalation to `to_kind`.
    #[tracing::instrument(skip_all, fields(notice = %id, ?to_kind))]
    pub async fn follow_up<R: Message + Default>(
        &self,
        actor: &Actor,
        id: NoticeId,
        to_kind: NoticeKind,
        legal_basis: Option<String>,
        key: Option<RequestKey>,
        respond: impl Fn(&Notice, AsAt) -> R,
    ) -> Result<R, LiaisonError> {
        idempotent!(self, key, |tx| {
            let original = self.locked(&mut tx, id).await?;
            let now = timestamp::now();
            let t = AsAt::now(now);
            if original.service.is_none() || original.closure.is_some() {
                return Err(precondition(
                    ErrorReason::NotOutstanding,
                    format!("{} must be served and not closed to be followed up", id.name()),
                ));
            }
            let items = outstanding_items(&original, to_kind, t);
            let channel_unanswered = original.items.is_empty() && original.replies_as_at(t).next().is_none();
            if items.is_empty() && !channel_unanswered {
                return Err(precondition(
                    ErrorReason::NothingOutstanding,
                    format!("{} has no outstanding items", id.name()),
                ));
            }
            let reminds_kind =
                (to_kind == NoticeKind::Reminder).then(|| original.reminds_kind.unwrap_or(original.kind));
            let notice = Notice {
                id: NoticeId::new(),
                reference: self.next_reference(&mut tx, now).await?,
                platform: original.platform,
                kind: to_kind,
                items,
                cases: original.cases.clone(),
                channel: original.channel,
                legal_basis: legal_basis.clone().unwrap_or_else(|| original.legal_basis.clone()),
                deadline_override: None,
                follows: Some(id),
                reminds_kind,
                service: None,
                replies: Vec::new(),
                closure: None,
                created_by: actor.name(),
                create_time: now,
                update_time: now,
            };
            store::notices::insert(&mut tx, &notice).await?;
            let created = event(NoticeEventKind::Created, actor, now, now, format!("follows {}", id.name()));
            store::events::append(&mut tx, self.db.keyring(), notice.id, &created, EventDetails { service: None })
                .await?;
            let kind =
                if to_kind == NoticeKind::Reminder { NoticeEventKind::Reminded } else { NoticeEventKind::Escalated };
            let followed = event(kind, actor, now, now, notice.id.name());
            store::events::append(&mut tx, self.db.keyring(), id, &followed, EventDetails { service: None }).await?;
            store::rollups::count(&mut tx, None, &notice, now).await?;
            Ok(respond(&notice, t))
        })
    }
}
