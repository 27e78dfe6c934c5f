//! `doxwatch audit …`: each service's audit log of access to personal data, for auditors
//! (`doxwatch.ops.v1.AuditService`, which every service serves): list and filter it, export a
//! signed checkpoint to keep, and verify the whole log against the service's public key.

use std::path::PathBuf;

use doxwatch_kit::audit;
use doxwatch_proto::ops::{self as pb, AuditAccess, AuditCheckpoint, audit_service_client::AuditServiceClient};
use serde_json::json;

use super::{Authed, PageArgs, Service, authed, data_dir, every_page, pages};
use crate::{
    ClientArgs,
    output::{CliError, parse_time, print_json, print_more_hint, print_table, time_text},
};

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// The service's audit records, oldest first, filtered.
    List(ListArgs),
    /// Sign a checkpoint of the log as it is now and print it (or write it to --out) to keep.
    Checkpoint(CheckpointArgs),
    /// Check the whole log: every record's hash chain, every checkpoint's signature, and that
    /// the log only grew since the checkpoints given with --since.
    Verify(VerifyArgs),
    /// Who looked at a person's data, when and why: the cases naming them (by name or phone, as
    /// `case list --subject-like` finds them) and every record about each in intake's log, the
    /// referral service's (the case, its assessments and referrals) and link-tracking's (its links
    /// and their evidence). What a data access request (PDPO s18) asks. Needs a supervisor's
    /// roles and a --purpose.
    Subject(SubjectArgs),
}

#[derive(clap::Args)]
pub struct SubjectArgs {
    /// The person: a name (every word must match) or a phone number.
    person: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ServiceArgs {
    /// The service whose audit log to read.
    #[arg(long, value_enum, default_value_t = Service::Intake)]
    service: Service,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AccessArg {
    Read,
    Write,
    Denied,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Only this officer's records.
    #[arg(long)]
    officer: Option<String>,
    /// Only records that name this resource (e.g. cases/…).
    #[arg(long)]
    resource: Option<String>,
    /// Only this kind of access.
    #[arg(long, value_enum)]
    access: Option<AccessArg>,
    /// Only what a supervisor should review: broken glass, reads of other teams' cases, bulk reads.
    #[arg(long)]
    flagged: bool,
    /// Only records written at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    after: Option<prost_types::Timestamp>,
    /// Only records written before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    before: Option<prost_types::Timestamp>,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// Write the checkpoint to this file (JSON) instead of printing it.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    service: ServiceArgs,
    /// The service's audit public key (PEM), kept apart from the service. Defaults to the one
    /// `doxwatch up` or `doxwatch certs init` wrote: pki/audit/<service>.pub in the data directory.
    #[arg(long)]
    key: Option<PathBuf>,
    /// A checkpoint kept from `doxwatch audit checkpoint --out` (repeatable): the log must still
    /// hold exactly what it signed.
    #[arg(long)]
    since: Vec<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

async fn client(service: &ServiceArgs, args: &ClientArgs) -> Result<AuditServiceClient<Authed>, CliError> {
    Ok(AuditServiceClient::new(authed(service.service.url(args), args).await?))
}

pub async fn run(command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::List(args) => list(args).await,
        AuditCommand::Checkpoint(args) => checkpoint(args).await,
        AuditCommand::Verify(args) => verify(args).await,
        AuditCommand::Subject(args) => subject(args).await,
    }
}

/// Every page of a log's records naming `resource`.
async fn records_of(client: &AuditServiceClient<Authed>, resource: &str) -> Result<Vec<pb::AuditRecord>, CliError> {
    let request = pb::ListAuditRecordsRequest { page_size: 1000, resource: resource.to_owned(), ..Default::default() };
    let records = every_page(|page_token| {
        let (mut client, request) = (client.clone(), pb::ListAuditRecordsRequest { page_token, ..request.clone() });
        async move {
            client.list_audit_records(request).await.map(|r| r.into_inner()).map(|p| (p.records, p.next_page_token))
        }
    })
    .await?;
    Ok(records)
}

/// The resources of one case that each service's log names: the case in intake; the case, its
/// assessments and referrals in the referral service; its links and their evidence in link-tracking.
async fn resources_of(args: &SubjectArgs, case: &str) -> Result<Vec<(&'static str, String)>, CliError> {
    use doxwatch_proto::{intake as intake_pb, links as links_pb, referral as referral_pb};
    let client = &args.client;
    let mut found = vec![("intake", case.to_owned()), ("referral", case.to_owned())];
    let mut referral =
        referral_pb::referral_service_client::ReferralServiceClient::new(authed(&client.referral_url, client).await?);
    let assessments = every_page(|page_token| {
        let (mut referral, case) = (referral.clone(), case.to_owned());
        async move {
            let request = referral_pb::ListAssessmentsRequest { case, page_size: 1000, page_token };
            referral.list_assessments(request).await.map(|r| r.into_inner()).map(|p| (p.assessments, p.next_page_token))
        }
    })
    .await?;
    found.extend(assessments.into_iter().map(|a| ("referral", a.name)));
    let request = referral_pb::ListReferralsRequest { case: case.to_owned(), page_size: 1000, ..Default::default() };
    let referrals = referral.list_referrals(request).await.map_err(CliError::from)?.into_inner().referrals;
    found.extend(referrals.into_iter().map(|r| ("referral", r.name)));
    let mut intake =
        intake_pb::intake_service_client::IntakeServiceClient::new(authed(&client.intake_url, client).await?);
    let request = intake_pb::ListCaseLinksRequest { name: case.to_owned(), page_size: 1000, ..Default::default() };
    let links = intake.list_case_links(request).await.map_err(CliError::from)?.into_inner().links;
    let mut evidence =
        links_pb::links_service_client::LinksServiceClient::new(authed(&client.links_url, client).await?);
    for link in links {
        let request = links_pb::ListEvidenceRequest { link: link.name.clone(), page_size: 1000, ..Default::default() };
        let captures = evidence.list_evidence(request).await.map_err(CliError::from)?.into_inner().evidence;
        found.push(("links", link.name));
        found.extend(captures.into_iter().map(|c| ("links", c.name)));
    }
    found.dedup();
    Ok(found)
}

async fn subject(args: SubjectArgs) -> Result<(), CliError> {
    use doxwatch_proto::intake as intake_pb;
    let intake = intake_pb::intake_service_client::IntakeServiceClient::new(
        authed(&args.client.intake_url, &args.client).await?,
    );
    let search =
        intake_pb::ListCasesRequest { data_subject: args.person.clone(), page_size: 500, ..Default::default() };
    let cases = every_page(|page_token| {
        let (mut intake, request) = (intake.clone(), intake_pb::ListCasesRequest { page_token, ..search.clone() });
        async move { intake.list_cases(request).await.map(|r| r.into_inner()).map(|p| (p.cases, p.next_page_token)) }
    })
    .await?;
    let logs = [
        ("intake", AuditServiceClient::new(authed(&args.client.intake_url, &args.client).await?)),
        ("referral", AuditServiceClient::new(authed(&args.client.referral_url, &args.client).await?)),
        ("links", AuditServiceClient::new(authed(&args.client.links_url, &args.client).await?)),
    ];
    let mut found = Vec::new();
    for case in &cases {
        // One record may name several of the case's resources: each is listed once.
        let mut records: Vec<(&'static str, pb::AuditRecord)> = Vec::new();
        for (service, resource) in resources_of(&args, &case.name).await? {
            let Some((_, log)) = logs.iter().find(|(name, _)| *name == service) else { continue };
            for record in records_of(log, &resource).await? {
                if !records.iter().any(|(s, r)| *s == service && r.sequence == record.sequence) {
                    records.push((service, record));
                }
            }
        }
        records.sort_by(|(_, a), (_, b)| {
            let at = |r: &pb::AuditRecord| r.record_time.as_ref().map(|t| (t.seconds, t.nanos));
            at(a).cmp(&at(b))
        });
        // The search itself is in intake's log too; it names the case like any read.
        found.push((case.name.clone(), records));
    }
    if args.client.json {
        let list: Vec<_> = found
            .iter()
            .map(|(case, records)| {
                json!({
                    "case": case,
                    "accesses": records.iter().map(|(service, r)| json!({
                        "service": service,
                        "record_time": time_text(r.record_time.as_ref()),
                        "officer_id": r.officer_id,
                        "identity": r.identity,
                        "method": r.method,
                        "access": access_name(r.access),
                        "resources": r.resources,
                        "fields": r.fields,
                        "purpose": r.purpose,
                        "outcome": r.outcome,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        print_json(&json!({ "cases": list }));
        return Ok(());
    }
    if found.is_empty() {
        println!("no case names {:?}", args.person);
        return Ok(());
    }
    let mut rows = Vec::new();
    for (case, records) in &found {
        for (service, r) in records {
            let who = if r.officer_id.is_empty() { r.identity.clone() } else { r.officer_id.clone() };
            rows.push(vec![
                case.clone(),
                (*service).to_owned(),
                time_text(r.record_time.as_ref()),
                who,
                r.method.rsplit('/').next().unwrap_or_default().to_owned(),
                access_name(r.access).to_owned(),
                r.outcome.clone(),
                r.purpose.clone(),
            ]);
        }
    }
    print_table(&["CASE", "SERVICE", "WHEN", "WHO", "CALL", "ACCESS", "OUTCOME", "WHY"], &rows);
    Ok(())
}

fn access_name(code: i32) -> &'static str {
    match AuditAccess::try_from(code) {
        Ok(AuditAccess::Read) => "read",
        Ok(AuditAccess::Write) => "write",
        Ok(AuditAccess::Denied) => "denied",
        _ => "?",
    }
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let access = args.access.map(|a| match a {
        AccessArg::Read => AuditAccess::Read,
        AccessArg::Write => AuditAccess::Write,
        AccessArg::Denied => AuditAccess::Denied,
    });
    let request = pb::ListAuditRecordsRequest {
        page_size: args.page.page_size,
        page_token: String::new(),
        officer_id: args.officer.unwrap_or_default(),
        resource: args.resource.unwrap_or_default(),
        recorded_after: args.after,
        recorded_before: args.before,
        access: access.map_or(0, |a| a as i32),
        flagged: args.flagged,
    };
    let client = client(&args.service, &args.client).await?;
    let (records, next) = pages(&args.page, |page_token| {
        let (mut client, request) = (client.clone(), pb::ListAuditRecordsRequest { page_token, ..request.clone() });
        async move {
            client.list_audit_records(request).await.map(|r| r.into_inner()).map(|p| (p.records, p.next_page_token))
        }
    })
    .await?;
    if args.client.json {
        let list: Vec<_> = records
            .iter()
            .map(|r| {
                json!({
                    "sequence": r.sequence,
                    "record_time": time_text(r.record_time.as_ref()),
                    "identity": r.identity,
                    "officer_id": r.officer_id,
                    "method": r.method,
                    "access": access_name(r.access),
                    "resources": r.resources,
                    "fields": r.fields,
                    "purpose": r.purpose,
                    "peer_address": r.peer_address,
                    "outcome": r.outcome,
                    "flags": r.flags,
                    "hash": hex::encode(&r.hash),
                })
            })
            .collect();
        print_json(&json!({ "records": list, "next_page_token": next }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let who = if r.officer_id.is_empty() { r.identity.clone() } else { r.officer_id.clone() };
            let resources = match r.resources.len() {
                0 => String::new(),
                1 => r.resources[0].clone(),
                n => format!("{} (+{} more)", r.resources[0], n - 1),
            };
            vec![
                r.sequence.to_string(),
                time_text(r.record_time.as_ref()),
                who,
                r.method.rsplit('/').next().unwrap_or_default().to_owned(),
                access_name(r.access).to_owned(),
                resources,
                r.purpose.clone(),
                r.outcome.clone(),
                r.flags.join(","),
            ]
        })
        .collect();
    print_table(&["SEQ", "RECORDED", "WHO", "RPC", "ACCESS", "RESOURCES", "PURPOSE", "OUTCOME", "FLAGS"], &rows);
    print_more_hint(&next, "records");
    Ok(())
}

fn checkpoint_json(c: &AuditCheckpoint) -> serde_json::Value {
    json!({
        "service": c.service,
        "record_count": c.record_count,
        "head_hash": hex::encode(&c.head_hash),
        "sign_time": time_text(c.sign_time.as_ref()),
        "key_id": c.key_id,
        "signature": hex::encode(&c.signature),
    })
}

fn checkpoint_from_json(path: &PathBuf) -> Result<AuditCheckpoint, CliError> {
    let bad = |why: String| CliError::Usage(format!("--since {}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let text_of =
        |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned).ok_or_else(|| bad(format!("no {key}")));
    let hex_of = |key: &str| hex::decode(text_of(key)?).map_err(|_| bad(format!("{key} is not hex")));
    Ok(AuditCheckpoint {
        service: text_of("service")?,
        record_count: value
            .get("record_count")
            .and_then(|v| v.as_i64())
            .ok_or_else(|| bad("no record_count".into()))?,
        head_hash: hex_of("head_hash")?,
        sign_time: Some(parse_time(&text_of("sign_time")?).map_err(bad)?),
        key_id: text_of("key_id")?,
        signature: hex_of("signature")?,
    })
}

async fn checkpoint(args: CheckpointArgs) -> Result<(), CliError> {
    let mut client = client(&args.service, &args.client).await?;
    let checkpoint = client.sign_audit_checkpoint(pb::SignAuditCheckpointRequest {}).await?.into_inner();
    let text = serde_json::to_string_pretty(&checkpoint_json(&checkpoint)).unwrap_or_default();
    match &args.out {
        Some(path) => {
            std::fs::write(path, format!("{text}\n"))
                .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", path.display())))?;
            println!(
                "checkpoint of {} records of {} written to {}",
                checkpoint.record_count,
                checkpoint.service,
                path.display()
            );
        }
        None => println!("{text}"),
    }
    Ok(())
}

async fn verify(args: VerifyArgs) -> Result<(), CliError> {
    let service = args.service.service.name();
    let key_path = args.key.clone().unwrap_or_else(|| data_dir().join("pki/audit").join(format!("{service}.pub")));
    let pem = std::fs::read_to_string(&key_path).map_err(|e| {
        CliError::Usage(format!("cannot read the audit public key {} (give it with --key): {e}", key_path.display()))
    })?;
    let public_key = audit::public_key_from_pem(&pem)
        .map_err(|e| CliError::Usage(format!("{} is not an audit public key: {e}", key_path.display())))?;
    let kept = args.since.iter().map(checkpoint_from_json).collect::<Result<Vec<_>, _>>()?;
    let mut client = client(&args.service, &args.client).await?;
    match audit::verify_remote(&mut client, &public_key, service, kept).await {
        Ok(verified) => {
            if args.client.json {
                print_json(&json!({
                    "service": service,
                    "verified": true,
                    "records": verified.records,
                    "checkpoints": verified.checkpoints,
                    "head_hash": hex::encode(verified.head),
                }));
            } else {
                println!(
                    "{service}: the audit log verifies: {} records, {} signed checkpoints, head {}",
                    verified.records,
                    verified.checkpoints,
                    hex::encode(verified.head)
                );
            }
            Ok(())
        }
        Err(audit::VerifyError::Read(status)) => Err(status.into()),
        Err(audit::VerifyError::Broken(broken)) => {
            Err(CliError::Other(format!("{service}: the audit log does not verify: {broken}")))
        }
    }
}
