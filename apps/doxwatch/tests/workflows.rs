//! The liaison and legal officers' work through the client against the real suite: notices and
//! letters, referrals followed by the Police, and the certificates an operator keeps.

mod common;

use common::*;
use std::process::Command;

use serde_json::Value;

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
    // Officers name the case by its reference number, everywhere.
    let case_reference = text(&case["reference"]).to_owned();
    assert!(case_reference.starts_with("DOX-") && case_reference.len() == "DOX-2019-000001".len(), "{case}");
    assert_eq!(suite.json(&["case", "get", &case_reference.to_lowercase()])["name"], case_name.as_str());
    let cases_table = String::from_utf8_lossy(&suite.run(&["case", "list"]).stdout).into_owned();
    assert!(cases_table.contains("REFERENCE") && cases_table.contains(&case_reference), "{cases_table}");
    let link =
        suite.eventually(&["link", "list", "--case", &case_reference], |v| v["links"].as_array()?.first().cloned());
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
    // The platform named as officers say it: its registry key.
    let draft = suite.json(&[
        "notice",
        "create",
        "--platform",
        "telegram",
        "--kind",
        "removal-request",
        "--link",
        &link_item,
        "--legal-basis",
        "Section 66M of the Personal Data (Privacy) Ordinance",
        "--case",
        &case_reference,
    ]);
    assert_eq!(draft["status"], "DRAFT", "{draft}");
    assert_eq!(draft["cases"][0], case_name.as_str(), "the reference was taken for the case: {draft}");
    assert_eq!(draft["platform"], platform.as_str(), "{draft}");
    // Tables name platforms, not ids.
    let table = String::from_utf8_lossy(&suite.run(&["notice", "list"]).stdout).into_owned();
    assert!(table.contains("Telegram") && !table.contains(&platform), "{table}");
    assert_eq!(draft["kind"], "REMOVAL_REQUEST");
    assert_eq!(draft["items"][0]["link"], link_name.as_str());
    assert_eq!(draft["items"][0]["action"], "RESTRICT_ACCESS");
    assert_eq!(draft["created_by"], OFFICER);
    let notice = text(&draft["name"]).to_owned();
    let notice_reference = text(&draft["reference"]).to_owned();
    assert!(notice_reference.starts_with("NTC-"), "{draft}");

    let served = suite.json(&["notice", "serve", &notice_reference, "--method", "email", "--served-at", &ago(60)]);
    assert_eq!(served["name"], notice.as_str(), "{served}");
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
        assert!(letter.contains(&notice_reference), "the letter quotes its reference:\n{letter}");
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
    assert!(String::from_utf8_lossy(&again.stderr).contains("failed precondition"), "{again:?}");
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
    // The Police quote our reference number back.
    let referral_reference = text(&referral["reference"]).to_owned();
    assert!(referral_reference.starts_with("REF-"), "{referral}");
    let acked = suite.json(&["agency", "ack", &referral_reference, "KT RN 19/001"]);
    assert_eq!(acked["status"], "ACKNOWLEDGED");
    assert_eq!(acked["name"], referral_name.as_str());
    assert_eq!(suite.json(&["referral", "get", &referral_reference])["agency_reference"], "KT RN 19/001");
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
