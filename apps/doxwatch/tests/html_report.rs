//! `doxwatch report --html`: the page rendered by headless Chromium as a reader's browser would,
//! and what a reader sees on it compared with the figures of `doxwatch report --json`. The test
//! needs Debian's `chromium`; without it, it fails unless DOXWATCH_ALLOW_SKIP_BROWSER=1 says that
//! skipping is fine here (CI installs chromium, so it runs there).

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

const SMALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/scenarios/small.toml");
const AS_OF: &str = "2019-08-16T12:00:00+08:00";

/// The browser, or None when it is absent and skipping was allowed.
fn chromium() -> Option<String> {
    for name in ["chromium", "chromium-browser"] {
        let found = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
        if found {
            return Some(name.to_owned());
        }
    }
    if std::env::var("DOXWATCH_ALLOW_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("chromium is not installed and DOXWATCH_ALLOW_SKIP_BROWSER=1: the HTML report is not rendered");
        return None;
    }
    panic!("the HTML report's test needs chromium (apt-get install -y chromium), or DOXWATCH_ALLOW_SKIP_BROWSER=1");
}

/// The text of a rendered document as a reader sees it: its body without markup, styles or
/// scripts, entities decoded, white space collapsed.
fn visible_text(dom: &str) -> String {
    let body = dom.split_once("<body").map_or(dom, |(_, b)| b);
    let mut text = String::new();
    let mut rest = body;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        let tag = &rest[open..];
        let skip_to = ["<style", "<script"]
            .iter()
            .find(|t| tag.starts_with(**t))
            .and_then(|t| tag.find(&format!("</{}>", &t[1..])).map(|end| end + t.len() + 2));
        let end = skip_to.or_else(|| tag.find('>').map(|e| e + 1)).unwrap_or(tag.len());
        text.push(' ');
        rest = &tag[end..];
    }
    text.push_str(rest);
    let text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'");
    text.replace("&amp;", "&").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[test]
fn the_html_report_shows_a_reader_the_figures_of_the_json_report() {
    let Some(chromium) = chromium() else { return };
    let suite = Suite::start();
    let loaded = suite.run(&["scenario", "load", SMALL]);
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    let in_hong_kong = [("DOXWATCH_TIME_ZONE", "Asia/Hong_Kong")];
    let page = suite.data.path().join("report.html");
    let page_arg = page.to_str().expect("a UTF-8 path");
    let wrote = suite.run_with(&["report", "--as-of", AS_OF, "--html", page_arg], &in_hong_kong);
    assert!(wrote.status.success(), "{}", String::from_utf8_lossy(&wrote.stderr));
    let json = suite.run_with(&["report", "--as-of", AS_OF, "--json"], &in_hong_kong);
    let json: Value = serde_json::from_slice(&json.stdout).expect("the report's JSON");

    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(!html.contains(" src=") && !html.contains("<link") && !html.contains("<script"), "nothing is fetched");
    let rendered = Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("file://{page_arg}"))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&rendered.stdout);
    assert!(rendered.status.success() && dom.contains("</body>"), "{}", String::from_utf8_lossy(&rendered.stderr));
    let seen = visible_text(&dom);

    // Each figure of the table beside its label, as the JSON report gives it.
    let figure = |path: &str| -> i64 {
        let value = path.split('.').fold(&json, |v, key| &v[key]);
        value.as_i64().unwrap_or_else(|| panic!("{path} is not a figure: {value}"))
    };
    for (label, path) in [
        ("Cases received and discovered", "cases.total"),
        ("Complaints and cases discovered by online patrol", "cases.complaints_and_discovered"),
        ("Enquiries", "cases.enquiries"),
        ("Web links involved", "links.links_involved"),
        ("Platforms involved", "links.platforms_involved"),
        ("Platforms written to", "liaison.platforms_written_to"),
        ("Letters sent", "liaison.letters_sent"),
        ("Links the platforms were urged to remove", "liaison.links_requested_removal"),
        ("Links removed", "liaison.links_removed"),
        ("Removal rate (%)", "liaison.removal_rate_pct"),
        ("Requests for uploaders' data", "liaison.disclosure_requests.sent"),
        ("Cases referred to the Police", "referrals.cases_referred_to_police"),
    ] {
        let row = format!("{label} {}", thousands(figure(path)));
        assert!(seen.contains(&row), "a reader does not see \"{row}\":\n{seen}");
    }
    // The statement's words, in the reader's zone, and each platform's row.
    let opening = format!("As at noon, 16 August 2019 (HKT), {} doxxing cases", thousands(figure("cases.total")));
    assert!(seen.contains(&opening), "{seen}");
    for p in json["liaison"]["by_platform"].as_array().expect("platforms") {
        let row = format!(
            "{} {} {} {} {}%",
            p["name"].as_str().expect("a name"),
            p["kind"].as_str().expect("a kind").to_lowercase().replace('_', " "),
            thousands(p["links_requested_removal"].as_i64().expect("a figure")),
            thousands(p["links_removed"].as_i64().expect("a figure")),
            p["removal_rate_pct"]
        );
        assert!(seen.contains(&row), "a reader does not see \"{row}\":\n{seen}");
    }
    // The chart, inline, says as at when and where its figures come from.
    assert!(dom.contains("<svg"), "no chart in the page");
    assert!(seen.contains("As at noon, 16 August 2019 (HKT). Source:"), "{seen}");
    let status = suite.stop();
    assert!(status.success(), "doxwatch up exited with {status}");
}
