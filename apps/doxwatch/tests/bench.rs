//! `doxwatch bench` in a tiny form: each scenario runs for seconds against the real services (its
//! own `doxwatch serve` processes), on SQLite and, when DATABASE_URL names a server, on
//! PostgreSQL, and its JSON report is checked for shape and for real figures: calls answered,
//! rates above zero, the raw baseline measured beside, errors counted, the services' CPU and
//! memory read. Never the speed: a benchmark does not pass or fail a test on its figures.

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_doxwatch");

/// The PostgreSQL server of this run, if any.
fn database_url() -> Option<String> {
    std::env::var("DATABASE_URL").ok().filter(|u| !u.trim().is_empty())
}

/// The backends to run on: SQLite (no flag), and PostgreSQL when configured.
fn backends() -> Vec<Vec<String>> {
    let mut all = vec![vec![]];
    if let Some(url) = database_url() {
        all.push(vec!["--database-url".to_owned(), url]);
    }
    all
}

/// Runs `doxwatch bench ARGS --json` in a fresh work directory and returns its report.
fn bench(args: &[String]) -> Value {
    let work = tempfile::tempdir().expect("a temporary directory");
    let out = Command::new(BIN)
        .arg("bench")
        .args(args)
        .arg("--json")
        .arg("--work-dir")
        .arg(work.path())
        .output()
        .expect("doxwatch runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "doxwatch bench {args:?} failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr:\n{stderr}", String::from_utf8_lossy(&out.stdout)));
    // The run leaves nothing behind: its CA, stores and logs went with it.
    let left: Vec<_> = std::fs::read_dir(work.path()).expect("the work directory").collect();
    assert!(left.is_empty(), "the run left {left:?} in its work directory");
    report
}

fn args(list: &[&str], backend: &[String]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).chain(backend.iter().cloned()).collect()
}

fn number(value: &Value, key: &str) -> f64 {
    value[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number in {value}"))
}

/// An open-model load that really ran: every call sent was answered or counted as an error, some
/// succeeded, and the latencies are ordered.
fn check_load(load: &Value) {
    let (sent, ok) = (number(load, "sent"), number(load, "ok"));
    let errors: f64 = load["errors"].as_object().expect("errors by code").values().filter_map(Value::as_f64).sum();
    assert!(ok > 0.0, "no call succeeded: {load}");
    assert_eq!(ok + errors, sent, "every call is answered or counted as an error: {load}");
    assert!(number(load, "achieved_rate") > 0.0 && number(load, "offered_rate") > 0.0, "{load}");
    let latency = &load["latency_ms"];
    let (p50, p99, max) = (number(latency, "p50"), number(latency, "p99"), number(latency, "max"));
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "latencies out of order: {latency}");
}

/// Each service's CPU time and memory were read (where there is a /proc to read them from).
fn check_services(report: &Value, names: &[&str]) {
    let services = report["services"].as_array().expect("services");
    let found: Vec<&str> = services.iter().filter_map(|s| s["service"].as_str()).collect();
    assert_eq!(found, names, "{report}");
    if std::path::Path::new("/proc/self/stat").exists() {
        for service in services {
            // The load's own client may spend less than a clock tick in a short run.
            let least = if service["service"] == "client" { 0.0 } else { f64::MIN_POSITIVE };
            assert!(number(service, "cpu_seconds") >= least, "{service}");
            assert!(number(service, "peak_rss_mib") >= number(service, "idle_rss_mib"), "{service}");
            assert!(number(service, "idle_rss_mib") > 1.0, "{service}");
        }
    }
}

/// The ratio labelled `label`, which must be there.
fn ratio<'a>(report: &'a Value, label: &str) -> &'a Value {
    let ratios = report["ratios"].as_array().expect("ratios");
    ratios.iter().find(|r| r["label"].as_str().is_some_and(|l| l.starts_with(label))).unwrap_or_else(|| {
        panic!("no ratio {label:?} in {report}");
    })
}

#[test]
fn noop_measures_the_full_stack_beside_the_bare_health_server() {
    let report = bench(&args(&["noop", "--rate", "200", "--duration", "1", "--connections", "2"], &[]));
    assert_eq!(report["scenario"], "noop");
    let loads = report["loads"].as_array().expect("loads");
    assert_eq!(loads.len(), 2, "the raw baseline and doxwatch: {report}");
    assert!(loads[0]["label"].as_str().is_some_and(|l| l.starts_with("raw")), "{report}");
    for load in loads {
        check_load(load);
        assert_eq!(number(load, "connections"), 2.0);
    }
    let versus = ratio(&report, "achieved at 200/s offered, doxwatch / raw");
    assert!(number(versus, "value") > 0.0, "{versus}");
    check_services(&report, &["links", "raw-health"]);
}

#[test]
fn create_case_measures_cases_the_commit_baseline_and_the_outbox() {
    for backend in backends() {
        let list = ["create-case", "--rate", "20", "--duration", "2", "--baseline-seconds", "1", "--drain-wait", "60"];
        let report = bench(&args(&list, &backend));
        let expected = if backend.is_empty() { "sqlite" } else { "postgres" };
        assert_eq!(report["backend"], expected);
        let load = &report["loads"][0];
        check_load(load);
        assert_eq!(number(load, "in_flight_limit"), 16.0, "16 clients by default");
        let throughputs = report["throughputs"].as_array().expect("throughputs");
        let raw = throughputs.iter().find(|t| t["baseline"] == true).expect("the raw baseline");
        assert!(number(raw, "count") > 0.0 && number(raw, "per_second") > 0.0, "{raw}");
        let cases = throughputs.iter().find(|t| t["baseline"] == false).expect("the cases");
        assert_eq!(number(cases, "count"), number(load, "ok"));
        // The outbox was read during the load, and every case's URLs reached link-tracking after.
        let outbox = &report["outbox"];
        assert!(number(outbox, "intake_rate") > 0.0, "{outbox}");
        assert!(outbox["seconds_to_empty_after_load"].is_number(), "the outbox never emptied: {outbox}");
        assert_eq!(number(outbox, "rejected"), 0.0, "{outbox}");
        let versus = ratio(&report, "CreateCase/s over the raw commit rate");
        let expected = number(load, "achieved_rate") / number(raw, "per_second");
        assert!((number(versus, "value") - expected).abs() <= 1e-9 * expected, "{versus} is not {expected}");
        assert!(ratio(&report, "errors")["met"].is_boolean());
        // Both stores hold the cases' rows: some bytes per case, and not absurdly many.
        for store in ["intake", "links"] {
            let per_case = number(ratio(&report, &format!("{store} store bytes per case")), "value");
            assert!(per_case > 100.0 && per_case < 10_000_000.0, "{store}: {per_case} bytes per case");
        }
        check_services(&report, &["intake", "links", "client"]);
        // The whole machine's CPU while the load ran: some of its cores, and some time a case.
        if std::path::Path::new("/proc/stat").exists() {
            let busy = number(ratio(&report, "the machine's busy cores during the load"), "value");
            let cores = std::thread::available_parallelism().map_or(1.0, |n| n.get() as f64);
            assert!(busy > 0.0 && busy <= cores + 0.5, "{busy} busy cores of {cores}");
            assert!(number(ratio(&report, "CPU ms a case, every process on the machine"), "value") > 0.0);
        }
    }
}

#[test]
fn import_links_measures_the_import_beside_the_store_alone() {
    for backend in backends() {
        let report = bench(&args(&["import-links", "--count", "2500", "--existing", "1200"], &backend));
        let throughputs = report["throughputs"].as_array().expect("throughputs");
        let import = throughputs.iter().find(|t| t["baseline"] == false).expect("the import");
        let raw = throughputs.iter().find(|t| t["baseline"] == true).expect("the raw baseline");
        assert_eq!(number(import, "count"), 2500.0, "every URL imported: {report}");
        assert_eq!(number(raw, "count"), 2500.0, "every canonical URL stored by the baseline: {report}");
        assert!(number(import, "per_second") > 0.0 && number(raw, "per_second") > 0.0, "{report}");
        let notes = report["notes"].as_array().expect("notes");
        assert!(notes.iter().any(|n| n.as_str().is_some_and(|n| n.contains("2500 new"))), "{report}");
        assert!(
            notes.iter().any(|n| n.as_str().is_some_and(|n| n.contains("held 1200 links before the timed import"))),
            "{report}"
        );
        assert!(ratio(&report, "ImportLinks URLs/s over the raw baseline")["value"].as_f64().is_some_and(|v| v > 0.0));
        check_services(&report, &["links"]);
    }
}

#[test]
fn statistics_measures_each_size_against_the_smallest() {
    for backend in backends() {
        let report = bench(&args(&["statistics", "--links", "1000,2000", "--repeat", "1"], &backend));
        let sizes = report["sizes"].as_array().expect("sizes");
        assert_eq!(sizes.len(), 2, "{report}");
        for (size, links) in sizes.iter().zip([1000.0, 2000.0]) {
            assert_eq!(number(size, "links"), links);
            assert_eq!(number(size, "observations"), links * 10.0);
            // Four moments × three recorded_before cutoffs, each timed once.
            assert_eq!(number(size, "queries"), 12.0, "{size}");
            assert!(size["errors"].as_object().is_some_and(|e| e.is_empty()), "{size}");
            assert!(number(size, "answer_bytes") > 0.0 && number(size, "seed_seconds") > 0.0, "{size}");
            assert!(number(&size["latency_ms"], "p99") > 0.0, "{size}");
            // Each cut with its median, "now" and "any time" among them.
            let cuts = size["cuts"].as_array().expect("cuts");
            assert_eq!(cuts.len(), 12, "{size}");
            assert!(cuts.iter().all(|c| number(c, "median_ms") > 0.0), "{size}");
            assert!(cuts.iter().any(|c| c["as_of"] == "now" && c["recorded_before"] == "any time"), "{size}");
            // The situation report at the same cuts, every service answering.
            assert!(number(&size["report_latency_ms"], "p99") > 0.0, "{size}");
            assert!(size["report_errors"].as_object().is_some_and(|e| e.is_empty()), "{size}");
        }
        assert_eq!(number(&sizes[0], "p99_ratio_to_smallest"), 1.0);
        assert!(ratio(&report, "p99 ms at 2000 links")["met"].is_boolean());
        check_services(&report, &["links"]);
    }
}

/// Checks a statistics scenario's report over sizes 40 and 120 of `unit`: each size holds
/// `expected` (the size and what else the store held, under `columns`), was asked at every cut
/// without error, and is set against the smallest; the targets name the largest as `size_words`.
fn check_growth(report: &Value, columns: [&str; 2], expected: [(f64, f64); 2], size_words: &str, service: &str) {
    let sizes = report["sizes"].as_array().expect("sizes");
    assert_eq!(sizes.len(), 2, "{report}");
    for (size, (held, also)) in sizes.iter().zip(expected) {
        assert_eq!(number(size, columns[0]), held, "{size}");
        assert_eq!(number(size, columns[1]), also, "{size}");
        // Five moments × three recorded_before cutoffs, each timed once.
        assert_eq!(number(size, "queries"), 15.0, "{size}");
        assert!(size["errors"].as_object().is_some_and(|e| e.is_empty()), "{size}");
        assert!(number(size, "answer_bytes") > 0.0 && number(size, "seed_seconds") > 0.0, "{size}");
        assert!(size["fold_seconds"].is_number(), "the points were never folded: {size}");
        let latency = &size["latency_ms"];
        assert!(0.0 < number(latency, "p50") && number(latency, "p50") <= number(latency, "p99"), "{size}");
        let cuts = size["cuts"].as_array().expect("cuts");
        assert_eq!(cuts.len(), 15, "{size}");
        assert!(cuts.iter().all(|c| number(c, "median_ms") > 0.0), "{size}");
        assert!(cuts.iter().any(|c| c["as_of"] == "now" && c["recorded_before"] == "any time"), "{size}");
        assert!(cuts.iter().any(|c| c["as_of"] == "2019-01-31T00:00:00Z"), "{size}");
    }
    assert_eq!(number(&sizes[0], "p99_ratio_to_smallest"), 1.0);
    assert!(number(&sizes[1], "p99_ratio_to_smallest") > 0.0, "{report}");
    assert!(ratio(report, &format!("p99 ms at {size_words}"))["met"].is_boolean());
    assert!(ratio(report, &format!("p99 at {size_words} over p99 at the smallest"))["met"].is_boolean());
    check_services(report, &[service]);
}

#[test]
fn case_statistics_measures_each_size_of_intake_against_the_smallest() {
    for backend in backends() {
        let report = bench(&args(&["case-statistics", "--cases", "40,120", "--repeat", "1"], &backend));
        assert_eq!(report["scenario"], "case-statistics");
        // Every third case, from the first, moved on after it was received.
        check_growth(&report, ["cases", "status_changes"], [(40.0, 14.0), (120.0, 40.0)], "120 cases", "intake");
    }
}

#[test]
fn notice_statistics_measures_each_size_of_liaison_against_the_smallest() {
    for backend in backends() {
        let report = bench(&args(&["notice-statistics", "--notices", "40,120", "--repeat", "1"], &backend));
        assert_eq!(report["scenario"], "notice-statistics");
        // Every even notice is answered; the one in ten left in draft is odd.
        check_growth(&report, ["notices", "replies"], [(40.0, 20.0), (120.0, 60.0)], "120 notices", "liaison");
    }
}

#[test]
fn referral_statistics_measures_each_size_of_referral_against_the_smallest() {
    for backend in backends() {
        let report = bench(&args(&["referral-statistics", "--cases", "40,120", "--repeat", "1"], &backend));
        assert_eq!(report["scenario"], "referral-statistics");
        // Five cases in eight are referred to the Police.
        let expected = [(40.0, 25.0), (120.0, 75.0)];
        check_growth(&report, ["cases", "referrals"], expected, "120 cases assessed", "referral");
    }
}

#[test]
fn bad_input_is_refused_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["statistics", "--links", "2000,1000"], "--links"),
        (&["case-statistics", "--cases", "120,120"], "--cases"),
        (&["case-statistics", "--cases", "0"], "--cases"),
        (&["notice-statistics", "--notices", "500,100"], "--notices"),
        (&["referral-statistics", "--cases", "0"], "--cases"),
        (&["import-links", "--count", "0"], "--count"),
        (&["import-links", "--existing", "60000000"], "--existing"),
        (&["create-case", "--database-url", "sqlite://x.db"], "--database-url"),
        (&["noop", "--rate", "0"], "--rate"),
    ];
    for (list, flag) in cases {
        let work = tempfile::tempdir().expect("a temporary directory");
        let out = Command::new(BIN).arg("bench").args(*list).arg("--work-dir").arg(work.path()).output().expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{list:?} was accepted");
        assert!(stderr.contains(flag), "{list:?}: the error does not name {flag}: {stderr}");
        // Nothing was started or kept.
        let left: Vec<_> = std::fs::read_dir(work.path()).expect("the work directory").collect();
        assert!(left.is_empty(), "{list:?} left {left:?}");
    }
}
