//! Charts drawn from the system's own figures: the whole suite on fresh stores, a small scenario
//! loaded through the public APIs, the statistics asked as at every week of its span, and the
//! charts drawn from them as SVG and as PNG.

use std::path::Path;

use doxwatch_report::{
    chart::{self, Removals},
    load, plan,
    scenario::Scenario,
};
use doxwatch_suite_tests::{Suite, SuiteStores};

const SMALL: &str = include_str!("../../examples/scenarios/small.toml");

/// An SVG document whose root is <svg> and that has every title given.
fn assert_svg(path: &Path, titles: &[String]) {
    let text = std::fs::read_to_string(path).unwrap();
    let body = text.trim_start();
    let body = if body.starts_with("<?xml") { body[body.find("?>").unwrap() + 2..].trim_start() } else { body };
    assert!(body.starts_with("<svg"), "{}", &body[..body.len().min(80)]);
    assert!(body.trim_end().ends_with("</svg>"));
    for title in titles {
        assert!(text.contains(title.as_str()), "{title} is not in {}", path.display());
    }
}

/// A PNG with a header chunk giving a plausible size, and an end.
fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert!(width >= 800 && height >= 800, "{width}x{height}");
    assert_eq!(&bytes[bytes.len() - 8..bytes.len() - 4], b"IEND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charts_are_drawn_from_the_figures_over_a_scenario_s_span() {
    let checked = Scenario::parse(SMALL).unwrap().check().expect("small.toml is consistent");
    let plan = plan::generate(&checked);
    let stores = SuiteStores::sqlite();
    let suite = Suite::start(&stores).await;
    let endpoints = suite.endpoints();
    load::load(&checked, &plan, &endpoints, &load::Quiet).await.expect("the scenario loads");

    let series =
        chart::series(&endpoints, checked.first_case, checked.as_of, time::Duration::days(7)).await.expect("a series");
    // Weekly from the first case's day, and the last as at the scenario's moment.
    assert_eq!(series.snapshots.len(), 11);
    let (first, last) = (&series.snapshots[0], &series.snapshots[series.snapshots.len() - 1]);
    assert_eq!((first.at, last.at), (checked.first_case, checked.as_of));
    assert_eq!(first.cases.total(), 0);
    assert_eq!(last.cases.total(), 120);
    assert_eq!(last.cases.enquiries, 12);
    assert_eq!(last.cases.complaints + last.cases.patrol_discoveries + last.cases.agency_referrals, 108);
    assert_eq!(last.removals, Removals { requested: 60, removed: 45 });
    // Figures only grow, and no more links are removed than were asked to be.
    for pair in series.snapshots.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert!(after.cases.total() >= before.cases.total());
        assert!(
            after.removals.requested >= before.removals.requested && after.removals.removed >= before.removals.removed
        );
        assert!(after.removals.removed <= after.removals.requested);
    }
    // A line per platform written to, the most active first.
    let platforms = series.platforms();
    assert_eq!(platforms.len(), 4, "{platforms:?}");
    assert_eq!(last.by_platform[platforms[0].0], Removals { requested: 36, removed: 26 });

    let dir = tempfile::tempdir().unwrap();
    let (svg, png) = (dir.path().join("small.svg"), dir.path().join("small.png"));
    chart::draw(&series, &svg).expect("an SVG chart");
    chart::draw(&series, &png).expect("a PNG chart");
    let titles = chart::panel_titles(&series);
    assert_svg(&svg, &titles);
    assert!(
        std::fs::read_to_string(&svg).unwrap().contains(platforms[0].1),
        "the most active platform is in the legend"
    );
    assert_png(&png);
    suite.stop().await;
}
