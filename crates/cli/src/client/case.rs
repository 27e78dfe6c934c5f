//! `doxwatch case …`: the case officer's commands against the intake service.

use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use serde_json::json;

use super::{Authed, connect, officer};
use crate::{
    ClientArgs,
    output::{CliError, enum_label, parse_time, print_json, print_table, time_text},
};

#[derive(clap::Subcommand)]
pub enum CaseCommand {
    /// Record a case.
    Create(CreateArgs),
    /// Show one case.
    Get(NameArgs),
    /// List cases, newest last.
    List(ListArgs),
    /// Move a case to another status.
    Transition(TransitionArgs),
    /// Show a case's timeline.
    Events(NameArgs),
    /// Case counts as at a moment.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// complaint, enquiry, patrol-discovery or agency-referral.
    #[arg(long)]
    kind: String,
    /// When the case was received (RFC 3339); defaults to now.
    #[arg(long)]
    received_at: Option<String>,
    /// online-form, email, phone, letter, walk-in, patrol or agency.
    #[arg(long, default_value = "online-form")]
    channel: String,
    /// What happened.
    #[arg(long)]
    summary: String,
    /// A URL the complainant reported (repeatable).
    #[arg(long = "url")]
    urls: Vec<String>,
    /// A data subject as CATEGORY:NEXUS:NAME, e.g. police-officer:resident:Chan Tai Man (repeatable).
    #[arg(long = "subject")]
    subjects: Vec<String>,
    /// The complainant as RELATIONSHIP:NAME, e.g. family-member:Chan Siu Ming.
    #[arg(long)]
    complainant: Option<String>,
    /// Kinds of data disclosed, comma-separated: name,id-number,address,phone,...
    #[arg(long, value_delimiter = ',')]
    disclosed: Vec<String>,
    /// Harms alleged, comma-separated: harassment,threat,...
    #[arg(long, value_delimiter = ',')]
    harm: Vec<String>,
    /// An idempotency key: re-running with the same key records the case once.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct NameArgs {
    /// The case: cases/{id} or just the id.
    name: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    kind: Option<String>,
    #[arg(long)]
    status: Option<String>,
    /// A data-subject category, e.g. police-officer.
    #[arg(long)]
    category: Option<String>,
    #[arg(long)]
    received_after: Option<String>,
    #[arg(long)]
    received_before: Option<String>,
    /// Cases per page.
    #[arg(long, default_value_t = 50)]
    page_size: i32,
    /// Fetch every page, not just the first.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct TransitionArgs {
    /// The case: cases/{id} or just the id.
    name: String,
    /// under-assessment, closed or answered.
    #[arg(long)]
    to: String,
    /// When closing: no-prima-facie-case, withdrawn, resolved, duplicate or outside-jurisdiction.
    #[arg(long)]
    reason: Option<String>,
    /// When closing as a duplicate: the case this one duplicates.
    #[arg(long)]
    duplicate_of: Option<String>,
    #[arg(long)]
    note: Option<String>,
    /// When it happened (RFC 3339); defaults to now.
    #[arg(long)]
    occurred_at: Option<String>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// The moment the figures are as at (RFC 3339); defaults to now.
    #[arg(long)]
    as_of: Option<String>,
    /// Count only what was recorded before this moment.
    #[arg(long)]
    recorded_before: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// Parses a user's spelling of an enum value (`police-officer`) with the contract's prefix.
fn enum_value(field: &str, text: &str, prefix: &str, from: fn(&str) -> Option<i32>) -> Result<i32, CliError> {
    let name = format!("{prefix}{}", text.trim().to_ascii_uppercase().replace('-', "_"));
    from(&name).ok_or_else(|| CliError::Usage(format!("--{field}: {text:?} is not a known value")))
}

fn kind(text: &str) -> Result<i32, CliError> {
    enum_value("kind", text, "CASE_KIND_", |n| pb::CaseKind::from_str_name(n).map(|v| v as i32))
}
fn status(field: &str, text: &str) -> Result<i32, CliError> {
    enum_value(field, text, "CASE_STATUS_", |n| pb::CaseStatus::from_str_name(n).map(|v| v as i32))
}
fn category(text: &str) -> Result<i32, CliError> {
    enum_value("subject", text, "DATA_SUBJECT_CATEGORY_", |n| pb::DataSubjectCategory::from_str_name(n).map(|v| v as i32))
}

fn case_name(text: &str) -> String {
    if text.starts_with("cases/") { text.to_owned() } else { format!("cases/{text}") }
}

fn time_arg(field: &str, value: Option<&str>) -> Result<Option<prost_types::Timestamp>, CliError> {
    value.map(parse_time).transpose().map_err(|e| CliError::Usage(format!("--{field}: {e}")))
}

async fn client(args: &ClientArgs) -> Result<IntakeServiceClient<Authed>, CliError> {
    let channel = connect(&args.intake_url).await?;
    Ok(IntakeServiceClient::with_interceptor(channel, officer(args.officer.as_deref())?))
}

pub async fn run(command: CaseCommand) -> Result<(), CliError> {
    match command {
        CaseCommand::Create(args) => create(args).await,
        CaseCommand::Get(args) => {
            let case = client(&args.client)
                .await?
                .get_case(pb::GetCaseRequest { name: case_name(&args.name) })
                .await?
                .into_inner();
            show_case(&case, args.client.json);
            Ok(())
        }
        CaseCommand::List(args) => list(args).await,
        CaseCommand::Transition(args) => transition(args).await,
        CaseCommand::Events(args) => events(args).await,
        CaseCommand::Stats(args) => stats(args).await,
    }
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let mut data_subjects = Vec::new();
    for s in &args.subjects {
        let mut parts = s.splitn(3, ':');
        let (Some(cat), Some(nexus), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CliError::Usage(format!("--subject {s:?}: expected CATEGORY:NEXUS:NAME")));
        };
        data_subjects.push(pb::DataSubject {
            display_name: name.to_owned(),
            contact: None,
            category: category(cat)?,
            hong_kong_nexus: enum_value("subject", nexus, "HONG_KONG_NEXUS_", |n| {
                pb::HongKongNexus::from_str_name(n).map(|v| v as i32)
            })?,
        });
    }
    let complainant = match &args.complainant {
        None => None,
        Some(c) => {
            let Some((relationship, name)) = c.split_once(':') else {
                return Err(CliError::Usage(format!("--complainant {c:?}: expected RELATIONSHIP:NAME")));
            };
            Some(pb::Complainant {
                display_name: name.to_owned(),
                relationship: enum_value("complainant", relationship, "COMPLAINANT_RELATIONSHIP_", |n| {
                    pb::ComplainantRelationship::from_str_name(n).map(|v| v as i32)
                })?,
                contact: None,
            })
        }
    };
    let disclosed_data = args
        .disclosed
        .iter()
        .map(|d| enum_value("disclosed", d, "DISCLOSED_DATA_TYPE_", |n| pb::DisclosedDataType::from_str_name(n).map(|v| v as i32)))
        .collect::<Result<_, _>>()?;
    let alleged_harm = args
        .harm
        .iter()
        .map(|h| enum_value("harm", h, "HARM_", |n| pb::Harm::from_str_name(n).map(|v| v as i32)))
        .collect::<Result<_, _>>()?;
    let received_at = match time_arg("received-at", args.received_at.as_deref())? {
        Some(t) => t,
        None => doxwatch_kit::timestamp::to_proto(doxwatch_kit::timestamp::now()),
    };
    let case = pb::Case {
        kind: kind(&args.kind)?,
        received_at: Some(received_at),
        channel: enum_value("channel", &args.channel, "INTAKE_CHANNEL_", |n| {
            pb::IntakeChannel::from_str_name(n).map(|v| v as i32)
        })?,
        summary: args.summary,
        reported_urls: args.urls,
        data_subjects,
        complainant,
        disclosed_data,
        alleged_harm,
        ..Default::default()
    };
    let created = client(&args.client)
        .await?
        .create_case(pb::CreateCaseRequest { case: Some(case), request_id: args.request_id.unwrap_or_default() })
        .await?
        .into_inner();
    show_case(&created, args.client.json);
    Ok(())
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let mut request = pb::ListCasesRequest {
        page_size: args.page_size,
        page_token: String::new(),
        kind: args.kind.as_deref().map(kind).transpose()?.unwrap_or(0),
        status: args.status.as_deref().map(|s| status("status", s)).transpose()?.unwrap_or(0),
        data_subject_category: args.category.as_deref().map(category).transpose()?.unwrap_or(0),
        received_after: time_arg("received-after", args.received_after.as_deref())?,
        received_before: time_arg("received-before", args.received_before.as_deref())?,
    };
    let mut client = client(&args.client).await?;
    let mut cases = Vec::new();
    let next = loop {
        let page = client.list_cases(request.clone()).await?.into_inner();
        cases.extend(page.cases);
        if !args.all || page.next_page_token.is_empty() {
            break page.next_page_token;
        }
        request.page_token = page.next_page_token;
    };
    if args.client.json {
        print_json(&json!({ "cases": cases.iter().map(case_json).collect::<Vec<_>>(), "next_page_token": next }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                enum_label(kind_name(c.kind), "CASE_KIND_"),
                enum_label(status_name(c.status), "CASE_STATUS_"),
                time_text(c.received_at.as_ref()),
                c.data_subjects.len().to_string(),
                c.reported_urls.len().to_string(),
            ]
        })
        .collect();
    print_table(&["NAME", "KIND", "STATUS", "RECEIVED", "SUBJECTS", "URLS"], &rows);
    if !next.is_empty() {
        println!("(more cases: use --all)");
    }
    Ok(())
}

async fn transition(args: TransitionArgs) -> Result<(), CliError> {
    let closure_reason = match &args.reason {
        None => 0,
        Some(r) => enum_value("reason", r, "CLOSURE_REASON_", |n| pb::ClosureReason::from_str_name(n).map(|v| v as i32))?,
    };
    let request = pb::TransitionCaseRequest {
        name: case_name(&args.name),
        to_status: status("to", &args.to)?,
        closure_reason,
        duplicate_of: args.duplicate_of.as_deref().map(case_name).unwrap_or_default(),
        note: args.note.unwrap_or_default(),
        occurred_at: time_arg("occurred-at", args.occurred_at.as_deref())?,
        request_id: args.request_id.unwrap_or_default(),
    };
    let case = client(&args.client).await?.transition_case(request).await?.into_inner();
    show_case(&case, args.client.json);
    Ok(())
}

async fn events(args: NameArgs) -> Result<(), CliError> {
    let mut client = client(&args.client).await?;
    let mut request = pb::ListCaseEventsRequest { name: case_name(&args.name), page_size: 500, page_token: String::new() };
    let mut events = Vec::new();
    loop {
        let page = client.list_case_events(request.clone()).await?.into_inner();
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    if args.client.json {
        let list: Vec<_> = events
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "kind": enum_label(event_kind_name(e.kind), "CASE_EVENT_KIND_"),
                    "actor": e.actor,
                    "occurred_at": time_text(e.occurred_at.as_ref()),
                    "record_time": time_text(e.record_time.as_ref()),
                    "from_status": enum_label(status_name(e.from_status), "CASE_STATUS_"),
                    "to_status": enum_label(status_name(e.to_status), "CASE_STATUS_"),
                    "closure_reason": enum_label(closure_name(e.closure_reason), "CLOSURE_REASON_"),
                    "duplicate_of": e.duplicate_of,
                    "note": e.note,
                })
            })
            .collect();
        print_json(&json!({ "events": list }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let change = if e.to_status == 0 {
                String::new()
            } else if e.from_status == 0 {
                enum_label(status_name(e.to_status), "CASE_STATUS_")
            } else {
                format!(
                    "{} -> {}",
                    enum_label(status_name(e.from_status), "CASE_STATUS_"),
                    enum_label(status_name(e.to_status), "CASE_STATUS_")
                )
            };
            let mut note = e.note.clone();
            if e.closure_reason != 0 {
                note = format!("{} {note}", enum_label(closure_name(e.closure_reason), "CLOSURE_REASON_"));
            }
            vec![
                time_text(e.occurred_at.as_ref()),
                enum_label(event_kind_name(e.kind), "CASE_EVENT_KIND_"),
                change,
                e.actor.clone(),
                note.trim().to_owned(),
            ]
        })
        .collect();
    print_table(&["OCCURRED", "EVENT", "STATUS", "ACTOR", "NOTE"], &rows);
    Ok(())
}

async fn stats(args: StatsArgs) -> Result<(), CliError> {
    let request = pb::GetIntakeStatisticsRequest {
        as_of: time_arg("as-of", args.as_of.as_deref())?,
        recorded_before: time_arg("recorded-before", args.recorded_before.as_deref())?,
    };
    let s = client(&args.client).await?.get_intake_statistics(request).await?.into_inner();
    let by_kind: serde_json::Map<String, serde_json::Value> = s
        .by_kind
        .iter()
        .map(|k| (enum_label(kind_name(k.kind), "CASE_KIND_"), json!(k.cases)))
        .collect();
    let by_status: serde_json::Map<String, serde_json::Value> = s
        .by_status
        .iter()
        .map(|k| (enum_label(status_name(k.status), "CASE_STATUS_"), json!(k.cases)))
        .collect();
    if args.client.json {
        print_json(&json!({
            "as_of": time_text(s.as_of.as_ref()),
            "recorded_before": time_text(s.recorded_before.as_ref()),
            "total_cases": s.total_cases,
            "by_kind": by_kind,
            "by_status": by_status,
            "by_kind_and_victim_group": s.by_kind_and_victim_group.iter().map(|g| json!({
                "kind": enum_label(kind_name(g.kind), "CASE_KIND_"),
                "victim_group": pb::VictimGroup::try_from(g.victim_group).map(|v| enum_label(v.as_str_name(), "VICTIM_GROUP_")).unwrap_or_default(),
                "cases": g.cases,
            })).collect::<Vec<_>>(),
            "first_case_received_at": time_text(s.first_case_received_at.as_ref()),
        }));
        return Ok(());
    }
    println!("as at {}: {} cases", time_text(s.as_of.as_ref()), s.total_cases);
    let rows: Vec<Vec<String>> = by_kind.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect();
    print_table(&["KIND", "CASES"], &rows);
    let rows: Vec<Vec<String>> = by_status.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect();
    print_table(&["STATUS", "CASES"], &rows);
    if let Some(first) = s.first_case_received_at.as_ref() {
        println!("first case received {}", time_text(Some(first)));
    }
    Ok(())
}

fn kind_name(v: i32) -> &'static str {
    pb::CaseKind::try_from(v).map(|k| k.as_str_name()).unwrap_or("UNKNOWN")
}
fn status_name(v: i32) -> &'static str {
    pb::CaseStatus::try_from(v).map(|k| k.as_str_name()).unwrap_or("UNKNOWN")
}
fn closure_name(v: i32) -> &'static str {
    pb::ClosureReason::try_from(v).map(|k| k.as_str_name()).unwrap_or("UNKNOWN")
}
fn event_kind_name(v: i32) -> &'static str {
    pb::CaseEventKind::try_from(v).map(|k| k.as_str_name()).unwrap_or("UNKNOWN")
}

fn case_json(c: &pb::Case) -> serde_json::Value {
    json!({
        "name": c.name,
        "kind": enum_label(kind_name(c.kind), "CASE_KIND_"),
        "received_at": time_text(c.received_at.as_ref()),
        "channel": pb::IntakeChannel::try_from(c.channel).map(|v| enum_label(v.as_str_name(), "INTAKE_CHANNEL_")).unwrap_or_default(),
        "summary": c.summary,
        "reported_urls": c.reported_urls,
        "data_subjects": c.data_subjects.iter().map(|s| json!({
            "display_name": s.display_name,
            "category": pb::DataSubjectCategory::try_from(s.category).map(|v| enum_label(v.as_str_name(), "DATA_SUBJECT_CATEGORY_")).unwrap_or_default(),
            "hong_kong_nexus": pb::HongKongNexus::try_from(s.hong_kong_nexus).map(|v| enum_label(v.as_str_name(), "HONG_KONG_NEXUS_")).unwrap_or_default(),
        })).collect::<Vec<_>>(),
        "complainant": c.complainant.as_ref().map(|p| json!({
            "display_name": p.display_name,
            "relationship": pb::ComplainantRelationship::try_from(p.relationship).map(|v| enum_label(v.as_str_name(), "COMPLAINANT_RELATIONSHIP_")).unwrap_or_default(),
        })),
        "disclosed_data": c.disclosed_data.iter().map(|d| pb::DisclosedDataType::try_from(*d).map(|v| enum_label(v.as_str_name(), "DISCLOSED_DATA_TYPE_")).unwrap_or_default()).collect::<Vec<_>>(),
        "alleged_harm": c.alleged_harm.iter().map(|d| pb::Harm::try_from(*d).map(|v| enum_label(v.as_str_name(), "HARM_")).unwrap_or_default()).collect::<Vec<_>>(),
        "status": enum_label(status_name(c.status), "CASE_STATUS_"),
        "closure_reason": if c.closure_reason == 0 { serde_json::Value::Null } else { json!(enum_label(closure_name(c.closure_reason), "CLOSURE_REASON_")) },
        "created_by": c.created_by,
        "create_time": time_text(c.create_time.as_ref()),
        "update_time": time_text(c.update_time.as_ref()),
    })
}

fn show_case(c: &pb::Case, as_json: bool) {
    let v = case_json(c);
    if as_json {
        print_json(&v);
        return;
    }
    let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let mut rows = vec![
        vec!["name".to_owned(), text("name")],
        vec!["kind".to_owned(), text("kind")],
        vec!["status".to_owned(), text("status")],
        vec!["received_at".to_owned(), text("received_at")],
        vec!["channel".to_owned(), text("channel")],
        vec!["summary".to_owned(), text("summary")],
    ];
    if let Some(reason) = v["closure_reason"].as_str() {
        rows.push(vec!["closure_reason".to_owned(), reason.to_owned()]);
    }
    for url in &c.reported_urls {
        rows.push(vec!["reported_url".to_owned(), url.clone()]);
    }
    for s in v["data_subjects"].as_array().into_iter().flatten() {
        rows.push(vec![
            "data_subject".to_owned(),
            format!(
                "{} ({}, {})",
                s["display_name"].as_str().unwrap_or_default(),
                s["category"].as_str().unwrap_or_default(),
                s["hong_kong_nexus"].as_str().unwrap_or_default()
            ),
        ]);
    }
    rows.push(vec!["created_by".to_owned(), text("created_by")]);
    rows.push(vec!["update_time".to_owned(), text("update_time")]);
    print_table(&["FIELD", "VALUE"], &rows);
}
