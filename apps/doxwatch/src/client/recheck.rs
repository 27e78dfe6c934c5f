//! `doxwatch recheck …`: the operator's handle on the link-tracking service's automated rechecker.

use doxwatch_proto::links as pb;
use serde_json::json;

use super::links;
use crate::{
    ClientArgs,
    output::{CliError, label, print_fields, print_json},
};

#[derive(clap::Subcommand)]
pub enum RecheckCommand {
    /// Run one round of rechecks now: every due link not held by another replica, checked once,
    /// each shown as it is checked. The round ends within --time-limit; links it did not reach
    /// stay due for a later round.
    RunOnce(RunOnceArgs),
}

#[derive(clap::Args)]
pub struct RunOnceArgs {
    /// How long the round may run, in seconds (1 to 3600).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=3600))]
    time_limit: u32,
    /// An idempotency key: re-running with the same key reports the first round's counts and runs
    /// none. The round is then not streamed, and ends at the server's request timeout.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

/// The round's counts, by name.
fn figures(r: &pb::RunRecheckResponse) -> [(&'static str, i64); 8] {
    [
        ("checked", r.checked),
        ("online", r.online),
        ("removed", r.removed),
        ("access_restricted", r.access_restricted),
        ("unreachable", r.unreachable),
        ("failed", r.failed),
        ("inconclusive", r.inconclusive),
        ("reappeared", r.reappeared),
    ]
}

/// One checked link as a line: what was found, where, and why.
fn link_line(l: &pb::RecheckedLink) -> String {
    let reappeared = if l.reappeared { " (reappeared)" } else { "" };
    match pb::RecheckOutcome::try_from(l.outcome) {
        Ok(pb::RecheckOutcome::Recorded) if l.status == pb::LinkStatus::Unreachable as i32 => {
            format!("could not reach {}: {}; recorded UNREACHABLE", l.url, l.detail)
        }
        Ok(pb::RecheckOutcome::Recorded) => {
            format!("{:<18} {}{reappeared}  ({})", label::<pb::LinkStatus>(l.status), l.url, l.detail)
        }
        Ok(pb::RecheckOutcome::Failed) => format!("could not reach {}: {}; nothing recorded yet", l.url, l.detail),
        Ok(pb::RecheckOutcome::Inconclusive) => format!("{:<18} {}  ({})", "INCONCLUSIVE", l.url, l.detail),
        _ => format!("{:<18} {}  (another replica took it over)", "NOT RECORDED", l.url),
    }
}

fn link_json(l: &pb::RecheckedLink) -> serde_json::Value {
    let outcome = pb::RecheckOutcome::try_from(l.outcome)
        .map(|o| o.as_str_name().trim_start_matches("RECHECK_OUTCOME_").to_owned())
        .unwrap_or_else(|_| l.outcome.to_string());
    json!({
        "link": l.link,
        "url": l.url,
        "outcome": outcome,
        "status": if l.status == 0 { String::new() } else { label::<pb::LinkStatus>(l.status) },
        "detail": l.detail,
        "reappeared": l.reappeared,
    })
}

fn counts_json(r: &pb::RunRecheckResponse) -> serde_json::Map<String, serde_json::Value> {
    figures(r).iter().map(|(k, v)| (k.to_string(), json!(v))).collect()
}

pub async fn run(command: RecheckCommand) -> Result<(), CliError> {
    match command {
        RecheckCommand::RunOnce(args) if args.request_id.is_some() => {
            let request = pb::RunRecheckRequest { request_id: args.request_id.unwrap_or_default() };
            let r = links(&args.client).await?.run_recheck(request).await?.into_inner();
            if args.client.json {
                print_json(&json!(counts_json(&r)));
            } else {
                print_fields(figures(&r).iter().map(|(k, v)| (*k, v.to_string())).collect());
            }
            Ok(())
        }
        RecheckCommand::RunOnce(args) => streamed(args).await,
    }
}

/// A round streamed: each link printed as it is checked (JSON: all of them at the end), then the
/// counts and whether the time limit cut the round short.
async fn streamed(args: RunOnceArgs) -> Result<(), CliError> {
    let limit = prost_types::Duration { seconds: i64::from(args.time_limit), nanos: 0 };
    let request = pb::StreamRecheckRequest { time_limit: Some(limit) };
    let mut stream = links(&args.client).await?.stream_recheck(request).await?.into_inner();
    let mut checked = Vec::new();
    let mut summary = None;
    while let Some(message) = stream.message().await? {
        match message.event {
            Some(pb::stream_recheck_response::Event::Checked(l)) => {
                if !args.client.json {
                    println!("{}", link_line(&l));
                }
                checked.push(l);
            }
            Some(pb::stream_recheck_response::Event::Summary(s)) => summary = Some(s),
            None => {}
        }
    }
    let Some(summary) = summary else {
        return Err(CliError::Other("the round ended without its summary: its counts are unknown".into()));
    };
    let counts = summary.counts.unwrap_or_default();
    if args.client.json {
        let mut v = counts_json(&counts);
        v.insert("links".into(), json!(checked.iter().map(link_json).collect::<Vec<_>>()));
        v.insert("cut_short".into(), json!(summary.cut_short));
        v.insert("still_due".into(), json!(summary.still_due));
        print_json(&serde_json::Value::Object(v));
        return Ok(());
    }
    if checked.is_empty() {
        println!("no link was due");
    }
    let mut fields: Vec<(&str, String)> = figures(&counts).iter().map(|(k, v)| (*k, v.to_string())).collect();
    if summary.cut_short {
        let left = match summary.still_due {
            1 => "1 link is".to_owned(),
            n => format!("{n} links are"),
        };
        fields.push(("cut_short", format!("the {}-second limit ended the round; {left} still due", args.time_limit)));
    }
    print_fields(fields);
    Ok(())
}
