//! The plan of the 2019 statement agrees with its figures, and spreads its events as a real
//! operation would.

use super::*;
use crate::scenario::Scenario;

#[test]
fn the_plan_agrees_with_every_figure_of_the_statement() {
    let text = include_str!("../../../../examples/scenarios/pcpd-2019-11-08.toml");
    let checked = Scenario::parse(text).unwrap().check().unwrap();
    let plan = generate(&checked);
    assert_eq!(plan.cases.len(), 4122);
    assert_eq!(plan.cases.iter().filter(|c| c.kind == Kind::Enquiry).count(), 332);
    let police = plan.cases.iter().filter(|c| c.subjects.iter().any(|s| POLICE.contains(s))).count();
    assert_eq!(police as i64, checked.police_cases);
    assert_eq!(plan.links.len(), 2433);
    let urls: std::collections::HashSet<&str> = plan.links.iter().map(|l| l.url.as_str()).collect();
    assert_eq!(urls.len(), 2433, "every planned link has its own URL");
    assert_eq!(plan.platforms.len(), 16);
    let letters = plan.notices.iter().filter(|n| n.kind.is_letter()).count();
    assert_eq!(letters, 113);
    let injunctions: Vec<&PlannedNotice> =
        plan.notices.iter().filter(|n| n.kind == NoticeKind::InjunctionNotice).collect();
    let served_to: std::collections::HashSet<usize> = injunctions.iter().map(|n| n.platform).collect();
    assert_eq!((injunctions.len(), served_to.len()), (14, 14));
    let first = injunctions.iter().map(|n| n.served_at).min().unwrap();
    assert_eq!(first, time::macros::datetime!(2019-10-28 10:00 +08:00));
    let mut asked: std::collections::HashSet<usize> = std::collections::HashSet::new();
    for n in plan.notices.iter().filter(|n| n.kind == NoticeKind::RemovalRequest) {
        asked.extend(n.links.iter().copied());
        assert!(n.served_at <= checked.as_of);
        for l in &n.links {
            assert!(plan.links[*l].first_seen < n.served_at, "asked after it was seen");
        }
    }
    assert_eq!(asked.len(), 2017);
    let written: std::collections::HashSet<usize> = plan.notices.iter().map(|n| n.platform).collect();
    assert_eq!(written.len(), 14);
    assert_eq!(plan.removals.len(), 1629);
    assert_eq!(plan.removals.iter().filter(|(l, _)| plan.links[*l].platform == 0).count(), 1102);
    assert!(plan.removals.iter().all(|(_, t)| *t <= checked.as_of));
    assert_eq!(plan.referrals.len(), 1298);
    assert!(plan.cases.iter().all(|c| c.received_at <= checked.as_of));
}

#[test]
fn events_are_spread_over_the_period_not_bunched_before_the_report() {
    let text = include_str!("../../../../examples/scenarios/pcpd-2019-11-08.toml");
    let checked = Scenario::parse(text).unwrap().check().unwrap();
    let plan = generate(&checked);
    let before = |minutes: i64| checked.as_of - time::Duration::minutes(minutes);
    let removed_late = plan.removals.iter().filter(|(_, t)| *t > before(30)).count();
    let referred_late = plan.referrals.iter().filter(|r| r.referred_at > before(60)).count();
    let requested_late = plan.notices.iter().filter(|n| n.kind.is_letter() && n.served_at > before(60)).count();
    eprintln!("late: {removed_late} removals, {referred_late} referrals, {requested_late} letters");
    assert!(removed_late <= plan.removals.len() / 100, "{removed_late} removals in the last half hour");
    assert!(referred_late <= plan.referrals.len() / 100, "{referred_late} referrals in the last hour");
    assert!(requested_late <= 2, "{requested_late} letters in the last hour");

    // Cases week by week: every week has some, and the weeks rise and fall rather than climb.
    let week = |t: time::OffsetDateTime| ((t - checked.first_case).whole_days() / 7) as usize;
    let weeks = week(checked.as_of) + 1;
    let mut per_week = vec![0_usize; weeks];
    for case in &plan.cases {
        per_week[week(case.received_at)] += 1;
    }
    eprintln!("cases per week: {per_week:?}");
    let full = &per_week[..weeks - 1];
    assert!(full.iter().all(|n| *n > 0), "{per_week:?}");
    let falls = full.windows(2).filter(|w| w[1] < w[0]).count();
    assert!(falls >= 4, "the weekly numbers only climb: {per_week:?}");
    let busiest = full.iter().max().copied().unwrap_or(0);
    let mean = plan.cases.len() / weeks;
    assert!(busiest < 3 * mean, "one week holds too many: {per_week:?}");

    // Removals follow their requests by days, not minutes.
    let asked: std::collections::HashMap<usize, time::OffsetDateTime> = plan
        .notices
        .iter()
        .filter(|n| n.kind == NoticeKind::RemovalRequest)
        .flat_map(|n| n.links.iter().map(move |l| (*l, n.served_at)))
        .fold(std::collections::HashMap::new(), |mut first, (l, t)| {
            first.entry(l).and_modify(|f: &mut time::OffsetDateTime| *f = (*f).min(t)).or_insert(t);
            first
        });
    let mut delays: Vec<i64> = plan.removals.iter().map(|(l, t)| (*t - asked[l]).whole_hours()).collect();
    delays.sort();
    let median = delays[delays.len() / 2];
    eprintln!("removal delay: median {median} h");
    assert!((24..=24 * 20).contains(&median), "median delay {median} h");
}
