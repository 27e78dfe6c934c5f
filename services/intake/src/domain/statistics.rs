//! The intake figures as at a moment: cases by kind, by status, by kind and victim group (one
//! group per case), and by kind and data-subject category (a case once per category it touches).

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::{CaseId, CaseKind, CaseStatus, DataSubjectCategory, VictimGroup};

/// A case as it stood at the moment asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSnapshot {
    pub id: CaseId,
    pub kind: CaseKind,
    pub received_at: OffsetDateTime,
    pub status: CaseStatus,
    pub categories: BTreeSet<DataSubjectCategory>,
}

impl CaseSnapshot {
    pub fn victim_group(&self) -> VictimGroup {
        if self.categories.iter().any(|c| c.is_police_or_family()) {
            VictimGroup::PoliceAndFamilies
        } else {
            VictimGroup::Other
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntakeFigures {
    pub total: i64,
    pub by_kind: BTreeMap<CaseKind, i64>,
    pub by_status: BTreeMap<CaseStatus, i64>,
    pub by_kind_and_group: BTreeMap<(CaseKind, VictimGroup), i64>,
    pub by_kind_and_category: BTreeMap<(CaseKind, DataSubjectCategory), i64>,
    pub first_received_at: Option<OffsetDateTime>,
}

/// Counts the snapshots. Every kind, status and (kind, group) pair is present, zeros included.
pub fn tally(snapshots: &[CaseSnapshot]) -> IntakeFigures {
    let mut f = IntakeFigures::default();
    for kind in CaseKind::ALL {
        f.by_kind.insert(*kind, 0);
        for group in VictimGroup::ALL {
            f.by_kind_and_group.insert((*kind, *group), 0);
        }
    }
    for status in CaseStatus::ALL {
        f.by_status.insert(*status, 0);
    }
    for s in snapshots {
        f.total += 1;
        *f.by_kind.entry(s.kind).or_default() += 1;
        *f.by_status.entry(s.status).or_default() += 1;
        *f.by_kind_and_group.entry((s.kind, s.victim_group())).or_default() += 1;
        for category in &s.categories {
            *f.by_kind_and_category.entry((s.kind, *category)).or_default() += 1;
        }
        f.first_received_at = Some(match f.first_received_at {
            Some(t) if t <= s.received_at => t,
            _ => s.received_at,
        });
    }
    f
}
