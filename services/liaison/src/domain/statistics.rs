//! Correspondence figures as at a moment: notices served by kind, the published "letters",
//! overdue notices, replies by outcome, and disclosure requests answered, refused or unanswered.

use std::collections::BTreeMap;

use super::*;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisclosureFigures {
    pub sent: i64,
    pub answered: i64,
    pub refused: i64,
    pub unanswered: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorrespondenceFigures {
    pub notices_served: i64,
    pub served_by_kind: BTreeMap<NoticeKind, i64>,
    pub letters_sent: i64,
    pub overdue: i64,
    pub replies_by_outcome: BTreeMap<ReplyOutcome, i64>,
    pub disclosure: DisclosureFigures,
}

impl CorrespondenceFigures {
    fn add(&mut self, notice: &Notice, t: AsAt) {
        if notice.served_as_at(t).is_none() {
            return;
        }
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
            continue;
        }
        figures.total.add(notice, t);
        figures.by_platform.entry(notice.platform).or_default().add(notice, t);
    }
    figures.platforms_written_to = figures.by_platform.len() as i64;
    figures
}
