//! Retention: how long a closed case's personal data is kept, by the case's kind and the reason
//! it was closed (PDPO DPP2(2): no longer than necessary), and the sweep that erases a case once
//! its period has passed, as EraseCase would, through the same path.

use std::{collections::HashMap, time::Duration};

use doxwatch_kit::{actor::Actor, audit, config::Layers, timestamp};
use time::OffsetDateTime;
use tokio::sync::watch;

use crate::{
    domain::*,
    service::Intake,
    store::{self, ClosedCase},
};

/// The configuration keys intake reads beside the kit's.
pub const CONFIG_KEYS: &[&str] = &["retention", "retention_sweep_ms"];

/// How long the personal data of a closed (or answered) case is kept after it was closed: by kind
/// and closure reason, else by kind. A kind without a period is kept until a supervisor erases it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPeriods {
    by_kind: HashMap<CaseKind, time::Duration>,
    by_reason: HashMap<(CaseKind, ClosureReason), time::Duration>,
}

/// The longest period accepted, in days (a hundred years).
const MAX_DAYS: i64 = 36_500;

fn kind_key(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Complaint => "complaint",
        CaseKind::Enquiry => "enquiry",
        CaseKind::PatrolDiscovery => "patrol_discovery",
        CaseKind::AgencyReferral => "agency_referral",
    }
}

fn reason_key(reason: ClosureReason) -> &'static str {
    match reason {
        ClosureReason::NoPrimaFacieCase => "no_prima_facie_case",
        ClosureReason::Withdrawn => "withdrawn",
        ClosureReason::Resolved => "resolved",
        ClosureReason::Duplicate => "duplicate",
        ClosureReason::OutsideJurisdiction => "outside_jurisdiction",
    }
}

impl RetentionPeriods {
    /// Reads `kind=DAYS` and `kind/reason=DAYS` entries, comma-separated, e.g.
    /// `enquiry=365, complaint=2555, complaint/duplicate=90`; names as in the protos, in lower
    /// case. Every bad entry is reported.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut periods = Self::default();
        let mut problems = Vec::new();
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match periods.add(entry) {
                Ok(()) => {}
                Err(why) => problems.push(format!("{entry:?}: {why}")),
            }
        }
        if problems.is_empty() { Ok(periods) } else { Err(problems.join("; ")) }
    }

    fn add(&mut self, entry: &str) -> Result<(), String> {
        let (key, days) = entry.split_once('=').ok_or("expected KIND[/REASON]=DAYS")?;
        let days: i64 = days.trim().parse().map_err(|_| format!("{:?} is not a number of days", days.trim()))?;
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(format!("the period must be 1 to {MAX_DAYS} days"));
        }
        let period = time::Duration::days(days);
        let (kind, reason) = match key.trim().split_once('/') {
            Some((kind, reason)) => (kind.trim(), Some(reason.trim())),
            None => (key.trim(), None),
        };
        let kind = CaseKind::ALL.iter().copied().find(|k| kind_key(*k) == kind).ok_or_else(|| {
            format!("{kind:?} is not a case kind (complaint, enquiry, patrol_discovery, agency_referral)")
        })?;
        let previous = match reason {
            None => self.by_kind.insert(kind, period),
            Some(reason) => {
                let reason =
                    ClosureReason::ALL.iter().copied().find(|r| reason_key(*r) == reason).ok_or_else(|| {
                        format!(
                            "{reason:?} is not a closure reason (no_prima_facie_case, withdrawn, resolved, duplicate, \
                         outside_jurisdiction)"
                        )
                    })?;
                self.by_reason.insert((kind, reason), period)
            }
        };
        match previous {
            None => Ok(()),
            Some(_) => Err("given twice".to_owned()),
        }
    }

    /// How long a case of `kind` closed for `reason` is kept; `None` if it is kept until erased.
    pub fn period(&self, kind: CaseKind, reason: Option<ClosureReason>) -> Option<time::Duration> {
        reason.and_then(|r| self.by_reason.get(&(kind, r)).copied()).or_else(|| self.by_kind.get(&kind).copied())
    }

    pub fn is_empty(&self) -> bool {
        self.by_kind.is_empty() && self.by_reason.is_empty()
    }

    /// When `case`'s personal data is due for erasure, if it ever is.
    pub fn due(&self, case: &ClosedCase) -> Option<OffsetDateTime> {
        self.period(case.kind, case.closure_reason).and_then(|p| case.closed_at.checked_add(p))
    }
}

/// Intake's own configuration keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeConfig {
    pub retention: RetentionPeriods,
    /// How often the retention sweep looks for cases whose period has passed.
    pub sweep_every: Duration,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self { retention: RetentionPeriods::default(), sweep_every: Duration::from_secs(3600) }
    }
}

impl IntakeConfig {
    pub fn from_layers(layers: &mut Layers) -> Self {
        let defaults = Self::default();
        Self {
            retention: layers.get_with("retention", defaults.retention, RetentionPeriods::parse),
            sweep_every: layers.get_millis(
                "retention_sweep_ms",
                defaults.sweep_every,
                Duration::from_millis(100),
                Duration::from_secs(86_400),
            ),
        }
    }
}

/// Cases looked at per transaction of the sweep.
const SWEEP_BATCH: u32 = 500;

impl Intake {
    /// Erases every closed case whose retention period has passed by `now`; returns how many.
    pub async fn sweep_retention(
        &self,
        periods: &RetentionPeriods,
        now: OffsetDateTime,
    ) -> Result<usize, crate::error::IntakeError> {
        if periods.is_empty() {
            return Ok(0);
        }
        let context = audit::Context {
            identity: "internal".into(),
            method: "retention sweep".into(),
            purpose: "the case's retention period has passed".into(),
            ..audit::Context::default()
        };
        let actor = Actor::Service("intake");
        let mut erased = 0;
        let mut after = None;
        loop {
            let batch = {
                let mut tx = self.db().begin_read().await?;
                store::closed_cases_not_erased(&mut tx, after, SWEEP_BATCH).await?
            };
            let Some(last) = batch.last() else { break };
            after = Some(last.id);
            for case in batch.iter().filter(|c| periods.due(c).is_some_and(|due| due <= now)) {
                audit::scoped(context.clone(), self.erase_case(&actor, case.id, None, |_| ())).await?;
                erased += 1;
            }
        }
        Ok(erased)
    }
}

/// Runs the retention sweep every `every` until `stop` turns true.
pub async fn sweep(intake: Intake, periods: RetentionPeriods, every: Duration, mut stop: watch::Receiver<bool>) {
    if periods.is_empty() {
        return;
    }
    loop {
        match intake.sweep_retention(&periods, timestamp::now()).await {
            Ok(0) => {}
            Ok(erased) => tracing::info!(erased, "retention periods passed: cases erased"),
            Err(e) => {
                tracing::warn!(error = %doxwatch_kit::error::CauseChain(&e), "the retention sweep failed; it runs again later")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopping| *stopping) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_by_kind_and_reason_with_every_bad_entry_reported() {
        let p = RetentionPeriods::parse("enquiry=365, complaint=2555, complaint/duplicate=90").unwrap();
        let days = |d: i64| Some(time::Duration::days(d));
        assert_eq!(p.period(CaseKind::Complaint, Some(ClosureReason::Duplicate)), days(90));
        assert_eq!(p.period(CaseKind::Complaint, Some(ClosureReason::Resolved)), days(2555));
        assert_eq!(p.period(CaseKind::Enquiry, None), days(365));
        assert_eq!(p.period(CaseKind::PatrolDiscovery, Some(ClosureReason::Resolved)), None);
        assert!(RetentionPeriods::parse("").unwrap().is_empty());
        let err = RetentionPeriods::parse(
            "letter=3, complaint=0, complaint/lost=4, enquiry, enquiry=x, patrol_discovery=1, patrol_discovery=2",
        )
        .unwrap_err();
        for part in [
            "\"letter\" is not a case kind",
            "1 to 36500 days",
            "\"lost\" is not a closure reason",
            "expected KIND",
            "not a number",
            "given twice",
        ] {
            assert!(err.contains(part), "{part}: {err}");
        }
    }
}
