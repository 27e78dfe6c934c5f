//! `doxwatch outbox …`: what a service still owes its peers and what they refused
//! (`doxwatch.ops.v1.OutboxService`, which every service serves).

use doxwatch_proto::ops::{self as pb, outbox_service_client::OutboxServiceClient};
use serde_json::json;

use super::{Authed, PageArgs, Service, authed, pages};
use crate::{
    ClientArgs,
    output::{CliError, duration_text, print_fields, print_json, print_more_hint, print_table, time_text},
};

#[derive(clap::Subcommand)]
pub enum OutboxCommand {
    /// Effects waiting for delivery, how old the oldest is, and how many were refused.
    Status(StatusArgs),
    /// The effects peers refused, newest first.
    Rejected(RejectedArgs),
}

#[derive(clap::Args)]
pub struct ServiceArgs {
    /// The service whose outbox to ask about.
    #[arg(long, value_enum)]
    service: Service,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    service: ServiceArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct RejectedArgs {
    #[command(flatten)]
    service: ServiceArgs,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

async fn client(service: &ServiceArgs, args: &ClientArgs) -> Result<OutboxServiceClient<Authed>, CliError> {
    Ok(OutboxServiceClient::new(authed(service.service.url(args), args).await?))
}

pub async fn run(command: OutboxCommand) -> Result<(), CliError> {
    match command {
        OutboxCommand::Status(args) => status(args).await,
        OutboxCommand::Rejected(args) => rejected(args).await,
    }
}

async fn status(args: StatusArgs) -> Result<(), CliError> {
    let s =
        client(&args.service, &args.client).await?.get_outbox_status(pb::GetOutboxStatusRequest {}).await?.into_inner();
    let age = s.oldest_pending_age.map(|d| d.seconds as f64 + f64::from(d.nanos) / 1e9);
    if args.client.json {
        print_json(&json!({
            "service": s.service,
            "pending": s.pending,
            "oldest_pending_age_seconds": age,
            "rejected": s.rejected,
            "delivered": s.delivered,
        }));
        return Ok(());
    }
    print_fields(vec![
        ("service", s.service),
        ("pending", s.pending.to_string()),
        ("oldest_pending_age", age.map(duration_text).unwrap_or_default()),
        ("rejected", s.rejected.to_string()),
        ("delivered", s.delivered.to_string()),
    ]);
    Ok(())
}

async fn rejected(args: RejectedArgs) -> Result<(), CliError> {
    let request = pb::ListRejectedEffectsRequest { page_size: args.page.page_size, page_token: String::new() };
    let client = client(&args.service, &args.client).await?;
    let (effects, next) = pages(&args.page, |page_token| {
        let (mut client, request) = (client.clone(), pb::ListRejectedEffectsRequest { page_token, ..request.clone() });
        async move {
            client.list_rejected_effects(request).await.map(|r| r.into_inner()).map(|p| (p.effects, p.next_page_token))
        }
    })
    .await?;
    if args.client.json {
        let list: Vec<_> = effects
            .iter()
            .map(|e| {
                json!({
                    "id": e.id,
                    "peer": e.peer,
                    "method": e.method,
                    "key": e.key,
                    "error": e.error,
                    "attempts": e.attempts,
                    "create_time": time_text(e.create_time.as_ref()),
                    "reject_time": time_text(e.reject_time.as_ref()),
                })
            })
            .collect();
        print_json(&json!({ "effects": list, "next_page_token": next }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = effects
        .iter()
        .map(|e| {
            vec![
                time_text(e.reject_time.as_ref()),
                format!("{}.{}", e.peer, e.method),
                e.key.clone(),
                e.attempts.to_string(),
                e.error.clone(),
            ]
        })
        .collect();
    print_table(&["REJECTED", "CALL", "KEY", "ATTEMPTS", "ERROR"], &rows);
    print_more_hint(&next, "rejected effects");
    Ok(())
}
