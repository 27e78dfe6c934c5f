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
const OFFICER: &str = "officer chan";

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
    format!("http://{host}:{port}")
}

/// Waits until this suite has bound its addresses (it says "doxwatch is up") and intake and
/// link-tracking answer their health checks; false when it exits first (its address was taken)
/// or is not up in ten seconds. Waiting for the line, not only for health, keeps another suite
/// already on the address from being mistaken for this one.
fn wait_until_serving(child: &mut Child, host: &str) -> bool {
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
        let serving = [50051, 50052].iter().all(|port| {
            Command::new(BIN)
                .args(["health", "--url", &url(host, *port)])
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
            if wait_until_serving(&mut child, &host) {
                return Suite { child: Some(child), host, data };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("doxwatch up did not start on any of five addresses; last log:\n{}", log_text(data.path()));
    }

    fn url(&self, port: u16) -> String {
        url(&self.host, port)
    }

    /// Runs a client command against this suite.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("DOXWATCH_INTAKE_URL", self.url(50051))
            .env("DOXWATCH_LINKS_URL", self.url(50052))
            .env("DOXWATCH_OFFICER", OFFICER)
            .output()
            .expect("doxwatch runs")
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

    // Asked for removal an hour ago, found removed half an hour ago.
    let recorded = suite.json(&[
        "link",
        "request-removal",
        "--notice",
        "0190f1c2-3b4d-7e5f-8a6b-7c8d9e0f1a2b",
        "--served-at",
        &ago(60),
        &link_name,
    ]);
    assert_eq!(recorded["recorded"], 1);
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
