//! The README's examples run as written: `doxwatch up` in a fresh directory, then every command of
//! the situation report's block and of "Using it", top to bottom, each through a shell with the
//! built `doxwatch` first on its `PATH` and no `DOXWATCH_*` variable but the ones the README
//! exports. Where the README says `<id>` the test puts the name of what an earlier command made
//! (the case `case create` printed, the first link intake registered for it, …), and `<sha256>`
//! is the digest of the screenshot the README stores.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::Value;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_doxwatch");
const README: &str = include_str!("../../../README.md");

/// A one-pixel PNG: the screenshot the examples store as evidence.
const SCREENSHOT: [u8; 68] = [
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0b, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0x7a, 0x5e, 0xab, 0x3f, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The URLs a patrol officer exported: one already known (the complaint's), one new, a comment.
const PATROL_EXPORT: &str =
    "# patrol, 1 August 2019\nhttps://t.me/examplechannel/101\nhttps://t.me/examplechannel/102\n";

/// The kinds of resource the examples name as `<kind>/<id>`.
const KINDS: [&str; 7] = ["cases", "platforms", "links", "channels", "notices", "assessments", "referrals"];

/// The shell commands of the fenced `sh` blocks of the README section headed `heading`, a command
/// per line once continuation lines are joined; comment lines and blank lines left out.
fn commands(heading: &str) -> Vec<String> {
    let section =
        README.split("\n## ").find(|s| s.starts_with(heading)).unwrap_or_else(|| panic!("no section {heading}"));
    let mut found = Vec::new();
    for block in section.split("```sh\n").skip(1) {
        let block = block.split("\n```").next().unwrap_or_default();
        let mut command = String::new();
        for line in block.lines() {
            if command.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
                continue;
            }
            match line.trim_end().strip_suffix('\\') {
                Some(part) => command.push_str(part),
                None => {
                    command.push_str(line);
                    found.push(std::mem::take(&mut command));
                }
            }
        }
    }
    assert!(!found.is_empty(), "the section {heading} has no sh block");
    found
}

/// A fresh directory with `doxwatch up` running in it, as the README starts it.
struct Reader {
    dir: tempfile::TempDir,
    up: Option<Child>,
    exported: Vec<(String, String)>,
    names: HashMap<&'static str, String>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(mut up) = self.up.take() {
            let _ = up.kill();
            let _ = up.wait();
        }
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.dir.path().join("up.log")).unwrap_or_default();
            eprintln!("doxwatch up said:\n{log}");
        }
    }
}

fn shell(dir: &Path) -> Command {
    let bin_dir = Path::new(BIN).parent().expect("the binary's directory");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = vec![bin_dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    let mut command = Command::new("bash");
    command.current_dir(dir).env("PATH", std::env::join_paths(dirs).expect("a PATH"));
    for (name, _) in std::env::vars() {
        if name.starts_with("DOXWATCH_") {
            command.env_remove(name);
        }
    }
    command
}

impl Reader {
    /// A fresh directory holding the files the examples read.
    fn new() -> Reader {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(dir.path().join("screenshot.png"), SCREENSHOT).expect("the screenshot is written");
        std::fs::write(dir.path().join("patrol-export.txt"), PATROL_EXPORT).expect("the export is written");
        Reader { dir, up: None, exported: Vec::new(), names: HashMap::new() }
    }

    /// `doxwatch up &`: the suite in the background, with what was exported before it. Its ports
    /// lie in the range the system hands out to outgoing connections, so one may be held for a
    /// moment by a connection of another program: `up` is then tried again, a few times.
    fn start_up(&mut self) {
        for attempt in 1..=3 {
            match self.try_start_up() {
                Ok(up) => {
                    self.up = Some(up);
                    return;
                }
                Err(log) if attempt < 3 && log.contains("Address already in use") => {
                    eprintln!("a port of doxwatch up was in use; trying again:\n{log}");
                    std::thread::sleep(Duration::from_secs(2));
                }
                Err(log) => panic!("{log}"),
            }
        }
    }

    /// One try of `doxwatch up &`: the running suite, or what it printed and logged.
    fn try_start_up(&self) -> Result<std::process::Child, String> {
        let dir = &self.dir;
        let log = std::fs::File::create(dir.path().join("up.log")).expect("a log file");
        let mut up = shell(dir.path())
            .args(["-c", "exec doxwatch up"])
            .envs(self.exported.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("doxwatch up starts");
        let stdout = up.stdout.take().expect("up's output");
        let (lines, heard) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut said = Vec::new();
        loop {
            match heard.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if line.contains("doxwatch is up") => break,
                Ok(line) => said.push(line),
                Err(_) => {
                    let _ = up.kill();
                    let _ = up.wait();
                    let log = std::fs::read_to_string(dir.path().join("up.log")).unwrap_or_default();
                    return Err(format!(
                        "doxwatch up did not come up on 127.0.0.1:50051-50054 (is another suite running there?)\n\
                         it printed: {said:#?}\nits log:\n{log}"
                    ));
                }
            }
        }
        Ok(up)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Runs one command line in the shell; answers what it printed, failing the test when it fails.
    fn run(&self, line: &str, limit: Duration) -> String {
        let mut child = shell(self.dir.path())
            .args(["-c", line])
            .envs(self.exported.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs");
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("the command's status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("`{line}` did not end within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
        assert!(status.success(), "`{line}` failed ({status}):\n{err}\n{out}");
        out
    }

    /// A `--json` command of the test's own (not the README's), which must succeed.
    fn json(&self, line: &str) -> Value {
        let out = self.run(&format!("{line} --json"), Duration::from_secs(60));
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("`{line} --json` printed no JSON ({e}): {out}"))
    }

    /// The name of `kind` the examples mean by `<id>`.
    fn name(&mut self, kind: &'static str) -> String {
        if let Some(name) = self.names.get(kind) {
            return name.clone();
        }
        let name = match kind {
            "links" => self.first_link(),
            "channels" => {
                let link = self.name("links");
                let got = self.json(&format!("doxwatch link get {link}"));
                got["channel"].as_str().filter(|c| !c.is_empty()).expect("the link's channel").to_owned()
            }
            _ => panic!("the examples use {kind}/<id> before any command made one"),
        };
        self.names.insert(kind, name.clone());
        name
    }

    /// The first link intake registered for the case (delivered through its outbox).
    fn first_link(&mut self) -> String {
        let case = self.name("cases");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let listed = self.json(&format!("doxwatch link list --case {case}"));
            let first = listed["links"].as_array().and_then(|l| l.first()).and_then(|l| l["name"].as_str());
            if let Some(name) = first {
                return name.to_owned();
            }
            assert!(Instant::now() < deadline, "the case's links never reached link-tracking: {listed:#}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The command line with every placeholder filled in.
    fn filled(&mut self, line: &str) -> String {
        let mut line = line.to_owned();
        for kind in KINDS {
            let placeholder = format!("{kind}/<id>");
            if line.contains(&placeholder) {
                let name = self.name(kind);
                line = line.replace(&placeholder, &name);
            }
        }
        if line.contains("<sha256>") {
            line = line.replace("<sha256>", &hex::encode(Sha256::digest(SCREENSHOT)));
        }
        assert!(!line.contains('<') || line.contains("<<"), "a placeholder the test does not know: {line}");
        line
    }

    /// Remembers what a create command made: the first name of its kind that it printed.
    fn remember(&mut self, line: &str, out: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let kind = match words.get(1..3) {
            Some(["case", "create"]) => "cases",
            Some(["platform", "create"]) => "platforms",
            Some(["notice", "create"]) => "notices",
            Some(["assessment", "create"]) => "assessments",
            Some(["referral", "create"]) => "referrals",
            _ => return,
        };
        let name = first_name(out, kind).unwrap_or_else(|| panic!("`{line}` printed no {kind}/…:\n{out}"));
        self.names.insert(kind, name);
    }

    fn export(&mut self, line: &str) {
        let assignment = line.trim_start_matches("export ").split('#').next().unwrap_or_default();
        let (variable, _) = assignment.split_once('=').expect("export NAME=VALUE");
        let value = self.run(&format!("{line}\nprintf %s \"${variable}\""), Duration::from_secs(5));
        self.exported.push((variable.trim().to_owned(), value));
    }
}

/// The first `kind/{uuid}` in `text`.
fn first_name(text: &str, kind: &str) -> Option<String> {
    let prefix = format!("{kind}/");
    text.match_indices(&prefix).find_map(|(at, _)| {
        let id = text.get(at + prefix.len()..at + prefix.len() + 36)?;
        uuid_like(id).then(|| format!("{prefix}{id}"))
    })
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

#[test]
fn the_readme_examples_run_as_written_in_a_fresh_directory() {
    let mut reader = Reader::new();
    for line in commands("The situation report") {
        if line.starts_with("export ") {
            reader.export(&line);
            continue;
        }
        if line.starts_with("doxwatch up &") {
            reader.start_up();
            continue;
        }
        let limit = if line.contains("scenario load") { 900 } else { 120 };
        let out = reader.run(&line, Duration::from_secs(limit));
        if line.trim_end().ends_with("# the statement, in words") {
            assert!(out.contains("As at noon, 8 November 2019"), "the statement's moment:\n{out}");
        }
    }
    assert!(reader.up.is_some(), "the report block starts the suite");
    for file in ["report.json", "removals.svg", "report.html"] {
        assert!(reader.path(file).is_file(), "the report examples wrote no {file}");
    }

    let using = commands("Using it");
    for line in &using {
        if line.starts_with("export ") {
            reader.export(line);
            continue;
        }
        let filled = reader.filled(line);
        let out = reader.run(&filled, Duration::from_secs(120));
        if line.contains("link import patrol-export.txt") {
            // The complaint's URL is known already; the other is new; the comment is no URL.
            assert!(out.starts_with("2 URLs: 1 new, 1 known, 0 refused"), "{out}");
            // --show-new names the new one.
            let named: Vec<&str> = out.lines().skip(1).collect();
            assert!(named.len() == 1 && first_name(named[0], "links").is_some(), "{out}");
        }
        reader.remember(line, &out);
    }
    // One URL is one URL, from standard input as the README says.
    let one = reader.run("echo https://t.me/examplechannel/103 | doxwatch link import -", Duration::from_secs(60));
    assert!(one.starts_with("1 URL: 1 new, 0 known, 0 refused"), "{one}");
    assert!(reader.exported.iter().any(|(k, _)| k == "DOXWATCH_PURPOSE"), "the examples set a purpose");
    let letter = std::fs::read_to_string(reader.path("letter.md")).expect("notice render wrote the letter");
    assert!(letter.contains("Our reference"), "the letter quotes its reference:\n{letter}");
    let capture = std::fs::read(reader.path("capture.png")).expect("evidence get wrote the capture");
    assert_eq!(capture, SCREENSHOT, "the capture fetched is the screenshot stored");
    // Every effect of the examples on another service was applied: none was refused.
    for service in ["intake", "links", "liaison", "referral"] {
        let rejected = reader.json(&format!("doxwatch outbox rejected --service {service}"));
        let count = rejected["effects"].as_array().map(Vec::len).expect("a list of effects");
        assert_eq!(count, 0, "{service} holds effects its peers refused: {rejected:#}");
    }
}
