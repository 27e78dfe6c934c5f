//! The statement of 8 November 2019, sentence by sentence, as the report must say it: built from
//! the scenario file's published figures and, for what the statement says without a figure (the
//! uploaders' data asked for, the injunction), from the generator's plan, never from the report.

use doxwatch_report::{
    moment::long_date,
    plan::{NoticeKind, Plan},
    render::thousands,
    report::Report,
    scenario::Checked,
};
use time::{Duration, macros::format_description};

fn day(t: time::OffsetDateTime) -> String {
    long_date(&t.format(format_description!("[year]-[month]-[day]")).unwrap())
}

/// The sentences of the statement, in order, for the scenario `c` and its plan.
pub fn expected(c: &Checked, plan: &Plan, most_active: &str) -> Vec<String> {
    let s = &c.scenario;
    let n = |v: i64| thousands(v);
    let (complaints, patrol, agency) = (c.split.complaints, c.split.patrol, c.split.agency);
    let police = c.police_cases;
    let other = s.cases.complaints_and_discovered - police;
    let m = &s.liaison.most_active_platform;
    let disclosures: Vec<_> = plan.notices.iter().filter(|x| x.kind == NoticeKind::DisclosureRequest).collect();
    // A platform's answer comes five days after the request; one still to come is outstanding.
    let answered_by = |provided: bool| {
        disclosures
            .iter()
            .filter(|x| x.data_provided == Some(provided) && x.served_at + Duration::days(5) <= c.as_of)
            .count() as i64
    };
    let (answered, refused) = (answered_by(true), answered_by(false));
    let injunctions: Vec<_> = plan.notices.iter().filter(|x| x.kind == NoticeKind::InjunctionNotice).collect();
    let first = injunctions.iter().map(|x| x.served_at).min().unwrap();
    let last = injunctions.iter().map(|x| x.served_at).max().unwrap();
    vec![
        format!(
            "As at noon, 8 November 2019 (HKT), {} doxxing cases had been received and discovered: {} complaints and cases discovered by online patrol, and {} enquiries.",
            n(s.cases.total),
            n(s.cases.complaints_and_discovered),
            n(s.cases.enquiries)
        ),
        "The first case was received on 14 June 2019.".to_owned(),
        format!(
            "Of the {0} complaints and cases discovered by online patrol, {1} were complaints, {2} were discovered by online patrol and {3} were referred by other agencies, counted here with the complaints ({1} + {2} + {3} = {0}).",
            n(s.cases.complaints_and_discovered),
            n(complaints),
            n(patrol),
            n(agency)
        ),
        format!(
            "Of the {} complaints and discovered cases, about {}% ({}) related to police officers and their families, and about {}% ({}) to others, including government officials, legislators, children, students, teachers and protesters.",
            n(s.cases.complaints_and_discovered),
            s.victims.police_and_families_pct,
            n(police),
            s.victims.other_pct,
            n(other)
        ),
        format!(
            "The cases involved {} web links on {} online social platforms and discussion forums.",
            n(s.links.links_involved),
            n(s.links.platforms_involved)
        ),
        format!(
            "The regulator has written to {} platforms {} times to urge them to remove a total of {} web links; {} of them (about {}%) have been removed.",
            n(s.liaison.platforms_written_to),
            n(s.liaison.letters_sent),
            n(s.liaison.links_requested_removal),
            n(s.liaison.links_removed),
            s.liaison.removal_rate_pct
        ),
        format!(
            "On {most_active} (instant messaging), the platform where doxxing was most active: of the {} web links the regulator urged it to remove, {} (about {}%) have been removed.",
            n(m.links_requested_removal),
            n(m.links_removed),
            m.removal_rate_pct
        ),
        "One of its channels has been suspended since 7 November 2019.".to_owned(),
        format!(
            "The regulator has also asked platforms {} times to provide the registration data and IP addresses of the uploaders: {} answered with the data, {} refused and {} outstanding.",
            n(disclosures.len() as i64),
            n(answered),
            n(refused),
            n(disclosures.len() as i64 - answered - refused)
        ),
        format!(
            "The regulator has drawn the attention of {} platforms to the injunction, warning that neglecting it may amount to contempt of court: {} notices served between {} and {}.",
            n(s.liaison.injunction_notices.as_ref().unwrap().platforms),
            n(injunctions.len() as i64),
            day(first),
            day(last)
        ),
        format!(
            "{} cases have been referred to the Police for criminal investigation under section 64 of the PDPO.",
            n(s.referrals.cases_referred_to_police)
        ),
    ]
}

/// The sentences of a report in words: its heading and its list of platforms left out, each
/// paragraph cut after every full stop that ends a sentence.
pub fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n").skip(1) {
        if paragraph.starts_with("  - ") {
            continue;
        }
        let mut rest = paragraph.trim();
        while let Some(end) = rest.find(". ") {
            out.push(rest[..=end].to_owned());
            rest = rest[end + 2..].trim_start();
        }
        if !rest.is_empty() {
            out.push(rest.to_owned());
        }
    }
    out
}

/// Compares the report's words with the statement, sentence by sentence, naming the first that
/// differs.
pub fn compare(report: &Report, expected: &[String]) {
    let text = doxwatch_report::render::text(report);
    assert!(text.starts_with("Situation report as at noon, 8 November 2019 (HKT)\n"), "{text}");
    let said = sentences(&text);
    for (i, (said, meant)) in said.iter().zip(expected).enumerate() {
        assert_eq!(said, meant, "sentence {} differs:\n{text}", i + 1);
    }
    assert_eq!(said.len(), expected.len(), "{said:#?}");
}
