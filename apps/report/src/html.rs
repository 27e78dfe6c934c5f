//! The report as one self-contained HTML page, for people who would rather look than read: the
//! statement's words, the figures and the removals by platform as tables, and the charts inline
//! as SVG. Nothing is fetched: no script, no stylesheet, no font, no image from elsewhere. Every
//! name the services hold is escaped, so none can change the page.

use std::fmt::Write;

use crate::{
    render::{self, thousands},
    report::{Form, Report},
};

/// `s` as HTML text or attribute value.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;max-width:64em;margin:2em auto;padding:0 1em;line-height:1.5;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.3em .7em;text-align:left}\
td.n,th.n{text-align:right}.internal{border:2px solid #b00;padding:.5em 1em;color:#b00;font-weight:bold}\
figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#555}";

/// The headline figures, each with the key of the JSON report it comes from and its value.
pub fn figures(r: &Report) -> Vec<(&'static str, &'static str, String)> {
    let d = &r.liaison.disclosure_requests;
    vec![
        ("Cases received and discovered", "cases.total", thousands(r.cases.total)),
        (
            "Complaints and cases discovered by online patrol",
            "cases.complaints_and_discovered",
            thousands(r.cases.complaints_and_discovered),
        ),
        ("of which complaints", "cases.complaints", thousands(r.cases.complaints)),
        ("of which discovered by online patrol", "cases.discovered_by_patrol", thousands(r.cases.discovered_by_patrol)),
        ("of which referred by other agencies", "cases.agency_referrals", thousands(r.cases.agency_referrals)),
        ("Enquiries", "cases.enquiries", thousands(r.cases.enquiries)),
        ("Web links involved", "links.links_involved", thousands(r.links.links_involved)),
        ("Platforms involved", "links.platforms_involved", thousands(r.links.platforms_involved)),
        ("Platforms written to", "liaison.platforms_written_to", thousands(r.liaison.platforms_written_to)),
        ("Letters sent", "liaison.letters_sent", thousands(r.liaison.letters_sent)),
        (
            "Links the platforms were urged to remove",
            "liaison.links_requested_removal",
            thousands(r.liaison.links_requested_removal),
        ),
        ("Links removed", "liaison.links_removed", thousands(r.liaison.links_removed)),
        ("Removal rate (%)", "liaison.removal_rate_pct", r.liaison.removal_rate_pct.to_string()),
        ("Requests for uploaders' data", "liaison.disclosure_requests.sent", thousands(d.sent)),
        ("answered with data", "liaison.disclosure_requests.answered", thousands(d.answered)),
        ("refused", "liaison.disclosure_requests.refused", thousands(d.refused)),
        ("outstanding", "liaison.disclosure_requests.unanswered", thousands(d.unanswered)),
        (
            "Platforms served an injunction notice",
            "liaison.injunction_notices.platforms",
            thousands(r.liaison.injunction_notices.platforms),
        ),
        ("Summonses considered", "liaison.summonses.considered", thousands(r.liaison.summonses.considered)),
        ("Summonses issued", "liaison.summonses.issued", thousands(r.liaison.summonses.issued)),
        (
            "Cases referred to the Police",
            "referrals.cases_referred_to_police",
            thousands(r.referrals.cases_referred_to_police),
        ),
    ]
}

/// The page: `charts` is inline SVG (see `chart::svg`), or none.
pub fn page(r: &Report, charts: Option<&str>) -> String {
    let title = escape(&render::heading(r));
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    if r.form == Form::Internal {
        let _ = writeln!(s, "<p class=\"internal\">{}</p>", escape(render::INTERNAL_NOTICE));
    }
    for paragraph in render::plain_paragraphs(r) {
        let items: Vec<&str> = paragraph.lines().filter_map(|l| l.strip_prefix("  - ")).collect();
        if items.is_empty() {
            let _ = writeln!(s, "<p>{}</p>", escape(&paragraph));
        } else {
            s.push_str("<ul>\n");
            for item in items {
                let _ = writeln!(s, "<li>{}</li>", escape(item));
            }
            s.push_str("</ul>\n");
        }
    }
    s.push_str("<h2>The figures</h2>\n<table id=\"figures\">\n<tr><th>Figure</th><th class=\"n\">Value</th></tr>\n");
    for (label, key, value) in figures(r) {
        let _ = writeln!(s, "<tr><td>{}</td><td class=\"n\" data-key=\"{key}\">{value}</td></tr>", escape(label));
    }
    s.push_str("</table>\n<h2>Removals by platform</h2>\n<table id=\"platforms\">\n");
    s.push_str("<tr><th>Platform</th><th>Kind</th><th class=\"n\">Links requested</th><th class=\"n\">Removed</th><th class=\"n\">Rate</th></tr>\n");
    for p in &r.liaison.by_platform {
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}%</td></tr>",
            escape(&p.name),
            escape(&p.kind.to_ascii_lowercase().replace('_', " ")),
            thousands(p.links_requested_removal),
            thousands(p.links_removed),
            p.removal_rate_pct
        );
    }
    s.push_str("</table>\n");
    if let Some(svg) = charts {
        let _ = writeln!(
            s,
            "<h2>Over time</h2>\n<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>",
            escape("Cases received per week by kind, links requested and removed, and the removal rate per platform.")
        );
    }
    s.push_str("</body>\n</html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_name_changes_the_page() {
        let mut r = crate::report::tests::sample();
        let hostile = "Evil</td><script>alert(1)</script>";
        r.liaison.by_platform[0].name = hostile.to_owned();
        if let Some(m) = &mut r.liaison.most_active_platform {
            m.name = hostile.to_owned();
        }
        let page = page(&r.in_form(Form::PressSafe), None);
        assert!(!page.contains("<script>") && !page.contains("Evil</td>"), "{page}");
        assert!(page.contains("Evil&lt;/td&gt;&lt;script&gt;"), "{page}");
        assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
        assert!(!page.contains("http://") && !page.contains("https://") && !page.contains(" src="), "{page}");
    }

    #[test]
    fn the_internal_page_says_it_is_not_for_publication() {
        let r = crate::report::tests::sample();
        assert!(page(&r, None).contains("<p class=\"internal\">Internal: names channels"));
        assert!(!page(&r.clone().in_form(Form::PressSafe), None).contains("class=\"internal\""));
    }
}
