//! Wire values to validated domain values and back. Validation gathers every bad field, named by
//! its path in the request, before anything is stored.

use doxwatch_kit::as_at::AsAt;
use std::collections::BTreeSet;

use doxwatch_kit::{
    error::FieldViolations,
    timestamp,
    validate::{line, required, text},
};
use doxwatch_proto::intake as pb;
use time::OffsetDateTime;

use crate::domain::*;

fn contact(v: &mut FieldViolations, field: &str, c: Option<&pb::Contact>) -> Option<Contact> {
    let c = c?;
    let contact = Contact {
        email: line(v, &format!("{field}.email"), &c.email, MAX_CONTACT_CHARS, false),
        phone: line(v, &format!("{field}.phone"), &c.phone, MAX_CONTACT_CHARS, false),
        postal_address: text(v, &format!("{field}.postal_address"), &c.postal_address, MAX_CONTACT_CHARS, false),
    };
    (!contact.is_empty()).then_some(contact)
}

fn distinct_codes<T: Ord + Copy>(
    v: &mut FieldViolations,
    field: &str,
    codes: &[i32],
    from: fn(i32) -> Option<T>,
) -> Vec<T> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, code) in codes.iter().enumerate() {
        match from(*code) {
            Some(value) if seen.insert(value) => out.push(value),
            Some(_) => v.add(format!("{field}[{i}]"), "is given twice"),
            None => v.add(format!("{field}[{i}]"), format!("{code} is not a known value")),
        }
    }
    out
}

fn data_subject(v: &mut FieldViolations, field: &str, s: &pb::DataSubject) -> DataSubject {
    DataSubject {
        display_name: line(v, &format!("{field}.display_name"), &s.display_name, MAX_NAME_CHARS, true),
        contact: contact(v, &format!("{field}.contact"), s.contact.as_ref()),
        category: required(v, &format!("{field}.category"), s.category, DataSubjectCategory::from_code)
            .unwrap_or(DataSubjectCategory::Other),
        hong_kong_nexus: required(v, &format!("{field}.hong_kong_nexus"), s.hong_kong_nexus, HongKongNexus::from_code)
            .unwrap_or(HongKongNexus::Unknown),
    }
}

/// Validates the changeable details of a case; `only` limits the checks to those fields.
pub fn details(v: &mut FieldViolations, prefix: &str, c: &pb::Case, only: Option<&[UpdatableField]>) -> CaseDetails {
    let wants = |f: UpdatableField| only.is_none_or(|o| o.contains(&f));
    let field = |name: &str| format!("{prefix}.{name}");
    let channel = if wants(UpdatableField::Channel) {
        required(v, &field("channel"), c.channel, IntakeChannel::from_code)
    } else {
        None
    };
    let summary = if wants(UpdatableField::Summary) {
        text(v, &field("summary"), &c.summary, MAX_SUMMARY_CHARS, true)
    } else {
        String::new()
    };
    let mut reported_urls = Vec::new();
    if wants(UpdatableField::ReportedUrls) {
        if c.reported_urls.len() > MAX_REPORTED_URLS {
            v.add(field("reported_urls"), format!("at most {MAX_REPORTED_URLS} URLs per case"));
        } else {
            for (i, url) in c.reported_urls.iter().enumerate() {
                let checked = doxwatch_urls::parse(url)
                    .and_then(|u| doxwatch_urls::refuse_non_public(u.host_str().unwrap_or_default()));
                match checked {
                    Ok(()) => {
                        let url = url.trim().to_owned();
                        if !reported_urls.contains(&url) {
                            reported_urls.push(url);
                        }
                    }
                    Err(e) => v.add(format!("{}[{i}]", field("reported_urls")), e.to_string()),
                }
            }
        }
    }
    let mut data_subjects = Vec::new();
    if wants(UpdatableField::DataSubjects) {
        if c.data_subjects.len() > MAX_DATA_SUBJECTS {
            v.add(field("data_subjects"), format!("at most {MAX_DATA_SUBJECTS} data subjects per case"));
        } else {
            for (i, s) in c.data_subjects.iter().enumerate() {
                data_subjects.push(data_subject(v, &format!("{}[{i}]", field("data_subjects")), s));
            }
        }
    }
    let complainant = if wants(UpdatableField::Complainant) {
        c.complainant.as_ref().map(|p| Complainant {
            display_name: line(v, &field("complainant.display_name"), &p.display_name, MAX_NAME_CHARS, true),
            relationship: required(
                v,
                &field("complainant.relationship"),
                p.relationship,
                ComplainantRelationship::from_code,
            )
            .unwrap_or(ComplainantRelationship::ThirdParty),
            contact: contact(v, &field("complainant.contact"), p.contact.as_ref()),
        })
    } else {
        None
    };
    let disclosed_data = if wants(UpdatableField::DisclosedData) {
        distinct_codes(v, &field("disclosed_data"), &c.disclosed_data, DisclosedDataType::from_code)
    } else {
        Vec::new()
    };
    let alleged_harm = if wants(UpdatableField::AllegedHarm) {
        distinct_codes(v, &field("alleged_harm"), &c.alleged_harm, Harm::from_code)
    } else {
        Vec::new()
    };
    CaseDetails {
        channel: channel.unwrap_or(IntakeChannel::OnlineForm),
        summary,
        reported_urls,
        data_subjects,
        complainant,
        disclosed_data,
        alleged_harm,
    }
}

/// Validates a CreateCase request's case.
pub fn new_case(c: Option<&pb::Case>, now: OffsetDateTime) -> Result<NewCase, FieldViolations> {
    let mut v = FieldViolations::new();
    let Some(c) = c else {
        v.add("case", "is required");
        return Err(v);
    };
    let kind = required(&mut v, "case.kind", c.kind, CaseKind::from_code);
    // Unset is the moment the service takes the case: the server's clock, read once, so that a
    // retry with the same request_id is the same request and gets the first answer.
    let received_at = v.check("case.received_at", timestamp::business_time(c.received_at.as_ref(), now));
    let details = details(&mut v, "case", c, None);
    match (kind, received_at) {
        (Some(kind), Some(received_at)) if v.is_empty() => {
            Ok(NewCase { kind, received_at, details, team: String::new() })
        }
        _ => Err(v),
    }
}

/// A case name from a request field.
pub fn case_id(v: &mut FieldViolations, field: &str, name: &str) -> Option<CaseId> {
    v.check(field, CaseId::parse_name(name))
}

/// An optional enum filter: 0 is "any", unknown numbers are refused.
pub fn filter_code<T>(v: &mut FieldViolations, field: &str, code: i32, from: fn(i32) -> Option<T>) -> Option<i32> {
    if code == 0 {
        return None;
    }
    if from(code).is_none() {
        v.add(field, format!("{code} is not a known value"));
    }
    Some(code)
}

fn contact_to_proto(c: &Contact) -> pb::Contact {
    pb::Contact { email: c.email.clone(), phone: c.phone.clone(), postal_address: c.postal_address.clone() }
}

pub fn case_to_proto(c: &Case) -> pb::Case {
    let d = &c.details;
    pb::Case {
        name: c.id.name(),
        reference: c.reference.clone(),
        kind: c.kind.code(),
        received_at: Some(timestamp::to_proto(c.received_at)),
        channel: d.channel.code(),
        summary: d.summary.clone(),
        reported_urls: d.reported_urls.clone(),
        data_subjects: d
            .data_subjects
            .iter()
            .map(|s| pb::DataSubject {
                display_name: s.display_name.clone(),
                contact: s.contact.as_ref().map(contact_to_proto),
                category: s.category.code(),
                hong_kong_nexus: s.hong_kong_nexus.code(),
            })
            .collect(),
        complainant: d.complainant.as_ref().map(|p| pb::Complainant {
            display_name: p.display_name.clone(),
            relationship: p.relationship.code(),
            contact: p.contact.as_ref().map(contact_to_proto),
        }),
        disclosed_data: d.disclosed_data.iter().map(|x| x.code()).collect(),
        alleged_harm: d.alleged_harm.iter().map(|x| x.code()).collect(),
        status: c.status.code(),
        closure_reason: c.closure_reason.map_or(0, ClosureReason::code),
        create_time: Some(timestamp::to_proto(c.create_time)),
        update_time: Some(timestamp::to_proto(c.update_time)),
        created_by: c.created_by.clone(),
        team: c.team.clone(),
        assigned_officer: c.assigned_officer.clone(),
        redacted: false,
        same_subject_cases: c.same_subject_cases.iter().map(|id| id.name()).collect(),
        erase_time: c.erase_time.map(timestamp::to_proto),
    }
}

pub fn event_to_proto(e: &CaseEvent) -> pb::CaseEvent {
    pb::CaseEvent {
        name: format!("{}/events/{}", e.case.name(), e.id),
        kind: e.kind.code(),
        actor: e.actor.clone(),
        occurred_at: Some(timestamp::to_proto(e.occurred_at)),
        record_time: Some(timestamp::to_proto(e.record_time)),
        from_status: e.from_status.map_or(0, CaseStatus::code),
        to_status: e.to_status.map_or(0, CaseStatus::code),
        closure_reason: e.closure_reason.map_or(0, ClosureReason::code),
        duplicate_of: e.duplicate_of.map(|d| d.name()).unwrap_or_default(),
        note: e.note.clone(),
    }
}

pub fn figures_to_proto(f: &IntakeFigures, t: AsAt) -> pb::IntakeStatistics {
    pb::IntakeStatistics {
        as_of: Some(timestamp::to_proto(t.at)),
        recorded_before: t.recorded_before.map(timestamp::to_proto),
        total_cases: f.total,
        by_kind: f.by_kind.iter().map(|(k, n)| pb::KindCount { kind: k.code(), cases: *n }).collect(),
        by_status: f.by_status.iter().map(|(s, n)| pb::StatusCount { status: s.code(), cases: *n }).collect(),
        by_kind_and_victim_group: f
            .by_kind_and_group
            .iter()
            .map(|((k, g), n)| pb::KindVictimGroupCount { kind: k.code(), victim_group: g.code(), cases: *n })
            .collect(),
        by_kind_and_category: f
            .by_kind_and_category
            .iter()
            .map(|((k, c), n)| pb::KindCategoryCount { kind: k.code(), category: c.code(), cases: *n })
            .collect(),
        first_case_received_at: f.first_received_at.map(timestamp::to_proto),
    }
}
