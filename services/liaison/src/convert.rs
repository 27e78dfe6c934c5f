//! Wire values to checked domain values and back.

use doxwatch_kit::{error::FieldViolations, timestamp::to_proto, validate};
use doxwatch_proto::liaison as pb;

use crate::{
    domain::*,
    service::{Draft, Reply},
};

pub const MAX_ADDRESS_CHARS: usize = 500;

pub fn name<T>(v: &mut FieldViolations, field: &str, value: &str, parse: fn(&str) -> Result<T, String>) -> Option<T> {
    v.check(field, parse(value))
}

pub fn optional_name<T>(
    v: &mut FieldViolations,
    field: &str,
    value: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Option<T> {
    if value.is_empty() { None } else { v.check(field, parse(value)) }
}

/// `platforms/{platform}/contact` to its platform.
pub fn contact_name(v: &mut FieldViolations, field: &str, value: &str) -> Option<PlatformRef> {
    match value.strip_suffix("/contact") {
        Some(platform) => name(v, field, platform, PlatformRef::parse_name),
        None => {
            v.add(field, "must be of the form platforms/{platform}/contact");
            None
        }
    }
}

/// An address of one line, and whether it was good as text.
fn checked_line(v: &mut FieldViolations, field: &str, value: &str) -> (String, bool) {
    let before = v.iter().count();
    let line = validate::line(v, field, value, MAX_ADDRESS_CHARS, false);
    let good = v.iter().count() == before;
    (line, good)
}

pub fn contact_in(v: &mut FieldViolations, c: &pb::PlatformContact) -> Option<PlatformContact> {
    let platform = name(v, "contact.platform", &c.platform, PlatformRef::parse_name);
    let legal_entity = validate::line(v, "contact.legal_entity", &c.legal_entity, 300, true);
    let jurisdiction = c.jurisdiction.trim().to_ascii_uppercase();
    if jurisdiction.len() != 2 || !jurisdiction.chars().all(|ch| ch.is_ascii_alphabetic()) {
        v.add("contact.jurisdiction", "must be HK or an ISO 3166-1 alpha-2 country code");
    }
    // An address already refused as text is not checked again: one reason per field.
    let (email, email_ok) = checked_line(v, "contact.email", &c.email);
    if email_ok && !email.is_empty() && !email.contains('@') {
        v.add("contact.email", "is not an email address");
    }
    let postal_address = validate::text(v, "contact.postal_address", &c.postal_address, MAX_ADDRESS_CHARS, false);
    let (web_form_url, url_ok) = checked_line(v, "contact.web_form_url", &c.web_form_url);
    if url_ok
        && !web_form_url.is_empty()
        && let Err(e) = doxwatch_urls::parse(&web_form_url)
            .and_then(|u| doxwatch_urls::refuse_non_public(u.host_str().unwrap_or_default()))
    {
        v.add("contact.web_form_url", e.to_string());
    }
    let in_app = validate::text(v, "contact.in_app", &c.in_app, MAX_ADDRESS_CHARS, false);
    if email.is_empty() && postal_address.is_empty() && web_form_url.is_empty() && in_app.is_empty() {
        v.add("contact", "needs at least one address for service");
    }
    let language = if c.language == 0 {
        Some(Language::English)
    } else {
        validate::required(v, "contact.language", c.language, Language::from_code)
    };
    let notes = validate::text(v, "contact.notes", &c.notes, 4000, false);
    Some(PlatformContact {
        platform: platform?,
        legal_entity,
        jurisdiction,
        email,
        postal_address,
        web_form_url,
        in_app,
        language: language?,
        accepted_service_before: c.accepted_service_before,
        notes,
        update_time: time::OffsetDateTime::UNIX_EPOCH,
        updated_by: String::new(),
    })
}

pub fn contact_out(c: &PlatformContact) -> pb::PlatformContact {
    pb::PlatformContact {
        name: format!("{}/contact", c.platform.name()),
        platform: c.platform.name(),
        legal_entity: c.legal_entity.clone(),
        jurisdiction: c.jurisdiction.clone(),
        email: c.email.clone(),
        postal_address: c.postal_address.clone(),
        web_form_url: c.web_form_url.clone(),
        in_app: c.in_app.clone(),
        language: c.language.code(),
        accepted_service_before: c.accepted_service_before,
        notes: c.notes.clone(),
        update_time: Some(to_proto(c.update_time)),
        updated_by: c.updated_by.clone(),
    }
}

pub fn items(v: &mut FieldViolations, field: &str, items: &[pb::NoticeItem]) -> Vec<(LinkRef, NoticeAction)> {
    let mut out: Vec<(LinkRef, NoticeAction)> = Vec::new();
    if items.len() > MAX_ITEMS {
        v.add(field, format!("at most {MAX_ITEMS} items"));
        return out;
    }
    for (i, item) in items.iter().enumerate() {
        let link = name(v, &format!("{field}[{i}].link"), &item.link, LinkRef::parse_name);
        let action = validate::required(v, &format!("{field}[{i}].action"), item.action, NoticeAction::from_code);
        if let (Some(link), Some(action)) = (link, action) {
            if out.iter().any(|(l, _)| *l == link) {
                v.add(format!("{field}[{i}].link"), "the same link twice in one notice");
            } else {
                out.push((link, action));
            }
        }
    }
    out
}

pub fn cases(v: &mut FieldViolations, field: &str, cases: &[String]) -> Vec<CaseRef> {
    if cases.len() > MAX_CASES {
        v.add(field, format!("at most {MAX_CASES} cases"));
    }
    let mut out = Vec::new();
    for (i, c) in cases.iter().take(MAX_CASES).enumerate() {
        if let Some(case) = name(v, &format!("{field}[{i}]"), c, CaseRef::parse_name)
            && !out.contains(&case)
        {
            out.push(case);
        }
    }
    out
}

/// A draft from a Notice message; `only` limits the checks to the fields an update names.
pub fn draft(v: &mut FieldViolations, n: &pb::Notice, creating: bool) -> Draft {
    let platform = if creating { name(v, "notice.platform", &n.platform, PlatformRef::parse_name) } else { None };
    let kind = if creating { validate::required(v, "notice.kind", n.kind, NoticeKind::from_code) } else { None };
    Draft {
        platform: platform.unwrap_or(PlatformRef(uuid::Uuid::nil())),
        kind: kind.unwrap_or(NoticeKind::RemovalRequest),
        items: items(v, "notice.items", &n.items),
        cases: cases(v, "notice.cases", &n.cases),
        channel: optional_name(v, "notice.channel", &n.channel, ChannelRef::parse_name),
        legal_basis: validate::line(v, "notice.legal_basis", &n.legal_basis, MAX_LEGAL_BASIS_CHARS, false),
        deadline: validate::optional_deadline(v, "notice.deadline", n.deadline.as_ref()),
    }
}

pub fn reply(v: &mut FieldViolations, r: &pb::RecordReplyRequest) -> Reply {
    // A business time like any other: not in the future, not before earliest_business_time.
    let now = doxwatch_kit::timestamp::now();
    let received_at = r.received_at.as_ref().and_then(|ts| validate::business_time(v, "received_at", Some(ts), now));
    let mut items = Vec::new();
    for (i, item) in r.items.iter().enumerate() {
        let link = name(v, &format!("items[{i}].link"), &item.link, LinkRef::parse_name);
        let outcome = validate::required(v, &format!("items[{i}].outcome"), item.outcome, ReplyOutcome::from_code);
        let text = validate::text(v, &format!("items[{i}].text"), &item.text, MAX_TEXT_CHARS, false);
        if let (Some(link), Some(outcome)) = (link, outcome) {
            items.push((link, outcome, text));
        }
    }
    let all_items = validate::filter(v, "all_items", r.all_items, ReplyOutcome::from_code);
    let text = validate::text(v, "text", &r.text, MAX_TEXT_CHARS, false);
    // An unknown `all_items` is refused as itself, not again as a reply with nothing in it.
    if items.is_empty() && r.all_items == 0 && text.is_empty() {
        v.add("items", "a reply needs item outcomes, an outcome for all items, or its text");
    }
    Reply { received_at, items, all_items, text }
}

pub fn notice_out(n: &Notice, t: AsAt) -> pb::Notice {
    pb::Notice {
        name: n.id.name(),
        reference: n.reference.clone(),
        platform: n.platform.name(),
        kind: n.kind.code(),
        items: n
            .items
            .iter()
            .map(|i| pb::NoticeItem {
                link: i.link.name(),
                action: i.action.code(),
                reply: i.reply_as_at(t).map(|r| pb::ItemReply {
                    outcome: r.outcome.code(),
                    text: r.text.clone(),
                    received_at: Some(to_proto(r.received_at)),
                }),
            })
            .collect(),
        cases: n.cases.iter().map(|c| c.name()).collect(),
        channel: n.channel.map(|c| c.name()).unwrap_or_default(),
        legal_basis: n.legal_basis.clone(),
        status: n.status_as_at(t).code(),
        served_at: n.service.map(|s| to_proto(s.served_at)),
        service_method: n.service.map_or(0, |s| s.method.code()),
        deadline: n.service.map(|s| s.deadline).or(n.deadline_override).map(to_proto),
        follows: n.follows.map(|f| f.name()).unwrap_or_default(),
        created_by: n.created_by.clone(),
        create_time: Some(to_proto(n.create_time)),
        update_time: Some(to_proto(n.update_time)),
    }
}

pub fn event_out(e: &NoticeEvent) -> pb::NoticeEvent {
    pb::NoticeEvent {
        kind: e.kind.code(),
        actor: e.actor.clone(),
        occurred_at: Some(to_proto(e.occurred_at)),
        record_time: Some(to_proto(e.record_time)),
        note: e.note.clone(),
    }
}

fn figures_out(f: &CorrespondenceFigures) -> pb::CorrespondenceFigures {
    pb::CorrespondenceFigures {
        notices_served: f.notices_served,
        served_by_kind: NoticeKind::ALL
            .iter()
            .map(|k| pb::KindCount { kind: k.code(), notices: f.served_by_kind.get(k).copied().unwrap_or(0) })
            .collect(),
        letters_sent: f.letters_sent,
        overdue: f.overdue,
        replies_by_outcome: f
            .replies_by_outcome
            .iter()
            .map(|(o, n)| pb::OutcomeCount { outcome: o.code(), items: *n })
            .collect(),
        disclosure_requests: Some(pb::DisclosureFigures {
            sent: f.disclosure.sent,
            answered: f.disclosure.answered,
            refused: f.disclosure.refused,
            unanswered: f.disclosure.unanswered,
        }),
        service_by_kind: f
            .service_by_kind
            .iter()
            .map(|(k, s)| pb::KindService {
                kind: k.code(),
                notices: s.notices,
                platforms: s.platforms.len() as i64,
                first_served_at: Some(to_proto(s.first_served_at)),
                last_served_at: Some(to_proto(s.last_served_at)),
            })
            .collect(),
        drafted_by_kind: NoticeKind::ALL
            .iter()
            .map(|k| pb::KindCount { kind: k.code(), notices: f.drafted_by_kind.get(k).copied().unwrap_or(0) })
            .collect(),
    }
}

pub fn statistics_out(f: &LiaisonFigures, t: AsAt) -> pb::LiaisonStatistics {
    let mut by_platform: Vec<pb::PlatformCorrespondence> = f
        .by_platform
        .iter()
        .map(|(p, figures)| pb::PlatformCorrespondence { platform: p.name(), figures: Some(figures_out(figures)) })
        .collect();
    by_platform.sort_by_key(|p| std::cmp::Reverse(p.figures.as_ref().map_or(0, |f| f.letters_sent)));
    pb::LiaisonStatistics {
        as_of: Some(to_proto(t.at)),
        recorded_before: t.recorded_before.map(to_proto),
        platforms_written_to: f.platforms_written_to,
        total: Some(figures_out(&f.total)),
        by_platform,
    }
}
