//! What the notice commands share: the forms officers write items and replies in, and how
//! notices, their events and the correspondence figures are shown.

use doxwatch_proto::liaison as pb;
use serde_json::json;

use super::resource_name;
use crate::{
    choice::{Choice, listed_words},
    output::{label, print_fields, print_json, print_table, time_text, word, words},
};

/// An item as officers write it: `LINK[=ACTION]`, e.g. `links/ID=restrict-access`; the action
/// defaults to remove. A clap value parser.
pub fn item(text: &str) -> Result<pb::NoticeItem, String> {
    let (link, action) = match text.split_once('=') {
        Some((link, action)) => (link, word::<pb::NoticeAction>(action)?),
        None => (text, pb::NoticeAction::Remove),
    };
    if link.trim().is_empty() {
        return Err(format!("{text:?} names no link: write LINK[=ACTION], e.g. links/ID=restrict-access"));
    }
    Ok(pb::NoticeItem { link: resource_name("links", link), action: action as i32, reply: None })
}

/// The help of an argument written as [`item`], beginning with what the link is to the command.
pub fn item_help(what: &str) -> String {
    format!(
        "{what}, with the action required: LINK[=ACTION], e.g. links/ID=restrict-access (repeatable). \
         ACTION is {} (remove when not given)",
        listed_words::<pb::NoticeAction>()
    )
}

/// The help of `--item`, written as [`item_reply`].
pub fn item_reply_help() -> String {
    format!(
        "The answer about one item: LINK=OUTCOME[:TEXT] (repeatable). OUTCOME is {}",
        listed_words::<pb::ReplyOutcome>()
    )
}

/// A platform's answer about one item: `LINK=OUTCOME[:TEXT]`, e.g. `links/ID=refused:not unlawful
/// here`. A clap value parser.
pub fn item_reply(text: &str) -> Result<pb::ItemReplyInput, String> {
    let Some((link, rest)) = text.split_once('=').filter(|(link, _)| !link.trim().is_empty()) else {
        return Err(format!("{text:?} is not LINK=OUTCOME[:TEXT], e.g. links/ID=complied"));
    };
    let (outcome, reply) = rest.split_once(':').unwrap_or((rest, ""));
    Ok(pb::ItemReplyInput {
        link: resource_name("links", link),
        outcome: word::<pb::ReplyOutcome>(outcome)? as i32,
        text: reply.trim().to_owned(),
    })
}

/// What a notice may be escalated to: injunction-notice, cessation-notice or summons. A clap
/// value parser.
pub fn escalation(text: &str) -> Result<pb::NoticeKind, String> {
    word::<pb::NoticeKind>(text)
        .ok()
        .filter(|kind| STRONGER.contains(kind))
        .ok_or_else(|| format!("{text:?} is not one of {}", escalations().join(", ")))
}

/// The notices a notice may be escalated to.
const STRONGER: [pb::NoticeKind; 3] =
    [pb::NoticeKind::InjunctionNotice, pb::NoticeKind::CessationNotice, pb::NoticeKind::Summons];

fn escalations() -> Vec<String> {
    words::<pb::NoticeKind>()
        .into_iter()
        .filter(|w| word::<pb::NoticeKind>(w).is_ok_and(|k| STRONGER.contains(&k)))
        .collect()
}

/// `--to` of `notice escalate`: the stronger notices, listed in `--help`.
pub fn escalation_choice() -> Choice<pb::NoticeKind> {
    Choice::new(escalations(), escalation)
}

/// A channel as officers write it, or empty (no channel).
pub fn channel_name(text: &str) -> String {
    if text.trim().is_empty() { String::new() } else { resource_name("channels", text) }
}

fn reply_json(r: &pb::ItemReply) -> serde_json::Value {
    json!({
        "outcome": label::<pb::ReplyOutcome>(r.outcome),
        "text": r.text,
        "received_at": time_text(r.received_at.as_ref()),
    })
}

pub fn notice_json(n: &pb::Notice) -> serde_json::Value {
    json!({
        "name": n.name,
        "reference": n.reference,
        "platform": n.platform,
        "kind": label::<pb::NoticeKind>(n.kind),
        "status": label::<pb::NoticeStatus>(n.status),
        "items": n.items.iter().map(|i| json!({
            "link": i.link,
            "action": label::<pb::NoticeAction>(i.action),
            "reply": i.reply.as_ref().map(reply_json),
        })).collect::<Vec<_>>(),
        "cases": n.cases,
        "channel": n.channel,
        "legal_basis": n.legal_basis,
        "served_at": time_text(n.served_at.as_ref()),
        "service_method": if n.service_method == 0 { String::new() } else { label::<pb::ServiceMethod>(n.service_method) },
        "deadline": time_text(n.deadline.as_ref()),
        "follows": n.follows,
        "created_by": n.created_by,
        "create_time": time_text(n.create_time.as_ref()),
        "update_time": time_text(n.update_time.as_ref()),
    })
}

pub fn show_notice(n: &pb::Notice, as_json: bool) {
    if as_json {
        print_json(&notice_json(n));
        return;
    }
    let mut fields = vec![
        ("reference", n.reference.clone()),
        ("name", n.name.clone()),
        ("platform", n.platform.clone()),
        ("kind", label::<pb::NoticeKind>(n.kind)),
        ("status", label::<pb::NoticeStatus>(n.status)),
    ];
    if !n.follows.is_empty() {
        fields.push(("follows", n.follows.clone()));
    }
    fields.extend(n.cases.iter().map(|c| ("case", c.clone())));
    if !n.channel.is_empty() {
        fields.push(("channel", n.channel.clone()));
    }
    if !n.legal_basis.is_empty() {
        fields.push(("legal_basis", n.legal_basis.clone()));
    }
    if n.served_at.is_some() {
        fields.push(("served_at", time_text(n.served_at.as_ref())));
        fields.push(("service_method", label::<pb::ServiceMethod>(n.service_method)));
    }
    if n.deadline.is_some() {
        fields.push(("deadline", time_text(n.deadline.as_ref())));
    }
    fields.push(("created_by", n.created_by.clone()));
    fields.push(("update_time", time_text(n.update_time.as_ref())));
    print_fields(fields);
    if !n.items.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = n
            .items
            .iter()
            .map(|i| {
                let reply = i.reply.clone().unwrap_or_default();
                vec![
                    i.link.clone(),
                    label::<pb::NoticeAction>(i.action),
                    if i.reply.is_some() { label::<pb::ReplyOutcome>(reply.outcome) } else { String::new() },
                    time_text(reply.received_at.as_ref()),
                    reply.text,
                ]
            })
            .collect();
        print_table(&["LINK", "ACTION", "REPLY", "RECEIVED", "TEXT"], &rows);
    }
}

/// Notices as a table, each platform by its display name (`platforms` maps names to them).
pub fn show_notices(notices: &[pb::Notice], platforms: &std::collections::HashMap<String, String>) {
    let rows: Vec<Vec<String>> = notices
        .iter()
        .map(|n| {
            vec![
                n.reference.clone(),
                n.name.clone(),
                label::<pb::NoticeKind>(n.kind),
                label::<pb::NoticeStatus>(n.status),
                platforms.get(&n.platform).cloned().unwrap_or_else(|| n.platform.clone()),
                n.items.len().to_string(),
                time_text(n.served_at.as_ref()),
                time_text(n.deadline.as_ref()),
            ]
        })
        .collect();
    print_table(&["REFERENCE", "NAME", "KIND", "STATUS", "PLATFORM", "ITEMS", "SERVED", "DEADLINE"], &rows);
}

pub fn event_json(e: &pb::NoticeEvent) -> serde_json::Value {
    json!({
        "kind": label::<pb::NoticeEventKind>(e.kind),
        "actor": e.actor,
        "occurred_at": time_text(e.occurred_at.as_ref()),
        "record_time": time_text(e.record_time.as_ref()),
        "note": e.note,
    })
}

pub fn show_events(events: &[pb::NoticeEvent]) {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                time_text(e.occurred_at.as_ref()),
                label::<pb::NoticeEventKind>(e.kind),
                e.actor.clone(),
                time_text(e.record_time.as_ref()),
                e.note.clone(),
            ]
        })
        .collect();
    print_table(&["OCCURRED", "EVENT", "BY", "RECORDED", "NOTE"], &rows);
}

pub fn figures_json(f: Option<&pb::CorrespondenceFigures>) -> serde_json::Value {
    let f = f.cloned().unwrap_or_default();
    let d = f.disclosure_requests.unwrap_or_default();
    json!({
        "notices_served": f.notices_served,
        "served_by_kind": f.served_by_kind.iter().map(|k| json!({
            "kind": label::<pb::NoticeKind>(k.kind),
            "notices": k.notices,
        })).collect::<Vec<_>>(),
        "letters_sent": f.letters_sent,
        "overdue": f.overdue,
        "replies_by_outcome": f.replies_by_outcome.iter().map(|o| json!({
            "outcome": label::<pb::ReplyOutcome>(o.outcome),
            "items": o.items,
        })).collect::<Vec<_>>(),
        "disclosure_requests": {
            "sent": d.sent,
            "answered": d.answered,
            "refused": d.refused,
            "unanswered": d.unanswered,
        },
    })
}

pub fn statistics_json(s: &pb::LiaisonStatistics) -> serde_json::Value {
    json!({
        "as_of": time_text(s.as_of.as_ref()),
        "recorded_before": time_text(s.recorded_before.as_ref()),
        "platforms_written_to": s.platforms_written_to,
        "total": figures_json(s.total.as_ref()),
        "by_platform": s.by_platform.iter().map(|p| json!({
            "platform": p.platform,
            "figures": figures_json(p.figures.as_ref()),
        })).collect::<Vec<_>>(),
    })
}

/// The figures as tables; `display_name` names a platform as link-tracking does, where known.
pub fn show_statistics(s: &pb::LiaisonStatistics, display_name: impl Fn(&str) -> String) {
    let total = s.total.clone().unwrap_or_default();
    let recorded = match s.recorded_before.as_ref() {
        Some(t) => format!(", recorded before {}", time_text(Some(t))),
        None => String::new(),
    };
    println!(
        "as at {}{recorded}: {} written to, {} served, {} sent, {} overdue",
        time_text(s.as_of.as_ref()),
        crate::output::counted(s.platforms_written_to, "platform"),
        crate::output::counted(total.notices_served, "notice"),
        crate::output::counted(total.letters_sent, "letter"),
        total.overdue,
    );
    let d = total.disclosure_requests.unwrap_or_default();
    println!(
        "disclosure requests: {} sent, {} answered with data, {} refused, {} unanswered",
        d.sent, d.answered, d.refused, d.unanswered
    );
    println!();
    let rows: Vec<Vec<String>> =
        total.served_by_kind.iter().map(|k| vec![label::<pb::NoticeKind>(k.kind), k.notices.to_string()]).collect();
    print_table(&["KIND", "SERVED"], &rows);
    if !total.replies_by_outcome.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = total
            .replies_by_outcome
            .iter()
            .map(|o| vec![label::<pb::ReplyOutcome>(o.outcome), o.items.to_string()])
            .collect();
        print_table(&["REPLY", "ITEMS"], &rows);
    }
    if !s.by_platform.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = s
            .by_platform
            .iter()
            .map(|p| {
                let f = p.figures.clone().unwrap_or_default();
                let replied: i64 = f.replies_by_outcome.iter().map(|o| o.items).sum();
                vec![
                    display_name(&p.platform),
                    f.notices_served.to_string(),
                    f.letters_sent.to_string(),
                    f.overdue.to_string(),
                    replied.to_string(),
                    f.disclosure_requests.unwrap_or_default().sent.to_string(),
                    p.platform.clone(),
                ]
            })
            .collect();
        print_table(&["PLATFORM", "SERVED", "LETTERS", "OVERDUE", "ITEMS ANSWERED", "DISCLOSURE", "NAME"], &rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_is_a_link_with_the_action_required_which_defaults_to_removal() {
        let restrict = item("links/0190=restrict-access").unwrap();
        assert_eq!((restrict.link.as_str(), restrict.action), ("links/0190", pb::NoticeAction::RestrictAccess as i32));
        let remove = item("0190").unwrap();
        assert_eq!((remove.link.as_str(), remove.action), ("links/0190", pb::NoticeAction::Remove as i32));
        assert!(item("links/0190=delete").unwrap_err().contains("is not one of remove, restrict-access"));
        assert!(item("=remove").is_err());
    }

    #[test]
    fn a_reply_names_the_item_its_outcome_and_perhaps_what_the_platform_said() {
        let refused = item_reply("0190=refused: not unlawful here: see letter").unwrap();
        assert_eq!(refused.link, "links/0190");
        assert_eq!(refused.outcome, pb::ReplyOutcome::Refused as i32);
        assert_eq!(refused.text, "not unlawful here: see letter");
        let complied = item_reply("links/0190=complied").unwrap();
        assert_eq!((complied.outcome, complied.text.as_str()), (pb::ReplyOutcome::Complied as i32, ""));
        assert!(item_reply("links/0190").is_err());
        assert!(item_reply("links/0190=ignored").is_err());
    }

    #[test]
    fn only_stronger_notices_are_escalations() {
        assert_eq!(escalation("summons"), Ok(pb::NoticeKind::Summons));
        assert_eq!(escalation("cessation-notice"), Ok(pb::NoticeKind::CessationNotice));
        assert!(escalation("reminder").is_err());
        assert_eq!(channel_name(""), "");
        assert_eq!(channel_name("0190"), "channels/0190");
    }
}
