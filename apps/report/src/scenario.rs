//! Scenario files: the published figures of a statement (as in
//! `examples/scenarios/pcpd-2019-11-08.toml`), read and checked for consistency before anything is
//! generated from them. Every key of that file is accepted as it is there; a few optional keys
//! steer the generator.

use serde::Deserialize;
use time::{Date, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// The moment the statement is as at, with its offset (`2019-11-08T12:00:00+08:00`).
    pub as_of: String,
    /// The day the first case was received (`2019-06-14`), in the offset of `as_of`.
    pub first_case_received: String,
    /// Seeds the generator; defaults to a hash of `name`, so a file always generates the same data.
    #[serde(default)]
    pub seed: Option<u64>,
    pub cases: Cases,
    pub victims: Victims,
    pub links: Links,
    pub liaison: Liaison,
    pub referrals: Referrals,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cases {
    /// Received and discovered, enquiries included.
    pub total: i64,
    /// Complaints, patrol discoveries and referrals from other agencies.
    pub complaints_and_discovered: i64,
    pub enquiries: i64,
    /// Optional split of `complaints_and_discovered`; by default about 70% complaints, 28%
    /// patrol discoveries and 2% referrals from other agencies.
    #[serde(default)]
    pub complaints: Option<i64>,
    #[serde(default)]
    pub discovered_by_patrol: Option<i64>,
    #[serde(default)]
    pub agency_referrals: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Victims {
    pub police_and_families_pct: i64,
    pub other_pct: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    pub platforms_involved: i64,
    pub links_involved: i64,
    #[serde(default)]
    pub suspended_channel: Option<SuspendedChannel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuspendedChannel {
    /// The day the most active platform's most active channel was suspended.
    pub suspended_since: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Liaison {
    pub platforms_written_to: i64,
    pub letters_sent: i64,
    pub links_requested_removal: i64,
    pub links_removed: i64,
    pub removal_rate_pct: i64,
    pub most_active_platform: MostActivePlatform,
    /// Notices drawing the platforms' attention to an injunction; none when absent.
    #[serde(default)]
    pub injunction_notices: Option<InjunctionNotices>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjunctionNotices {
    /// Platforms served one, among those written to.
    pub platforms: i64,
    /// The day the first was served (`2019-10-28`), in the offset of `as_of`; the others follow
    /// within three days.
    pub first_served: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MostActivePlatform {
    /// A platform kind, e.g. INSTANT_MESSAGING.
    pub kind: String,
    pub links_requested_removal: i64,
    pub links_removed: i64,
    pub removal_rate_pct: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Referrals {
    pub cases_referred_to_police: i64,
}

/// A percentage rounded half up to a whole number, as published figures are.
pub fn percent(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        return 0;
    }
    (200 * part + whole) / (2 * whole)
}

/// The split of complaints and discoveries into kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSplit {
    pub complaints: i64,
    pub patrol: i64,
    pub agency: i64,
}

/// A scenario whose figures were found consistent, with its parsed times.
#[derive(Debug, Clone)]
pub struct Checked {
    pub scenario: Scenario,
    pub as_of: OffsetDateTime,
    pub first_case: OffsetDateTime,
    pub suspended_since: Option<OffsetDateTime>,
    /// When the first injunction notice was served, if the scenario has them.
    pub injunctions_from: Option<OffsetDateTime>,
    pub split: KindSplit,
    /// Cases with a police officer or family member among their data subjects.
    pub police_cases: i64,
    pub seed: u64,
}

fn day_in(text: &str, offset: time::UtcOffset) -> Result<OffsetDateTime, String> {
    let date = Date::parse(text, format_description!("[year]-[month]-[day]"))
        .map_err(|e| format!("{text:?} is not a date: {e}"))?;
    Ok(date.midnight().assume_offset(offset))
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("not a valid scenario file: {e}"))
    }

    /// Checks that the figures can all be true at once; lists every inconsistency.
    pub fn check(self) -> Result<Checked, Vec<String>> {
        let mut problems = Vec::new();
        let as_of = OffsetDateTime::parse(&self.as_of, &Rfc3339).map_err(|e| vec![format!("as_of: {e}")])?;
        let first_case =
            day_in(&self.first_case_received, as_of.offset()).map_err(|e| vec![format!("first_case_received: {e}")])?;
        if first_case > as_of {
            problems.push("first_case_received is after as_of".to_owned());
        }
        let split = self.cases.kind_split(&mut problems);
        let police_cases = self.victims.police_cases(self.cases.complaints_and_discovered, &mut problems);
        self.links.check_counts(&self.liaison, &mut problems);
        self.liaison.check_removals(&mut problems);
        self.liaison.check_most_active(&mut problems);
        self.links.check_registry(&self.liaison, &mut problems);
        let suspended_since = self.links.suspended_since(as_of, first_case, &mut problems);
        let injunctions_from = self.liaison.injunctions_from(as_of, first_case, &mut problems);
        if self.referrals.cases_referred_to_police > self.cases.complaints_and_discovered
            || self.referrals.cases_referred_to_police < 0
        {
            problems.push("referrals.cases_referred_to_police exceeds the complaints and discoveries".to_owned());
        }
        if (as_of - first_case).whole_days() < 14 {
            problems.push("the scenario must span at least 14 days".to_owned());
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let seed = self.seed.unwrap_or_else(|| {
            self.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
        });
        Ok(Checked {
            as_of,
            first_case,
            suspended_since,
            injunctions_from,
            split,
            police_cases: police_cases.unwrap_or(0),
            seed,
            scenario: self,
        })
    }
}

impl Cases {
    /// Checks the case counts; the split of complaints and discoveries into kinds, given or by
    /// default.
    fn kind_split(&self, problems: &mut Vec<String>) -> KindSplit {
        for (key, value) in [
            ("cases.total", self.total),
            ("cases.complaints_and_discovered", self.complaints_and_discovered),
            ("cases.enquiries", self.enquiries),
        ] {
            if value < 0 {
                problems.push(format!("{key} is negative"));
            }
        }
        if self.total != self.complaints_and_discovered + self.enquiries {
            problems.push(format!(
                "cases.total ({}) is not complaints_and_discovered ({}) + enquiries ({})",
                self.total, self.complaints_and_discovered, self.enquiries
            ));
        }
        match (self.complaints, self.discovered_by_patrol, self.agency_referrals) {
            (None, None, None) => {
                let patrol = self.complaints_and_discovered * 28 / 100;
                let agency = self.complaints_and_discovered * 2 / 100;
                KindSplit { complaints: self.complaints_and_discovered - patrol - agency, patrol, agency }
            }
            (Some(a), Some(b), Some(d)) => {
                if a + b + d != self.complaints_and_discovered || a < 0 || b < 0 || d < 0 {
                    problems.push("cases.complaints + discovered_by_patrol + agency_referrals must add up to complaints_and_discovered".to_owned());
                }
                KindSplit { complaints: a, patrol: b, agency: d }
            }
            _ => {
                problems.push(
                    "give all of cases.complaints, discovered_by_patrol and agency_referrals, or none".to_owned(),
                );
                KindSplit { complaints: 0, patrol: 0, agency: 0 }
            }
        }
    }
}

impl Victims {
    /// The number of the `base` complaints and discoveries with police among their victims whose
    /// share rounds to the published percentages; none if no number does.
    fn police_cases(&self, base: i64, problems: &mut Vec<String>) -> Option<i64> {
        if self.police_and_families_pct + self.other_pct != 100 {
            problems.push("victims: the two percentages must add up to 100".to_owned());
        }
        let police_cases = (0..=base)
            .find(|n| percent(*n, base) == self.police_and_families_pct && percent(base - n, base) == self.other_pct);
        if police_cases.is_none() {
            problems.push(format!(
                "victims: no number of cases out of {base} rounds to {}% and {}%",
                self.police_and_families_pct, self.other_pct
            ));
        }
        police_cases
    }
}

impl Links {
    /// Enough links for the platforms involved, and more platforms and links than were written to
    /// or asked about.
    fn check_counts(&self, li: &Liaison, problems: &mut Vec<String>) {
        if self.platforms_involved < 1 || self.links_involved < self.platforms_involved {
            problems.push("links: there must be at least one link on each platform involved".to_owned());
        }
        if self.links_involved - li.links_requested_removal < self.platforms_involved - li.platforms_written_to {
            problems
                .push("links: each platform not written to needs a link of its own beyond those requested".to_owned());
        }
        if li.platforms_written_to > self.platforms_involved {
            problems.push("liaison.platforms_written_to exceeds links.platforms_involved".to_owned());
        }
        if li.links_requested_removal > self.links_involved {
            problems.push("liaison.links_requested_removal exceeds links.links_involved".to_owned());
        }
    }

    /// The most active platform's kind and the number of platforms are ones the generator knows.
    fn check_registry(&self, li: &Liaison, problems: &mut Vec<String>) {
        let m = &li.most_active_platform;
        if crate::plan::platform_of_kind(&m.kind).is_none() {
            problems
                .push(format!("liaison.most_active_platform.kind {:?} is not a platform kind of the registry", m.kind));
        }
        if self.platforms_involved > crate::plan::PLATFORMS.len() as i64 {
            problems.push(format!(
                "links.platforms_involved: the generator knows {} platforms",
                crate::plan::PLATFORMS.len()
            ));
        }
    }

    /// The day the suspended channel was suspended, if there is one and it is within the span.
    fn suspended_since(
        &self,
        as_of: OffsetDateTime,
        first_case: OffsetDateTime,
        problems: &mut Vec<String>,
    ) -> Option<OffsetDateTime> {
        match &self.suspended_channel {
            None => None,
            Some(s) => match day_in(&s.suspended_since, as_of.offset()) {
                Ok(t) if t <= as_of && t >= first_case => Some(t),
                Ok(_) => {
                    problems.push(
                        "links.suspended_channel.suspended_since must be between the first case and as_of".to_owned(),
                    );
                    None
                }
                Err(e) => {
                    problems.push(format!("links.suspended_channel.suspended_since: {e}"));
                    None
                }
            },
        }
    }
}

impl Liaison {
    /// The first injunction notice's service, ten in the morning of its day: among the platforms
    /// written to, within the span.
    fn injunctions_from(
        &self,
        as_of: OffsetDateTime,
        first_case: OffsetDateTime,
        problems: &mut Vec<String>,
    ) -> Option<OffsetDateTime> {
        let notices = self.injunction_notices.as_ref()?;
        if notices.platforms < 1 || notices.platforms > self.platforms_written_to {
            problems.push(format!(
                "liaison.injunction_notices.platforms must be between 1 and the platforms written to ({})",
                self.platforms_written_to
            ));
        }
        match day_in(&notices.first_served, as_of.offset()) {
            Ok(day) if day >= first_case && day + time::Duration::hours(10) < as_of => {
                Some(day + time::Duration::hours(10))
            }
            Ok(_) => {
                problems.push(
                    "liaison.injunction_notices.first_served must be between the first case and as_of".to_owned(),
                );
                None
            }
            Err(e) => {
                problems.push(format!("liaison.injunction_notices.first_served: {e}"));
                None
            }
        }
    }

    /// The totals: no more removed than requested, the published rate, and a letter and a link
    /// requested for each platform written to.
    fn check_removals(&self, problems: &mut Vec<String>) {
        if self.links_removed > self.links_requested_removal {
            problems.push(format!(
                "more links removed ({}) than requested ({})",
                self.links_removed, self.links_requested_removal
            ));
        }
        if percent(self.links_removed, self.links_requested_removal) != self.removal_rate_pct {
            problems.push(format!(
                "liaison.removal_rate_pct is {} but {} of {} is {}%",
                self.removal_rate_pct,
                self.links_removed,
                self.links_requested_removal,
                percent(self.links_removed, self.links_requested_removal)
            ));
        }
        if self.platforms_written_to < 1 || self.letters_sent < self.platforms_written_to {
            problems.push("liaison: at least one letter to each platform written to".to_owned());
        }
        if self.links_requested_removal < self.platforms_written_to {
            problems.push("liaison: at least one link requested of each platform written to".to_owned());
        }
    }

    /// The most active platform's figures fit within the totals, its rate is the published one,
    /// and what is left can be shared out over the other platforms written to.
    fn check_most_active(&self, problems: &mut Vec<String>) {
        let m = &self.most_active_platform;
        if m.links_removed > m.links_requested_removal
            || m.links_requested_removal > self.links_requested_removal
            || m.links_removed > self.links_removed
        {
            problems.push("liaison.most_active_platform: its figures exceed the totals or its requests".to_owned());
        }
        if percent(m.links_removed, m.links_requested_removal) != m.removal_rate_pct {
            problems.push(format!(
                "liaison.most_active_platform.removal_rate_pct is {} but {} of {} is {}%",
                m.removal_rate_pct,
                m.links_removed,
                m.links_requested_removal,
                percent(m.links_removed, m.links_requested_removal)
            ));
        }
        let others = self.platforms_written_to - 1;
        let rest_requested = self.links_requested_removal - m.links_requested_removal;
        let rest_removed = self.links_removed - m.links_removed;
        if others == 0 && rest_requested != 0 {
            problems.push(
                "liaison: with one platform written to, it must be the most active and have every request".to_owned(),
            );
        }
        if others > 0 && (rest_requested < others || rest_requested > others * (m.links_requested_removal - 1)) {
            problems.push(
                "liaison: the other platforms' requests cannot each be fewer than the most active platform's"
                    .to_owned(),
            );
        }
        if rest_removed > rest_requested {
            problems.push("liaison: the other platforms would have more links removed than requested".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLISHED: &str = include_str!("../../../examples/scenarios/pcpd-2019-11-08.toml");

    #[test]
    fn the_published_statement_is_consistent() {
        let checked = Scenario::parse(PUBLISHED).unwrap().check().unwrap();
        assert_eq!(percent(checked.police_cases, 3790), 34);
        assert_eq!(checked.split.complaints + checked.split.patrol + checked.split.agency, 3790);
    }

    #[test]
    fn rounds_half_up() {
        assert_eq!(percent(1629, 2017), 81);
        assert_eq!(percent(1102, 1396), 79);
        assert_eq!(percent(1, 2), 50);
        assert_eq!(percent(1, 200), 1);
        assert_eq!(percent(0, 0), 0);
    }

    #[test]
    fn an_inconsistent_file_is_refused_with_every_reason() {
        let text =
            PUBLISHED.replace("links_removed = 1629", "links_removed = 2500").replace("total = 4122", "total = 4000");
        let problems = Scenario::parse(&text).unwrap().check().unwrap_err();
        assert!(problems.iter().any(|p| p.contains("more links removed")), "{problems:?}");
        assert!(problems.iter().any(|p| p.contains("cases.total")), "{problems:?}");
    }
}
