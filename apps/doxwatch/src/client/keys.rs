//! `doxwatch keys …`: the data keys each service seals personal data with
//! (`doxwatch.ops.v1.KeyService`, which every service serves). Operators rotate them; key material
//! never leaves a service.

use doxwatch_proto::ops::{self as pb, key_service_client::KeyServiceClient};
use serde_json::json;

use super::{Service, authed};
use crate::{
    ClientArgs,
    output::{CliError, print_json, print_table, time_text},
};

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Add a sealing key; once it is active the service seals its stored values again under it.
    /// State why with --purpose (kept in the audit log).
    Rotate(KeysArgs),
    /// Each service's sealing keys, which is active, and how far the re-sealing sweep has come.
    Status(KeysArgs),
}

#[derive(clap::Args)]
pub struct KeysArgs {
    /// The service whose keys to rotate or show; every service when not given.
    #[arg(long, value_enum)]
    service: Option<Service>,
    #[command(flatten)]
    client: ClientArgs,
}

pub async fn run(command: KeysCommand) -> Result<(), CliError> {
    let (rotate, args) = match command {
        KeysCommand::Rotate(args) => (true, args),
        KeysCommand::Status(args) => (false, args),
    };
    if rotate && args.client.purpose.as_deref().is_none_or(|p| p.trim().is_empty()) {
        return Err(CliError::Usage(
            "say why the keys are rotated: --purpose \"scheduled rotation\" (or DOXWATCH_PURPOSE)".to_owned(),
        ));
    }
    let mut statuses = Vec::new();
    for service in Service::ALL.into_iter().filter(|s| args.service.is_none_or(|chosen| chosen == *s)) {
        let name = service.name();
        let mut client = KeyServiceClient::new(authed(service.url(&args.client), &args.client).await?);
        let status = if rotate {
            client.rotate_data_key(pb::RotateDataKeyRequest {}).await
        } else {
            client.get_data_key_status(pb::GetDataKeyStatusRequest {}).await
        };
        // Which service refused, when several are asked.
        let status = status
            .map_err(|e| {
                CliError::from(tonic::Status::with_details(
                    e.code(),
                    format!("{name}: {}", e.message()),
                    e.details().to_vec().into(),
                ))
            })?
            .into_inner();
        statuses.push(status);
    }
    if args.client.json {
        let list: Vec<_> = statuses
            .iter()
            .map(|s| {
                json!({
                    "service": s.service,
                    "keys": s.keys.iter().map(|k| json!({
                        "id": k.id,
                        "create_time": time_text(k.create_time.as_ref()),
                        "active_from": time_text(k.active_from.as_ref()),
                        "active": k.active,
                    })).collect::<Vec<_>>(),
                    "last_sweep_time": s.last_sweep_time.as_ref().map(|t| time_text(Some(t))),
                    "last_sweep_resealed": s.last_sweep_resealed,
                    "last_sweep_remaining": s.last_sweep_remaining,
                })
            })
            .collect();
        print_json(&json!({ "services": list }));
        return Ok(());
    }
    let mut rows = Vec::new();
    for s in &statuses {
        for k in &s.keys {
            rows.push(vec![
                s.service.clone(),
                k.id.to_string(),
                if k.active { "active".to_owned() } else { String::new() },
                time_text(k.create_time.as_ref()),
                time_text(k.active_from.as_ref()),
            ]);
        }
    }
    print_table(&["SERVICE", "KEY", "STATE", "ADDED", "SEALS FROM"], &rows);
    let sweeps: Vec<Vec<String>> = statuses
        .iter()
        .map(|s| {
            vec![
                s.service.clone(),
                s.last_sweep_time.as_ref().map_or_else(|| "not yet".to_owned(), |t| time_text(Some(t))),
                s.last_sweep_resealed.to_string(),
                s.last_sweep_remaining.to_string(),
            ]
        })
        .collect();
    println!();
    print_table(&["SERVICE", "LAST SWEEP", "RESEALED", "LEFT UNDER OLDER KEYS"], &sweeps);
    Ok(())
}
