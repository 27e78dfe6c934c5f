//! What a benchmark prints: its loads, its throughputs and raw baselines, the ratios against the
//! targets, the outbox's figures, and what the services cost, as a table or as JSON (`--json`).

use serde::Serialize;

use super::{
    load::{Percentiles, Phase},
    process::ServiceCost,
};

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub scenario: &'static str,
    /// "sqlite" or "postgres"; `None` for a scenario with no store of its own (noop).
    pub backend: Option<&'static str>,
    /// Open-model loads.
    pub loads: Vec<Phase>,
    /// Work measured as a count over a time: the service's, and the raw baselines'.
    pub throughputs: Vec<Throughput>,
    pub ratios: Vec<Ratio>,
    pub outbox: Option<OutboxFigures>,
    /// The statistics scenarios' figures, one per store size.
    pub sizes: Vec<SizeFigures>,
    pub services: Vec<ServiceCost>,
    pub notes: Vec<String>,
}

/// A count of work done over a time.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub label: String,
    /// Whether this is a raw baseline (the store or the transport alone) rather than doxwatch.
    pub baseline: bool,
    pub count: u64,
    pub seconds: f64,
    pub per_second: f64,
    /// What is counted, e.g. "rows", "calls", "URLs".
    pub unit: &'static str,
}

impl Throughput {
    /// The successful calls of an open-model load as a throughput of doxwatch.
    pub fn of_load(phase: &Phase, unit: &'static str) -> Self {
        Self::new(phase.label.clone(), false, phase.ok, phase.seconds, unit)
    }

    pub fn new(label: impl Into<String>, baseline: bool, count: u64, seconds: f64, unit: &'static str) -> Self {
        let seconds = seconds.max(1e-9);
        Self { label: label.into(), baseline, count, seconds, per_second: count as f64 / seconds, unit }
    }
}

/// A figure of doxwatch against a baseline or a fixed target.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    pub label: String,
    pub value: f64,
    /// The target, as the issue states it, e.g. "≥ 0.25".
    pub target: String,
    /// Whether the target is met; `None` where the figure has no target.
    pub met: Option<bool>,
}

impl Ratio {
    /// `value` against a floor (`at_least`) or a ceiling.
    pub fn at_least(label: impl Into<String>, value: f64, floor: f64) -> Self {
        Self { label: label.into(), value, target: format!("≥ {floor}"), met: Some(value >= floor) }
    }

    pub fn at_most(label: impl Into<String>, value: f64, ceiling: f64) -> Self {
        Self { label: label.into(), value, target: format!("≤ {ceiling}"), met: Some(value <= ceiling) }
    }
}

/// The intake outbox over a create-case run (GetOutboxStatus, sampled every second).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutboxFigures {
    pub pending_at_start: i64,
    pub pending_max: i64,
    pub pending_at_end_of_load: i64,
    /// Effects delivered per second while the load ran.
    pub drain_rate: f64,
    /// Cases created per second while the load ran (what the outbox has to keep up with).
    pub intake_rate: f64,
    /// The oldest pending effect's age at the end of the load, in seconds.
    pub oldest_pending_seconds: f64,
    /// How long after the load the outbox took to empty; `None` if it had not within the wait.
    pub seconds_to_empty_after_load: Option<f64>,
    pub rejected: i64,
}

/// A statistics read (GetLinkStatistics, GetIntakeStatistics) over one store size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeFigures {
    #[serde(flatten)]
    pub held: Held,
    /// How long growing the store to this size took, through the API.
    pub seed_seconds: f64,
    /// How long the service took, after the growth, to fold the points it added into the sums
    /// (`None`: not within the run's wait).
    pub fold_seconds: Option<f64>,
    pub queries: u64,
    pub latency_ms: Option<Percentiles>,
    /// p99 at this size over p99 at the smallest size.
    pub p99_ratio_to_smallest: Option<f64>,
    /// The size of one answer, in bytes (as encoded).
    pub answer_bytes: u64,
    /// Failed queries by gRPC code.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Each cut asked, with the median of its timed calls.
    pub cuts: Vec<CutFigures>,
    /// The situation report (`report --as-of`) at the same cuts, and its failures by kind.
    pub report_latency_ms: Option<Percentiles>,
    pub report_errors: std::collections::BTreeMap<String, u64>,
}

/// What the store held at one size, in its scenario's words: in the JSON, `links` and
/// `observations` (statistics), `cases` and `status_changes` (case-statistics), `notices` and
/// `replies` (notice-statistics), or `cases` and `referrals` (referral-statistics).
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub enum Held {
    Links { links: u64, observations: u64 },
    Cases { cases: u64, status_changes: u64 },
    Notices { notices: u64, replies: u64 },
    Assessed { cases: u64, referrals: u64 },
}

impl Held {
    /// The size and what else the store held, each with its column's name.
    fn columns(self) -> [(&'static str, u64); 2] {
        match self {
            Held::Links { links, observations } => [("links", links), ("observations", observations)],
            Held::Cases { cases, status_changes } => [("cases", cases), ("status changes", status_changes)],
            Held::Notices { notices, replies } => [("notices", notices), ("replies", replies)],
            Held::Assessed { cases, referrals } => [("cases assessed", cases), ("referrals", referrals)],
        }
    }

    /// The size in words, e.g. "2000 links".
    pub fn size(self) -> String {
        let [(unit, count), _] = self.columns();
        format!("{count} {unit}")
    }
}

/// One cut of a statistics read: as at, recorded before, and its median latency.
#[derive(Debug, Clone, Serialize)]
pub struct CutFigures {
    pub as_of: String,
    pub recorded_before: String,
    pub median_ms: f64,
}

impl Report {
    /// The report as JSON.
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// The report as tables.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let backend = self.backend.map(|b| format!(" on {b}")).unwrap_or_default();
        out += &format!("doxwatch bench {}{backend}\n", self.scenario);
        if !self.loads.is_empty() {
            out += &format!(
                "\n{:<40}{:>10}{:>11}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}  errors\n",
                "load", "offered/s", "achieved/s", "ok", "p50 ms", "p90 ms", "p99 ms", "p99.9", "max ms", "lag p99"
            );
            for p in &self.loads {
                let l =
                    |f: fn(&Percentiles) -> f64| p.latency_ms.as_ref().map_or("-".into(), |l| format!("{:.2}", f(l)));
                let errors = if p.errors.is_empty() {
                    "none".to_owned()
                } else {
                    p.errors.iter().map(|(code, n)| format!("{code} {n}")).collect::<Vec<_>>().join(", ")
                };
                out += &format!(
                    "{:<40}{:>10.0}{:>11.1}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9}{:>9.2}  {errors}\n",
                    p.label,
                    p.offered_rate,
                    p.achieved_rate,
                    p.ok,
                    l(|l| l.p50),
                    l(|l| l.p90),
                    l(|l| l.p99),
                    l(|l| l.p99_9),
                    l(|l| l.max),
                    p.send_lag_p99_ms
                );
            }
        }
        if !self.throughputs.is_empty() {
            out += &format!("\n{:<72}{:>12}{:>10}{:>14}\n", "throughput", "count", "seconds", "per second");
            for t in &self.throughputs {
                let label = if t.baseline { format!("raw: {}", t.label) } else { t.label.clone() };
                out += &format!("{label:<72}{:>12}{:>10.2}{:>14.1} {}/s\n", t.count, t.seconds, t.per_second, t.unit);
            }
        }
        out += &self.sizes_table();
        out += &self.outbox_table();
        if !self.ratios.is_empty() {
            out += &format!("\n{:<60}{:>12}  {:<10}met\n", "ratio or figure", "value", "target");
            for r in &self.ratios {
                let met = match r.met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "-",
                };
                out += &format!("{:<60}{:>12.3}  {:<10}{met}\n", r.label, r.value, r.target);
            }
        }
        out += &format!("\n{:<12}{:>12}{:>16}{:>16}\n", "service", "CPU s", "idle RSS MiB", "peak RSS MiB");
        for s in &self.services {
            let f = |v: Option<f64>, digits: usize| v.map_or("not measured".into(), |v| format!("{v:.digits$}"));
            out += &format!(
                "{:<12}{:>12}{:>16}{:>16}\n",
                s.service,
                f(s.cpu_seconds, 2),
                f(s.idle_rss_mib, 1),
                f(s.peak_rss_mib, 1)
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
        }
        for note in &self.notes {
            out += &format!("note: {note}\n");
        }
        out
    }

    fn sizes_table(&self) -> String {
        let Some(first) = self.sizes.first() else { return String::new() };
        let [(size, _), (also, _)] = first.held.columns();
        let mut out = format!(
            "\n{:>10}{:>16}{:>10}{:>10}{:>9}{:>9}{:>9}{:>9}{:>14}{:>12}  errors\n",
            size, also, "seed s", "fold s", "queries", "p50 ms", "p99 ms", "max ms", "p99 / first", "answer B"
        );
        for s in &self.sizes {
            let l = |f: fn(&Percentiles) -> f64| s.latency_ms.as_ref().map_or("-".into(), |l| format!("{:.1}", f(l)));
            let ratio = s.p99_ratio_to_smallest.map_or("-".into(), |r| format!("{r:.2}"));
            let errors = if s.errors.is_empty() {
                "none".to_owned()
            } else {
                s.errors.iter().map(|(code, n)| format!("{code} {n}")).collect::<Vec<_>>().join(", ")
            };
            let [(_, size), (_, also)] = s.held.columns();
            out += &format!(
                "{:>10}{:>16}{:>10.1}{:>10}{:>9}{:>9}{:>9}{:>9}{:>14}{:>12}  {errors}\n",
                size,
                also,
                s.seed_seconds,
                s.fold_seconds.map_or("-".into(), |f| format!("{f:.1}")),
                s.queries,
                l(|l| l.p50),
                l(|l| l.p99),
                l(|l| l.max),
                ratio,
                s.answer_bytes
            );
            for cut in &s.cuts {
                out += &format!(
                    "{:>10}  as at {}, recorded before {}: median {:.1} ms\n",
                    "", cut.as_of, cut.recorded_before, cut.median_ms
                );
            }
            if let Some(r) = &s.report_latency_ms {
                out += &format!(
                    "{:>10}  report --as-of at the same cuts (all four services): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms{}\n",
                    "",
                    r.p50,
                    r.p99,
                    r.max,
                    if s.report_errors.is_empty() { String::new() } else { format!("; errors {:?}", s.report_errors) }
                );
            }
        }
        out
    }

    fn outbox_table(&self) -> String {
        let Some(o) = &self.outbox else { return String::new() };
        let empty = o.seconds_to_empty_after_load.map_or("not within the wait".into(), |s| format!("{s:.1} s"));
        format!(
            "\nintake outbox: pending {} at start, {} at most, {} at the end of the load (oldest {:.1} s); \
             delivered {:.1}/s while cases arrived at {:.1}/s; empty {} after the load; {} rejected\n",
            o.pending_at_start,
            o.pending_max,
            o.pending_at_end_of_load,
            o.oldest_pending_seconds,
            o.drain_rate,
            o.intake_rate,
            empty,
            o.rejected
        )
    }
}
