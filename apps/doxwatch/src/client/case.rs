//! `doxwatch case …`: the case officer's commands against the intake service.

use doxwatch_proto::intake::{self as pb, intake_service_client::IntakeServiceClient};
use serde_json::json;

use super::{AsAtArgs, Authed, PageArgs, authed, every_page, pages, resource_name};
use crate::{
    ClientArgs,
    choice::listed_words,
    output::{CliError, label, parse_time, print_fields, print_json, print_more_hint, print_table, time_text, word},
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
    /// Assign a case to a team, and optionally one officer (supervisors).
    Assign(AssignArgs),
    /// Erase a case's personal data (supervisors, with --purpose); its figures stay.
    Erase(EraseArgs),
    /// Show a case's timeline.
    Events(NameArgs),
    /// Case counts as at a moment.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// What kind of case it is.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::CaseKind>())]
    kind: pb::CaseKind,
    /// When the case was received (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    received_at: Option<prost_types::Timestamp>,
    /// How it reached the office.
    #[arg(long, default_value = "online-form", value_parser = crate::choice::vocabulary::<pb::IntakeChannel>())]
    channel: pb::IntakeChannel,
    /// What happened.
    #[arg(long)]
    summary: String,
    /// A URL the complainant reported (repeatable).
    #[arg(long = "url")]
    urls: Vec<String>,
    #[arg(long = "subject", value_name = "CATEGORY:NEXUS:NAME", value_parser = subject, help = subject_help())]
    subjects: Vec<pb::DataSubject>,
    #[arg(long, value_name = "RELATIONSHIP:NAME", value_parser = complainant, help = complainant_help())]
    complainant: Option<pb::Complainant>,
    /// The complainant's email address, to answer them.
    #[arg(long, requires = "complainant")]
    complainant_email: Option<String>,
    /// The complainant's telephone number, to call them back.
    #[arg(long, requires = "complainant")]
    complainant_phone: Option<String>,
    /// Kinds of data disclosed, comma-separated (e.g. name,phone,address).
    #[arg(long, value_delimiter = ',', value_parser = crate::choice::vocabulary::<pb::DisclosedDataType>())]
    disclosed: Vec<pb::DisclosedDataType>,
    /// Harms alleged, comma-separated (e.g. harassment,threat).
    #[arg(long, value_delimiter = ',', value_parser = crate::choice::vocabulary::<pb::Harm>())]
    harm: Vec<pb::Harm>,
    /// An idempotency key: re-running with the same key records the case once.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct NameArgs {
    /// The case: its reference (DOX-2019-004122), cases/{id} or just the id.
    name: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::CaseKind>())]
    kind: Option<pb::CaseKind>,
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::CaseStatus>())]
    status: Option<pb::CaseStatus>,
    /// Only cases with a data subject of this category.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::DataSubjectCategory>())]
    category: Option<pb::DataSubjectCategory>,
    #[arg(long, value_parser = parse_time)]
    received_after: Option<prost_types::Timestamp>,
    #[arg(long, value_parser = parse_time)]
    received_before: Option<prost_types::Timestamp>,
    /// Only cases with a data subject who is this person: a phone number, or a name whose every
    /// word the subject's name has (case and punctuation ignored), e.g. "chan tai man". Has this
    /// person been doxxed before, in another case?
    #[arg(long)]
    subject_like: Option<String>,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct TransitionArgs {
    /// The case: its reference (DOX-2019-004122), cases/{id} or just the id.
    name: String,
    /// The status to move the case to.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::CaseStatus>())]
    to: pb::CaseStatus,
    /// When closing: why.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::ClosureReason>())]
    reason: Option<pb::ClosureReason>,
    /// When closing as a duplicate: the case this one duplicates.
    #[arg(long)]
    duplicate_of: Option<String>,
    #[arg(long)]
    note: Option<String>,
    /// When it happened (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    occurred_at: Option<prost_types::Timestamp>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct EraseArgs {
    /// The case: its reference (DOX-2019-004122), cases/{id} or just the id.
    name: String,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct AssignArgs {
    /// The case: its reference (DOX-2019-004122), cases/{id} or just the id.
    name: String,
    /// The team whose officers see the case's personal data, as their tokens name it.
    #[arg(long)]
    team: String,
    /// One officer who sees it whatever their team, by their id.
    #[arg(long)]
    officer: Option<String>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    at: AsAtArgs,
    #[command(flatten)]
    client: ClientArgs,
}

fn case_name(text: &str) -> String {
    resource_name("cases", text)
}

/// The case a user named, as every service knows it (`cases/{id}`): from its id, `cases/{id}`,
/// or its reference number (`DOX-2019-004122`), which intake looks up.
pub(super) async fn case_named(args: &ClientArgs, text: &str) -> Result<String, CliError> {
    let name = case_name(text);
    if !super::names_reference(&name) {
        return Ok(name);
    }
    Ok(client(args).await?.get_case(pb::GetCaseRequest { name }).await?.into_inner().name)
}

/// [`case_named`] for a case that may be left out: empty when it is.
pub(super) async fn optional_case_named(args: &ClientArgs, text: Option<&str>) -> Result<String, CliError> {
    match text {
        Some(text) => case_named(args, text).await,
        None => Ok(String::new()),
    }
}

/// [`case_named`] for each case named.
pub(super) async fn cases_named(args: &ClientArgs, texts: &[String]) -> Result<Vec<String>, CliError> {
    let mut names = Vec::with_capacity(texts.len());
    for text in texts {
        names.push(case_named(args, text).await?);
    }
    Ok(names)
}

async fn client(args: &ClientArgs) -> Result<IntakeServiceClient<Authed>, CliError> {
    Ok(IntakeServiceClient::new(authed(&args.intake_url, args).await?))
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
        CaseCommand::Erase(args) => {
            let name = case_named(&args.client, &args.name).await?;
            let request = pb::EraseCaseRequest { name, request_id: args.request_id.unwrap_or_default() };
            let case = client(&args.client).await?.erase_case(request).await?.into_inner();
            show_case(&case, args.client.json);
            Ok(())
        }
        CaseCommand::Assign(args) => {
            let request = pb::AssignCaseRequest {
                name: case_named(&args.client, &args.name).await?,
                team: args.team,
                assigned_officer: args.officer.unwrap_or_default(),
                request_id: args.request_id.unwrap_or_default(),
            };
            let case = client(&args.client).await?.assign_case(request).await?.into_inner();
            show_case(&case, args.client.json);
            Ok(())
        }
        CaseCommand::Events(args) => events(args).await,
        CaseCommand::Stats(args) => stats(args).await,
    }
}

/// A data subject as officers write it: `CATEGORY:NEXUS:NAME`. A clap value parser.
fn subject(text: &str) -> Result<pb::DataSubject, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(category), Some(nexus), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{text:?} is not CATEGORY:NEXUS:NAME, e.g. police-officer:resident:Chan Tai Man"));
    };
    Ok(pb::DataSubject {
        display_name: name.to_owned(),
        contact: None,
        category: word::<pb::DataSubjectCategory>(category)? as i32,
        hong_kong_nexus: word::<pb::HongKongNexus>(nexus)? as i32,
    })
}

fn subject_help() -> String {
    format!(
        "A data subject as CATEGORY:NEXUS:NAME, e.g. police-officer:resident:Chan Tai Man (repeatable). \
         CATEGORY is {}; NEXUS (to Hong Kong) is {}",
        listed_words::<pb::DataSubjectCategory>(),
        listed_words::<pb::HongKongNexus>()
    )
}

/// The complainant as officers write them: `RELATIONSHIP:NAME`. A clap value parser.
fn complainant(text: &str) -> Result<pb::Complainant, String> {
    let Some((relationship, name)) = text.split_once(':') else {
        return Err(format!("{text:?} is not RELATIONSHIP:NAME, e.g. family-member:Chan Siu Ming"));
    };
    let relationship = word::<pb::ComplainantRelationship>(relationship)?;
    Ok(pb::Complainant { display_name: name.to_owned(), relationship: relationship as i32, contact: None })
}

fn complainant_help() -> String {
    format!(
        "The complainant as RELATIONSHIP:NAME, e.g. family-member:Chan Siu Ming. RELATIONSHIP (to the data \
         subject) is {}",
        listed_words::<pb::ComplainantRelationship>()
    )
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let case = pb::Case {
        kind: args.kind as i32,
        // Unset, the service takes its own clock's moment, once: a retry with --request-id is the
        // same request.
        received_at: args.received_at,
        channel: args.channel as i32,
        summary: args.summary,
        reported_urls: args.urls,
        data_subjects: args.subjects,
        complainant: args.complainant.map(|mut complainant| {
            if args.complainant_email.is_some() || args.complainant_phone.is_some() {
                complainant.contact = Some(pb::Contact {
                    email: args.complainant_email.unwrap_or_default(),
                    phone: args.complainant_phone.unwrap_or_default(),
                    postal_address: String::new(),
                });
            }
            complainant
        }),
        disclosed_data: args.disclosed.into_iter().map(i32::from).collect(),
        alleged_harm: args.harm.into_iter().map(i32::from).collect(),
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
    let request = pb::ListCasesRequest {
        page_size: args.page.page_size,
        page_token: String::new(),
        kind: args.kind.map_or(0, i32::from),
        status: args.status.map_or(0, i32::from),
        data_subject_category: args.category.map_or(0, i32::from),
        received_after: args.received_after,
        received_before: args.received_before,
        data_subject: args.subject_like.unwrap_or_default(),
    };
    let client = client(&args.client).await?;
    let (cases, next) = pages(&args.page, |page_token| {
        let (mut client, request) = (client.clone(), pb::ListCasesRequest { page_token, ..request.clone() });
        async move { client.list_cases(request).await.map(|r| r.into_inner()).map(|p| (p.cases, p.next_page_token)) }
    })
    .await?;
    if args.client.json {
        print_json(&json!({ "cases": cases.iter().map(case_json).collect::<Vec<_>>(), "next_page_token": next }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = cases
        .iter()
        .map(|c| {
            vec![
                c.reference.clone(),
                c.name.clone(),
                label::<pb::CaseKind>(c.kind),
                label::<pb::CaseStatus>(c.status),
                time_text(c.received_at.as_ref()),
                c.data_subjects.len().to_string(),
                c.reported_urls.len().to_string(),
            ]
        })
        .collect();
    print_table(&["REFERENCE", "NAME", "KIND", "STATUS", "RECEIVED", "SUBJECTS", "URLS"], &rows);
    print_more_hint(&next, "cases");
    Ok(())
}

async fn transition(args: TransitionArgs) -> Result<(), CliError> {
    let duplicate_of = match args.duplicate_of.as_deref() {
        Some(text) => case_named(&args.client, text).await?,
        None => String::new(),
    };
    let request = pb::TransitionCaseRequest {
        name: case_named(&args.client, &args.name).await?,
        to_status: args.to as i32,
        closure_reason: args.reason.map_or(0, i32::from),
        duplicate_of,
        note: args.note.unwrap_or_default(),
        occurred_at: args.occurred_at,
        request_id: args.request_id.unwrap_or_default(),
    };
    let case = client(&args.client).await?.transition_case(request).await?.into_inner();
    show_case(&case, args.client.json);
    Ok(())
}

async fn events(args: NameArgs) -> Result<(), CliError> {
    let client = client(&args.client).await?;
    let name = case_named(&args.client, &args.name).await?;
    let request = pb::ListCaseEventsRequest { name, page_size: 500, page_token: String::new() };
    let events =
        every_page(|page_token| {
            let (mut client, request) = (client.clone(), pb::ListCaseEventsRequest { page_token, ..request.clone() });
            async move {
                client.list_case_events(request).await.map(|r| r.into_inner()).map(|p| (p.events, p.next_page_token))
            }
        })
        .await?;
    if args.client.json {
        let list: Vec<_> = events
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "kind": label::<pb::CaseEventKind>(e.kind),
                    "actor": e.actor,
                    "occurred_at": time_text(e.occurred_at.as_ref()),
                    "record_time": time_text(e.record_time.as_ref()),
                    "from_status": label::<pb::CaseStatus>(e.from_status),
                    "to_status": label::<pb::CaseStatus>(e.to_status),
                    "closure_reason": label::<pb::ClosureReason>(e.closure_reason),
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
                label::<pb::CaseStatus>(e.to_status)
            } else {
                format!("{} -> {}", label::<pb::CaseStatus>(e.from_status), label::<pb::CaseStatus>(e.to_status))
            };
            let mut note = e.note.clone();
            if e.closure_reason != 0 {
                note = format!("{} {note}", label::<pb::ClosureReason>(e.closure_reason));
            }
            vec![
                time_text(e.occurred_at.as_ref()),
                label::<pb::CaseEventKind>(e.kind),
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
    let request = pb::GetIntakeStatisticsRequest { as_of: args.at.as_of, recorded_before: args.at.recorded_before };
    let s = client(&args.client).await?.get_intake_statistics(request).await?.into_inner();
    let by_kind: serde_json::Map<String, serde_json::Value> =
        s.by_kind.iter().map(|k| (label::<pb::CaseKind>(k.kind), json!(k.cases))).collect();
    let by_status: serde_json::Map<String, serde_json::Value> =
        s.by_status.iter().map(|k| (label::<pb::CaseStatus>(k.status), json!(k.cases))).collect();
    if args.client.json {
        print_json(&json!({
            "as_of": time_text(s.as_of.as_ref()),
            "recorded_before": time_text(s.recorded_before.as_ref()),
            "total_cases": s.total_cases,
            "by_kind": by_kind,
            "by_status": by_status,
            "by_kind_and_victim_group": s.by_kind_and_victim_group.iter().map(|g| json!({
                "kind": label::<pb::CaseKind>(g.kind),
                "victim_group": label::<pb::VictimGroup>(g.victim_group),
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

/// A person's contact details on one line: what was given of email, phone and postal address.
fn contact_text(contact: &pb::Contact) -> String {
    let address =
        contact.postal_address.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(", ");
    [contact.email.as_str(), contact.phone.as_str(), address.as_str()]
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn contact_json(contact: Option<&pb::Contact>) -> serde_json::Value {
    match contact {
        Some(c) => json!({ "email": c.email, "phone": c.phone, "postal_address": c.postal_address }),
        None => serde_json::Value::Null,
    }
}

fn case_json(c: &pb::Case) -> serde_json::Value {
    json!({
        "name": c.name,
        "reference": c.reference,
        "kind": label::<pb::CaseKind>(c.kind),
        "received_at": time_text(c.received_at.as_ref()),
        "channel": label::<pb::IntakeChannel>(c.channel),
        "summary": c.summary,
        "reported_urls": c.reported_urls,
        "data_subjects": c.data_subjects.iter().map(|s| json!({
            "display_name": s.display_name,
            "category": label::<pb::DataSubjectCategory>(s.category),
            "hong_kong_nexus": label::<pb::HongKongNexus>(s.hong_kong_nexus),
            "contact": contact_json(s.contact.as_ref()),
        })).collect::<Vec<_>>(),
        "complainant": c.complainant.as_ref().map(|p| json!({
            "display_name": p.display_name,
            "relationship": label::<pb::ComplainantRelationship>(p.relationship),
            "contact": contact_json(p.contact.as_ref()),
        })),
        "disclosed_data": c.disclosed_data.iter().map(|d| label::<pb::DisclosedDataType>(*d)).collect::<Vec<_>>(),
        "alleged_harm": c.alleged_harm.iter().map(|h| label::<pb::Harm>(*h)).collect::<Vec<_>>(),
        "status": label::<pb::CaseStatus>(c.status),
        "closure_reason": if c.closure_reason == 0 { serde_json::Value::Null } else { json!(label::<pb::ClosureReason>(c.closure_reason)) },
        "created_by": c.created_by,
        "team": c.team,
        "assigned_officer": c.assigned_officer,
        "redacted": c.redacted,
        "same_subject_cases": c.same_subject_cases,
        "erase_time": c.erase_time.as_ref().map(|t| time_text(Some(t))),
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
    let mut fields = vec![
        ("reference", text("reference")),
        ("name", text("name")),
        ("kind", text("kind")),
        ("status", text("status")),
        ("received_at", text("received_at")),
        ("channel", text("channel")),
        ("summary", text("summary")),
    ];
    if let Some(reason) = v["closure_reason"].as_str() {
        fields.push(("closure_reason", reason.to_owned()));
    }
    for url in &c.reported_urls {
        fields.push(("reported_url", url.clone()));
    }
    for (s, subject) in v["data_subjects"].as_array().into_iter().flatten().zip(&c.data_subjects) {
        fields.push((
            "data_subject",
            format!(
                "{} ({}, {})",
                s["display_name"].as_str().unwrap_or_default(),
                s["category"].as_str().unwrap_or_default(),
                s["hong_kong_nexus"].as_str().unwrap_or_default()
            ),
        ));
        if let Some(contact) = subject.contact.as_ref().map(contact_text).filter(|t| !t.is_empty()) {
            fields.push(("data_subject_contact", contact));
        }
    }
    if let Some(p) = c.complainant.as_ref() {
        let relationship = label::<pb::ComplainantRelationship>(p.relationship);
        fields.push(("complainant", format!("{} ({relationship})", p.display_name)));
        if let Some(contact) = p.contact.as_ref().map(contact_text).filter(|t| !t.is_empty()) {
            fields.push(("complainant_contact", contact));
        }
    }
    let listed = |key: &str| {
        let values: Vec<&str> = v[key].as_array().into_iter().flatten().filter_map(|x| x.as_str()).collect();
        if values.is_empty() { "none recorded".to_owned() } else { values.join(", ") }
    };
    fields.push(("disclosed_data", listed("disclosed_data")));
    fields.push(("alleged_harm", listed("alleged_harm")));
    fields.push(("created_by", text("created_by")));
    fields.push(("team", text("team")));
    if !c.assigned_officer.is_empty() {
        fields.push(("assigned_officer", text("assigned_officer")));
    }
    if let Some(erased) = c.erase_time.as_ref() {
        fields.push(("erased", format!("{}: its personal data is gone; its figures stay", time_text(Some(erased)))));
    }
    if c.redacted {
        fields.push((
            "redacted",
            "another team's case: its personal data is withheld (--break-glass, with --purpose, to read it; a supervisor reviews it)"
                .to_owned(),
        ));
    }
    fields.push(("update_time", text("update_time")));
    for earlier in &c.same_subject_cases {
        fields.push(("same_person_as", format!("{earlier} (an earlier case names someone this one names)")));
    }
    print_fields(fields);
}
