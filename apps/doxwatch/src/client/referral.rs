//! `doxwatch referral …`: the legal officer's commands for referrals to the Police (or another
//! agency), their timeline and the referral figures (the referral service).

use doxwatch_proto::{
    links::LinkStatus,
    referral::{self as pb, referral_service_client::ReferralServiceClient},
};
use serde_json::json;

use super::{AsAtArgs, Authed, PageArgs, authed, every_page, pages, resource_name};
use crate::{
    ClientArgs,
    output::{
        CliError, duration_text, label, parse_time, print_fields, print_json, print_more_hint, print_table, time_text,
    },
};

#[derive(clap::Subcommand)]
pub enum ReferralCommand {
    /// Refer a case from its current REFER_TO_POLICE assessment, freezing its evidence bundle.
    Create(CreateArgs),
    /// Show one referral with its evidence bundle.
    Get(NameArgs),
    /// List referrals, oldest first.
    List(ListArgs),
    /// Withdraw a referral the agency has not acknowledged.
    Withdraw(WithdrawArgs),
    /// Show a referral's timeline.
    Events(NameArgs),
    /// Assessment and referral figures as at a moment.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The assessment referred from: assessments/{id} or just the id.
    #[arg(long)]
    assessment: String,
    /// The case (checked against the assessment's): its reference (DOX-2019-004122), cases/{id} or just the id.
    #[arg(long)]
    case: Option<String>,
    /// The agency referred to; POLICE unless the service is configured with others.
    #[arg(long, default_value = "POLICE")]
    agency: String,
    /// What the agency is asked to look into.
    #[arg(long)]
    summary: String,
    /// When the case was referred (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    referred_at: Option<prost_types::Timestamp>,
    /// An idempotency key: re-running with the same key refers the case once.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct NameArgs {
    /// The referral: its reference (REF-2019-000116), referrals/{id} or just the id.
    name: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only referrals with this status now.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::ReferralStatus>())]
    status: Option<pb::ReferralStatus>,
    /// Only referrals to this agency.
    #[arg(long)]
    agency: Option<String>,
    /// Only referrals made at or after this moment (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    referred_after: Option<prost_types::Timestamp>,
    /// Only referrals made before this moment (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    referred_before: Option<prost_types::Timestamp>,
    /// Only this case's referrals: its reference (DOX-2019-004122), cases/{id} or just the id.
    #[arg(long)]
    case: Option<String>,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct WithdrawArgs {
    /// The referral: its reference (REF-2019-000116), referrals/{id} or just the id.
    name: String,
    /// Why it is withdrawn.
    #[arg(long)]
    reason: String,
    /// When (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    occurred_at: Option<prost_types::Timestamp>,
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

pub(super) fn referral_name(text: &str) -> String {
    resource_name("referrals", text)
}

/// The referral a user named, as `referrals/{id}`: from its id, `referrals/{id}`, or its
/// reference number (`REF-2019-000116`), which the referral service looks up.
async fn referral_named(args: &ClientArgs, text: &str) -> Result<String, CliError> {
    let name = referral_name(text);
    if !super::names_reference(&name) {
        return Ok(name);
    }
    Ok(client(args).await?.get_referral(pb::GetReferralRequest { name }).await?.into_inner().name)
}

/// The referral service, for officers.
pub(super) async fn client(args: &ClientArgs) -> Result<ReferralServiceClient<Authed>, CliError> {
    Ok(ReferralServiceClient::new(authed(&args.referral_url, args).await?))
}

pub async fn run(command: ReferralCommand) -> Result<(), CliError> {
    match command {
        ReferralCommand::Create(args) => create(args).await,
        ReferralCommand::Get(args) => {
            let request = pb::GetReferralRequest { name: referral_name(&args.name) };
            let referral = client(&args.client).await?.get_referral(request).await?.into_inner();
            show_referral(&referral, args.client.json);
            Ok(())
        }
        ReferralCommand::List(args) => list(args).await,
        ReferralCommand::Withdraw(args) => {
            let request = pb::WithdrawReferralRequest {
                name: referral_named(&args.client, &args.name).await?,
                reason: args.reason,
                occurred_at: args.occurred_at,
                request_id: args.request_id.unwrap_or_default(),
            };
            let referral = client(&args.client).await?.withdraw_referral(request).await?.into_inner();
            show_referral(&referral, args.client.json);
            Ok(())
        }
        ReferralCommand::Events(args) => events(args).await,
        ReferralCommand::Stats(args) => stats(args).await,
    }
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let referral = pb::Referral {
        case: super::case::optional_case_named(&args.client, args.case.as_deref()).await?,
        assessment: resource_name("assessments", &args.assessment),
        referred_at: args.referred_at,
        agency: args.agency,
        summary: args.summary,
        ..Default::default()
    };
    let request =
        pb::CreateReferralRequest { referral: Some(referral), request_id: args.request_id.unwrap_or_default() };
    let created = client(&args.client).await?.create_referral(request).await?.into_inner();
    show_referral(&created, args.client.json);
    Ok(())
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let request = pb::ListReferralsRequest {
        page_size: args.page.page_size,
        page_token: String::new(),
        status: args.status.map_or(0, i32::from),
        agency: args.agency.unwrap_or_default(),
        referred_after: args.referred_after,
        referred_before: args.referred_before,
        case: super::case::optional_case_named(&args.client, args.case.as_deref()).await?,
    };
    let client = client(&args.client).await?;
    let (referrals, next) =
        pages(&args.page, |page_token| {
            let (mut client, request) = (client.clone(), pb::ListReferralsRequest { page_token, ..request.clone() });
            async move {
                client.list_referrals(request).await.map(|r| r.into_inner()).map(|p| (p.referrals, p.next_page_token))
            }
        })
        .await?;
    if args.client.json {
        print_json(
            &json!({ "referrals": referrals.iter().map(referral_json).collect::<Vec<_>>(), "next_page_token": next }),
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = referrals
        .iter()
        .map(|r| {
            vec![
                r.reference.clone(),
                r.name.clone(),
                r.case.clone(),
                r.agency.clone(),
                label::<pb::ReferralStatus>(r.status),
                time_text(r.referred_at.as_ref()),
                r.agency_reference.clone(),
            ]
        })
        .collect();
    print_table(&["REFERENCE", "NAME", "CASE", "AGENCY", "STATUS", "REFERRED", "AGENCY REF"], &rows);
    print_more_hint(&next, "referrals");
    Ok(())
}

/// The whole timeline, however many pages it takes.
async fn events(args: NameArgs) -> Result<(), CliError> {
    let client = client(&args.client).await?;
    let request = pb::ListReferralEventsRequest {
        name: referral_named(&args.client, &args.name).await?,
        page_size: 500,
        page_token: String::new(),
    };
    let events = every_page(|page_token| {
        let (mut client, request) = (client.clone(), pb::ListReferralEventsRequest { page_token, ..request.clone() });
        async move {
            client.list_referral_events(request).await.map(|r| r.into_inner()).map(|p| (p.events, p.next_page_token))
        }
    })
    .await?;
    if args.client.json {
        print_json(&json!({ "events": events.iter().map(event_json).collect::<Vec<_>>() }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let v = event_json(e);
            let details: Vec<String> = ["agency_reference", "offence", "sentence", "reason", "note"]
                .iter()
                .filter_map(|k| v[*k].as_str().filter(|s| !s.is_empty()).map(|s| format!("{k}: {s}")))
                .collect();
            vec![
                time_text(e.occurred_at.as_ref()),
                label::<pb::ReferralStatus>(e.status),
                e.actor.clone(),
                details.join("; "),
            ]
        })
        .collect();
    print_table(&["OCCURRED", "STATUS", "ACTOR", "DETAILS"], &rows);
    Ok(())
}

fn seconds(d: Option<&prost_types::Duration>) -> Option<i64> {
    d.map(|d| d.seconds)
}

async fn stats(args: StatsArgs) -> Result<(), CliError> {
    let request = pb::GetReferralStatisticsRequest { as_of: args.at.as_of, recorded_before: args.at.recorded_before };
    let s = client(&args.client).await?.get_referral_statistics(request).await?.into_inner();
    let outcomes = |counts: &[pb::OutcomeCount]| -> serde_json::Map<String, serde_json::Value> {
        counts.iter().map(|c| (label::<pb::ReferralStatus>(c.outcome), json!(c.referrals))).collect()
    };
    let decisions: serde_json::Map<String, serde_json::Value> =
        s.decisions.iter().map(|d| (label::<pb::Decision>(d.decision), json!(d.cases))).collect();
    if args.client.json {
        print_json(&json!({
            "as_of": time_text(s.as_of.as_ref()),
            "recorded_before": time_text(s.recorded_before.as_ref()),
            "cases_assessed": s.cases_assessed,
            "decisions": decisions,
            "cases_referred": s.cases_referred,
            "referrals_acknowledged": s.referrals_acknowledged,
            "by_outcome": outcomes(&s.by_outcome),
            "median_seconds_to_referral": seconds(s.median_time_to_referral.as_ref()),
            "median_seconds_to_acknowledgement": seconds(s.median_time_to_acknowledgement.as_ref()),
            "by_agency": s.by_agency.iter().map(|a| json!({
                "agency": a.agency,
                "cases_referred": a.cases_referred,
                "referrals_acknowledged": a.referrals_acknowledged,
                "by_outcome": outcomes(&a.by_outcome),
                "median_seconds_to_referral": seconds(a.median_time_to_referral.as_ref()),
                "median_seconds_to_acknowledgement": seconds(a.median_time_to_acknowledgement.as_ref()),
            })).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    let median = |d: Option<&prost_types::Duration>| {
        d.map(|d| duration_text(d.seconds as f64)).unwrap_or_else(|| "-".to_owned())
    };
    println!(
        "as at {}: {} assessed, {} referred",
        time_text(s.as_of.as_ref()),
        crate::output::counted(s.cases_assessed, "case"),
        crate::output::counted(s.cases_referred, "case")
    );
    let rows: Vec<Vec<String>> = decisions.iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect();
    print_table(&["DECISION", "CASES"], &rows);
    let rows: Vec<Vec<String>> = s
        .by_agency
        .iter()
        .map(|a| {
            vec![
                a.agency.clone(),
                a.cases_referred.to_string(),
                a.referrals_acknowledged.to_string(),
                median(a.median_time_to_referral.as_ref()),
                median(a.median_time_to_acknowledgement.as_ref()),
            ]
        })
        .collect();
    print_table(&["AGENCY", "CASES REFERRED", "ACKNOWLEDGED", "MEDIAN TO REFERRAL", "MEDIAN TO ACK"], &rows);
    let rows: Vec<Vec<String>> = outcomes(&s.by_outcome).iter().map(|(k, v)| vec![k.clone(), v.to_string()]).collect();
    print_table(&["OUTCOME", "REFERRALS"], &rows);
    Ok(())
}

fn event_json(e: &pb::ReferralEvent) -> serde_json::Value {
    let d = e.details.clone().unwrap_or_default();
    json!({
        "status": label::<pb::ReferralStatus>(e.status),
        "occurred_at": time_text(e.occurred_at.as_ref()),
        "record_time": time_text(e.record_time.as_ref()),
        "actor": e.actor,
        "agency_reference": e.agency_reference,
        "offence": d.offence,
        "sentence": d.sentence,
        "reason": d.reason,
        "note": d.note,
    })
}

pub(super) fn referral_json(r: &pb::Referral) -> serde_json::Value {
    let links = r.evidence.as_ref().map(|e| e.links.as_slice()).unwrap_or_default();
    json!({
        "name": r.name,
        "reference": r.reference,
        "case": r.case,
        "assessment": r.assessment,
        "agency": r.agency,
        "status": label::<pb::ReferralStatus>(r.status),
        "referred_at": time_text(r.referred_at.as_ref()),
        "case_received_at": time_text(r.case_received_at.as_ref()),
        "summary": r.summary,
        "agency_reference": r.agency_reference,
        "acknowledged_at": time_text(r.acknowledged_at.as_ref()),
        "withdrawal_reason": r.withdrawal_reason,
        "evidence": links.iter().map(|l| json!({
            "link": l.link,
            "canonical_url": l.canonical_url,
            "status": label::<LinkStatus>(l.status),
            "evidence_sha256": l.evidence_sha256,
        })).collect::<Vec<_>>(),
        "evidence_frozen_at": time_text(r.evidence.as_ref().and_then(|e| e.frozen_at.as_ref())),
        "created_by": r.created_by,
        "create_time": time_text(r.create_time.as_ref()),
        "update_time": time_text(r.update_time.as_ref()),
    })
}

pub(super) fn show_referral(r: &pb::Referral, as_json: bool) {
    let v = referral_json(r);
    if as_json {
        print_json(&v);
        return;
    }
    let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let mut fields: Vec<(&str, String)> =
        ["reference", "name", "case", "assessment", "agency", "status", "referred_at", "summary"]
            .into_iter()
            .map(|k| (k, text(k)))
            .collect();
    for key in ["agency_reference", "acknowledged_at", "withdrawal_reason"] {
        if !text(key).is_empty() {
            fields.push((key, text(key)));
        }
    }
    for l in r.evidence.iter().flat_map(|e| e.links.iter()) {
        let captures =
            if l.evidence_sha256.is_empty() { "no captures".to_owned() } else { l.evidence_sha256.join(", ") };
        fields.push((
            "evidence",
            format!("{} {} ({}; {captures})", l.link, l.canonical_url, label::<LinkStatus>(l.status)),
        ));
    }
    fields.push(("created_by", text("created_by")));
    fields.push(("update_time", text("update_time")));
    print_fields(fields);
}
