//! What `case get` shows the officer handling a case, and what it withholds from another team's.

mod common;

use common::*;

/// The table `case get` prints, as (field, value) pairs.
fn fields(output: &std::process::Output) -> Vec<(String, String)> {
    assert!(output.status.success(), "case get failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once(char::is_whitespace))
        .map(|(field, value)| (field.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

fn value<'a>(table: &'a [(String, String)], field: &str) -> Option<&'a str> {
    table.iter().find(|(f, _)| f == field).map(|(_, v)| v.as_str())
}

#[test]
fn case_get_shows_the_complainant_the_data_disclosed_and_the_harms_to_its_team_only() {
    let suite = Suite::start();
    let created = suite.json(&[
        "case",
        "create",
        "--kind",
        "complaint",
        "--received-at",
        &ago(60),
        "--summary",
        "Home address and phone number posted in a forum",
        "--subject",
        "teacher:resident:Ho Ka Yan",
        "--complainant",
        "data-subject:Ho Ka Yan",
        "--complainant-phone",
        "+852 5555 0123",
        "--complainant-email",
        "ho.ky@example.org",
        "--disclosed",
        "address,phone",
        "--harm",
        "harassment,concern-for-safety",
    ]);
    let reference = text(&created["reference"]).to_owned();
    assert_eq!(created["complainant"]["contact"]["phone"], "+852 5555 0123", "{created}");

    // The team that recorded it reads everything it needs to handle it.
    let own = fields(&suite.run(&["case", "get", &reference]));
    assert_eq!(value(&own, "complainant"), Some("Ho Ka Yan (DATA_SUBJECT)"), "{own:?}");
    assert_eq!(value(&own, "complainant_contact"), Some("ho.ky@example.org; +852 5555 0123"), "{own:?}");
    assert_eq!(value(&own, "data_subject"), Some("Ho Ka Yan (TEACHER, RESIDENT)"), "{own:?}");
    assert_eq!(value(&own, "disclosed_data"), Some("ADDRESS, PHONE"), "{own:?}");
    assert_eq!(value(&own, "alleged_harm"), Some("HARASSMENT, CONCERN_FOR_SAFETY"), "{own:?}");
    assert_eq!(value(&own, "redacted"), None, "{own:?}");

    // An intake officer of another team sees what kind of case it is, not whose.
    let other = suite.data.path().join("other-team");
    suite.issue_in_team("officer.lam", "Lam Wai", "intake_officer", "team-b", &other);
    let other = other.to_str().expect("a UTF-8 path");
    let withheld = fields(&suite.run(&["case", "get", &reference, "--profile", other]));
    let shown = format!("{withheld:?}");
    for personal in ["Ho Ka Yan", "5555", "ho.ky@example.org"] {
        assert!(!shown.contains(personal), "another team's officer saw {personal}: {shown}");
    }
    assert!(value(&withheld, "redacted").is_some_and(|v| v.contains("--break-glass")), "{shown}");
    assert_eq!(
        value(&withheld, "disclosed_data"),
        Some("ADDRESS, PHONE"),
        "what was disclosed is no one's data: {shown}"
    );

    // Breaking the glass, with a purpose, shows it all, and the log marks the read for review.
    let purpose = "caller says the victim is in danger tonight";
    let glass =
        fields(&suite.run(&["case", "get", &reference, "--profile", other, "--break-glass", "--purpose", purpose]));
    assert_eq!(value(&glass, "complainant_contact"), Some("ho.ky@example.org; +852 5555 0123"), "{glass:?}");
    let flagged = suite.json(&["audit", "list", "--flagged", "--all"]);
    let records = flagged["records"].as_array().expect("records");
    assert!(
        records.iter().any(|r| r["officer_id"] == "officer.lam" && r["purpose"] == purpose),
        "the broken glass is not flagged: {flagged:#}"
    );
}
