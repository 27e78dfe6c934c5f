//! Notices: what they ask, their lifecycle in business time, and the rules for drafting,
//! serving, replying, reminding and escalating.

use time::OffsetDateTime;

use super::*;

/// Most items one notice may carry.
pub const MAX_ITEMS: usize = 5000;
pub const MAX_LEGAL_BASIS_CHARS: usize = 2000;
pub const MAX_TEXT_CHARS: usize = 4000;
pub const MAX_CASES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemReply {
    pub outcome: ReplyOutcome,
    pub text: String,
    pub received_at: OffsetDateTime,
    pub record_time: OffsetDateTime,
}

/// A reply received as a whole: the letter or message the platform sent, with the outcome it gave
/// for everything it covered (the only outcome a notice without items has).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WholeReply {
    pub outcome: Option<ReplyOutcome>,
    pub text: String,
    pub received_at: OffsetDateTime,
    pub record_time: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub link: LinkRef,
    pub action: NoticeAction,
    /// Every answer about the item, oldest first.
    pub replies: Vec<ItemReply>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub served_at: OffsetDateTime,
    pub method: ServiceMethod,
    pub deadline: OffsetDateTime,
    pub record_time: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closure {
    pub closed_at: OffsetDateTime,
    pub record_time: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub id: NoticeId,
    /// Its reference number (`NTC-2019-000311`), the letter's "Our reference", given as it is
    /// drafted.
    pub reference: String,
    pub platform: PlatformRef,
    pub kind: NoticeKind,
    pub items: Vec<Item>,
    pub cases: Vec<CaseRef>,
    pub channel: Option<ChannelRef>,
    pub legal_basis: String,
    pub deadline_override: Option<OffsetDateTime>,
    pub follows: Option<NoticeId>,
    /// For a reminder: the kind of the notice at the root of what it follows.
    pub reminds_kind: Option<NoticeKind>,
    pub service: Option<Service>,
    pub replies: Vec<WholeReply>,
    pub closure: Option<Closure>,
    pub created_by: String,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
}

pub use doxwatch_kit::as_at::AsAt;

impl Item {
    /// The latest answer about the item as at a moment.
    pub fn reply_as_at(&self, t: AsAt) -> Option<&ItemReply> {
        self.replies
            .iter()
            .filter(|r| t.sees(r.received_at, r.record_time))
            .max_by_key(|r| (r.received_at, r.record_time))
    }
}

impl Notice {
    pub fn served_as_at(&self, t: AsAt) -> Option<&Service> {
        self.service.as_ref().filter(|s| t.sees(s.served_at, s.record_time))
    }

    /// The status as at a moment: NO_REPLY is derived from the deadline.
    pub fn status_as_at(&self, t: AsAt) -> NoticeStatus {
        if self.closure.is_some_and(|c| t.sees(c.closed_at, c.record_time)) {
            return NoticeStatus::Closed;
        }
        let Some(service) = self.served_as_at(t) else { return NoticeStatus::Draft };
        if self.replies_as_at(t).next().is_some() {
            return NoticeStatus::Replied;
        }
        if service.deadline < t.at { NoticeStatus::NoReply } else { NoticeStatus::Served }
    }

    /// The replies received as at a moment.
    pub fn replies_as_at(&self, t: AsAt) -> impl Iterator<Item = &WholeReply> {
        self.replies.iter().filter(move |r| t.sees(r.received_at, r.record_time))
    }

    /// Served, deadline passed, and something still unanswered (an item without an answer, or a
    /// notice without items that got no reply), as at a moment.
    pub fn is_overdue(&self, t: AsAt) -> bool {
        if self.status_as_at(t) == NoticeStatus::Closed {
            return false;
        }
        let Some(service) = self.served_as_at(t) else { return false };
        let unanswered = if self.items.is_empty() {
            self.replies_as_at(t).next().is_none()
        } else {
            self.items.iter().any(|i| i.reply_as_at(t).is_none())
        };
        service.deadline < t.at && unanswered
    }

    /// Every outcome given as at a moment: each item's latest, and for a notice without items the
    /// latest reply's.
    pub fn outcomes_as_at(&self, t: AsAt) -> Vec<ReplyOutcome> {
        if self.items.is_empty() {
            return self
                .replies_as_at(t)
                .max_by_key(|r| (r.received_at, r.record_time))
                .and_then(|r| r.outcome)
                .into_iter()
                .collect();
        }
        self.items.iter().filter_map(|i| i.reply_as_at(t).map(|r| r.outcome)).collect()
    }

    /// Items still outstanding now: never answered, or answered without settling.
    pub fn outstanding(&self, t: AsAt) -> Vec<&Item> {
        self.items.iter().filter(|i| !i.reply_as_at(t).is_some_and(|r| r.outcome.settles())).collect()
    }

    /// Whether serving the notice asks the platform to remove content, so that link-tracking
    /// records removal requests: removal requests, cessation notices, and reminders of either.
    pub fn asks_removal(&self) -> bool {
        match self.kind {
            NoticeKind::RemovalRequest | NoticeKind::CessationNotice => true,
            NoticeKind::Reminder => {
                matches!(self.reminds_kind, Some(NoticeKind::RemovalRequest | NoticeKind::CessationNotice))
            }
            _ => false,
        }
    }

    /// Whether the notice counts among the published "letters": removal requests, cessation
    /// notices and their reminders.
    pub fn is_letter(&self) -> bool {
        self.asks_removal()
    }
}

/// Why a notice's content is refused.
pub fn check_content(
    kind: NoticeKind,
    items: &[(LinkRef, NoticeAction)],
    channel: Option<ChannelRef>,
) -> Result<(), String> {
    if items.is_empty() {
        let channel_notice =
            matches!(kind, NoticeKind::DisclosureRequest | NoticeKind::InjunctionNotice) && channel.is_some();
        if !channel_notice {
            return Err("a notice needs at least one item (only a disclosure request or injunction notice about a channel may have none)".to_owned());
        }
    }
    if items.len() > MAX_ITEMS {
        return Err(format!("at most {MAX_ITEMS} items"));
    }
    Ok(())
}

/// How long a platform has to comply, per kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompliancePeriods(pub std::collections::BTreeMap<NoticeKind, time::Duration>);

impl Default for CompliancePeriods {
    fn default() -> Self {
        let days = |d| time::Duration::days(d);
        Self(
            [
                (NoticeKind::RemovalRequest, days(14)),
                (NoticeKind::CessationNotice, days(14)),
                (NoticeKind::DisclosureRequest, days(14)),
                (NoticeKind::WarningPostRequest, days(7)),
                (NoticeKind::InjunctionNotice, days(7)),
                (NoticeKind::Reminder, days(7)),
                (NoticeKind::Summons, days(14)),
            ]
            .into_iter()
            .collect(),
        )
    }
}

impl CompliancePeriods {
    pub fn deadline(&self, kind: NoticeKind, served_at: OffsetDateTime) -> OffsetDateTime {
        served_at + self.0.get(&kind).copied().unwrap_or(time::Duration::days(14))
    }
}

/// A platform's contact details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformContact {
    pub platform: PlatformRef,
    pub legal_entity: String,
    pub jurisdiction: String,
    pub email: String,
    pub postal_address: String,
    pub web_form_url: String,
    pub in_app: String,
    pub language: Language,
    pub accepted_service_before: bool,
    pub notes: String,
    pub update_time: OffsetDateTime,
    pub updated_by: String,
}

/// One entry of a notice's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeEvent {
    pub kind: NoticeEventKind,
    pub actor: String,
    pub occurred_at: OffsetDateTime,
    pub record_time: OffsetDateTime,
    pub note: String,
}
