//! The synthetic dataset a checked scenario generates: cases spread from the first case to
//! `as_of`, their data subjects, the links they cite on real platforms' domains, the letters to
//! platforms, removals confirmed over the following days and weeks, the suspended channel, and the
//! referrals. Deterministic for a seed. Names and handles are fake and obviously so.

mod platforms;
mod timing;

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use time::{Duration, OffsetDateTime};

pub use self::platforms::{PLATFORMS, PlatformSpec, platform_of_kind};
use self::timing::{case_times, within};
use crate::scenario::Checked;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Complaint,
    Enquiry,
    Patrol,
    AgencyReferral,
}

/// A data subject's category, by the contract's name.
pub type Category = &'static str;

pub const POLICE: &[Category] = &["POLICE_OFFICER", "POLICE_OFFICER", "POLICE_OFFICER", "POLICE_FAMILY_MEMBER"];
pub const OTHERS: &[Category] = &[
    "GOVERNMENT_OFFICIAL",
    "LEGISLATOR",
    "CHILD",
    "STUDENT",
    "STUDENT",
    "TEACHER",
    "PROTESTER",
    "PROTESTER",
    "JOURNALIST",
    "OTHER",
];

#[derive(Debug, Clone)]
pub struct PlannedCase {
    pub kind: Kind,
    pub received_at: OffsetDateTime,
    pub subjects: Vec<Category>,
    /// Indices into `Plan::links`.
    pub links: Vec<usize>,
}

#[derive(Debug, Clone)]
pub struct PlannedLink {
    pub url: String,
    pub platform: usize,
    pub first_seen: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    RemovalRequest,
    /// A reminder of the notice at this index.
    Reminder(usize),
    DisclosureRequest,
    /// Draws the platform's attention to an injunction.
    InjunctionNotice,
}

impl NoticeKind {
    /// Whether it counts among the published "letters": removal requests and their reminders.
    pub fn is_letter(self) -> bool {
        matches!(self, NoticeKind::RemovalRequest | NoticeKind::Reminder(_))
    }
}

#[derive(Debug, Clone)]
pub struct PlannedNotice {
    pub platform: usize,
    pub kind: NoticeKind,
    pub served_at: OffsetDateTime,
    /// Indices into `Plan::links`; a reminder carries those of the notice it follows.
    pub links: Vec<usize>,
    /// For a disclosure request: whether the platform provided the data (Some(true)), refused
    /// (Some(false)) or did not answer.
    pub data_provided: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct PlannedReferral {
    pub case: usize,
    pub assessed_at: OffsetDateTime,
    pub referred_at: OffsetDateTime,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// `PLATFORMS` indices of the platforms involved; the first is the most active.
    pub platforms: Vec<usize>,
    pub cases: Vec<PlannedCase>,
    pub links: Vec<PlannedLink>,
    pub notices: Vec<PlannedNotice>,
    /// Links confirmed removed, and when.
    pub removals: Vec<(usize, OffsetDateTime)>,
    /// A link of the suspended channel, and when the suspension took effect.
    pub suspension: Option<(usize, OffsetDateTime)>,
    pub referrals: Vec<PlannedReferral>,
}

/// Splits `total` into `parts` whole shares of random weight, each at least `min` and at most
/// `max` (a best effort when the bounds are tight).
fn split(rng: &mut StdRng, total: i64, parts: usize, min: i64, max: i64) -> Vec<i64> {
    if parts == 0 {
        return Vec::new();
    }
    let weights: Vec<f64> = (0..parts).map(|_| rng.random_range(0.2..1.0f64).powi(2)).collect();
    let sum: f64 = weights.iter().sum();
    let spare = total - min * parts as i64;
    let mut shares: Vec<i64> = weights.iter().map(|w| min + (spare as f64 * w / sum).floor() as i64).collect();
    let mut left = total - shares.iter().sum::<i64>();
    let mut i = 0;
    while left != 0 && i < parts * 1000 {
        let j = i % parts;
        if left > 0 && shares[j] < max {
            shares[j] += 1;
            left -= 1;
        } else if left < 0 && shares[j] > min {
            shares[j] -= 1;
            left += 1;
        }
        i += 1;
    }
    // Move any excess over `max` to shares with room.
    for j in 0..parts {
        while shares[j] > max {
            if let Some(k) = (0..parts).find(|k| shares[*k] < max) {
                shares[j] -= 1;
                shares[k] += 1;
            } else {
                break;
            }
        }
    }
    shares
}

/// The plan for a checked scenario; the same scenario and seed always give the same plan.
pub fn generate(c: &Checked) -> Plan {
    let mut rng = StdRng::seed_from_u64(c.seed);
    // Each step draws from the generator in turn, so their order is part of the plan.
    let (mut cases, eligible) = plan_cases(c, &mut rng);
    let shares = PlatformShares::plan(c, &mut rng);
    let (links, per_platform) = plan_links(c, &mut rng, &mut cases, &eligible, &shares);
    let (notices, removals) = plan_letters(c, &mut rng, &links, &per_platform, &shares);
    let suspension = c.suspended_since.map(|since| {
        let link = per_platform[0]
            .iter()
            .copied()
            .find(|l| links[*l].url.contains("doxchannel0"))
            .unwrap_or(per_platform[0][0]);
        (link, since)
    });
    let referrals = plan_referrals(c, &mut rng, &cases, &eligible);
    // Last, so that no other figure's draws depend on whether the scenario has them.
    let mut notices = notices;
    push_injunction_notices(c, &mut rng, &links, &mut notices);
    Plan { platforms: shares.platforms, cases, links, notices, removals, suspension, referrals }
}

/// The last moment worth dating a letter or a referral at: an hour before `as_of`.
fn last_useful(c: &Checked) -> OffsetDateTime {
    c.as_of - Duration::hours(1)
}

/// The cases, in the order received, with their data subjects; and the indices of those that are
/// not enquiries (complaints and discoveries), which alone cite links and may be referred.
fn plan_cases(c: &Checked, rng: &mut StdRng) -> (Vec<PlannedCase>, Vec<usize>) {
    // Cases: the first on the first day; the rest week by week as `case_times` spreads them.
    let mut kinds: Vec<Kind> = Vec::new();
    kinds.extend(std::iter::repeat_n(Kind::Complaint, c.split.complaints as usize));
    kinds.extend(std::iter::repeat_n(Kind::Patrol, c.split.patrol as usize));
    kinds.extend(std::iter::repeat_n(Kind::AgencyReferral, c.split.agency as usize));
    kinds.extend(std::iter::repeat_n(Kind::Enquiry, c.scenario.cases.enquiries as usize));
    kinds.shuffle(rng);
    let mut times = case_times(c, rng, kinds.len());
    times.sort();
    if let Some(first) = times.first_mut() {
        *first = c.first_case + Duration::hours(10);
    }
    let mut police_left = c.police_cases;
    let mut cases: Vec<PlannedCase> = kinds
        .into_iter()
        .zip(times)
        .map(|(kind, received_at)| PlannedCase { kind, received_at, subjects: Vec::new(), links: Vec::new() })
        .collect();
    // Victim groups over complaints and discoveries: exactly `police_cases` with police.
    let mut eligible: Vec<usize> = (0..cases.len()).filter(|i| cases[*i].kind != Kind::Enquiry).collect();
    eligible.shuffle(rng);
    for i in &eligible {
        let case = &mut cases[*i];
        let subjects = if rng.random_bool(0.15) { 2 } else { 1 };
        if police_left > 0 {
            police_left -= 1;
            case.subjects = (0..subjects).map(|_| POLICE[rng.random_range(0..POLICE.len())]).collect();
        } else if !rng.random_bool(0.05) {
            case.subjects = (0..subjects).map(|_| OTHERS[rng.random_range(0..OTHERS.len())]).collect();
        }
    }
    (cases, eligible)
}

/// The platforms involved and each one's figures, by position in `platforms`: links whose removal
/// is requested, links removed, and links involved beyond those requested.
struct PlatformShares {
    /// `PLATFORMS` indices; the most active first, then the registry's others in order.
    platforms: Vec<usize>,
    /// The first `written` platforms are those written to.
    written: usize,
    requested: Vec<i64>,
    removed: Vec<i64>,
    extra: Vec<i64>,
}

impl PlatformShares {
    fn plan(c: &Checked, rng: &mut StdRng) -> Self {
        let s = &c.scenario;
        // Platforms involved: the most active first, then the registry's others in order.
        let most_active = platform_of_kind(&s.liaison.most_active_platform.kind).unwrap_or(0);
        let mut platforms = vec![most_active];
        platforms
            .extend((0..PLATFORMS.len()).filter(|p| *p != most_active).take(s.links.platforms_involved as usize - 1));
        let written = s.liaison.platforms_written_to as usize;
        let m = &s.liaison.most_active_platform;
        let mut requested = vec![m.links_requested_removal];
        requested.extend(split(
            rng,
            s.liaison.links_requested_removal - m.links_requested_removal,
            written - 1,
            1,
            m.links_requested_removal - 1,
        ));
        requested.resize(platforms.len(), 0);
        let mut removed = vec![m.links_removed];
        removed.extend(removed_in_proportion(s.liaison.links_removed - m.links_removed, &requested[1..written]));
        removed.resize(platforms.len(), 0);
        // Links involved per platform: the requested ones plus the rest, at least one each.
        let extra_min: Vec<i64> = (0..platforms.len()).map(|p| if requested[p] == 0 { 1 } else { 0 }).collect();
        let extra_total = s.links.links_involved - s.liaison.links_requested_removal;
        let mut extra = split(rng, extra_total - extra_min.iter().sum::<i64>(), platforms.len(), 0, i64::MAX);
        for (e, m) in extra.iter_mut().zip(&extra_min) {
            *e += m;
        }
        Self { platforms, written, requested, removed, extra }
    }
}

/// Shares out `removed` links over platforms in proportion to the links requested of each, the
/// remainder to the first with room, none above what was requested.
fn removed_in_proportion(removed: i64, requested: &[i64]) -> Vec<i64> {
    let total_requested: i64 = requested.iter().sum();
    let mut shares: Vec<i64> =
        requested.iter().map(|r| if total_requested == 0 { 0 } else { removed * r / total_requested }).collect();
    let mut left = removed - shares.iter().sum::<i64>();
    for (j, share) in shares.iter_mut().enumerate() {
        let room = requested[j] - *share;
        let add = room.min(left);
        *share += add;
        left -= add;
    }
    shares
}

/// Links, each first seen in a case (complaints and discoveries) that cites it, some cited again
/// by later cases; and each platform's links, by position in `shares.platforms`.
fn plan_links(
    c: &Checked,
    rng: &mut StdRng,
    cases: &mut [PlannedCase],
    eligible: &[usize],
    shares: &PlatformShares,
) -> (Vec<PlannedLink>, Vec<Vec<usize>>) {
    let mut links: Vec<PlannedLink> = Vec::new();
    let mut per_platform: Vec<Vec<usize>> = vec![Vec::new(); shares.platforms.len()];
    let old_enough: Vec<usize> =
        eligible.iter().copied().filter(|i| cases[*i].received_at <= c.as_of - Duration::days(3)).collect();
    for (p, spec_index) in shares.platforms.iter().enumerate() {
        let spec = &PLATFORMS[*spec_index];
        for n in 0..(shares.requested[p] + shares.extra[p]) as u32 {
            // Most of the most active platform's links are in its one most active channel.
            let channel = if p == 0 && rng.random_bool(0.7) { 0 } else { rng.random_range(1..6) };
            // Links whose removal is asked were seen early enough to be asked about.
            let pool = if (n as i64) < shares.requested[p] { &old_enough[..] } else { eligible };
            let case = pool[rng.random_range(0..pool.len())];
            let index = links.len();
            links.push(PlannedLink {
                url: (spec.url)(channel, 10_000 + n),
                platform: p,
                first_seen: cases[case].received_at,
            });
            cases[case].links.push(index);
            per_platform[p].push(index);
        }
    }
    // Some links are cited again by later cases.
    for _ in 0..links.len() / 5 {
        let link = rng.random_range(0..links.len());
        let case = eligible[rng.random_range(0..eligible.len())];
        if cases[case].received_at >= links[link].first_seen
            && !cases[case].links.contains(&link)
            && cases[case].links.len() < 20
        {
            cases[case].links.push(link);
        }
    }
    (links, per_platform)
}

/// Letters to each platform written to: removal requests in groups by first sighting, reminders of
/// some of them and a disclosure request; and the removals the requests led to, confirmed later.
fn plan_letters(
    c: &Checked,
    rng: &mut StdRng,
    links: &[PlannedLink],
    per_platform: &[Vec<usize>],
    shares: &PlatformShares,
) -> (Vec<PlannedNotice>, Vec<(usize, OffsetDateTime)>) {
    let letters = letters_per_platform(c.scenario.liaison.letters_sent, &shares.requested[..shares.written]);
    let mut notices: Vec<PlannedNotice> = Vec::new();
    let mut removals = Vec::new();
    for p in 0..shares.written {
        let mut asked: Vec<usize> = per_platform[p][..shares.requested[p] as usize].to_vec();
        asked.sort_by_key(|l| links[*l].first_seen);
        let requests = ((letters[p] as f64 * 0.7).ceil() as i64).clamp(1, letters[p]).min(asked.len() as i64) as usize;
        let reminders = letters[p] as usize - requests;
        let first_notice = notices.len();
        push_removal_requests(c, rng, p, &asked, requests, links, &mut notices);
        push_reminders(c, rng, p, first_notice, reminders, &mut notices);
        confirm_removals(c, rng, &notices[first_notice..], shares.removed[p], &mut removals);
        notices.push(disclosure_request(c, rng, p, asked[0], links));
    }
    (notices, removals)
}

/// The letters (removal requests and reminders) sent to each platform written to: `letters_sent`
/// shared by the square root of the links requested of each, at least one each.
fn letters_per_platform(letters_sent: i64, requested: &[i64]) -> Vec<i64> {
    let written = requested.len();
    let letter_weights: Vec<i64> = requested.iter().map(|r| (*r as f64).sqrt().ceil() as i64).collect();
    let weight_sum: i64 = letter_weights.iter().sum();
    let mut letters: Vec<i64> = letter_weights.iter().map(|w| (letters_sent * w / weight_sum).max(1)).collect();
    let mut diff = letters_sent - letters.iter().sum::<i64>();
    let mut j = 0;
    while diff != 0 {
        if diff > 0 {
            letters[j % written] += 1;
            diff -= 1;
        } else if letters[j % written] > 1 {
            letters[j % written] -= 1;
            diff += 1;
        }
        j += 1;
    }
    letters
}

/// `requests` removal requests to platform `p`, each for a group of the links `asked` (in the order
/// first seen), served a day to four days after the last of its links was seen.
fn push_removal_requests(
    c: &Checked,
    rng: &mut StdRng,
    p: usize,
    asked: &[usize],
    requests: usize,
    links: &[PlannedLink],
    notices: &mut Vec<PlannedNotice>,
) {
    let group = asked.len().div_ceil(requests);
    for chunk in asked.chunks(group) {
        let seen = chunk.iter().map(|l| links[*l].first_seen).max().unwrap_or(c.first_case);
        let served_at = within(rng, seen + Duration::days(1), seen + Duration::days(4), last_useful(c));
        notices.push(PlannedNotice {
            platform: p,
            kind: NoticeKind::RemovalRequest,
            served_at,
            links: chunk.to_vec(),
            data_provided: None,
        });
    }
}

/// `reminders` reminders to platform `p`, of its requests from `first_notice` on in turn, each a
/// week or two after the request it follows.
fn push_reminders(
    c: &Checked,
    rng: &mut StdRng,
    p: usize,
    first_notice: usize,
    reminders: usize,
    notices: &mut Vec<PlannedNotice>,
) {
    let made = notices.len() - first_notice;
    for r in 0..reminders {
        let follows = first_notice + r % made.max(1);
        let after = notices[follows].served_at;
        let served_at = within(rng, after + Duration::days(7), after + Duration::days(14), last_useful(c))
            .max(after + Duration::minutes(1));
        let links_of = notices[follows].links.clone();
        notices.push(PlannedNotice {
            platform: p,
            kind: NoticeKind::Reminder(follows),
            served_at,
            links: links_of,
            data_provided: None,
        });
    }
}

/// Removals confirmed by checks days to weeks after the first request: at any earlier moment the
/// links asked for most recently are still up, so the rate climbs over time. `removed` links of
/// those the removal requests among `notices` name, at random.
fn confirm_removals(
    c: &Checked,
    rng: &mut StdRng,
    notices: &[PlannedNotice],
    removed: i64,
    removals: &mut Vec<(usize, OffsetDateTime)>,
) {
    let mut first_request: Vec<(usize, OffsetDateTime)> = Vec::new();
    for notice in notices {
        if notice.kind == NoticeKind::RemovalRequest {
            for l in &notice.links {
                first_request.push((*l, notice.served_at));
            }
        }
    }
    first_request.shuffle(rng);
    // The removed are drawn from the links asked a while ago first: a platform takes days, and
    // a link asked an hour before `as_of` is rarely down by then.
    let settled = c.as_of - Duration::days(2);
    first_request.sort_by_key(|(_, asked_at)| *asked_at > settled);
    for (l, asked_at) in first_request.into_iter().take(removed as usize) {
        let days = rng.random_range(2..=30);
        let confirmed =
            within(rng, asked_at + Duration::hours(6), asked_at + Duration::days(days), c.as_of - Duration::minutes(1));
        removals.push((l, confirmed.max(asked_at + Duration::seconds(1)).min(c.as_of)));
    }
}

/// A disclosure request to platform `p` about one of its links, answered with data, refused or
/// not answered.
fn disclosure_request(c: &Checked, rng: &mut StdRng, p: usize, link: usize, links: &[PlannedLink]) -> PlannedNotice {
    let served_at =
        within(rng, links[link].first_seen + Duration::days(2), c.as_of - Duration::days(1), last_useful(c));
    let data_provided = match rng.random_range(0..3) {
        0 => Some(true),
        1 => Some(false),
        _ => None,
    };
    PlannedNotice { platform: p, kind: NoticeKind::DisclosureRequest, served_at, links: vec![link], data_provided }
}

/// One injunction notice to each of the first platforms written to, about the first link asked
/// of it: the first at the scenario's moment, the others within three days after it.
fn push_injunction_notices(c: &Checked, rng: &mut StdRng, links: &[PlannedLink], notices: &mut Vec<PlannedNotice>) {
    let (Some(from), Some(wanted)) = (c.injunctions_from, c.scenario.liaison.injunction_notices.as_ref()) else {
        return;
    };
    let mut platforms: Vec<(usize, usize)> = Vec::new();
    for n in notices.iter().filter(|n| n.kind == NoticeKind::RemovalRequest) {
        if !platforms.iter().any(|(p, _)| *p == n.platform) {
            platforms.push((n.platform, n.links[0]));
        }
    }
    for (i, (p, link)) in platforms.into_iter().take(wanted.platforms as usize).enumerate() {
        let served_at = if i == 0 { from } else { within(rng, from, from + Duration::days(3), last_useful(c)) };
        let served_at = served_at.max(links[link].first_seen + Duration::seconds(1));
        notices.push(PlannedNotice {
            platform: p,
            kind: NoticeKind::InjunctionNotice,
            served_at,
            links: vec![link],
            data_provided: None,
        });
    }
}

/// Referrals: cases assessed and referred to the Police days to weeks after they came in.
fn plan_referrals(c: &Checked, rng: &mut StdRng, cases: &[PlannedCase], eligible: &[usize]) -> Vec<PlannedReferral> {
    let mut candidates: Vec<usize> =
        eligible.iter().copied().filter(|i| cases[*i].received_at <= c.as_of - Duration::days(5)).collect();
    candidates.shuffle(rng);
    candidates
        .into_iter()
        .take(c.scenario.referrals.cases_referred_to_police as usize)
        .map(|case| {
            let received = cases[case].received_at;
            let assessed_at =
                within(rng, received + Duration::days(1), received + Duration::days(10), c.as_of - Duration::days(2));
            let referred_at =
                within(rng, assessed_at + Duration::hours(2), assessed_at + Duration::days(14), last_useful(c));
            PlannedReferral { case, assessed_at, referred_at }
        })
        .collect()
}

#[cfg(test)]
mod tests;
