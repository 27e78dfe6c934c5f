//! The suite as an officer meets it: `doxwatch up` on a loopback address of its own, and the
//! client commands run against it as the officer's profile.
#![allow(dead_code)] // each test file uses its own part of it

use std::{
    collections::hash_map::RandomState,
    hash::BuildHasher,
    io::{BufRead, BufReader, Write},
    path::Path,
    process::{Child, Command, ExitStatus, Output, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use serde_json::Value;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

pub const BIN: &str = env!("CARGO_BIN_EXE_doxwatch");
pub const OFFICER: &str = "officer.chan";

/// `doxwatch up` in a fresh data directory; stopped with SIGINT by [`Suite::stop`], killed if a
/// test fails before that.
pub struct Suite {
    pub child: Option<Child>,
    pub host: String,
    pub data: tempfile::TempDir,
    /// What `up` printed before it said it was up.
    pub said: Vec<String>,
}

/// A loopback address other tests are unlikely to pick, so suites may run side by side: one of
/// the sixteen million in 127.0.0.0/8, never one ending in 0 or 255.
fn random_host() -> String {
    let n = RandomState::new().hash_one((std::process::id(), Instant::now()));
    let [a, b, c] = [(n >> 16) as u8, (n >> 8) as u8, (n % 254) as u8 + 1];
    format!("127.{a}.{b}.{c}")
}

fn url(host: &str, port: u16) -> String {
    format!("https://{host}:{port}")
}

/// Waits until this suite has bound its addresses (it says "doxwatch is up") and intake,
/// link-tracking and liaison answer their health checks; false when it exits first (its address
/// was taken) or is not up in a minute (a debug build on a machine busy with other tests can take
/// many seconds). Waiting for the line, not only for health, keeps another suite already on the
/// address from being mistaken for this one.
fn wait_until_serving(child: &mut Child, host: &str, data_dir: &Path, said: &mut Vec<String>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(60);
    let stdout = child.stdout.take().expect("the suite's stdout");
    let (lines, heard) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    loop {
        match heard.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("doxwatch is up") => break,
            Ok(line) => said.push(line),
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
    pub fn start() -> Suite {
        Self::start_with(&[])
    }

    /// `up` with these variables set.
    pub fn start_with(variables: &[(&str, &str)]) -> Suite {
        let data = tempfile::tempdir().expect("a temporary directory");
        let stores = data.path().join("stores");
        let mut log = std::fs::File::create(data.path().join("up.log")).expect("a log file");
        let mut said = Vec::new();
        for attempt in 1..=5 {
            // Each attempt starts from nothing: certificates made for an earlier attempt's address
            // would not name this one.
            if stores.exists() {
                std::fs::remove_dir_all(&stores).expect("the last attempt's stores are removed");
            }
            let host = random_host();
            writeln!(log, "--- attempt {attempt} on {host}").expect("the log is written");
            let mut child = Command::new(BIN)
                .args(["up", "--host", &host, "--data-dir"])
                .arg(&stores)
                .envs(variables.iter().copied())
                .stdout(Stdio::piped())
                .stderr(log.try_clone().expect("the log file is shared"))
                .spawn()
                .expect("doxwatch up starts");
            said.clear();
            if wait_until_serving(&mut child, &host, &stores, &mut said) {
                let suite = Suite { child: Some(child), host, data, said };
                suite.add_officer();
                return suite;
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "doxwatch up did not start on any of five addresses; it printed:\n{}\nits log:\n{}",
            said.join("\n"),
            log_text(data.path())
        );
    }

    pub fn url(&self, port: u16) -> String {
        url(&self.host, port)
    }

    /// Issues the test officer's profile from the suite's local issuer, as an operator would.
    fn add_officer(&self) {
        let roles = "intake_officer,patrol_officer,liaison_officer,legal_officer,supervisor,operator";
        self.issue(OFFICER, "Chan Tai Man", roles, &self.profile());
    }

    /// Issues a profile for officer `id` of the test officer's team with `roles` (comma-separated)
    /// into `out`.
    pub fn issue(&self, id: &str, name: &str, roles: &str, out: &Path) {
        self.issue_in_team(id, name, roles, "team-a", out);
    }

    /// [`Suite::issue`] for an officer of `team`.
    pub fn issue_in_team(&self, id: &str, name: &str, roles: &str, team: &str, out: &Path) {
        let output = Command::new(BIN)
            .args(["officer", "add", id, "--name", name, "--team", team, "--roles", roles])
            .arg("--pki")
            .arg(self.data.path().join("stores/pki"))
            .arg("--out")
            .arg(out)
            .output()
            .expect("doxwatch runs");
        assert!(output.status.success(), "officer add failed: {}", String::from_utf8_lossy(&output.stderr));
    }

    pub fn profile(&self) -> std::path::PathBuf {
        self.data.path().join("officer")
    }

    /// Runs a client command against this suite: as the test officer, or for `agency` commands
    /// with the Police's certificate that `doxwatch up` keeps.
    /// What `up` has written to its log so far.
    pub fn log(&self) -> String {
        log_text(self.data.path())
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, &[])
    }

    /// [`Suite::run`] with more environment variables, as a user's shell would have them.
    pub fn run_with(&self, args: &[&str], variables: &[(&str, &str)]) -> Output {
        let mut command = Command::new(BIN);
        command.envs(variables.iter().copied());
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
    pub fn json(&self, args: &[&str]) -> Value {
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
    pub fn eventually<T>(&self, args: &[&str], check: impl Fn(&Value) -> Option<T>) -> T {
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
    pub fn stop(mut self) -> ExitStatus {
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

pub fn log_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("up.log")).unwrap_or_default()
}

pub fn ago(minutes: i64) -> String {
    (OffsetDateTime::now_utc() - time::Duration::minutes(minutes)).format(&Rfc3339).expect("a formatted time")
}

pub fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("expected a string, found {value}"))
}
