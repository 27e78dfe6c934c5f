//! The report in words, for the press office to use as it is: figures in sentences and bullets,
//! percentages as "about 81%", dates in the offset of `as_of`. The press-safe form counts a
//! platform's suspended channels without naming them; the internal form names them by their
//! handles and says at its top that it is not for publication.

use std::{collections::BTreeMap, fmt::Write};

use crate::{
    moment::{long_date, phrase},
    report::{Form, Report, SuspendedChannel},
    words,
};

/// 4122 -> "4,122".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The moment the report is as at, as the statement says it: "noon, 8 November 2019 (HKT)".
fn as_at(r: &Report) -> String {
    phrase(&r.as_of, &r.time_zone_abbreviation)
}

/// A count that opens a sentence: "One", "Two", … "Ten", then digits.
fn count_opening(n: usize) -> String {
    const WORDS: [&str; 10] = ["One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine", "Ten"];
    match n.checked_sub(1).and_then(|i| WORDS.get(i)) {
        Some(word) => (*word).to_owned(),
        None => thousands(n as i64),
    }
}

/// The sentences on a platform's suspended channels: in the internal form one per channel, naming
/// it; in the press-safe form one per day of suspension, counting them.
fn suspensions(form: Form, style: &Style, channels: &[&SuspendedChannel]) -> String {
    let mut text = String::new();
    match form {
        Form::Internal => {
            for c in channels {
                let handle = c.handle.as_deref().map_or_else(|| "(handle withheld)".to_owned(), style.name);
                let _ =
                    write!(text, " Its channel {handle} has been suspended since {}.", long_date(&c.suspended_since));
            }
        }
        Form::PressSafe => {
            let mut by_day: BTreeMap<&str, usize> = BTreeMap::new();
            for c in channels {
                *by_day.entry(c.suspended_since.as_str()).or_default() += 1;
            }
            for (day, n) in by_day {
                let (count, verb) = match n {
                    1 => ("One of its channels".to_owned(), "has"),
                    n => (format!("{} of its channels", count_opening(n)), "have"),
                };
                let _ = write!(text, " {count} {verb} been suspended since {}.", long_date(day));
            }
        }
    }
    text
}

fn platform_kind(kind: &str) -> String {
    kind.to_ascii_lowercase().replace('_', " ")
}

/// How a form of the report marks its lists and its headline figures.
struct Style<'a> {
    bullet: &'a str,
    strong: (&'a str, &'a str),
    /// How a name the services hold (a platform's, a channel's handle) is written: as it is in
    /// plain text; in Markdown, made inert, so no name can change the document's structure.
    name: fn(&str) -> String,
}

impl Style<'_> {
    /// A headline figure, set apart.
    fn b(&self, s: String) -> String {
        format!("{}{s}{}", self.strong.0, self.strong.1)
    }
}

fn plain(name: &str) -> String {
    name.to_owned()
}

/// The statement's paragraphs, in its order: cases, victims, links, removals, disclosure,
/// referrals, then notes on how complete and how dated the figures are.
fn paragraphs(r: &Report, style: Style) -> Vec<String> {
    let mut out = Vec::new();
    case_paragraphs(r, &style, &mut out);
    link_paragraphs(r, &style, &mut out);
    closing_paragraphs(r, &style, &mut out);
    out
}

/// Cases received and discovered, by kind, and whom they touched.
fn case_paragraphs(r: &Report, style: &Style, out: &mut Vec<String>) {
    let mut cases = format!(
        "As at {}, {} doxxing cases had been received and discovered: {} complaints and cases discovered by online patrol, and {} enquiries.",
        as_at(r),
        style.b(thousands(r.cases.total)),
        thousands(r.cases.complaints_and_discovered),
        thousands(r.cases.enquiries)
    );
    if let Some(first) = &r.first_case_received {
        let _ = write!(cases, " The first case was received on {}.", long_date(first));
    }
    out.push(cases);
    out.push(words::categories(&r.cases));
    out.push(format!(
        "Of the {} complaints and discovered cases, about {}% ({}) related to police officers and their families, and about {}% ({}) to others, including government officials, legislators, children, students, teachers and protesters.",
        thousands(r.cases.complaints_and_discovered),
        r.victims.police_and_families_pct,
        thousands(r.victims.police_and_families),
        r.victims.other_pct,
        thousands(r.victims.other)
    ));
}

/// The links involved, the removals asked and obtained, the most active platform and each one.
fn link_paragraphs(r: &Report, style: &Style, out: &mut Vec<String>) {
    let bullet = style.bullet;
    out.push(format!(
        "The cases involved {} web links on {} online social platforms and discussion forums.",
        style.b(thousands(r.links.links_involved)),
        thousands(r.links.platforms_involved)
    ));
    out.push(format!(
        "The regulator has written to {} platforms {} times to urge them to remove a total of {} web links; {} of them (about {}%) have been removed.",
        thousands(r.liaison.platforms_written_to),
        thousands(r.liaison.letters_sent),
        style.b(thousands(r.liaison.links_requested_removal)),
        style.b(thousands(r.liaison.links_removed)),
        r.liaison.removal_rate_pct
    ));
    if let Some(m) = &r.liaison.most_active_platform {
        let mut text = format!(
            "On {} ({}), the platform where doxxing was most active: of the {} web links the regulator urged it to remove, {} (about {}%) have been removed.",
            (style.name)(&m.name),
            platform_kind(&m.kind),
            thousands(m.links_requested_removal),
            thousands(m.links_removed),
            m.removal_rate_pct
        );
        let suspended: Vec<&SuspendedChannel> =
            r.links.suspended_channels.iter().filter(|c| c.platform == m.name).collect();
        text.push_str(&suspensions(r.form, style, &suspended));
        out.push(text);
    }
    let others: Vec<String> = r
        .liaison
        .by_platform
        .iter()
        .map(|p| {
            format!(
                "{bullet}{}: {} of {} links removed (about {}%)",
                (style.name)(&p.name),
                thousands(p.links_removed),
                thousands(p.links_requested_removal),
                p.removal_rate_pct
            )
        })
        .collect();
    if !others.is_empty() {
        out.push(others.join("\n"));
    }
}

/// Disclosure requests, injunction notices, summonses, referrals to the Police, and the notes: effects still pending, and the
/// moment the figures were recorded before.
fn closing_paragraphs(r: &Report, style: &Style, out: &mut Vec<String>) {
    let actions = [
        words::disclosure(&r.liaison.disclosure_requests),
        words::injunction(&r.liaison.injunction_notices),
        words::summonses(&r.liaison.summonses),
    ];
    out.extend(actions.into_iter().flatten());
    out.push(format!(
        "{} cases have been referred to the Police for criminal investigation{}.",
        style.b(thousands(r.referrals.cases_referred_to_police)),
        words::legal_basis(r.referrals.cases_referred_to_police, &r.referrals.cases_by_legal_basis)
    ));
    let pending: i64 = r.pending_effects.values().sum();
    if pending > 0 {
        let by_service: Vec<String> =
            r.pending_effects.iter().filter(|(_, n)| **n > 0).map(|(s, n)| format!("{s} {n}")).collect();
        out.push(format!(
            "Note: {pending} effects between services were still pending when this report was made ({}); figures that depend on them may be incomplete.",
            by_service.join(", ")
        ));
    }
    if let Some(recorded) = &r.recorded_before {
        out.push(format!("(As recorded before {}.)", phrase(recorded, "")));
    }
}

/// What the internal form says first, so that it is not mistaken for the one to publish.
pub const INTERNAL_NOTICE: &str =
    "Internal: names channels by their handles, which can identify a victim. Not for publication.";

/// "Situation report as at noon, 8 November 2019 (HKT)".
pub fn heading(r: &Report) -> String {
    format!("Situation report as at {}", as_at(r))
}

/// The paragraphs in plain words, lists as lines starting "  - ".
pub fn plain_paragraphs(r: &Report) -> Vec<String> {
    paragraphs(r, Style { bullet: "  - ", strong: ("", ""), name: plain })
}

pub fn text(r: &Report) -> String {
    let mut s = format!("{}\n\n", heading(r));
    if r.form == Form::Internal {
        let _ = write!(s, "{INTERNAL_NOTICE}\n\n");
    }
    s.push_str(&plain_paragraphs(r).join("\n\n"));
    s.push('\n');
    s
}

pub fn markdown(r: &Report) -> String {
    let mut s = format!("# Situation report as at {}\n\n", as_at(r));
    if r.form == Form::Internal {
        let _ = write!(s, "> **{INTERNAL_NOTICE}**\n\n");
    }
    s.push_str(
        &paragraphs(r, Style { bullet: "- ", strong: ("**", "**"), name: doxwatch_kit::markdown::text }).join("\n\n"),
    );
    s.push_str("\n\n| Platform | Kind | Links requested | Removed | Rate |\n|---|---|---:|---:|---:|\n");
    for p in &r.liaison.by_platform {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {}% |",
            doxwatch_kit::markdown::text(&p.name),
            platform_kind(&p.kind),
            thousands(p.links_requested_removal),
            thousands(p.links_removed),
            p.removal_rate_pct
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(thousands(4122), "4,122");
        assert_eq!(thousands(113), "113");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    fn with_channels(form: Form, handles: &[&str], since: &str) -> Report {
        let mut r = crate::report::tests::sample();
        let channel = r.links.suspended_channels[0].clone();
        r.links.suspended_channels = handles
            .iter()
            .map(|h| SuspendedChannel {
                handle: Some((*h).to_owned()),
                suspended_since: since.to_owned(),
                ..channel.clone()
            })
            .collect();
        r.in_form(form)
    }

    #[test]
    fn the_press_safe_form_counts_suspended_channels_without_naming_them() {
        let one = with_channels(Form::PressSafe, &["doxchannel"], "2019-11-07");
        for out in [text(&one), markdown(&one)] {
            assert!(out.contains(" One of its channels has been suspended since 7 November 2019."), "{out}");
            assert!(!out.contains("doxchannel"), "{out}");
            assert!(!out.contains("Internal"), "{out}");
        }
        let two = with_channels(Form::PressSafe, &["doxchannel", "otherchannel"], "2019-11-07");
        let out = text(&two);
        assert!(out.contains(" Two of its channels have been suspended since 7 November 2019."), "{out}");
        assert!(!out.contains("doxchannel") && !out.contains("otherchannel"), "{out}");
    }

    #[test]
    fn the_internal_form_names_each_channel_and_says_it_is_not_for_publication() {
        let r = with_channels(Form::Internal, &["doxchannel", "otherchannel"], "2019-11-07");
        for out in [text(&r), markdown(&r)] {
            assert!(out.contains(" Its channel doxchannel has been suspended since 7 November 2019."), "{out}");
            assert!(out.contains(" Its channel otherchannel has been suspended since 7 November 2019."), "{out}");
            assert!(out.contains("Not for publication."), "{out}");
        }
    }

    #[test]
    fn no_name_changes_the_markdown_reports_structure() {
        let hostile = "Evil | Forum\r# <script>alert(1)</script> [x](javascript:1)";
        let mut r = with_channels(Form::Internal, &["chan_*nel*"], "2019-11-07");
        for p in &mut r.liaison.by_platform {
            p.name = hostile.to_owned();
        }
        if let Some(m) = &mut r.liaison.most_active_platform {
            m.name = hostile.to_owned();
        }
        for c in &mut r.links.suspended_channels {
            c.platform = hostile.to_owned();
        }
        let out = markdown(&r);
        let table: Vec<&str> = out.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(table.len(), r.liaison.by_platform.len() + 2, "{out}");
        for row in &table {
            // Five cells: the `|` of the name is escaped, so it does not split its cell.
            assert_eq!(row.matches('|').count() - row.matches("\\|").count(), 6, "{row}");
        }
        assert!(!out.contains("<script>") && !out.contains("](javascript") && !out.contains("\n# "), "{out}");
        assert!(out.contains("chan\\_\\*nel\\*"), "{out}");
        // The plain text form says the names as they are.
        assert!(text(&r).contains("chan_*nel*"));
    }

    #[test]
    fn counts_open_sentences_in_words() {
        assert_eq!(count_opening(1), "One");
        assert_eq!(count_opening(10), "Ten");
        assert_eq!(count_opening(12), "12");
        assert_eq!(count_opening(1500), "1,500");
    }

    #[test]
    fn states_the_moment_as_statements_do() {
        let r = crate::report::tests::sample();
        assert!(text(&r).starts_with("Situation report as at noon, 8 November 2019 (HKT)\n"), "{}", text(&r));
        assert!(text(&r).contains("As at noon, 8 November 2019 (HKT), 3 doxxing cases"), "{}", text(&r));
        assert!(markdown(&r).starts_with("# Situation report as at noon, 8 November 2019 (HKT)\n"));
    }
}
