//! Published reports as an officer meets them: `report publish` keeps the figures with the moment
//! they were computed for, `report publications` lists them as published, and the report asked
//! again as recorded before that moment gives the same figures.

mod common;

use common::Suite;
use serde_json::Value;

const SMALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scenarios/small.toml");
const NOON: &str = "2019-08-16T12:00:00+08:00";

fn figure(publication: &Value, name: &str) -> i64 {
    publication["figures"][name].as_i64().unwrap_or_else(|| panic!("no figure {name} in {publication:#}"))
}

#[test]
fn a_published_report_is_kept_and_reads_back_as_published() {
    let suite = Suite::start();
    let loaded = suite.run(&["scenario", "load", SMALL]);
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));

    let published = suite.json(&["report", "publish", "--as-of", NOON]);
    assert_eq!(published["reference"], "PUB-2019-000001", "{published:#}");
    assert_eq!(published["published_by"], common::OFFICER);
    assert_eq!(figure(&published, "cases.total"), 120);
    let recorded_before = published["recorded_before"].as_str().expect("recorded_before").to_owned();

    // The same moment asked again gives the figures as published.
    let report = suite.json(&["report", "--as-of", NOON, "--recorded-before", &recorded_before]);
    assert_eq!(figure(&published, "cases.total"), report["cases"]["total"].as_i64().unwrap_or(-1));
    assert_eq!(figure(&published, "liaison.links_removed"), report["liaison"]["links_removed"].as_i64().unwrap_or(-1));
    assert_eq!(figure(&published, "links.suspended_channels"), 1, "counted, never named");
    let text = published.to_string();
    assert!(!text.contains("channels/") && !text.contains('@'), "no channel in a publication: {text}");

    let listed = suite.json(&["report", "publications"]);
    assert_eq!(listed, Value::Array(vec![published.clone()]), "kept by the system as published");

    // A moment ahead of now is refused before anything is computed or kept.
    let ahead = suite.run(&["report", "publish", "--as-of", "2999-01-01T00:00:00Z"]);
    let said = String::from_utf8_lossy(&ahead.stderr);
    assert!(!ahead.status.success() && said.contains("--as-of") && said.contains("later than now"), "{said}");
    assert_eq!(suite.json(&["report", "publications"]), Value::Array(vec![published]), "nothing more was kept");
    suite.stop();
}
