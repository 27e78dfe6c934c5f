//! The sentences of the statement that say what the regulator did besides asking for removals:
//! how its categories of cases add up, the uploaders' data it asked platforms for, the injunction
//! it drew their attention to, the summonses it considered or issued, and the legal basis of its
//! referrals to the Police. Each is said from the figures, and left out when there is nothing to
//! say.

use std::collections::BTreeMap;

use crate::{
    moment::long_date,
    render::thousands,
    report::{Cases, Disclosure, Served, Summonses},
};

/// "one platform", "14 platforms".
pub fn count(n: i64, one: &str, many: &str) -> String {
    if n == 1 { format!("one {one}") } else { format!("{} {many}", thousands(n)) }
}

/// "once", "twice", "40 times".
pub fn times(n: i64) -> String {
    match n {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{} times", thousands(n)),
    }
}

/// How the statement's "complaints and cases discovered by online patrol" add up from the
/// system's finer kinds, rather than relabelling them.
pub fn categories(c: &Cases) -> String {
    let whole = thousands(c.complaints_and_discovered);
    if c.agency_referrals == 0 {
        return format!(
            "Of the {whole} complaints and cases discovered by online patrol, {} were complaints and {} were discovered by online patrol.",
            thousands(c.complaints),
            thousands(c.discovered_by_patrol)
        );
    }
    format!(
        "Of the {whole} complaints and cases discovered by online patrol, {} were complaints, {} were discovered by online patrol and {} were referred by other agencies, counted here with the complaints ({} + {} + {} = {whole}).",
        thousands(c.complaints),
        thousands(c.discovered_by_patrol),
        thousands(c.agency_referrals),
        thousands(c.complaints),
        thousands(c.discovered_by_patrol),
        thousands(c.agency_referrals),
    )
}

/// The requests for uploaders' registration data and IP addresses: asked, answered, refused,
/// outstanding.
pub fn disclosure(d: &Disclosure) -> Option<String> {
    (d.sent > 0).then(|| {
        format!(
            "The regulator has also asked platforms {} to provide the registration data and IP addresses of the uploaders: {} answered with the data, {} refused and {} outstanding.",
            times(d.sent),
            thousands(d.answered),
            thousands(d.refused),
            thousands(d.unanswered)
        )
    })
}

/// "on 28 October 2019", "between 28 October 2019 and 31 October 2019".
fn on_days(first: Option<&str>, last: Option<&str>) -> String {
    match (first, last) {
        (Some(f), Some(l)) if f != l => format!("between {} and {}", long_date(f), long_date(l)),
        (Some(f), _) => format!("on {}", long_date(f)),
        _ => String::new(),
    }
}

/// The platforms whose attention was drawn to the injunction, and when.
pub fn injunction(s: &Served) -> Option<String> {
    (s.notices > 0).then(|| {
        format!(
            "The regulator has drawn the attention of {} to the injunction, warning that neglecting it may amount to contempt of court: {} served {}.",
            count(s.platforms, "platform", "platforms"),
            count(s.notices, "notice", "notices"),
            on_days(s.first_served.as_deref(), s.last_served.as_deref())
        )
    })
}

/// Summonses considered (in draft) and issued (served).
pub fn summonses(s: &Summonses) -> Option<String> {
    let considered = count(s.considered, "summons", "summonses");
    match (s.issued, s.considered) {
        (0, 0) => None,
        (0, _) => Some(format!("The regulator is considering {considered}; none has been issued.")),
        (issued, c) => {
            let more = if c > 0 { format!(", and is considering {} more", thousands(c)) } else { String::new() };
            Some(format!(
                "The regulator has issued {} to {}{more}.",
                count(issued, "summons", "summonses"),
                count(s.platforms, "platform", "platforms")
            ))
        }
    }
}

/// The legal basis the referrals rest on, as the statement names it: "under section 64 of the
/// PDPO" when every case referred cites a subsection of section 64; otherwise how many do.
pub fn legal_basis(referred: i64, by_basis: &BTreeMap<String, i64>) -> String {
    let s64 = by_basis.iter().filter(|(b, n)| b.starts_with("S64") && **n > 0).count();
    let other = by_basis.get("OTHER").copied().unwrap_or(0);
    match (s64, other) {
        (0, 0) => String::new(),
        (_, 0) => " under section 64 of the PDPO".to_owned(),
        (0, _) => " under provisions other than section 64 of the PDPO".to_owned(),
        _ => format!(
            " under section 64 of the PDPO or, for {} of them, another provision",
            thousands(other.min(referred))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_say_how_they_add_up() {
        let c = Cases {
            total: 4122,
            complaints_and_discovered: 3790,
            complaints: 2577,
            discovered_by_patrol: 1061,
            agency_referrals: 152,
            enquiries: 332,
        };
        assert_eq!(
            categories(&c),
            "Of the 3,790 complaints and cases discovered by online patrol, 2,577 were complaints, 1,061 were discovered by online patrol and 152 were referred by other agencies, counted here with the complaints (2,577 + 1,061 + 152 = 3,790)."
        );
        let none_referred = Cases { agency_referrals: 0, complaints: 2729, ..c };
        assert!(
            categories(&none_referred).ends_with("2,729 were complaints and 1,061 were discovered by online patrol.")
        );
    }

    #[test]
    fn actions_are_said_only_when_taken() {
        let nothing = Served { notices: 0, platforms: 0, first_served: None, last_served: None };
        assert_eq!(injunction(&nothing), None);
        let one_day = Served {
            notices: 1,
            platforms: 1,
            first_served: Some("2019-10-28".into()),
            last_served: Some("2019-10-28".into()),
        };
        assert_eq!(
            injunction(&one_day).unwrap(),
            "The regulator has drawn the attention of one platform to the injunction, warning that neglecting it may amount to contempt of court: one notice served on 28 October 2019."
        );
        assert_eq!(summonses(&Summonses { considered: 0, issued: 0, platforms: 0 }), None);
        assert_eq!(
            summonses(&Summonses { considered: 2, issued: 0, platforms: 0 }).unwrap(),
            "The regulator is considering 2 summonses; none has been issued."
        );
        assert_eq!(
            summonses(&Summonses { considered: 1, issued: 3, platforms: 2 }).unwrap(),
            "The regulator has issued 3 summonses to 2 platforms, and is considering 1 more."
        );
        assert_eq!(disclosure(&Disclosure { sent: 0, answered: 0, refused: 0, unanswered: 0 }), None);
        assert_eq!(
            disclosure(&Disclosure { sent: 1, answered: 0, refused: 1, unanswered: 0 }).unwrap(),
            "The regulator has also asked platforms once to provide the registration data and IP addresses of the uploaders: 0 answered with the data, 1 refused and 0 outstanding."
        );
    }

    #[test]
    fn the_legal_basis_is_named_as_the_statement_names_it() {
        let bases = |pairs: &[(&str, i64)]| pairs.iter().map(|(b, n)| ((*b).to_owned(), *n)).collect();
        assert_eq!(legal_basis(10, &bases(&[("S64_2", 10), ("OTHER", 0)])), " under section 64 of the PDPO");
        assert_eq!(legal_basis(10, &bases(&[("S64_1", 4), ("S64_3A", 7)])), " under section 64 of the PDPO");
        assert_eq!(legal_basis(0, &bases(&[("S64_1", 0)])), "");
        assert_eq!(
            legal_basis(10, &bases(&[("S64_1", 8), ("OTHER", 2)])),
            " under section 64 of the PDPO or, for 2 of them, another provision"
        );
    }
}
