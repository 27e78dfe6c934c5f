//! Notices from draft to close: drafting and changing a draft (checked with link-tracking),
//! reading and listing, serving (which records removal requests in link-tracking) and closing.

use doxwatch_kit::{actor::Actor, error::FieldViolations, idempotency::RequestKey, timestamp};
use doxwatch_proto::liaison::ErrorReason;
use prost::Message;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Liaison, enqueue_all, event, idempotent, precondition};
use crate::{domain::*, effects, error::LiaisonError, store, store::events::EventDetails};

/// Notices read from the store at once while a listing filters on what is derived.
const LIST_BATCH: u32 = 500;

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

impl Draft {
    fn of(notice: &Notice) -> Self {
        Self {
            platform: notice.platform,
            kind: notice.kind,
            items: notice.items.iter().map(|i| (i.link, i.action)).collect(),
            cases: notice.cases.clone(),
            channel: notice.channel,
            legal_basis: notice.legal_basis.clone(),
            deadline: notice.deadline_override,
        }
    }

    /// The draft's items, not yet answered.
    fn items(&self) -> Vec<Item> {
        self.items.iter().map(|(link, action)| Item { link: *link, action: *action, replies: Vec::new() }).collect()
    }
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

/// What ListNotices filters on. The platform and the kind are the store's; the others are derived
/// as at `t`, so they are checked on notices as loaded.
#[derive(Debug, Clone, Copy)]
pub struct NoticeFilter {
    pub platform: Option<PlatformRef>,
    pub kind: Option<NoticeKind>,
    pub status: Option<NoticeStatus>,
    pub overdue: bool,
    pub served_after: Option<OffsetDateTime>,
    pub served_before: Option<OffsetDateTime>,
    pub t: AsAt,
}

impl NoticeFilter {
    fn keeps(&self, n: &Notice) -> bool {
        let t = self.t;
        self.status.is_none_or(|s| n.status_as_at(t) == s)
            && (!self.overdue || n.is_overdue(t))
            && self.served_after.is_none_or(|a| n.served_as_at(t).is_some_and(|s| s.served_at >= a))
            && self.served_before.is_none_or(|b| n.served_as_at(t).is_some_and(|s| s.served_at < b))
    }
}

fn not_a_draft(notice: &Notice) -> bool {
    notice.service.is_some() || notice.closure.is_some()
}

impl Liaison {
    /// Checks a draft against link-tracking: the platform, the channel and every link.
    async fn check_draft(&self, v: &mut FieldViolations, draft: &Draft) -> Result<(), LiaisonError> {
        if let Err(e) = check_content(draft.kind, &draft.items, draft.channel) {
            v.add("notice.items", e);
        }
        let known = v.iter().count();
        self.links.check_platform(v, "notice.platform", draft.platform).await?;
        if v.iter().count() > known {
            // An unknown platform is the one fault: its channel and links would each be "not on
            // the notice's platform" only because of it.
            return Ok(());
        }
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
                reference: self.next_reference(&mut tx, now).await?,
                platform: draft.platform,
                kind: draft.kind,
                items: draft.items(),
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
            store::notices::insert(&mut tx, &notice).await?;
            let created = event(NoticeEventKind::Created, actor, now, now, String::new());
            store::events::append(&mut tx, self.db.keyring(), notice.id, &created, EventDetails { service: None })
                .await?;
            store::rollups::count(&mut tx, None, &notice, now).await?;
            Ok(respond(&notice, AsAt::now(now)))
        })
    }

    /// The notice with this reference (as [`doxwatch_kit::reference::normalize`] writes it).
    pub async fn get_by_reference(&self, reference: &str) -> Result<Notice, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        match store::notices::with_reference(&mut tx, reference).await? {
            Some(id) => self.loaded(&mut tx, id).await,
            None => Err(LiaisonError::not_found(format!("notices/{reference}"))),
        }
    }

    pub async fn get(&self, id: NoticeId) -> Result<Notice, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        self.loaded(&mut tx, id).await
    }

    /// Up to `limit` notices after `after` in id order that `filter` keeps.
    pub async fn list(
        &self,
        filter: &NoticeFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Notice>, LiaisonError> {
        let mut tx = self.db.begin_read().await?;
        let mut out = Vec::new();
        let mut cursor = after;
        // Status and overdue are derived, so filtering happens here, a batch at a time.
        loop {
            let ids = store::notices::ids(&mut tx, filter.platform, filter.kind, cursor, LIST_BATCH).await?;
            let Some(last) = ids.last().copied() else { break };
            cursor = Some(last.0);
            for notice in store::notices::load(&mut tx, self.db.keyring(), &ids).await? {
                if filter.keeps(&notice) {
                    out.push(notice);
                    if out.len() >= limit as usize {
                        return Ok(out);
                    }
                }
            }
            if ids.len() < LIST_BATCH as usize {
                break;
            }
        }
        Ok(out)
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
        if not_a_draft(&current) {
            return Err(precondition(
                ErrorReason::NotADraft,
                format!("{} is no longer a draft: a served notice cannot be changed", id.name()),
            ));
        }
        let mut draft = Draft::of(&current);
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
            let mut notice = self.locked(&mut tx, id).await?;
            if not_a_draft(&notice) {
                return Err(precondition(ErrorReason::NotADraft, format!("{} is no longer a draft", id.name())));
            }
            let now = timestamp::now();
            let before = notice.clone();
            notice.items = draft.items();
            notice.cases = draft.cases.clone();
            notice.channel = draft.channel;
            notice.legal_basis = draft.legal_basis.clone();
            notice.deadline_override = draft.deadline;
            notice.update_time = now;
            store::notices::update_draft(&mut tx, &notice).await?;
            let updated = event(NoticeEventKind::Updated, actor, now, now, String::new());
            store::events::append(&mut tx, self.db.keyring(), id, &updated, EventDetails { service: None }).await?;
            // A draft's fields have no record time of their own: every cut is corrected.
            store::rollups::count(&mut tx, Some(&before), &notice, notice.create_time).await?;
            Ok(respond(&notice, AsAt::now(now)))
        })
    }

    /// Refuses a service dated before any of the notice's links to remove was first seen: the
    /// removal requests it records would predate the links, and link-tracking would refuse them
    /// after the notice was already served. A notice that is not there is left to `serve`.
    /// Serving does not wait for link-tracking: while it is down the check is skipped, and a
    /// removal request it then refuses shows as a rejected effect of the outbox.
    async fn served_after_sightings(&self, id: NoticeId, served_at: OffsetDateTime) -> Result<(), LiaisonError> {
        let notice = match self.get(id).await {
            Ok(notice) => notice,
            Err(_) => return Ok(()),
        };
        if !notice.asks_removal() || not_a_draft(&notice) {
            return Ok(());
        }
        let links: Vec<LinkRef> = notice.items.iter().filter(|i| i.action.asks_removal()).map(|i| i.link).collect();
        let later = match self.links.seen_after(&links, served_at).await {
            Ok(later) => later,
            Err(LiaisonError::LinksUnavailable(status)) => {
                tracing::warn!(code = ?status.code(), "link-tracking did not answer; served without checking first sightings");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if later.is_empty() {
            return Ok(());
        }
        let named: Vec<String> =
            later.iter().map(|(link, seen)| format!("{link} was first seen {}", timestamp::rfc3339(*seen))).collect();
        Err(precondition(
            ErrorReason::BeforeFirstSighting,
            format!(
                "served_at is before a link was first seen: {}; record the earlier sighting first",
                named.join(", ")
            ),
        ))
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
        self.served_after_sightings(id, served_at).await?;
        let response = idempotent!(self, key, |tx| {
            let mut notice = self.locked(&mut tx, id).await?;
            if not_a_draft(&notice) {
                return Err(precondition(
                    ErrorReason::NotADraft,
                    format!("{} was already served or closed", id.name()),
                ));
            }
            let deadline = notice.deadline_override.unwrap_or_else(|| self.periods.deadline(notice.kind, served_at));
            if deadline <= served_at {
                let mut v = FieldViolations::new();
                v.add("served_at", "must be before the notice's deadline");
                return Err(v.into());
            }
            let now = timestamp::now();
            let before = notice.clone();
            notice.service = Some(Service { served_at, method, deadline, record_time: now });
            let served = event(NoticeEventKind::Served, actor, served_at, now, String::new());
            store::events::append(
                &mut tx,
                self.db.keyring(),
                id,
                &served,
                EventDetails { service: Some((method, deadline)) },
            )
            .await?;
            store::notices::touch(&mut tx, id, now).await?;
            notice.update_time = now;
            if notice.asks_removal() {
                let links: Vec<LinkRef> =
                    notice.items.iter().filter(|i| i.action.asks_removal()).map(|i| i.link).collect();
                enqueue_all(&mut tx, self.db.keyring(), effects::removal_requests(id, &links, served_at)).await?;
            }
            store::rollups::count(&mut tx, Some(&before), &notice, now).await?;
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
            let mut notice = self.locked(&mut tx, id).await?;
            if notice.closure.is_some() {
                return Err(precondition(ErrorReason::Closed, format!("{} is already closed", id.name())));
            }
            let now = timestamp::now();
            let closed_at = occurred_at.unwrap_or(now);
            if let Some(service) = notice.service.filter(|s| closed_at < s.served_at) {
                let mut v = FieldViolations::new();
                v.add("occurred_at", format!("must not be before the notice was served ({})", service.served_at));
                return Err(v.into());
            }
            let closed = event(NoticeEventKind::Closed, actor, closed_at, now, reason.clone());
            store::events::append(&mut tx, self.db.keyring(), id, &closed, EventDetails { service: None }).await?;
            store::notices::touch(&mut tx, id, now).await?;
            let before = notice.clone();
            notice.closure = Some(Closure { closed_at, record_time: now });
            notice.update_time = now;
            store::rollups::count(&mut tx, Some(&before), &notice, now).await?;
            Ok(respond(&notice, AsAt::now(now)))
        })
    }
}
