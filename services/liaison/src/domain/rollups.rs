//! The correspondence figures as sums of changes (see [`doxwatch_kit::rollup`]), so that
//! statistics need not read every notice.
//!
//! A notice's keys as at T, recorded before R, are what [`tally`] counts of it alone: so the sums
//! agree with the direct computation by construction, and the property test checks the rest (the
//! moments and record times at which they change). Every key is counted in the notice's
//! platform; drafts count in the totals only, as `tally` counts them. The first and last moments
//! of service of each kind are not sums: the store seeks them, per platform and kind served, among
//! the notices' moments of service (see `store::rollups::figures`).

use std::collections::{BTreeMap, BTreeSet};

use doxwatch_kit::rollup::{self, History, State, Timeline};
use time::{Duration, OffsetDateTime};

use super::*;

/// What a point counts; stored as its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// Notices of the kind `value` served.
    Served = 1,
    /// Letters sent.
    Letters = 2,
    /// Notices overdue.
    Overdue = 3,
    /// Answers with the outcome `value`.
    Outcome = 4,
    /// Disclosure requests: `value` 1 sent, 2 answered, 3 refused, 4 unanswered.
    Disclosure = 5,
    /// Notices of the kind `value` in draft.
    Drafted = 6,
    // 7 was a notice's moment of service, one value per notice; migration 0009 removed it.
}

impl From<Measure> for i64 {
    fn from(m: Measure) -> i64 {
        m as i64
    }
}

impl Measure {
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => Self::Served,
            2 => Self::Letters,
            3 => Self::Overdue,
            4 => Self::Outcome,
            5 => Self::Disclosure,
            6 => Self::Drafted,
            _ => return None,
        })
    }
}

/// A measure and its value.
pub type Key = (Measure, i64);

/// Changes keyed by (record time, business time, (measure, value)).
pub type Points = rollup::Points<Key>;

/// One notice, whole, as its figures read it.
pub struct NoticeHistory<'a>(pub &'a Notice);

/// What one notice counts for as at `t`: what [`tally`] counts of it alone. A notice counts once
/// it was recorded before the cut, as the direct computation reads notices.
fn state(notice: &Notice, t: AsAt) -> State<Key> {
    let mut s = State::new();
    if notice.create_time >= t.recorded_before_or_max() {
        return s;
    }
    let f = tally(std::slice::from_ref(notice), t).total;
    let mut add = |key: Key, n: i64| {
        if n != 0 {
            *s.entry(key).or_default() += n;
        }
    };
    for (kind, n) in &f.drafted_by_kind {
        add((Measure::Drafted, kind.code().into()), *n);
    }
    for (kind, n) in &f.served_by_kind {
        add((Measure::Served, kind.code().into()), *n);
    }
    add((Measure::Letters, 0), f.letters_sent);
    add((Measure::Overdue, 0), f.overdue);
    for (outcome, n) in &f.replies_by_outcome {
        add((Measure::Outcome, outcome.code().into()), *n);
    }
    let d = &f.disclosure;
    for (value, n) in [(1, d.sent), (2, d.answered), (3, d.refused), (4, d.unanswered)] {
        add((Measure::Disclosure, value), n);
    }
    s
}

impl History for NoticeHistory<'_> {
    type Key = Key;

    fn record_times(&self) -> BTreeSet<OffsetDateTime> {
        let n = self.0;
        let mut times = BTreeSet::from([n.create_time]);
        times.extend(n.service.map(|s| s.record_time));
        times.extend(n.closure.map(|c| c.record_time));
        times.extend(n.replies.iter().map(|r| r.record_time));
        times.extend(n.items.iter().flat_map(|i| i.replies.iter().map(|r| r.record_time)));
        times
    }

    fn timeline(&self, recorded_before: OffsetDateTime) -> Timeline<Key> {
        let n = self.0;
        // Every business moment at which what the notice counts for can change: its creation (a
        // draft is dated by it), its service and the moment after its deadline, its closure, and
        // each answer.
        let mut moments = BTreeSet::from([n.create_time]);
        if let Some(s) = n.service {
            moments.extend([s.served_at, s.deadline + Duration::MICROSECOND]);
        }
        moments.extend(n.closure.map(|c| c.closed_at));
        moments.extend(n.replies.iter().map(|r| r.received_at));
        moments.extend(n.items.iter().flat_map(|i| i.replies.iter().map(|r| r.received_at)));
        let cut = |at| AsAt { at, recorded_before: Some(recorded_before) };
        rollup::timeline(moments, |t| state(n, cut(t)))
    }
}

/// The first and last moments of service as at a cut, per platform and kind served.
pub type ServiceMoments = BTreeMap<(PlatformRef, NoticeKind), (OffsetDateTime, OffsetDateTime)>;

/// The figures from summed points, (platform, measure, value, sum) for each that is not zero, and
/// the moments of service of the platforms and kinds served (`moments`), as [`tally`] gives them
/// of the notices behind them.
pub fn figures(
    sums: impl IntoIterator<Item = (PlatformRef, Measure, i64, i64)>,
    moments: &ServiceMoments,
) -> LiaisonFigures {
    let mut total = CorrespondenceFigures::default();
    let mut by_platform: BTreeMap<PlatformRef, CorrespondenceFigures> = BTreeMap::new();
    for (platform, measure, value, n) in sums {
        add(&mut total, measure, value, n);
        if measure != Measure::Drafted {
            add(by_platform.entry(platform).or_default(), measure, value, n);
        }
    }
    by_platform.retain(|_, f| f.notices_served > 0);
    for (&(platform, kind), &(first, last)) in moments {
        let Some(f) = by_platform.get_mut(&platform) else { continue };
        let Some(&notices) = f.served_by_kind.get(&kind).filter(|n| **n > 0) else { continue };
        let platforms = BTreeSet::from([platform]);
        f.service_by_kind
            .insert(kind, KindService { notices, platforms, first_served_at: first, last_served_at: last });
        let all = total.served_by_kind.get(&kind).copied().unwrap_or_default();
        let service = total.service_by_kind.entry(kind).or_insert_with(|| KindService {
            notices: all,
            platforms: BTreeSet::new(),
            first_served_at: first,
            last_served_at: last,
        });
        service.platforms.insert(platform);
        service.first_served_at = service.first_served_at.min(first);
        service.last_served_at = service.last_served_at.max(last);
    }
    LiaisonFigures { platforms_written_to: by_platform.len() as i64, total, by_platform }
}

fn add(f: &mut CorrespondenceFigures, measure: Measure, value: i64, n: i64) {
    let code = i32::try_from(value).ok();
    match measure {
        Measure::Served => {
            if let Some(kind) = code.and_then(NoticeKind::from_code) {
                *f.served_by_kind.entry(kind).or_default() += n;
                f.notices_served += n;
            }
        }
        Measure::Letters => f.letters_sent += n,
        Measure::Overdue => f.overdue += n,
        Measure::Outcome => {
            if let Some(outcome) = code.and_then(ReplyOutcome::from_code) {
                *f.replies_by_outcome.entry(outcome).or_default() += n;
            }
        }
        Measure::Disclosure => match value {
            1 => f.disclosure.sent += n,
            2 => f.disclosure.answered += n,
            3 => f.disclosure.refused += n,
            4 => f.disclosure.unanswered += n,
            _ => {}
        },
        Measure::Drafted => {
            if let Some(kind) = code.and_then(NoticeKind::from_code) {
                *f.drafted_by_kind.entry(kind).or_default() += n;
            }
        }
    }
}
