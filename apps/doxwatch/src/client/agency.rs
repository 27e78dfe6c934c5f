//! `doxwatch agency …`: plays the Police's (or another agency's) system against the referral
//! service's agency interface, for demonstrations and tests: watch the feed, acknowledge, report
//! outcomes. The agency is the one its certificate names: the agency's profile (`--profile`, else
//! the one `doxwatch up` keeps for `--agency` in its data directory).

use std::time::Duration;

use doxwatch_kit::server::shutdown_signal;
use doxwatch_proto::referral::{
    self as pb, agency_referral_service_client::AgencyReferralServiceClient, watch_referrals_response::Message,
};
use serde_json::json;
use tonic::{Code, transport::Channel};

use super::{
    connect_with, credentials, data_dir,
    referral::{referral_json, referral_name, show_referral},
};
use crate::{
    ClientArgs,
    output::{CliError, label, parse_time, time_text, word},
};

#[derive(clap::Subcommand)]
pub enum AgencyCommand {
    /// Print the agency's feed (referrals made to it, withdrawals), one line per entry with its
    /// cursor, and follow it until Ctrl-C, reconnecting after the last cursor when the stream ends.
    Watch(WatchArgs),
    /// Acknowledge a referral with the agency's own reference.
    Ack(AckArgs),
    /// Report an outcome of the investigation or prosecution.
    Outcome(OutcomeArgs),
}

#[derive(clap::Args)]
pub struct AgencyArgs {
    /// The agency whose system this plays.
    #[arg(long, env = "DOXWATCH_AGENCY", default_value = "POLICE")]
    agency: String,
}

#[derive(clap::Args)]
pub struct WatchArgs {
    /// Start after this cursor (the last one seen); from the beginning of the feed without it.
    #[arg(long)]
    after: Option<String>,
    /// Stop after this many entries.
    #[arg(long)]
    count: Option<usize>,
    #[command(flatten)]
    agency: AgencyArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct AckArgs {
    /// The referral: its reference (REF-2019-000116), referrals/{id} or just the id.
    referral: String,
    /// The agency's own reference.
    reference: String,
    /// When it was acknowledged (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    acknowledged_at: Option<prost_types::Timestamp>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    agency: AgencyArgs,
    #[command(flatten)]
    client: ClientArgs,
}

/// The statuses an agency reports as outcomes; the others are the referral's own.
const OUTCOMES: [pb::ReferralStatus; 6] = [
    pb::ReferralStatus::UnderInvestigation,
    pb::ReferralStatus::ArrestMade,
    pb::ReferralStatus::Charged,
    pb::ReferralStatus::Convicted,
    pb::ReferralStatus::Acquitted,
    pb::ReferralStatus::NoFurtherAction,
];

fn outcome(text: &str) -> Result<pb::ReferralStatus, String> {
    word::<pb::ReferralStatus>(text)
        .ok()
        .filter(|status| OUTCOMES.contains(status))
        .ok_or_else(|| format!("{text:?} is not one of {}", outcome_words().join(", ")))
}

fn outcome_words() -> Vec<String> {
    OUTCOMES
        .iter()
        .map(|status| label::<pb::ReferralStatus>(*status as i32).to_ascii_lowercase().replace('_', "-"))
        .collect()
}

fn outcomes() -> crate::choice::Choice<pb::ReferralStatus> {
    crate::choice::Choice::new(outcome_words(), outcome)
}

#[derive(clap::Args)]
pub struct OutcomeArgs {
    /// The referral: its reference (REF-2019-000116), referrals/{id} or just the id.
    referral: String,
    /// What happened in the investigation or prosecution.
    #[arg(long, value_parser = outcomes())]
    outcome: pb::ReferralStatus,
    /// When it happened (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    occurred_at: Option<prost_types::Timestamp>,
    /// The offence charged or convicted of.
    #[arg(long)]
    offence: Option<String>,
    /// The sentence (with convicted).
    #[arg(long)]
    sentence: Option<String>,
    /// Why (with no-further-action).
    #[arg(long)]
    reason: Option<String>,
    #[arg(long)]
    note: Option<String>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    agency: AgencyArgs,
    #[command(flatten)]
    client: ClientArgs,
}

type Client = AgencyReferralServiceClient<Channel>;

async fn client(agency: &AgencyArgs, args: &ClientArgs) -> Result<Client, CliError> {
    let identity = doxwatch_kit::identity::Identity::agency(&agency.agency).map_err(CliError::Usage)?;
    let profile = args.profile.clone().unwrap_or_else(|| data_dir().join("pki/agencies").join(identity.name()));
    let credentials = credentials(Some(&profile))?;
    Ok(AgencyReferralServiceClient::new(connect_with(&credentials, &args.referral_url).await?))
}

/// The referral an agency named, as `referrals/{id}`: from its id or our reference number
/// (`REF-2019-000116`), which the agency's own GetReferral looks up.
async fn referral_named(client: &mut Client, text: &str) -> Result<String, CliError> {
    let name = referral_name(text);
    if !super::names_reference(&name) {
        return Ok(name);
    }
    Ok(client.get_referral(pb::GetReferralRequest { name }).await?.into_inner().name)
}

pub async fn run(command: AgencyCommand) -> Result<(), CliError> {
    match command {
        AgencyCommand::Watch(args) => watch(args).await,
        AgencyCommand::Ack(args) => {
            let mut client = client(&args.agency, &args.client).await?;
            let request = pb::AcknowledgeReferralRequest {
                name: referral_named(&mut client, &args.referral).await?,
                agency_reference: args.reference,
                acknowledged_at: args.acknowledged_at,
                request_id: args.request_id.unwrap_or_default(),
            };
            let referral = client.acknowledge_referral(request).await?.into_inner();
            show_referral(&referral, args.client.json);
            Ok(())
        }
        AgencyCommand::Outcome(args) => {
            let mut client = client(&args.agency, &args.client).await?;
            let request = pb::ReportOutcomeRequest {
                name: referral_named(&mut client, &args.referral).await?,
                outcome: args.outcome as i32,
                occurred_at: args.occurred_at,
                details: Some(pb::OutcomeDetails {
                    offence: args.offence.unwrap_or_default(),
                    sentence: args.sentence.unwrap_or_default(),
                    reason: args.reason.unwrap_or_default(),
                    note: args.note.unwrap_or_default(),
                }),
                request_id: args.request_id.unwrap_or_default(),
            };
            let referral = client.report_outcome(request).await?.into_inner();
            show_referral(&referral, args.client.json);
            Ok(())
        }
    }
}

fn print_entry(entry: &pb::FeedEntry, as_json: bool) {
    let referral = entry.referral.clone().unwrap_or_default();
    if as_json {
        let line = json!({
            "cursor": entry.cursor,
            "kind": label::<pb::FeedEntryKind>(entry.kind),
            "record_time": time_text(entry.record_time.as_ref()),
            "referral": referral_json(&referral),
        });
        println!("{line}");
        return;
    }
    println!(
        "{:<8} {:<9} {} {} {} referred {}",
        entry.cursor,
        label::<pb::FeedEntryKind>(entry.kind),
        referral.name,
        referral.case,
        label::<pb::ReferralStatus>(referral.status),
        time_text(referral.referred_at.as_ref()),
    );
}

/// How long to wait before reconnecting to a stream that ended or a service that is down.
const RECONNECT: Duration = Duration::from_secs(1);

async fn watch(args: WatchArgs) -> Result<(), CliError> {
    let mut cursor = args.after.unwrap_or_default();
    let mut printed = 0;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        let opened = match client(&args.agency, &args.client).await {
            Ok(mut client) => client
                .watch_referrals(pb::WatchReferralsRequest { after_cursor: cursor.clone() })
                .await
                .map_err(CliError::from),
            Err(e) => Err(e),
        };
        let mut stream = match opened {
            Ok(stream) => stream.into_inner(),
            Err(e @ (CliError::Connect { .. } | CliError::Status(_))) if retryable(&e) => {
                eprintln!("{e}; retrying");
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = tokio::time::sleep(RECONNECT) => continue,
                }
            }
            Err(e) => return Err(e),
        };
        loop {
            let message = tokio::select! {
                () = &mut stop => return Ok(()),
                message = stream.message() => message,
            };
            match message {
                Ok(Some(pb::WatchReferralsResponse { message: Some(Message::Entry(entry)) })) => {
                    print_entry(&entry, args.client.json);
                    cursor = entry.cursor;
                    printed += 1;
                    if args.count.is_some_and(|n| printed >= n) {
                        return Ok(());
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(status) if status.code() == Code::Unavailable => {
                    eprintln!("the stream ended ({}); resuming after cursor {cursor:?}", status.message());
                    break;
                }
                Err(status) => return Err(status.into()),
            }
        }
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(RECONNECT) => {}
        }
    }
}

fn retryable(e: &CliError) -> bool {
    match e {
        CliError::Connect { .. } => true,
        CliError::Status(status) => status.code() == Code::Unavailable,
        _ => false,
    }
}
