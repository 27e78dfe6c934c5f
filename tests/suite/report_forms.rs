//! The situation report's two forms, from the whole suite through the public APIs: the press-safe
//! default names platforms but no channel handle, in words, markdown or JSON; the internal form
//! names the suspended channel by its handle, for a role link-tracking lets read channels only.

use doxwatch_kit::{backend_tests, policy::Role, testing::credentials};
use doxwatch_report::{
    Endpoints, load, plan, render,
    report::{self, Form, ReportError},
    scenario::Scenario,
};
use doxwatch_suite_tests::{Suite, SuiteStores};

const SMALL: &str = include_str!("../../examples/scenarios/small.toml");

backend_tests!(the_press_safe_report_names_no_channel_and_the_internal_one_does);

fn as_officer(suite: &Suite, id: &str, roles: &[Role]) -> Endpoints {
    Endpoints { credentials: credentials(id, roles), ..suite.endpoints() }
}

async fn the_press_safe_report_names_no_channel_and_the_internal_one_does(stores: SuiteStores) {
    let checked = Scenario::parse(SMALL).unwrap().check().unwrap();
    let plan = plan::generate(&checked);
    let suite = Suite::start(&stores).await;
    load::load(&checked, &plan, &suite.endpoints(), &load::Quiet).await.expect("the scenario loads");
    let at = checked.as_of;

    // A supervisor may read channels: the internal form names the suspended one, and says it is
    // not for publication.
    let supervisor = as_officer(&suite, "officer-supervisor", &[Role::Supervisor]);
    let internal = report::gather_as(&supervisor, at, None, Form::Internal).await.expect("the internal report");
    assert_eq!(internal.form, Form::Internal);
    let handle = internal.links.suspended_channels[0].handle.clone().expect("the internal form names the channel");
    assert!(!handle.is_empty());
    let text = render::text(&internal);
    assert!(text.contains(&format!("Its channel {handle} has been suspended since 9 August 2019.")), "{text}");
    assert!(text.contains("Not for publication."), "{text}");
    assert!(render::markdown(&internal).contains(&handle));
    assert!(serde_json::to_string(&internal).unwrap().contains(&handle));

    // The press-safe form, for the same officer: the same figures, and the handle nowhere.
    let press = report::gather(&supervisor, at, None).await.expect("the press-safe report");
    let json = serde_json::to_string_pretty(&press).unwrap();
    let platform = press.liaison.most_active_platform.as_ref().expect("a most active platform").name.clone();
    for (format, out) in [("text", render::text(&press)), ("markdown", render::markdown(&press)), ("json", json)] {
        assert!(!out.contains(&handle), "the {format} report names {handle}:\n{out}");
        assert!(out.contains(&platform), "the {format} report does not name {platform}:\n{out}");
    }
    let text = render::text(&press);
    assert!(text.contains("One of its channels has been suspended since 9 August 2019."), "{text}");
    assert!(!text.contains("Not for publication."), "{text}");
    let mut unnamed = internal.clone();
    unnamed.form = Form::PressSafe;
    unnamed.links.suspended_channels.iter_mut().for_each(|c| c.handle = None);
    assert_eq!(press, unnamed);

    // Stated in the reader's zone: the same moment and the same suspension are noon on 16 August
    // and 9 August in Hong Kong, but 4 am on 16 August and 8 August in UTC (the channel was
    // suspended at midnight, Hong Kong time).
    let in_zone = |name: &'static str| {
        let supervisor = supervisor.clone();
        async move {
            let zone = jiff::tz::TimeZone::get(name).expect("a bundled zone");
            report::gather_in(&supervisor, at, None, Form::PressSafe, &zone).await
        }
    };
    let hong_kong = in_zone("Asia/Hong_Kong").await.expect("the report in Hong Kong");
    assert_eq!((&hong_kong.cases, &hong_kong.liaison), (&press.cases, &press.liaison));
    let words = render::text(&hong_kong);
    assert!(words.starts_with("Situation report as at noon, 16 August 2019 (HKT)\n"), "{words}");
    assert!(words.contains("As at noon, 16 August 2019 (HKT), 120 doxxing cases"), "{words}");
    assert!(words.contains("has been suspended since 9 August 2019."), "{words}");
    let utc = in_zone("UTC").await.expect("the report in UTC");
    assert_eq!((utc.as_of.as_str(), utc.time_zone.as_str()), ("2019-08-16T04:00:00Z", "UTC"));
    assert_eq!(utc.links.suspended_channels[0].suspended_since, "2019-08-08");
    let words = render::text(&utc);
    assert!(words.starts_with("Situation report as at 4 am, 16 August 2019 (UTC)\n"), "{words}");
    assert!(words.contains("has been suspended since 8 August 2019."), "{words}");
    assert_eq!(utc.cases, hong_kong.cases, "the zone moves words, not figures");

    // Roles that may not read channels get no internal form: link-tracking withholds the handles,
    // and the report says so instead of passing off the press-safe one.
    for (id, roles) in [("officer-reader", &[Role::ReportReader][..]), ("officer-operator", &[Role::Operator][..])] {
        let refused = report::gather_as(&as_officer(&suite, id, roles), at, None, Form::Internal).await;
        assert!(matches!(refused, Err(ReportError::HandlesWithheld)), "{id}: {refused:?}");
    }
    // The press-safe form is what a report reader, and an operator, get.
    for (id, role) in [("officer-operator", Role::Operator), ("officer-reader", Role::ReportReader)] {
        let report = report::gather(&as_officer(&suite, id, &[role]), at, None).await;
        assert_eq!(report.unwrap_or_else(|e| panic!("{id}'s report: {e}")), press);
    }
    suite.stop().await;
}
