//! Correspondence figures as at a moment: notices served by kind, the published "letters",
//! overdue notices, replies by outcome, and disclosure requests answered, refused or unanswered.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::*;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisclosureFigures {
    pub sent: i64,
    pub answered: i64,
    pub refused: i64,
    pub unanswered: i64,
}

/// How the notices of one kind were served: how many, on which platforms, first and last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindService {
    pub notices: i64,
    pub platforms: BTreeSet<PlatformRef>,
    pub first_served_at: OffsetDateTime,
    pub last_served_at: OffsetDateTime,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrespondenceFigures {
    pub notices_served: i64,
    pub served_by_kind: BTreeMap<NoticeKind, i64>,
    pub letters_sent: i64,
    pub overdue: i64,
    pub replies_by_outcome: BTreeMap<ReplyOutcome, i64>,
    pub disclosure: DisclosureFigures,
    /// Each kind served at least once.
    pub service_by_kind: BTreeMap<NoticeKind, KindService>,
    /// Notices in draft as at the moment, per kind.
    pub drafted_by_kind: BTreeMap<NoticeKind, i64>,
}

impl CorrespondenceFigures {
    /// A notice created by `t` (a draft is dated by its creation) and neither served nor closed
    /// by then.
    fn add_draft(&mut self, notice: &Notice, t: AsAt) {
        if t.sees(notice.create_time, notice.create_time) && notice.status_as_at(t) == NoticeStatus::Draft {
            *self.drafted_by_kind.entry(notice.kind).or_default() += 1;
        }
    }

    fn add(&mut self, notice: &Notice, t: AsAt) {
        let Some(service) = notice.served_as_at(t) else { return };
        let served_at = service.served_at;
        let kind = self.service_by_kind.entry(notice.kind).or_insert_with(|| KindService {
            notices: 0,
            platforms: BTreeSet::new(),
            first_served_at: served_at,
            last_served_at: served_at,
        });
        kind.notices += 1;
        kind.platforms.insert(notice.platform);
        kind.first_served_at = kind.first_served_at.min(served_at);
        kind.last_served_at = kind.last_served_at.max(served_at);
        self.notices_served += 1;
        *self.served_by_kind.entry(notice.kind).or_default() += 1;
        if notice.is_letter() {
            self.letters_sent += 1;
        }
        if notice.is_overdue(t) {
            self.overdue += 1;
        }
        let outcomes = notice.outcomes_as_at(t);
        for outcome in &outcomes {
            *self.replies_by_outcome.entry(*outcome).or_default() += 1;
        }
        if notice.kind == NoticeKind::DisclosureRequest {
            self.disclosure.sent += 1;
            if outcomes.contains(&ReplyOutcome::DataProvided) {
                self.disclosure.answered += 1;
            } else if notice.replies_as_at(t).next().is_some() {
                self.disclosure.refused += 1;
            } else {
                self.disclosure.unanswered += 1;
            }
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiaisonFigures {
    pub platforms_written_to: i64,
    pub total: CorrespondenceFigures,
    pub by_platform: BTreeMap<PlatformRef, CorrespondenceFigures>,
}

pub fn tally(notices: &[Notice], t: AsAt) -> LiaisonFigures {
    let mut figures = LiaisonFigures::default();
    for notice in notices {
        if notice.served_as_at(t).is_none() {
            // Drafts count in the totals only: a platform is "written to" once it is served.
            figures.total.add_draft(notice, t);
            continue;
        }
        figures.total.add(notice, t);
        figures.by_platform.entry(notice.platform).or_default().add(notice, t);
    }
    figures.platforms_written_to = figures.by_platform.len() as i64;
    figures
}
