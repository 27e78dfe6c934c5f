//! `doxwatch assessment …`: the legal officer's preliminary assessment of a case under section 64
//! of the PDPO, and its decision (the referral service).

use doxwatch_proto::{intake, referral as pb};
use serde_json::json;

use super::{PageArgs, pages, referral::client, resource_name};
use crate::{
    ClientArgs,
    output::{CliError, label, parse_time, print_fields, print_json, print_more_hint, print_table, time_text},
};

#[derive(clap::Subcommand)]
pub enum AssessmentCommand {
    /// Assess a case, superseding its current assessment.
    Create(CreateArgs),
    /// Show one assessment.
    Get(NameArgs),
    /// List assessments (of one case), oldest first.
    List(ListArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The case: its reference (DOX-2019-004122), cases/{id} or just the id.
    #[arg(long)]
    case: String,
    /// What the assessment decides.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::Decision>())]
    decision: pb::Decision,
    /// Why; required for no-further-action.
    #[arg(long)]
    reason: Option<String>,
    /// The personal data was disclosed without the data subject's consent.
    #[arg(long)]
    disclosed_without_consent: bool,
    /// Whether the discloser intended the harm, or was reckless as to it.
    #[arg(long, default_value = "unknown", value_parser = crate::choice::vocabulary::<pb::IntentOrRecklessness>())]
    intent: pb::IntentOrRecklessness,
    /// Harms intended or risked, comma-separated (e.g. harassment,threat).
    #[arg(long, value_delimiter = ',', value_parser = crate::choice::vocabulary::<intake::Harm>())]
    harm_intended: Vec<intake::Harm>,
    /// Harms actually caused, comma-separated.
    #[arg(long, value_delimiter = ',', value_parser = crate::choice::vocabulary::<intake::Harm>())]
    harm_caused: Vec<intake::Harm>,
    /// The data subject's Hong Kong nexus.
    #[arg(long, default_value = "unknown", value_parser = crate::choice::vocabulary::<intake::HongKongNexus>())]
    nexus: intake::HongKongNexus,
    /// Whether the discloser has been identified.
    #[arg(long, default_value = "unidentified", value_parser = crate::choice::vocabulary::<pb::Discloser>())]
    discloser: pb::Discloser,
    /// Provisions considered, comma-separated (e.g. s64-3a,s64-3c).
    #[arg(long, value_delimiter = ',', value_parser = crate::choice::vocabulary::<pb::LegalBasis>())]
    legal_basis: Vec<pb::LegalBasis>,
    /// When the assessment was made (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    assessed_at: Option<prost_types::Timestamp>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct NameArgs {
    /// The assessment: assessments/{id} or just the id.
    name: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only this case's assessments: its reference (DOX-2019-004122), cases/{id} or just the id.
    #[arg(long)]
    case: Option<String>,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

pub async fn run(command: AssessmentCommand) -> Result<(), CliError> {
    match command {
        AssessmentCommand::Create(args) => create(args).await,
        AssessmentCommand::Get(args) => {
            let request = pb::GetAssessmentRequest { name: resource_name("assessments", &args.name) };
            let assessment = client(&args.client).await?.get_assessment(request).await?.into_inner();
            show_assessment(&assessment, args.client.json);
            Ok(())
        }
        AssessmentCommand::List(args) => list(args).await,
    }
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let assessment = pb::Assessment {
        case: super::case::case_named(&args.client, &args.case).await?,
        criteria: Some(pb::Criteria {
            disclosed_without_consent: args.disclosed_without_consent,
            intent_or_recklessness: args.intent as i32,
            harms_intended: args.harm_intended.into_iter().map(i32::from).collect(),
            harm_caused: args.harm_caused.into_iter().map(i32::from).collect(),
            hong_kong_nexus: args.nexus as i32,
            discloser: args.discloser as i32,
            legal_basis: args.legal_basis.into_iter().map(i32::from).collect(),
        }),
        decision: args.decision as i32,
        reason: args.reason.unwrap_or_default(),
        assessed_at: args.assessed_at,
        ..Default::default()
    };
    let request =
        pb::CreateAssessmentRequest { assessment: Some(assessment), request_id: args.request_id.unwrap_or_default() };
    let created = client(&args.client).await?.create_assessment(request).await?.into_inner();
    show_assessment(&created, args.client.json);
    Ok(())
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let request = pb::ListAssessmentsRequest {
        page_size: args.page.page_size,
        page_token: String::new(),
        case: super::case::optional_case_named(&args.client, args.case.as_deref()).await?,
    };
    let client = client(&args.client).await?;
    let (assessments, next) = pages(&args.page, |page_token| {
        let (mut client, request) = (client.clone(), pb::ListAssessmentsRequest { page_token, ..request.clone() });
        async move {
            client.list_assessments(request).await.map(|r| r.into_inner()).map(|p| (p.assessments, p.next_page_token))
        }
    })
    .await?;
    if args.client.json {
        print_json(
            &json!({ "assessments": assessments.iter().map(assessment_json).collect::<Vec<_>>(), "next_page_token": next }),
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = assessments
        .iter()
        .map(|a| {
            vec![
                a.name.clone(),
                a.case.clone(),
                label::<pb::Decision>(a.decision),
                time_text(a.assessed_at.as_ref()),
                a.assessor.clone(),
                if a.superseded_by.is_empty() {
                    "current".to_owned()
                } else {
                    format!("superseded by {}", a.superseded_by)
                },
            ]
        })
        .collect();
    print_table(&["NAME", "CASE", "DECISION", "ASSESSED", "ASSESSOR", "STANDING"], &rows);
    print_more_hint(&next, "assessments");
    Ok(())
}

fn assessment_json(a: &pb::Assessment) -> serde_json::Value {
    let c = a.criteria.clone().unwrap_or_default();
    json!({
        "name": a.name,
        "case": a.case,
        "decision": label::<pb::Decision>(a.decision),
        "reason": a.reason,
        "criteria": {
            "disclosed_without_consent": c.disclosed_without_consent,
            "intent_or_recklessness": label::<pb::IntentOrRecklessness>(c.intent_or_recklessness),
            "harms_intended": c.harms_intended.iter().map(|h| label::<intake::Harm>(*h)).collect::<Vec<_>>(),
            "harm_caused": c.harm_caused.iter().map(|h| label::<intake::Harm>(*h)).collect::<Vec<_>>(),
            "hong_kong_nexus": label::<intake::HongKongNexus>(c.hong_kong_nexus),
            "discloser": label::<pb::Discloser>(c.discloser),
            "legal_basis": c.legal_basis.iter().map(|b| label::<pb::LegalBasis>(*b)).collect::<Vec<_>>(),
        },
        "assessor": a.assessor,
        "assessed_at": time_text(a.assessed_at.as_ref()),
        "supersedes": a.supersedes,
        "superseded_by": a.superseded_by,
        "create_time": time_text(a.create_time.as_ref()),
    })
}

fn show_assessment(a: &pb::Assessment, as_json: bool) {
    let v = assessment_json(a);
    if as_json {
        print_json(&v);
        return;
    }
    let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
    let list = |key: &str| {
        v["criteria"][key]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    };
    let criterion = |key: &str| v["criteria"][key].as_str().unwrap_or_default().to_owned();
    let mut fields = vec![("name", text("name")), ("case", text("case")), ("decision", text("decision"))];
    if !a.reason.is_empty() {
        fields.push(("reason", text("reason")));
    }
    fields.extend([
        ("disclosed_without_consent", a.criteria.as_ref().is_some_and(|c| c.disclosed_without_consent).to_string()),
        ("intent_or_recklessness", criterion("intent_or_recklessness")),
        ("harms_intended", list("harms_intended")),
        ("harm_caused", list("harm_caused")),
        ("hong_kong_nexus", criterion("hong_kong_nexus")),
        ("discloser", criterion("discloser")),
        ("legal_basis", list("legal_basis")),
        ("assessor", text("assessor")),
        ("assessed_at", text("assessed_at")),
    ]);
    for key in ["supersedes", "superseded_by"] {
        if !text(key).is_empty() {
            fields.push((key, text(key)));
        }
    }
    print_fields(fields);
}
