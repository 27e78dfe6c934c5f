//! Domain values to wire values, and the parsing of names and registrations from requests.

use doxwatch_kit::as_at::AsAt;
use doxwatch_kit::{
    error::FieldViolations,
    timestamp::{self, to_proto},
    validate,
};
use doxwatch_proto::links as pb;
use time::OffsetDateTime;

use crate::domain::*;

pub fn platform(p: &Platform) -> pb::Platform {
    pb::Platform {
        name: p.id.name(),
        display_name: p.display_name.clone(),
        kind: p.kind.code(),
        domains: p.domains.clone(),
        registry_key: p.registry_key.clone().unwrap_or_default(),
        create_time: Some(to_proto(p.create_time)),
        update_time: Some(to_proto(p.update_time)),
    }
}

pub fn channel(c: &Channel) -> pb::Channel {
    pb::Channel {
        name: c.id.name(),
        platform: c.platform.name(),
        handle: c.handle.clone(),
        url: c.url.clone(),
        status: c.status.code(),
        status_since: Some(to_proto(c.status_since)),
        create_time: Some(to_proto(c.create_time)),
    }
}

pub fn link(l: &Link) -> pb::Link {
    pb::Link {
        name: l.id.name(),
        reported_url: l.reported_url.clone(),
        canonical_url: l.canonical_url.clone(),
        platform: l.platform.name(),
        channel: l.channel.map(|c| c.name()).unwrap_or_default(),
        message_id: l.message_id.clone().unwrap_or_default(),
        first_seen_at: Some(to_proto(l.first_seen_at)),
        cases: l.first_cases.iter().map(|c| c.name()).collect(),
        case_count: l.case_count,
        status: l.status.code(),
        create_time: Some(to_proto(l.create_time)),
        reappeared: l.reappeared,
    }
}

pub fn citation(c: &Citation) -> pb::Citation {
    pb::Citation {
        name: c.name(),
        case: c.case.name(),
        first_seen_at: Some(to_proto(c.first_seen_at)),
        create_time: Some(to_proto(c.create_time)),
    }
}

pub fn observation(o: &Observation) -> pb::Observation {
    pb::Observation {
        name: format!("{}/observations/{}", o.link.name(), o.id),
        link: o.link.name(),
        status: o.status.code(),
        observed_at: Some(to_proto(o.observed_at)),
        vantage: o.vantage.code(),
        source: o.source.code(),
        note: o.note.clone(),
        recorded_by: o.recorded_by.clone(),
        record_time: Some(to_proto(o.record_time)),
    }
}

pub fn registration_results(
    registrations: &[pb::LinkRegistration],
    outcomes: &[Registered],
    links: &[Link],
) -> pb::RegisterLinksResponse {
    let find = |id: &LinkId| links.iter().find(|l| l.id == *id).map(link);
    pb::RegisterLinksResponse {
        results: registrations
            .iter()
            .zip(outcomes)
            .map(|(r, outcome)| {
                let (outcome, link, error) = match outcome {
                    Registered::New(id) => (pb::RegistrationOutcome::New, find(id), String::new()),
                    Registered::Known(id) => (pb::RegistrationOutcome::Known, find(id), String::new()),
                    Registered::Refused(e) => (pb::RegistrationOutcome::Refused, None, e.clone()),
                };
                pb::RegistrationResult { url: r.url.clone(), outcome: outcome as i32, link, error }
            })
            .collect(),
    }
}

/// A required resource name of a collection.
pub fn name<T>(v: &mut FieldViolations, field: &str, value: &str, parse: fn(&str) -> Result<T, String>) -> Option<T> {
    v.check(field, parse(value))
}

/// An optional resource name: empty is "none".
pub fn optional_name<T>(
    v: &mut FieldViolations,
    field: &str,
    value: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Option<T> {
    if value.is_empty() { None } else { v.check(field, parse(value)) }
}

/// Checks registrations' cases and times. URLs are judged when registered: a URL doxwatch does not
/// track refuses its registration only, while a bad case name or time refuses the request.
pub fn registrations(
    v: &mut FieldViolations,
    field: &str,
    items: &[pb::LinkRegistration],
    now: OffsetDateTime,
) -> Vec<Registration> {
    if items.is_empty() {
        v.add(field, "must have at least one registration");
    } else if items.len() > MAX_REGISTRATIONS {
        v.add(field, format!("at most {MAX_REGISTRATIONS} registrations at once"));
    }
    items
        .iter()
        .take(MAX_REGISTRATIONS)
        .enumerate()
        .map(|(i, r)| Registration {
            url: r.url.clone(),
            case: optional_name(v, &format!("{field}[{i}].case"), &r.case, CaseRef::parse_name),
            seen_at: validate::business_time(v, &format!("{field}[{i}].seen_at"), r.seen_at.as_ref(), now)
                .unwrap_or(now),
        })
        .collect()
}

pub fn figures(f: &RemovalFigures) -> pb::RemovalFigures {
    pb::RemovalFigures {
        links: f.links,
        links_requested: f.requested,
        links_removed: f.removed,
        links_access_restricted: f.access_restricted,
        removal_rate: f.removal_rate,
        median_seconds_to_removal: f.median_seconds_to_removal,
        p90_seconds_to_removal: f.p90_seconds_to_removal,
        links_reappeared: f.reappeared,
    }
}

/// Whether the statistics name each channel by its handle, which can itself identify a victim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handles {
    /// For a caller who may read channels.
    Shown,
    /// For everyone else: the figures stay, the handles are empty.
    Withheld,
}

impl Handles {
    fn of(self, channel: &Channel) -> String {
        match self {
            Handles::Shown => channel.handle.clone(),
            Handles::Withheld => String::new(),
        }
    }
}

/// Which channels' figures an answer holds: `size` of them from `offset` in the answer's order.
#[derive(Debug, Clone, Copy)]
pub struct ChannelPage {
    pub offset: u64,
    pub size: u32,
}

pub fn statistics(
    figures: &LinkFigures,
    platforms: &[Platform],
    channels: &[Channel],
    t: AsAt,
    handles: Handles,
    page: ChannelPage,
) -> pb::LinkStatistics {
    let mut by_platform: Vec<pb::PlatformFigures> = figures
        .by_platform
        .iter()
        .map(|(id, f)| {
            let p = platforms.iter().find(|p| p.id == *id);
            pb::PlatformFigures {
                platform: id.name(),
                display_name: p.map(|p| p.display_name.clone()).unwrap_or_default(),
                kind: p.map_or(0, |p| p.kind.code()),
                figures: Some(self::figures(f)),
            }
        })
        .collect();
    by_platform.sort_by_key(|p| std::cmp::Reverse(p.figures.as_ref().map_or(0, |f| f.links_requested)));
    // The page's channels in the answer's order: most links requested, then most links, then name.
    let mut ranked: Vec<(&ChannelId, &RemovalFigures)> = figures.by_channel.iter().collect();
    ranked.sort_by_key(|(id, f)| (std::cmp::Reverse(f.requested), std::cmp::Reverse(f.links), id.name()));
    let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
    let by_channel: Vec<pb::ChannelFigures> = ranked
        .into_iter()
        .skip(skip)
        .take(page.size as usize)
        .map(|(id, f)| {
            let c = channels.iter().find(|c| c.id == *id);
            pb::ChannelFigures {
                channel: id.name(),
                platform: c.map(|c| c.platform.name()).unwrap_or_default(),
                handle: c.map(|c| handles.of(c)).unwrap_or_default(),
                status: c.map_or(0, |c| c.status.code()),
                figures: Some(self::figures(f)),
            }
        })
        .collect();
    pb::LinkStatistics {
        as_of: Some(to_proto(t.at)),
        recorded_before: t.recorded_before.map(to_proto),
        platforms_involved: figures.by_platform.len() as i64,
        total: Some(self::figures(&figures.total)),
        by_platform,
        by_channel,
        suspended_channels: channels
            .iter()
            .filter(|c| c.status == ChannelStatus::Suspended)
            .map(|c| pb::SuspendedChannel {
                channel: c.id.name(),
                platform: c.platform.name(),
                handle: handles.of(c),
                suspended_since: Some(to_proto(c.status_since)),
            })
            .collect(),
        handles_included: handles == Handles::Shown,
        channels_involved: figures.by_channel.len() as i64,
        next_channel_page_token: String::new(),
    }
}

/// The moment a read is as at: given, or now.
pub fn as_of(v: &mut FieldViolations, field: &str, ts: Option<&prost_types::Timestamp>) -> OffsetDateTime {
    let now = timestamp::now();
    validate::business_time(v, field, ts, now).unwrap_or(now)
}

pub fn evidence(c: &Capture) -> pb::Evidence {
    pb::Evidence {
        name: c.evidence().name(),
        link: c.link.name(),
        sha256: c.sha256.to_hex(),
        size_bytes: c.size_bytes,
        media_type: c.media_type.clone(),
        captured_at: Some(to_proto(c.captured_at)),
        captured_by: c.captured_by.clone(),
        note: c.note.clone(),
        record_time: Some(to_proto(c.record_time)),
        capture_id: c.id.to_string(),
        erase_time: c.erase_time.map(to_proto),
    }
}

pub fn custody_event(e: &CustodyEvent) -> pb::CustodyEvent {
    pb::CustodyEvent {
        evidence: e.evidence.name(),
        kind: e.kind.code(),
        actor: e.actor.clone(),
        reason: e.reason.clone(),
        occurred_at: Some(to_proto(e.occurred_at)),
    }
}

pub fn round(t: &crate::recheck::RoundTally) -> pb::RunRecheckResponse {
    pb::RunRecheckResponse {
        checked: t.checked,
        online: t.online,
        removed: t.removed,
        access_restricted: t.access_restricted,
        unreachable: t.unreachable,
        failed: t.failed,
        inconclusive: t.inconclusive,
        reappeared: t.reappeared,
    }
}
