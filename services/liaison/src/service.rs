//! Liaison's use cases. Reads of link-tracking happen before the transaction; each change, its
//! timeline entry, its effects on link-tracking and its request-id record commit together.

use std::sync::Arc;

use doxwatch_kit::{
    actor::Actor,
    db::Db,
    error::FieldViolations,
    idempotency::RequestKey,
    outbox::{self, Effect},
    timestamp,
};
use prost::Message;
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::{
    domain::*,
    effects,
    error::LiaisonError,
    links::LinkTracking,
    store::{self, EventDetails},
};

macro_rules! idempotent {
    ($self:ident, $key:expr, |$tx:ident| $body:expr) => {
        doxwatch_kit::idempotent!($self.db, LiaisonError, $key, |$tx| $body)
    };
}

#[derive(Clone)]
pub struct Liaison {
    db: Db,
    links: LinkTracking,
    periods: CompliancePeriods,
    relay: Arc<Notify>,
}

/// A notice as drafted: what CreateNotice and UpdateNotice carry, already checked for form.
#[derive(Debug, Clone)]
pub struct Draft {
    pub platform: PlatformRef,
    pub kind: NoticeKind,
    pub items: Vec<(LinkRef, NoticeAction)>,
    pub cases: Vec<CaseRef>,
    pub channel: Option<ChannelRef>,
    pub legal_basis: String,
    pub deadline: Option<OffsetDateTime>,
}

/// The fields UpdateNotice may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DraftField {
    Items,
    Cases,
    LegalBasis,
    Channel,
    Deadline,
}

/// A reply as recorded: per-item outcomes, an outcome for the rest, the text, and when.
#[derive(Debug, Clone)]
pub struct Reply {
    pub received_at: Option<OffsetDateTime>,
    pub items: Vec<(LinkRef, ReplyOutcome, String)>,
    pub all_items: Option<ReplyOutcome>,
    pub text: String,
}

fn event(
    kind: NoticeEventKind,
    actor: &Actor,
    occurred_at: OffsetDateTime,
    now: OffsetDateTime,
    note: String,
) -> NoticeEvent {
    NoticeEvent { kind, actor: actor.name(), occurred_at, record_time: now, note }
}

fn precondition(reason: &'static str, message: String) -> LiaisonError {
    LiaisonError::Precondition(reason, message)
}

async fn enqueue_all(tx: &mut doxwatch_kit::db::Tx, effects: Vec<Effect>) -> Result<bool, LiaisonError> {
    let any = !effects.is_empty();
    for effect in effects {
        outbox::enqueue(tx, effect).await?;
    }
    Ok(any)
}

impl Liaison {
    pub fn new(db: Db, links: LinkTracking, periods: CompliancePeriods, relay: Arc<Notify>) -> Self {
        Self { db, links, periods, relay }
    }

    // --- contacts ---

    pub async fn set_contact<R: Message + Default>(
        &self,
        actor: &Actor,
        mut contact: PlatformContact,
        key: Option<RequestKey>,
        respond: impl Fn(&PlatformContact) -> R,
    ) -> Result<R, LiaisonError> {
        let mut v = FieldViolations::new();
        self.links.check_platform(&mut v, "contact.platform", contact.platform).await?;
        if !v.is_empty() {
            return Err(v.into());
        }
        contact.update_time = timestamp::now();
        contact.updated_by = actor.name();
        idempotent!(self, key, |tx| {
            store::upsert_contact(&mut tx, &contact).await?;
            Ok(respond(&contact))
        })
    }

    pub async fn get_contact(&self, platform: PlatformRef) -> Result<PlatformContact, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        store::get_contact(&mut tx, platform)
            .await?
            .ok_or_else(|| LiaisonError::NotFound(format!("{}/contact", platform.name())))
    }

    pub async fn list_contacts(&self, after: &str, limit: u32) -> Result<Vec<PlatformContact>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::list_contacts(&mut tx, after, limit).await?)
    }

    // --- notices ---

    /// Checks a draft against link-tracking: the platform, the channel and every link.
    async fn check_draft(&self, v: &mut FieldViolations, draft: &Draft) -> Result<(), LiaisonError> {
        if let Err(e) = check_content(draft.kind, &draft.items, draft.channel) {
            v.add("notice.items", e);
        }
        self.links.check_platform(v, "notice.platform", draft.platform).await?;
        if let Some(channel) = draft.channel {
            self.links.check_channel(v, "notice.channel", channel, draft.platform).await?;
        }
        let links: Vec<LinkRef> = draft.items.iter().map(|(l, _)| *l).collect();
        self.links.check_links(v, "notice.items", &links, draft.platform).await
    }

    #[tracing::instrument(skip_all, fields(kind = ?draft.kind, items = draft.items.len()))]
    pub async fn create<R: Message + Default>(
        &self,
        actor: &Actor,
        draft: Draft,
        key: Option<RequestKey>,
        respond: impl Fn(&Notice, AsAt) -> R,
    ) -> Result<R, LiaisonError> {
        let mut v = FieldViolations::new();
        if draft.kind == NoticeKind::Reminder {
            v.add("notice.kind", "a reminder is drafted with RemindNotice, from the notice it reminds");
        }
        self.check_draft(&mut v, &draft).await?;
        if !v.is_empty() {
            return Err(v.into());
        }
        idempotent!(self, key, |tx| {
            let now = timestamp::now();
            let notice = Notice {
                id: NoticeId::new(),
                platform: draft.platform,
                kind: draft.kind,
                items: draft
                    .items
                    .iter()
                    .map(|(link, action)| Item { link: *link, action: *action, replies: Vec::new() })
                    .collect(),
                cases: draft.cases.clone(),
                channel: draft.channel,
                legal_basis: draft.legal_basis.clone(),
                deadline_override: draft.deadline,
                follows: None,
                reminds_kind: None,
                service: None,
                replies: Vec::new(),
                closure: None,
                created_by: actor.name(),
                create_time: now,
                update_time: now,
            };
            store::insert_notice(&mut tx, &notice).await?;
            store::append_event(
                &mut tx,
                notice.id,
                &event(NoticeEventKind::Created, actor, now, now, String::new()),
                EventDetails { service: None },
            )
            .await?;
            Ok(respond(&notice, AsAt::now(now)))
        })
    }

    pub async fn get(&self, id: NoticeId) -> Result<Notice, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        store::load(&mut tx, &[id]).await?.into_iter().next().ok_or_else(|| LiaisonError::NotFound(id.name()))
    }

    /// A page of notices in id order matching `keep` as at `t`.
    pub async fn list(
        &self,
        platform: Option<PlatformRef>,
        kind: Option<NoticeKind>,
        after: Option<Uuid>,
        limit: u32,
        keep: impl Fn(&Notice) -> bool,
    ) -> Result<Vec<Notice>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        let mut out = Vec::new();
        let mut cursor = after;
        // Status and overdue are derived, so filtering happens here, a batch at a time.
        loop {
            let ids = store::ids(&mut tx, platform, kind, cursor, 500).await?;
            let Some(last) = ids.last().copied() else { break };
            cursor = Some(last.0);
            for notice in store::load(&mut tx, &ids).await? {
                if keep(&notice) {
                    out.push(notice);
                    if out.len() >= limit as usize {
                        return Ok(out);
                    }
                }
            }
            if ids.len() < 500 {
                break;
            }
        }
        Ok(out)
    }

    /// Loads a notice inside `tx`, locked for a change.
    async fn locked(tx: &mut doxwatch_kit::db::Tx, id: NoticeId) -> Result<Notice, LiaisonError> {
        if !store::lock(tx, id).await? {
            return Err(LiaisonError::NotFound(id.name()));
        }
        store::load(tx, &[id]).await?.into_iter().next().ok_or_else(|| LiaisonError::NotFound(id.name()))
    }

    #[tracing::instrument(skip_all, fields(notice = %id))]
    pub async fn update<R: Message + Default>(
        &self,
        actor: &Actor,
        id: NoticeId,
        fields: &[DraftField],
        changes: Draft,
        key: Option<RequestKey>,
        respond: impl Fn(&Notice, AsAt) -> R,
    ) -> Result<R, LiaisonError> {
        let current = self.get(id).await?;
        if current.service.is_some() || current.closure.is_some() {
            return Err(precondition(
                "NOT_A_DRAFT",
                format!("{} is no longer a draft: a served notice cannot be changed", id.name()),
            ));
        }
        let mut draft = Draft {
            platform: current.platform,
            kind: current.kind,
            items: current.items.iter().map(|i| (i.link, i.action)).collect(),
            cases: current.cases.clone(),
            channel: current.channel,
            legal_basis: current.legal_basis.clone(),
            deadline: current.deadline_override,
        };
        for field in fields {
            match field {
                DraftField::Items => draft.items = changes.items.clone(),
                DraftField::Cases => draft.cases = changes.cases.clone(),
                DraftField::LegalBasis => draft.legal_basis = changes.legal_basis.clone(),
                DraftField::Channel => draft.channel = changes.channel,
                DraftField::Deadline => draft.deadline = changes.deadline,
            }
        }
        let mut v = FieldViolations::new();
        self.check_draft(&mut v, &draft).await?;
        if !v.is_empty() {
            return Err(v.into());
        }
        idempotent!(self, key, |tx| {
            let mut notice = Self::locked(&mut tx, id).await?;
            if notice.service.is_some() || notice.closure.is_some() {
                return Err(precondition("NOT_A_DRAFT", format!("{} is no longer a draft", id.name())));
            }
            let now = timestamp::now();
            notice.items = draft
                .items
                .iter()
                .map(|(link, action)| Item { link: *link, action: *action, replies: Vec::new() })
                .collect();
            notice.cases = draft.cases.clone();
            notice.channel = draft.channel;
            notice.legal_basis = draft.legal_basis.clone();
            notice.deadline_override = draft.deadline;
            notice.update_time = now;
            store::update_draft(&mut tx, &notice).await?;
            store::append_event(
                &mut tx,
                id,
                &event(NoticeEventKind::Updated, actor, now, now, String::new()),
                EventDetails { service: None },
            )
            .await?;
            Ok(respond(&notice, AsAt::now(now)))
        })
    }

    /// Serves a draft; a notice that asks for removal records removal requests in link-tracking.
    #[tracing::instrument(skip_all, fields(notice = %id))]
    pub async fn serve<R: Message + Default>(
        &self,
        actor: &Actor,
        id: NoticeId,
        served_at: OffsetDateTime,
        method: ServiceMethod,
        key: Option<RequestKey>,
        respond: impl Fn(&Notice, AsAt) -> R,
    ) -> Result<R, LiaisonError> {
        let response = idempotent!(self, key, |tx| {
            let mut notice = Self::locked(&mut tx, id).await?;
            if notice.closure.is_some() || notice.service.is_some() {
                return Err(precondition("NOT_A_DRAFT", format!("{} was already served or closed", id.name())));
            }
            let deadline = notice.deadline_override.unwrap_or_else(|| self.periods.deadline(notice.kind, served_at));
            if deadline <= served_at {
                let mut v = FieldViolations::new();
                v.add("served_at", "must be before the notice's deadline");
                return Err(v.into());
            }
            let now = timestamp::now();
            notice.service = Some(Service { served_at, method, deadline, record_time: now });
            store::append_event(
                &mut tx,
                id,
                &event(NoticeEventKind::Served, actor, served_at, now, String::new()),
                EventDetails { service: Some((method, deadline)) },
            )
            .await?;
            store::touch(&mut tx, id, now).await?;
            notice.update_time = now;
            if notice.asks_removal() {
                let links: Vec<LinkRef> =
                    notice.items.iter().filter(|i| i.action.asks_removal()).map(|i| i.link).collect();
                enqueue_all(&mut tx, effects::removal_requests(id, &links, served_at)).await?;
            }
            Ok(respond(&notice, AsAt::now(now)))
        })?;
        self.relay.notify_one();
        Ok(response)
    }

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
            let notice = Self::locked(&mut tx, id).await?;
            let now = timestamp::now();
            let Some(service) = notice.service else {
                return Err(precondition("NOT_SERVED", format!("{} has not been served", id.name())));
            };
            if notice.closure.is_some() {
                return Err(precondition("CLOSED", format!("{} is closed", id.name())));
            }
            let received_at = reply.received_at.unwrap_or(now);
            let mut v = FieldViolations::new();
            if received_at < service.served_at {
                v.add("received_at", "must not be before the notice was served");
            }
            for (i, (link, _, _)) in reply.items.iter().enumerate() {
                if !notice.items.iter().any(|item| item.link == *link) {
                    v.add(format!("items[{i}].link"), format!("{} is not an item of {}", link.name(), id.name()));
                }
                if reply.items[..i].iter().any(|(other, _, _)| other == link) {
                    v.add(format!("items[{i}].link"), "is given twice");
                }
            }
            if !v.is_empty() {
                return Err(v.into());
            }
            store::insert_reply(&mut tx, id, None, reply.all_items, &reply.text, received_at, &actor.name(), now)
                .await?;
            let mut complied = Vec::new();
            for item in &notice.items {
                let given = reply.items.iter().find(|(link, _, _)| *link == item.link);
                let (outcome, text) = match (given, reply.all_items) {
                    (Some((_, outcome, text)), _) => (*outcome, text.as_str()),
                    (None, Some(all)) => (all, ""),
                    (None, None) => continue,
                };
                store::insert_reply(&mut tx, id, Some(item.link), Some(outcome), text, received_at, &actor.name(), now)
                    .await?;
                if outcome == ReplyOutcome::Complied && item.action.asks_removal() {
                    complied.push(item.link);
                }
            }
            store::append_event(
                &mut tx,
                id,
                &event(NoticeEventKind::ReplyRecorded, actor, received_at, now, reply.text.clone()),
                EventDetails { service: None },
            )
            .await?;
            store::touch(&mut tx, id, now).await?;
            enqueue_all(&mut tx, effects::platform_reports(id, &complied, received_at)).await?;
            let notice = store::load(&mut tx, &[id])
                .await?
                .into_iter()
                .next()
                .ok_or_else(|| LiaisonError::NotFound(id.name()))?;
            Ok(respond(&notice, AsAt::now(now)))
        })?;
        self.relay.notify_one();
        Ok(response)
    }

    #[tracing::instrument(skip_all, fields(notice = %id))]
    pub async fn close<R: Message + Default>(
        &self,
        actor: &Actor,
        id: NoticeId,
        reason: String,
        occurred_at: Option<OffsetDateTime>,
        key: Option<RequestKey>,
        respond: impl Fn(&Notice, AsAt) -> R,
    ) -> Result<R, LiaisonError> {
        idempotent!(self, key, |tx| {
            let mut notice = Self::locked(&mut tx, id).await?;
            if notice.closure.is_some() {
                return Err(precondition("CLOSED", format!("{} is already closed", id.name())));
            }
            let now = timestamp::now();
            let closed_at = occurred_at.unwrap_or(now);
            if let Some(service) = notice.service.filter(|s| closed_at < s.served_at) {
                let mut v = FieldViolations::new();
                v.add("occurred_at", format!("must not be before the notice was served ({})", service.served_at));
                return Err(v.into());
            }
            store::append_event(
                &mut tx,
                id,
                &event(NoticeEventKind::Closed, actor, closed_at, now, reason.clone()),
                EventDetails { service: None },
            )
            .await?;
            store::touch(&mut tx, id, now).await?;
            notice.closure = Some(Closure { closed_at, record_time: now });
            notice.update_time = now;
            Ok(respond(&notice, AsAt::now(now)))
        })
    }

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
            let original = Self::locked(&mut tx, id).await?;
            let now = timestamp::now();
            let t = AsAt::now(now);
            if original.service.is_none() || original.closure.is_some() {
                return Err(precondition(
                    "NOT_OUTSTANDING",
                    format!("{} must be served and not closed to be followed up", id.name()),
                ));
            }
            let outstanding: Vec<Item> = original
                .outstanding(t)
                .into_iter()
                .map(|i| Item { link: i.link, action: i.action, replies: Vec::new() })
                .collect();
            let channel_unanswered = original.items.is_empty() && original.replies_as_at(t).next().is_none();
            if outstanding.is_empty() && !channel_unanswered {
                return Err(precondition("NOTHING_OUTSTANDING", format!("{} has no outstanding items", id.name())));
            }
            let reminds_kind =
                (to_kind == NoticeKind::Reminder).then(|| original.reminds_kind.unwrap_or(original.kind));
            let mut items = outstanding;
            if to_kind == NoticeKind::CessationNotice {
                // A cessation notice requires the content to go; an item asked of the platform in
                // another way is asked again as removal.
                for item in &mut items {
                    if !item.action.asks_removal() {
                        item.action = NoticeAction::Remove;
                    }
                }
            }
            let notice = Notice {
                id: NoticeId::new(),
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
            store::insert_notice(&mut tx, &notice).await?;
            store::append_event(
                &mut tx,
                notice.id,
                &event(NoticeEventKind::Created, actor, now, now, format!("follows {}", id.name())),
                EventDetails { service: None },
            )
            .await?;
            let kind =
                if to_kind == NoticeKind::Reminder { NoticeEventKind::Reminded } else { NoticeEventKind::Escalated };
            store::append_event(
                &mut tx,
                id,
                &event(kind, actor, now, now, notice.id.name()),
                EventDetails { service: None },
            )
            .await?;
            Ok(respond(&notice, t))
        })
    }

    pub async fn events(&self, id: NoticeId) -> Result<Vec<NoticeEvent>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        if !store::lock(&mut tx, id).await? {
            return Err(LiaisonError::NotFound(id.name()));
        }
        Ok(store::events(&mut tx, id).await?)
    }

    /// Every notice as recorded before `recorded_before`, for the figures.
    pub async fn all_notices(&self, recorded_before: OffsetDateTime) -> Result<Vec<Notice>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::all(&mut tx, recorded_before).await?)
    }

    pub async fn contact_language(&self, platform: PlatformRef) -> Result<Option<Language>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        Ok(store::get_contact(&mut tx, platform).await?.map(|c| c.language))
    }
}
