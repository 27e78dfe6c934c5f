//! The officer's client against the real suite: `doxwatch up` on a loopback address of its own,
//! driven through the binary as an officer would drive it, asserting on the JSON it prints.

use std::{
    collections::hash_map::RandomState,
    hash::BuildHasher,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, ExitStatus, Output, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

const BIN: &str = env!("CARGO_BIN_EXE_doxwatch");
const OFFICER: &str = "officer.chan";

/// `doxwatch up` in a fresh data directory; stopped with SIGINT by [`Suite::stop`], killed if a
/// test fails before that.
struct Suite {
    child: Option<Child>,
    host: String,
    data: tempfile::TempDir,
}

/// A loopback address other tests are unlikely to pick, so suites may run side by side.
fn random_host() -> String {
    let n = RandomState::new().hash_one((std::process::id(), Instant::now()));
    format!("127.0.0.{}", 2 + n % 249)
}

fn url(host: &str, port: u16) -> String {
    format!("https://{host}:{port}")
}

/// Waits until this suite has bound its addresses (it says "doxwatch is up") and intake,
/// link-tracking and liaison answer their health checks; false when it exits first (its address
/// was taken) or is not up in ten seconds. Waiting for the line, not only for health, keeps
/// another suite already on the address from being mistaken for this one.
fn wait_until_serving(child: &mut Child, host: &str, data_dir: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    let stdout = child.stdout.take().expect("the suite's stdout");
    let (lines, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    loop {
        match said.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("doxwatch is up") => break,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    while Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        let serving = [50051, 50052, 50053].iter().all(|port| {
            Command::new(BIN)
                .args(["health", "--url", &url(host, *port)])
                .env("DOXWATCH_DATA_DIR", data_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if serving {
            return true;
        }
        sleep(Duration::from_millis(100));
    }
    false
}

impl Suite {
    fn start() -> Suite {
        let data = tempfile::tempdir().expect("a temporary directory");
        for _ in 0..5 {
            let host = random_host();
            let log = std::fs::File::create(data.path().join("up.log")).expect("a log file");
            let mut child = Command::new(BIN)
                .args(["up", "--host", &host, "--data-dir"])
                .arg(data.path().join("stores"))
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .expect("doxwatch up starts");
            if wait_until_serving(&mut child, &host, &data.path().join("stores")) {
                let suite = Suite { child: Some(child), host, data };
                suite.add_officer();
                return suite;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("doxwatch up did not start on any of five addresses; last log:\n{}", log_text(data.path()));
    }

    fn url(&self, port: u16) -> String {
        url(&self.host, port)
    }

    /// Issues the test officer's profile from the suite's local issuer, as an operator would.
    fn add_officer(&self) {
        let roles = "intake_officer,patrol_officer,liaison_officer,legal_officer,supervisor,operator";
        self.issue(OFFICER, "Chan Tai Man", roles, &self.profile());
    }

    /// Issues a profile for officer `id` with `roles` (comma-separated) into `out`.
    fn issue(&self, id: &str, name: &str, roles: &str, out: &Path) {
        let output = Command::new(BIN)
            .args(["officer", "add", id, "--name", name, "--team", "team-a", "--roles", roles])
            .arg("--pki")
            .arg(self.data.path().join("stores/pki"))
            .arg("--out")
            .arg(out)
            .output()
            .expect("doxwatch runs");
        assert!(output.status.success(), "officer add failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    fn profile(&self) -> std::path::PathBuf {
        self.data.path().join("officer")
    }

    /// Runs a client command against this suite: as the test officer, or for `agency` commands
    /// with the Police's certificate that `doxwatch up` keeps.
    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env("DOXWATCH_INTAKE_URL", self.url(50051))
            .env("DOXWATCH_LINKS_URL", self.url(50052))
            .env("DOXWATCH_LIAISON_URL", self.url(50053))
            .env("DOXWATCH_REFERRAL_URL", self.url(50054))
            .env("DOXWATCH_DATA_DIR", self.data.path().join("stores"));
        if args.first() != Some(&"agency") {
            // An officer's session of work, with the purpose the audit log keeps for each read.
            command.env("DOXWATCH_PROFILE", self.profile()).env("DOXWATCH_PURPOSE", "handling the test complaint");
        }
        command.output().expect("doxwatch runs")
    }

    /// Runs a client command with `--json`, which must succeed, and parses what it prints.
    fn json(&self, args: &[&str]) -> Value {
        let output = self.run(&[args, &["--json"]].concat());
        assert!(
            output.status.success(),
            "doxwatch {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
            panic!("doxwatch {} printed no JSON ({e}): {}", args.join(" "), String::from_utf8_lossy(&output.stdout))
        })
    }

    /// Polls a `--json` command until `check` finds what it waits for, for at most five seconds.
    fn eventually<T>(&self, args: &[&str], check: impl Fn(&Value) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let value = self.json(args);
            if let Some(found) = check(&value) {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "doxwatch {} never showed what was expected; last:\n{value:#}",
                args.join(" ")
            );
            sleep(Duration::from_millis(100));
        }
    }

    /// Stops the suite as Ctrl-C would and answers how it exited.
    fn stop(mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the suite's process");
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-INT", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -INT {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().expect("the suite's status") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("doxwatch up did not stop within 10 s of SIGINT; log:\n{}", log_text(self.data.path()));
            }
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Suite {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            if std::thread::panicking() {
                eprintln!("doxwatch up log:\n{}", log_text(self.data.path()));
            }
        }
    }
}

fn log_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("up.log")).unwrap_or_default()
}

fn ago(minutes: i64) -> String {
    (OffsetDateTime::now_utc() - time::Duration::minutes(minutes)).format(&Rfc3339).expect("a formatted time")
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("expected a string, found {value}"))
}

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
    let link_name = text(&link["name"]).to_owned();

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
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("NotFound"), "{unknown:?}");
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

#[test]
fn a_liaison_officer_serves_a_notice_on_a_platform_and_renders_the_letter() {
    let suite = Suite::start();

    // Links come from a case: intake registers them with link-tracking.
    let case = suite.json(&[
        "case",
        "create",
        "--kind",
        "patrol-discovery",
        "--received-at",
        &ago(120),
        "--summary",
        "Personal data posted in a Telegram channel",
        "--url",
        "https://t.me/examplechannel/201?single",
    ]);
    let case_name = text(&case["name"]).to_owned();
    let link = suite.eventually(&["link", "list", "--case", &case_name], |v| v["links"].as_array()?.first().cloned());
    let (link_name, canonical_url, platform) =
        (text(&link["name"]).to_owned(), text(&link["canonical_url"]).to_owned(), text(&link["platform"]).to_owned());
    assert_eq!(canonical_url, "https://t.me/examplechannel/201", "{link}");

    // Who to write to: the letter is addressed to the platform's operator.
    let contact = suite.json(&[
        "platform",
        "contact",
        "set",
        platform.trim_start_matches("platforms/"),
        "--legal-entity",
        "Telegram Messenger Inc.",
        "--jurisdiction",
        "AE",
        "--email",
        "abuse@telegram.org",
    ]);
    assert_eq!(contact["name"], format!("{platform}/contact"), "{contact}");
    assert_eq!(contact["language"], "ENGLISH");
    assert_eq!(suite.json(&["platform", "contact", "list"])["contacts"][0]["legal_entity"], "Telegram Messenger Inc.");

    // A draft asking for access to be restricted, served an hour ago by email.
    let link_item = format!("{link_name}=restrict-access");
    let draft = suite.json(&[
        "notice",
        "create",
        "--platform",
        &platform,
        "--kind",
        "removal-request",
        "--link",
        &link_item,
        "--legal-basis",
        "Section 66M of the Personal Data (Privacy) Ordinance",
    ]);
    assert_eq!(draft["status"], "DRAFT", "{draft}");
    assert_eq!(draft["kind"], "REMOVAL_REQUEST");
    assert_eq!(draft["items"][0]["link"], link_name.as_str());
    assert_eq!(draft["items"][0]["action"], "RESTRICT_ACCESS");
    assert_eq!(draft["created_by"], OFFICER);
    let notice = text(&draft["name"]).to_owned();

    let served = suite.json(&["notice", "serve", &notice, "--method", "email", "--served-at", &ago(60)]);
    assert_eq!(served["status"], "SERVED", "{served}");
    assert_eq!(served["service_method"], "EMAIL");
    assert_ne!(served["deadline"], "", "serving fixes the deadline: {served}");

    // The letter names the link by its canonical URL, in Markdown and in HTML.
    for (format, file) in [("markdown", "letter.md"), ("html", "letter.html")] {
        let path = suite.data.path().join(file);
        let path_text = path.to_str().expect("a UTF-8 path");
        let written = suite.json(&["notice", "render", &notice, "--format", format, "--out", path_text]);
        assert_eq!(written["language"], "ENGLISH", "{written}");
        let letter = std::fs::read_to_string(&path).expect("the letter was written");
        assert!(letter.contains(&canonical_url), "the {format} letter does not name {canonical_url}:\n{letter}");
        assert!(letter.contains("Telegram Messenger Inc"), "{letter}");
    }

    // One letter sent, to one platform; serving asked link-tracking to record the removal request.
    let stats = suite.json(&["notice", "stats"]);
    assert_eq!(stats["platforms_written_to"], 1, "{stats}");
    assert_eq!(stats["total"]["letters_sent"], 1);
    assert_eq!(stats["total"]["notices_served"], 1);
    assert_eq!(stats["by_platform"][0]["platform"], platform.as_str());
    suite.eventually(&["link", "stats"], |v| (v["total"]["links_requested"] == 1).then_some(()));

    // Mistakes are told, and fail.
    let twice = suite.run(&[
        "notice",
        "create",
        "--platform",
        &platform,
        "--kind",
        "removal-request",
        "--link",
        &link_name,
        "--link",
        &link_item,
    ]);
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("the same link twice"), "{twice:?}");
    let again = suite.run(&["notice", "serve", &notice, "--method", "post"]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("FailedPrecondition"), "{again:?}");
    let unknown = suite.run(&[
        "notice",
        "create",
        "--platform",
        "platforms/0190f1c2-3b4d-7e5f-8a6b-000000000000",
        "--kind",
        "removal-request",
        "--link",
        &link_name,
    ]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("not a platform known to link-tracking"), "{unknown:?}");

    let status = suite.stop();
    assert!(status.success(), "doxwatch up exited with {status}");
}

#[test]
fn a_legal_officer_refers_a_case_and_the_police_follow_it() {
    let suite = Suite::start();
    let case = suite.json(&[
        "case",
        "create",
        "--kind",
        "complaint",
        "--received-at",
        &ago(120),
        "--summary",
        "Personal data of a police officer posted in a Telegram channel",
        "--url",
        "https://t.me/examplechannel/301",
    ]);
    let case_name = text(&case["name"]).to_owned();
    suite.eventually(&["link", "list", "--case", &case_name], |v| v["links"].as_array()?.first().cloned());

    // The criteria must support the decision.
    let unsupported = suite.run(&["assessment", "create", "--case", &case_name, "--decision", "refer-to-police"]);
    assert!(!unsupported.status.success());
    assert!(String::from_utf8_lossy(&unsupported.stderr).contains("assessment.decision"), "{unsupported:?}");
    let assessment = suite.json(&[
        "assessment",
        "create",
        "--case",
        &case_name,
        "--decision",
        "refer-to-police",
        "--disclosed-without-consent",
        "--intent",
        "intent",
        "--harm-intended",
        "harassment,intimidation",
        "--nexus",
        "resident",
        "--legal-basis",
        "s64-3a",
        "--assessed-at",
        &ago(60),
    ]);
    assert_eq!(assessment["criteria"]["legal_basis"], serde_json::json!(["S64_3A"]));
    suite.eventually(&["case", "get", &case_name], |v| (v["status"] == "UNDER_ASSESSMENT").then_some(()));

    let referral = suite.json(&[
        "referral",
        "create",
        "--assessment",
        text(&assessment["name"]),
        "--summary",
        "Doxxing of a police officer",
        "--referred-at",
        &ago(30),
    ]);
    let referral_name = text(&referral["name"]).to_owned();
    assert_eq!((referral["agency"].as_str(), referral["status"].as_str()), (Some("POLICE"), Some("PENDING")));
    assert_eq!(referral["evidence"][0]["canonical_url"], "https://t.me/examplechannel/301", "{referral}");
    suite.eventually(&["case", "get", &case_name], |v| (v["status"] == "REFERRED").then_some(()));

    // The Police's side: one JSON line per feed entry, with its cursor.
    let watched = suite.run(&["agency", "watch", "--count", "1", "--json"]);
    assert!(watched.status.success(), "{watched:?}");
    let lines: Vec<Value> = String::from_utf8_lossy(&watched.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!((lines[0]["cursor"].as_str(), lines[0]["kind"].as_str()), (Some("1"), Some("REFERRED")));
    assert_eq!(lines[0]["referral"]["name"], referral_name.as_str());
    let acked = suite.json(&["agency", "ack", &referral_name, "KT RN 19/001"]);
    assert_eq!(acked["status"], "ACKNOWLEDGED");
    let reported = suite.json(&["agency", "outcome", &referral_name, "--outcome", "under-investigation"]);
    assert_eq!(reported["status"], "UNDER_INVESTIGATION");
    let events = suite.json(&["referral", "events", &referral_name]);
    let mut statuses: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| text(&e["status"])).collect();
    statuses.sort();
    assert_eq!(statuses, ["ACKNOWLEDGED", "DELIVERED", "PENDING", "UNDER_INVESTIGATION"]);

    let stats = suite.json(&["referral", "stats"]);
    assert_eq!(stats["cases_referred"], 1, "{stats}");
    assert_eq!(stats["by_agency"][0]["referrals_acknowledged"], 1, "{stats}");
    suite.eventually(&["case", "events", &case_name], |v| {
        v["events"]
            .as_array()?
            .iter()
            .any(|e| e["kind"] == "NOTE" && text(&e["note"]).contains("UNDER_INVESTIGATION"))
            .then_some(())
    });

    let status = suite.stop();
    assert!(status.success(), "doxwatch up exited with {status}");
}

#[test]
fn certs_service_keys_gives_an_old_pki_its_missing_keys_and_keeps_the_rest() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = dir.path().join("pki");
    // Without a PKI there is nothing to add keys to.
    let refused = Command::new(BIN).args(["certs", "service-keys"]).arg(&pki).output().expect("service-keys runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no PKI"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!pki.join("audit").exists(), "a refused call writes nothing");

    let made = Command::new(BIN).args(["certs", "init"]).arg(&pki).output().expect("certs init runs");
    assert!(made.status.success(), "certs init: {}", String::from_utf8_lossy(&made.stderr));
    let intake_key = std::fs::read(pki.join("audit/intake.key")).expect("certs init wrote intake's audit key");
    let intake_kek = std::fs::read(pki.join("encryption/intake.key")).expect("and its encryption key");
    // A PKI from before the audit log and sealing lacks links' keys.
    for file in ["audit/links.key", "audit/links.pub", "encryption/links.key"] {
        std::fs::remove_file(pki.join(file)).expect("remove a key");
    }

    let added = Command::new(BIN).args(["certs", "service-keys"]).arg(&pki).output().expect("service-keys runs");
    assert!(added.status.success(), "service-keys: {}", String::from_utf8_lossy(&added.stderr));
    let said = String::from_utf8_lossy(&added.stdout);
    assert!(
        said.contains("audit/links.key") && said.contains("encryption/links.key") && !said.contains("intake"),
        "{said}"
    );
    for file in ["audit/links.key", "encryption/links.key"] {
        let mode = std::fs::metadata(pki.join(file)).expect("the key").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    assert!(std::fs::read_to_string(pki.join("audit/links.pub")).expect("links.pub").contains("PUBLIC KEY"));
    assert_eq!(std::fs::read(pki.join("audit/intake.key")).expect("intake.key"), intake_key, "an existing key is kept");
    assert_eq!(
        std::fs::read(pki.join("encryption/intake.key")).expect("intake's"),
        intake_kek,
        "an existing key is kept"
    );

    let again = Command::new(BIN).args(["certs", "service-keys"]).arg(&pki).output().expect("service-keys runs");
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("kept"));
}
