//! `doxwatch recheck …`: the operator's handle on the link-tracking service's automated rechecker.

use doxwatch_proto::links as pb;
use serde_json::json;

use super::links;
use crate::{
    ClientArgs,
    output::{CliError, print_fields, print_json},
};

#[derive(clap::Subcommand)]
pub enum RecheckCommand {
    /// Run one round of rechecks now: every due link not held by another replica, checked once.
    RunOnce(RunOnceArgs),
}

#[derive(clap::Args)]
pub struct RunOnceArgs {
    /// An idempotency key: re-running with the same key reports the first round and runs none.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

pub async fn run(command: RecheckCommand) -> Result<(), CliError> {
    match command {
        RecheckCommand::RunOnce(args) => {
            let request = pb::RunRecheckRequest { request_id: args.request_id.unwrap_or_default() };
            let r = links(&args.client).await?.run_recheck(request).await?.into_inner();
            let figures = [
                ("checked", r.checked),
                ("online", r.online),
                ("removed", r.removed),
                ("access_restricted", r.access_restricted),
                ("unreachable", r.unreachable),
                ("failed", r.failed),
                ("inconclusive", r.inconclusive),
                ("reappeared", r.reappeared),
            ];
            if args.client.json {
                print_json(&json!(
                    figures.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()
                ));
            } else {
                print_fields(figures.iter().map(|(k, v)| (*k, v.to_string())).collect());
            }
            Ok(())
        }
    }
}
