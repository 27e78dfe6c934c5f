//! Published reports as an officer meets them: `report publish` keeps the figures with the moment
//! they were computed for, `report publications` lists them as published, the report asked again
//! as recorded before that moment gives the same figures, and `report revisions` explains, after a
//! backfill, exactly which figures moved and which records moved them.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::Suite;
use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

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

fn moment(value: &Value) -> OffsetDateTime {
    let text = value.as_str().unwrap_or_else(|| panic!("not a moment: {value}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The figures a publication keeps, of the report as it reads now.
fn figures_now(suite: &Suite) -> BTreeMap<String, i64> {
    let report = suite.json(&["report", "--as-of", NOON]);
    let report: doxwatch_report::report::Report = serde_json::from_value(report).expect("the report's JSON");
    doxwatch_report::publication::figures(&report)
}

#[test]
fn revisions_name_the_figures_a_backfill_moved_and_the_records_that_moved_them() {
    let suite = Suite::start();
    let loaded = suite.run(&["scenario", "load", SMALL]);
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    let published = suite.json(&["report", "publish", "--as-of", NOON]);
    let reference = published["reference"].as_str().expect("a reference").to_owned();
    let untouched = suite.run(&["report", "revisions", &reference]);
    let said = String::from_utf8_lossy(&untouched.stdout);
    assert!(untouched.status.success() && said.contains("no figure has moved"), "{said}");

    // The backfill: a complaint received a week before noon, and removals observed a minute
    // before noon, all entered after the report was published. Of the 35 links online at noon,
    // at most 20 were never asked to be removed, so some of these 21 were.
    let case = suite.json(&[
        "case",
        "create",
        "--kind",
        "complaint",
        "--received-at",
        "2019-08-09T10:00:00+08:00",
        "--summary",
        "A paper complaint entered late",
        "--subject",
        "police-officer:resident:Test Subject Backfilled",
    ]);
    let online = suite.json(&["link", "list", "--status", "online", "--as-of", NOON, "--all"]);
    let online: Vec<String> = online["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| l["name"].as_str().expect("a name").to_owned())
        .collect();
    assert_eq!(online.len(), 35, "the scenario's links online at noon");
    let mut observed = BTreeSet::new();
    for link in &online[..21] {
        let observation = suite.json(&[
            "link",
            "observe",
            link,
            "--status",
            "removed",
            "--source",
            "officer-check",
            "--observed-at",
            "2019-08-16T11:59:00+08:00",
        ]);
        observed.insert(observation["name"].as_str().expect("an observation's name").to_owned());
    }

    let revisions = suite.json(&["report", "revisions", &reference]);
    let now = figures_now(&suite);
    let as_published: BTreeMap<String, i64> =
        serde_json::from_value(published["figures"].clone()).expect("the published figures");
    let expected: BTreeSet<&String> =
        now.keys().chain(as_published.keys()).filter(|n| now.get(*n) != as_published.get(*n)).collect();
    let moved: BTreeMap<String, &Value> = revisions["moved"]
        .as_array()
        .expect("moved")
        .iter()
        .map(|r| (r["figure"].as_str().expect("a figure").to_owned(), r))
        .collect();
    assert_eq!(moved.keys().collect::<BTreeSet<_>>(), expected, "exactly the figures that moved: {revisions:#}");
    for name in ["cases.total", "cases.complaints", "victims.police_and_families", "liaison.links_removed"] {
        assert!(moved.contains_key(name), "{name} moved: {revisions:#}");
    }
    assert_eq!(
        (moved["cases.total"]["published"].as_i64(), moved["cases.total"]["now"].as_i64()),
        (Some(120), Some(121))
    );

    // Under the case counts, the backfilled case alone: which, when it happened, when and by whom
    // it was entered.
    let records = moved["cases.total"]["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{records:#?}");
    let record = &records[0];
    assert_eq!(
        (&record["record"], &record["reference"], &record["kind"]),
        (&case["name"], &case["reference"], &Value::from("case_received"))
    );
    assert_eq!(moment(&record["business_time"]), moment(&Value::from("2019-08-09T10:00:00+08:00")));
    assert_eq!(moment(&record["record_time"]), moment(&case["create_time"]));
    assert!(moment(&record["record_time"]) >= moment(&published["recorded_before"]));
    assert_eq!(record["recorded_by"], common::OFFICER);

    // Under the links removed, the 21 observations, each by the officer who entered it.
    let records = moved["liaison.links_removed"]["records"].as_array().expect("records");
    let names: BTreeSet<String> = records.iter().map(|r| r["record"].as_str().expect("a record").to_owned()).collect();
    assert_eq!(names, observed, "{records:#?}");
    assert!(
        records.iter().all(|r| r["kind"] == "link_observed" && r["recorded_by"] == common::OFFICER),
        "{records:#?}"
    );

    // The words say the same.
    let words = suite.run(&["report", "revisions", &reference.to_lowercase()]);
    let said = String::from_utf8_lossy(&words.stdout);
    let case_reference = case["reference"].as_str().expect("a case reference");
    assert!(words.status.success() && said.contains("cases.total: 120 published, 121 now"), "{said}");
    assert!(
        said.contains(&format!("case received {} {case_reference}", case["name"].as_str().unwrap_or_default())),
        "{said}"
    );

    // The publication itself did not change.
    assert_eq!(suite.json(&["report", "publications"]), Value::Array(vec![published]));
    let unknown = suite.run(&["report", "revisions", "PUB-2019-000009"]);
    let said = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success() && said.contains("there is no publication PUB-2019-000009"), "{said}");
    let malformed = suite.run(&["report", "revisions", "not-a-reference"]);
    let said = String::from_utf8_lossy(&malformed.stderr);
    assert!(!malformed.status.success() && said.contains("not-a-reference is not a publication"), "{said}");
    suite.stop();
}
