//! The officer's client against the real suite: `doxwatch up` on a loopback address of its own,
//! driven through the binary as an officer would drive it, asserting on the JSON it prints. Cases,
//! links and the report; correspondence, referrals and certificates are in `workflows.rs`.

mod common;

use common::*;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[test]
fn an_officer_follows_a_case_link_to_its_removal() {
    let started = Instant::now();
    let suite = Suite::start();

    // A case citing a Telegram post: intake hands the URL to link-tracking through its outbox.
    let case = suite.json(&[
        "case",
        "create",
        "--kind",
        "complaint",
        "--received-at",
        &ago(120),
        "--summary",
        "Personal data posted in a Telegram channel",
        "--url",
        "https://t.me/examplechannel/101",
        "--subject",
        "police-officer:resident:Kwok Wing Yan",
    ]);
    let case_name = text(&case["name"]).to_owned();
    assert!(case_name.starts_with("cases/"), "{case}");

    let link = suite.eventually(&["link", "list", "--case", &case_name], |v| v["links"].as_array()?.first().cloned());
    assert_eq!(link["canonical_url"], "https://t.me/examplechannel/101", "{link}");
    assert_eq!(link["status"], "ONLINE");
    assert_eq!(link["cases"], serde_json::json!([case_name]));
    assert_eq!(link["case_count"], 1);
    let link_name = text(&link["name"]).to_owned();
    // The cases citing the link, listed a page at a time.
    let citations = suite.json(&["link", "citations", &link_name, "--all"]);
    let cited: Vec<&str> =
        citations["citations"].as_array().expect("citations").iter().map(|c| text(&c["case"])).collect();
    assert_eq!(cited, vec![case_name.as_str()], "{citations}");
    assert_eq!(citations["next_page_token"], "");

    // The link is on the Telegram of the default registry, spelled without the enum prefix.
    let platforms = suite.json(&["platform", "list", "--all"]);
    let telegram = platforms["platforms"]
        .as_array()
        .and_then(|all| all.iter().find(|p| p["registry_key"] == "telegram"))
        .unwrap_or_else(|| panic!("no Telegram among {platforms}"));
    assert_eq!(telegram["display_name"], "Telegram");
    assert_eq!(telegram["kind"], "INSTANT_MESSAGING");
    assert_eq!(link["platform"], telegram["name"]);

    // Asked for removal an hour ago (by a notice served on the platform: only liaison records
    // removal requests), found removed half an hour ago.
    let draft = suite.json(&[
        "notice",
        "create",
        "--platform",
        text(&link["platform"]),
        "--kind",
        "removal-request",
        "--link",
        &link_name,
    ]);
    let notice = text(&draft["name"]).to_owned();
    let served = suite.json(&["notice", "serve", &notice, "--method", "email", "--served-at", &ago(60)]);
    assert_eq!(served["status"], "SERVED", "{served}");
    suite.eventually(&["link", "stats"], |v| (v["total"]["links_requested"] == 1).then_some(()));
    let observation = suite.json(&[
        "link",
        "observe",
        link_name.trim_start_matches("links/"),
        "--status",
        "removed",
        "--source",
        "officer-check",
        "--vantage",
        "inside-hk",
        "--observed-at",
        &ago(30),
        "--note",
        "post gone",
    ]);
    assert_eq!(observation["status"], "REMOVED", "{observation}");
    assert_eq!(observation["source"], "OFFICER_CHECK");
    assert_eq!(observation["vantage"], "INSIDE_HK");
    assert_eq!(observation["recorded_by"], OFFICER);
    assert_eq!(suite.json(&["link", "get", &link_name])["status"], "REMOVED");

    let stats = suite.json(&["link", "stats"]);
    assert_eq!(stats["total"]["links"], 1, "{stats}");
    assert_eq!(stats["total"]["links_requested"], 1);
    assert_eq!(stats["total"]["links_removed"], 1);
    assert_eq!(stats["total"]["removal_rate"], 1.0);
    assert_eq!(stats["by_platform"][0]["display_name"], "Telegram");
    assert_eq!(stats["by_platform"][0]["kind"], "INSTANT_MESSAGING");
    // The figures as at before the request count the link but nothing asked of the platform.
    let before = suite.json(&["link", "stats", "--as-of", &ago(90)]);
    assert_eq!(before["total"]["links"], 1, "{before}");
    assert_eq!(before["total"]["links_requested"], 0);

    // Intake's effect was delivered, and nothing was refused.
    let outbox = suite.eventually(&["outbox", "status", "--service", "intake"], |v| {
        (v["delivered"].as_i64()? >= 1 && v["pending"] == 0).then(|| v.clone())
    });
    assert_eq!(outbox["service"], "intake");
    assert_eq!(outbox["rejected"], 0);
    assert_eq!(suite.json(&["outbox", "status", "--service", "links"])["service"], "links");
    assert_eq!(suite.json(&["outbox", "rejected", "--service", "intake"])["effects"], serde_json::json!([]));

    // An auditor (the local operator holds every role) finds who created and read the case, and
    // why; keeps a checkpoint; and the log verifies against intake's public key.
    let operator = suite.data.path().join("stores/profile");
    let operator = operator.to_str().expect("a UTF-8 path");
    let log = suite.json(&["audit", "list", "--profile", operator, "--resource", &case_name, "--all"]);
    let records = log["records"].as_array().expect("records");
    let create = records
        .iter()
        .find(|r| r["method"].as_str().is_some_and(|m| m.ends_with("/CreateCase")))
        .unwrap_or_else(|| panic!("no CreateCase in {log}"));
    assert_eq!(create["officer_id"], OFFICER, "{create}");
    assert_eq!(create["access"], "write");
    assert_eq!(create["purpose"], "handling the test complaint");
    let kept = suite.data.path().join("intake-checkpoint.json");
    let kept = kept.to_str().expect("a UTF-8 path");
    let written = suite.run(&["audit", "checkpoint", "--profile", operator, "--out", kept]);
    assert!(written.status.success(), "{written:?}");
    let verified = suite.json(&["audit", "verify", "--profile", operator, "--since", kept]);
    assert_eq!(verified["verified"], true, "{verified}");
    assert!(verified["records"].as_i64().is_some_and(|n| n >= 1), "{verified}");
    // The test officer is a supervisor, who reviews the log but does not sign its checkpoints.
    assert!(suite.json(&["audit", "list"])["records"].as_array().is_some_and(|r| !r.is_empty()));
    let not_auditor = suite.run(&["audit", "checkpoint"]);
    assert!(!not_auditor.status.success(), "only an auditor signs a checkpoint");
    assert!(String::from_utf8_lossy(&not_auditor.stderr).contains("auditor"), "{not_auditor:?}");

    // An operator rotates every service's data keys; a new key seals only once every replica
    // can hold it (two minutes, by default), and the older one seals until then.
    let rotated = suite.json(&["keys", "rotate", "--profile", operator, "--purpose", "scheduled rotation"]);
    let services = rotated["services"].as_array().expect("services");
    let names: Vec<&str> = services.iter().map(|s| text(&s["service"])).collect();
    assert_eq!(names, ["intake", "links", "liaison", "referral"]);
    for service in services {
        let keys: Vec<(i64, bool)> = service["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| (k["id"].as_i64().unwrap_or(0), k["active"] == true))
            .collect();
        assert_eq!(keys, [(1, true), (3, false)], "{service}");
    }
    let status = suite.json(&["keys", "status", "--profile", operator, "--service", "intake"]);
    assert_eq!(status["services"][0]["keys"][1]["active_from"], services[0]["keys"][1]["active_from"]);
    // A supervisor (the test officer is one) gives the case to another team and an officer of it.
    let assigned = suite.json(&["case", "assign", &case_name, "--team", "intake-2", "--officer", "lee.kw"]);
    assert_eq!((text(&assigned["team"]), text(&assigned["assigned_officer"])), ("intake-2", "lee.kw"), "{assigned}");
    assert_eq!(assigned["redacted"], false, "a supervisor sees every team's cases");
    let glass = suite.run(&["case", "get", &case_name, "--break-glass", "--purpose", " "]);
    assert!(!glass.status.success());
    assert!(String::from_utf8_lossy(&glass.stderr).contains("--break-glass needs --purpose"), "{glass:?}");

    // The person asks who looked at her data: every access to each case naming her, and why, in
    // every service's log (here: a read of the observations of the link her case cites).
    suite.json(&["link", "observations", &link_name]);
    let asked = suite.json(&["audit", "subject", "wing yan kwok", "--profile", operator]);
    let cases = asked["cases"].as_array().expect("cases");
    assert_eq!(cases.iter().map(|c| text(&c["case"])).collect::<Vec<_>>(), vec![case_name.as_str()], "{asked}");
    let accesses = cases[0]["accesses"].as_array().expect("accesses");
    assert!(
        accesses.iter().any(|a| a["officer_id"] == OFFICER
            && a["access"] == "write"
            && a["purpose"] == "handling the test complaint"),
        "{asked}"
    );
    // The assignment, and the search that answered this request, are there too.
    assert!(accesses.iter().any(|a| text(&a["method"]).ends_with("/AssignCase")), "{asked}");
    assert!(accesses.iter().any(|a| text(&a["method"]).ends_with("/ListCases") && a["access"] == "read"), "{asked}");
    assert!(
        accesses.iter().any(|a| a["service"] == "links"
            && text(&a["method"]).ends_with("/ListObservations")
            && a["resources"] == serde_json::json!([link_name])),
        "{asked}"
    );
    let nobody = suite.json(&["audit", "subject", "nobody at all", "--profile", operator]);
    assert_eq!(nobody["cases"], serde_json::json!([]));

    // A case recorded by mistake is erased; the figures do not move.
    let mistake = suite.json(&[
        "case",
        "create",
        "--kind",
        "enquiry",
        "--summary",
        "Wrong person entered",
        "--subject",
        "child:resident:Wrong Person",
    ]);
    let mistake_name = text(&mistake["name"]).to_owned();
    let stats = suite.json(&["case", "stats"]);
    let erased = suite.json(&["case", "erase", &mistake_name]);
    assert!(erased["erase_time"].is_string(), "{erased}");
    assert_eq!(erased["data_subjects"][0]["display_name"], "", "{erased}");
    assert_eq!(suite.json(&["case", "stats"])["total_cases"], stats["total_cases"]);

    // A rotation says why, or nothing is asked of the services.
    let no_purpose = suite.run(&["keys", "rotate", "--profile", operator, "--service", "intake", "--purpose", " "]);
    assert!(!no_purpose.status.success());
    assert!(String::from_utf8_lossy(&no_purpose.stderr).contains("--purpose"), "{no_purpose:?}");
    let unchanged = suite.json(&["keys", "status", "--profile", operator, "--service", "intake"]);
    assert_eq!(unchanged["services"][0]["keys"].as_array().map(Vec::len), Some(2));

    // Mistakes are told, and fail.
    let unknown = suite.run(&["link", "get", "links/0190f1c2-3b4d-7e5f-8a6b-000000000000"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not found"), "{unknown:?}");
    let bad_word = suite.run(&["link", "observe", &link_name, "--status", "gone", "--source", "officer-check"]);
    assert!(!bad_word.status.success());
    assert!(String::from_utf8_lossy(&bad_word.stderr).contains("is not one of online, removed"), "{bad_word:?}");

    let status = suite.stop();
    assert!(status.success(), "doxwatch up exited with {status}");
    assert!(started.elapsed() < Duration::from_secs(20), "the session took {:?}", started.elapsed());
}

#[test]
fn the_report_names_channels_only_when_internal_and_only_to_roles_that_read_them() {
    let suite = Suite::start();
    let case = suite.json(&[
        "case",
        "create",
        "--kind",
        "complaint",
        "--received-at",
        &ago(120),
        "--summary",
        "Personal data posted in a Telegram channel",
        "--url",
        "https://t.me/examplechannel/101",
        "--subject",
        "police-officer:resident:Kwok Wing Yan",
    ]);
    let case_name = text(&case["name"]).to_owned();
    let link = suite.eventually(&["link", "list", "--case", &case_name], |v| v["links"].as_array()?.first().cloned());
    let channel = text(&link["channel"]).to_owned();
    let suspended = suite.json(&[
        "channel",
        "status",
        &channel,
        "--status",
        "suspended",
        "--effective-at",
        &ago(60),
        "--source",
        "platform announcement",
    ]);
    assert_eq!(suspended["status"], "SUSPENDED", "{suspended}");

    let report = |args: &[&str]| {
        let output = suite.run(&[&["report"], args].concat());
        let said = (
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        );
        (output.status.success(), said)
    };
    let channel_of = |json: &str| -> Value {
        let report: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("no JSON ({e}): {json}"));
        report["links"]["suspended_channels"][0].clone()
    };

    // The default report may be published: the channel is there, its handle is not.
    let (ok, (json, err)) = report(&["--format", "json"]);
    assert!(ok, "{err}");
    assert!(!json.contains("examplechannel"), "{json}");
    let press = channel_of(&json);
    assert_eq!(press["name"], channel.as_str(), "{json}");
    assert!(press.get("handle").is_none(), "{press}");
    let (ok, (words, err)) = report(&[]);
    assert!(ok, "{err}");
    assert!(!words.contains("examplechannel") && !words.contains("Not for publication"), "{words}");

    // The internal form names it, in every format, and says it is not for publication.
    let (ok, (json, err)) = report(&["--internal", "--format", "json"]);
    assert!(ok, "{err}");
    assert_eq!(channel_of(&json)["handle"], "examplechannel", "{json}");
    let (ok, (words, err)) = report(&["--internal", "--format", "markdown"]);
    assert!(ok, "{err}");
    assert!(words.contains("Not for publication."), "{words}");

    // An operator and a report reader may not read channels: no internal form for them.
    for (id, roles) in [("officer.ops", "operator"), ("officer.press", "report_reader")] {
        let profile = suite.data.path().join(id);
        suite.issue(id, "Test Officer", roles, &profile);
        let profile = profile.to_str().expect("a UTF-8 path");
        let (ok, (out, err)) = report(&["--internal", "--profile", profile]);
        assert!(!ok, "{id} got an internal report:\n{out}");
        assert!(err.contains("--internal needs a role allowed to read channels"), "{err}");
        assert!(!out.contains("examplechannel"), "{out}");
    }
    // The operator's press-safe report is there all the same.
    let profile = suite.data.path().join("officer.ops");
    let (ok, (words, err)) = report(&["--profile", profile.to_str().expect("a UTF-8 path")]);
    assert!(ok, "{err}");
    assert!(!words.contains("examplechannel"), "{words}");

    let status = suite.stop();
    assert!(status.success(), "doxwatch up exited with {status}");
}

/// The commands an operator runs about the suite itself behave alike: `health` and `outbox` take
/// the same `--service` (any of the four) and addresses as every other command, and print JSON with
/// `--json`; a refusal is said once, in plain words; completions and the manual page come from the
/// command line's own definition.
#[test]
fn the_operators_commands_behave_alike() {
    let suite = Suite::start();

    // `up` said how another terminal finds it.
    let exports: Vec<&str> = suite.said.iter().filter(|l| l.starts_with("export ")).map(String::as_str).collect();
    let data_dir = suite.data.path().join("stores");
    assert!(exports.contains(&format!("export DOXWATCH_DATA_DIR={}", data_dir.display()).as_str()), "{exports:?}");
    assert!(exports.contains(&format!("export DOXWATCH_REFERRAL_URL={}", suite.url(50054)).as_str()), "{exports:?}");

    // One page at a time: the next page's token goes back with --page-token.
    let first = suite.json(&["platform", "list", "--page-size", "2"]);
    let token = text(&first["next_page_token"]).to_owned();
    let second = suite.json(&["platform", "list", "--page-size", "2", "--page-token", &token]);
    let names = |page: &Value| -> Vec<String> {
        page["platforms"].as_array().expect("platforms").iter().map(|p| text(&p["name"]).to_owned()).collect()
    };
    assert_eq!((names(&first).len(), names(&second).len()), (2, 2));
    assert!(names(&second).iter().all(|n| !names(&first).contains(n)), "{first} {second}");

    let health = suite.json(&["health"]);
    let services: Vec<&str> =
        health.as_array().expect("one answer a service").iter().map(|a| text(&a["service"])).collect();
    assert_eq!(services, ["intake", "links", "liaison", "referral"], "{health}");
    assert!(health.as_array().unwrap().iter().all(|a| a["status"] == "SERVING"), "{health}");
    let referral = suite.json(&["health", "--service", "referral"]);
    assert_eq!(referral[0]["url"], suite.url(50054), "{referral}");

    for service in ["intake", "links", "liaison", "referral"] {
        let status = suite.json(&["outbox", "status", "--service", service]);
        assert_eq!((status["service"].as_str(), status["rejected"].as_i64()), (Some(service), Some(0)), "{status}");
    }

    // A refused time: the field and the reason, once; the report says which flag, before asking.
    let refused = suite.run(&["case", "stats", "--as-of", "2999-01-01T00:00:00Z"]);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert_eq!(said.trim_end(), "error: invalid argument\n  as_of: must not be in the future", "{said}");
    let report = suite.run(&["report", "--as-of", "2999-01-01T00:00:00Z"]);
    let said = String::from_utf8_lossy(&report.stderr);
    assert!(said.contains("--as-of 2999-01-01T00:00:00Z is in the future"), "{said}");

    // A platform by its registry key, its display name or one of its domains.
    let telegram = suite.json(&["platform", "get", "telegram"]);
    assert_eq!(telegram["display_name"], "Telegram", "{telegram}");
    assert_eq!(suite.json(&["platform", "get", "T.ME"])["name"], telegram["name"]);
    let nowhere = suite.run(&["platform", "get", "no-such-platform"]);
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no platform is called \"no-such-platform\""));

    // Times in the officer's zone: shown with its offset, typed without one.
    let in_hong_kong = [("DOXWATCH_TIME_ZONE", "Asia/Hong_Kong")];
    let noon = suite.run_with(&["report", "--json", "--as-of", "2019-11-08 12:00"], &in_hong_kong);
    let noon: Value = serde_json::from_slice(&noon.stdout).expect("the report's JSON");
    assert_eq!(noon["as_of"], "2019-11-08T12:00:00+08:00", "{noon}");
    assert_eq!((&noon["time_zone"], &noon["time_zone_abbreviation"]), (&json!("Asia/Hong_Kong"), &json!("HKT")));
    // The same moment, given with its offset, in words: in the reader's zone.
    for (zone, heading) in [
        ("Asia/Hong_Kong", "Situation report as at noon, 8 November 2019 (HKT)"),
        ("UTC", "Situation report as at 4 am, 8 November 2019 (UTC)"),
    ] {
        let words =
            suite.run_with(&["report", "--as-of", "2019-11-08T12:00:00+08:00"], &[("DOXWATCH_TIME_ZONE", zone)]);
        let words = String::from_utf8_lossy(&words.stdout);
        assert_eq!(words.lines().next(), Some(heading), "{words}");
    }
    let nowhere = suite.run_with(&["case", "list"], &[("DOXWATCH_TIME_ZONE", "Mars/Base")]);
    assert!(!nowhere.status.success());
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("DOXWATCH_TIME_ZONE=Mars/Base is not a time zone"));

    // --json everywhere: the report and the scenario commands too.
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scenarios/pcpd-2019-11-08.toml");
    let checked = suite.json(&["scenario", "check", scenario]);
    assert_eq!((checked["consistent"].as_bool(), checked["cases"].as_u64()), (Some(true), Some(4122)), "{checked}");
    let report = suite.json(&["report"]);
    assert!(report["cases"].is_object(), "{report}");

    // The shipped scenarios load by name from any directory; a re-run says it changed nothing.
    let first = suite.run(&["scenario", "load", "small"]);
    let said = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(first.status.success() && said.contains("loaded small (120 cases"), "{first:?}");
    let again = suite.run(&["scenario", "load", "small"]);
    let said = String::from_utf8_lossy(&again.stdout).into_owned();
    assert!(
        again.status.success() && said.contains("small was already loaded") && said.contains("nothing changed"),
        "{again:?}"
    );
    let unknown = suite.run(&["scenario", "check", "no-such-scenario"]);
    let said = String::from_utf8_lossy(&unknown.stderr).into_owned();
    assert!(
        !unknown.status.success() && said.contains("neither a file nor a shipped scenario (pcpd-2019-11-08"),
        "{said}"
    );

    let bash = suite.run(&["completions", "bash"]);
    let script = String::from_utf8_lossy(&bash.stdout);
    assert!(bash.status.success() && script.contains("complete") && script.contains("scenario"), "{script}");
    let man = suite.run(&["man"]);
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(man.status.success() && page.contains(".TH doxwatch 1") && page.contains("completions"), "{page}");

    assert!(suite.stop().success());
}

#[test]
fn a_recheck_round_shows_each_link_and_says_what_it_could_not_reach() {
    let suite = Suite::start();
    let file = suite.data.path().join("patrol-export.txt");
    std::fs::write(&file, "https://doxwatch.invalid/post/1\n").expect("the export is written");
    let imported = suite.run(&["link", "import", file.to_str().expect("a UTF-8 path")]);
    assert!(imported.status.success(), "{imported:?}");

    let round = suite.run(&["recheck", "run-once", "--time-limit", "20"]);
    let said = String::from_utf8_lossy(&round.stdout).into_owned();
    assert!(round.status.success(), "{round:?}");
    assert!(said.contains("could not reach https://doxwatch.invalid/post/1"), "{said}");
    assert!(said.contains("nothing recorded yet"), "one failure is not yet UNREACHABLE: {said}");
    assert!(said.contains("checked") && said.contains("failed"), "the round's counts follow: {said}");
    assert!(!said.contains("cut_short"), "{said}");

    let round = suite.json(&["recheck", "run-once", "--time-limit", "20"]);
    assert_eq!(round["checked"], 1, "{round}");
    assert_eq!(round["links"][0]["outcome"], "FAILED", "{round}");
    assert_eq!(round["cut_short"], false, "{round}");

    let refused = suite.run(&["recheck", "run-once", "--time-limit", "0"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--time-limit"), "{refused:?}");
    assert!(suite.stop().success());
}

#[test]
fn links_inside_a_network_are_refused_at_intake_and_at_import() {
    let suite = Suite::start();
    let export = suite.data.path().join("patrol-export.txt");
    let urls = [
        "http://127.0.0.1/admin",
        "http://10.0.0.5/doxx",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/a",
        "http://localhost:8080/b",
        "https://t.me/somechannel/5",
    ];
    std::fs::write(&export, urls.join("\n")).expect("the export is written");
    let imported = suite.run(&["link", "import", export.to_str().expect("a UTF-8 path")]);
    let said = String::from_utf8_lossy(&imported.stdout);
    assert!(imported.status.success(), "{imported:?}");
    assert!(said.starts_with("6 URLs: 1 new, 0 known, 5 refused"), "{said}");
    assert!(said.contains("private, loopback or link-local") && said.contains("localhost"), "{said}");
    let listed = suite.json(&["link", "list", "--all"]);
    let kept: Vec<&str> =
        listed["links"].as_array().expect("links").iter().map(|l| text(&l["canonical_url"])).collect();
    assert_eq!(kept, ["https://t.me/somechannel/5"], "only the public link is kept");

    let refused = suite.run(&[
        "case",
        "create",
        "--kind",
        "complaint",
        "--summary",
        "A link to an address inside a network",
        "--url",
        "http://192.168.1.1/router",
    ]);
    assert!(!refused.status.success(), "{refused:?}");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("case.reported_urls[0]") && said.contains("192.168.1.1"), "{said}");
    assert_eq!(suite.json(&["case", "list", "--all"])["cases"].as_array().map(Vec::len), Some(0), "nothing recorded");
}

/// `up` gives every service the rate limits it is configured with: at one call a second, the
/// officer's third call in a row is turned away, and `up` does not warn that it ignores them.
#[test]
fn up_gives_its_services_the_configured_rate_limits() {
    let suite = Suite::start_with(&[("DOXWATCH_RATE_LIMIT_PER_SECOND", "1"), ("DOXWATCH_RATE_LIMIT_BURST", "2")]);
    let outputs: Vec<std::process::Output> = (0..4).map(|_| suite.run(&["case", "list"])).collect();
    assert!(outputs[0].status.success(), "{}", String::from_utf8_lossy(&outputs[0].stderr));
    let refused = outputs.iter().find(|o| !o.status.success()).expect("a call turned away");
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("RATE_LIMITED") || said.contains("ResourceExhausted") || said.contains("too many"), "{said}");
    assert!(!suite.log().contains("does not read DOXWATCH_RATE_LIMIT"), "{}", suite.log());
}
