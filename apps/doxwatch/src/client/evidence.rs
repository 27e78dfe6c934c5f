//! `doxwatch evidence …`: captures of what a link showed, stored by the link-tracking service
//! under their SHA-256, fetched with a reason that enters the custody log, and that log.

use std::io::Write;

use doxwatch_proto::links as pb;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{PageArgs, links, pages, resource_name};
use crate::{
    ClientArgs,
    output::{CliError, parse_time, print_fields, print_json, print_more_hint, print_table, time_text},
};

/// Bytes per message of an upload, well under the services' message limit.
const CHUNK: usize = 1024 * 1024;

#[derive(clap::Subcommand)]
pub enum EvidenceCommand {
    /// Store a capture of what a link showed (a screenshot, the page's HTML, a WARC file).
    Add(AddArgs),
    /// Fetch a capture's bytes into a file; the fetch and its reason enter the custody log.
    Get(GetArgs),
    /// List a link's captures.
    List(ListArgs),
    /// Show a capture's custody log: who stored and fetched it, when and why.
    Custody(CustodyArgs),
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// The link: links/{id} or just the id.
    link: String,
    /// The file to store.
    file: std::path::PathBuf,
    /// image/png, image/jpeg, image/webp, text/html, application/warc, application/pdf or
    /// text/plain.
    #[arg(long)]
    media_type: String,
    /// When the capture was made (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    captured_at: Option<prost_types::Timestamp>,
    /// Why and how it was captured (kept as the capture's note).
    #[arg(long, alias = "note")]
    reason: Option<String>,
    /// An idempotency key: re-running with the same key records the capture once.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct GetArgs {
    /// The link: links/{id} or just the id.
    link: String,
    /// The capture's SHA-256 (64 hex digits).
    sha256: String,
    /// Where to write the bytes; written only once they are complete and checked.
    #[arg(long)]
    out: std::path::PathBuf,
    /// Why the bytes are fetched (entered in the custody log).
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// The link: links/{id} or just the id.
    link: String,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct CustodyArgs {
    /// The link: links/{id} or just the id.
    link: String,
    /// The capture's SHA-256 (64 hex digits).
    sha256: String,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

pub async fn run(command: EvidenceCommand) -> Result<(), CliError> {
    match command {
        EvidenceCommand::Add(args) => add(args).await,
        EvidenceCommand::Get(args) => get(args).await,
        EvidenceCommand::List(args) => list(args).await,
        EvidenceCommand::Custody(args) => custody(args).await,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn evidence_name(link: &str, sha256: &str) -> String {
    format!("{}/evidence/{}", resource_name("links", link), sha256.trim().to_ascii_lowercase())
}

async fn add(args: AddArgs) -> Result<(), CliError> {
    // Read whole before sending, so that a read error can never store a truncated capture.
    let bytes =
        std::fs::read(&args.file).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.file.display())))?;
    let sha256 = hex(&Sha256::digest(&bytes));
    let metadata = pb::EvidenceMetadata {
        link: resource_name("links", &args.link),
        media_type: args.media_type,
        captured_at: args.captured_at,
        note: args.reason.unwrap_or_default(),
        request_id: args.request_id.unwrap_or_default(),
    };
    let mut messages =
        vec![pb::AddEvidenceRequest { content: Some(pb::add_evidence_request::Content::Metadata(metadata)) }];
    messages.extend(
        bytes
            .chunks(CHUNK)
            .map(|c| pb::AddEvidenceRequest { content: Some(pb::add_evidence_request::Content::Chunk(c.to_vec())) }),
    );
    let evidence = links(&args.client).await?.add_evidence(tokio_stream::iter(messages)).await?.into_inner();
    if evidence.sha256 != sha256 {
        return Err(CliError::Other(format!(
            "the service stored SHA-256 {} but the file's is {sha256}; check the capture",
            evidence.sha256
        )));
    }
    show(&evidence, args.client.json);
    Ok(())
}

async fn get(args: GetArgs) -> Result<(), CliError> {
    let name = evidence_name(&args.link, &args.sha256);
    let request = pb::GetEvidenceRequest { name: name.clone(), reason: args.reason };
    let mut stream = links(&args.client).await?.get_evidence(request).await?.into_inner();
    let partial = {
        let mut p = args.out.clone().into_os_string();
        p.push(".part");
        std::path::PathBuf::from(p)
    };
    let result = async {
        let mut file = std::fs::File::create(&partial)
            .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", partial.display())))?;
        let mut hasher = Sha256::new();
        let mut evidence = None;
        while let Some(message) = stream.message().await? {
            if message.evidence.is_some() {
                evidence = message.evidence;
            }
            hasher.update(&message.chunk);
            file.write_all(&message.chunk)
                .map_err(|e| CliError::Other(format!("cannot write {}: {e}", partial.display())))?;
        }
        file.sync_all().map_err(|e| CliError::Other(format!("cannot write {}: {e}", partial.display())))?;
        let got = hex(&hasher.finalize());
        if !name.ends_with(&got) {
            return Err(CliError::Other(format!(
                "the bytes received have SHA-256 {got}, not the one asked for; discarded"
            )));
        }
        std::fs::rename(&partial, &args.out)
            .map_err(|e| CliError::Other(format!("cannot write {}: {e}", args.out.display())))?;
        Ok(evidence)
    }
    .await;
    match result {
        Ok(evidence) => {
            if args.client.json {
                print_json(
                    &json!({ "evidence": evidence.as_ref().map(as_json), "out": args.out.display().to_string() }),
                );
            } else {
                println!("{} written to {} (SHA-256 checked)", name, args.out.display());
            }
            Ok(())
        }
        Err(e) => {
            // Nothing partial or unchecked is left where the officer would take it for the evidence.
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let link = resource_name("links", &args.link);
    let client = links(&args.client).await?;
    let (items, next) =
        pages(&args.page, |page_token| {
            let mut client = client.clone();
            let request = pb::ListEvidenceRequest { link: link.clone(), page_size: args.page.page_size, page_token };
            async move {
                client.list_evidence(request).await.map(|r| r.into_inner()).map(|r| (r.evidence, r.next_page_token))
            }
        })
        .await?;
    if args.client.json {
        print_json(&json!({ "evidence": items.iter().map(as_json).collect::<Vec<_>>(), "next_page_token": next }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|e| {
            vec![
                e.sha256.clone(),
                e.size_bytes.to_string(),
                e.media_type.clone(),
                time_text(e.captured_at.as_ref()),
                e.captured_by.clone(),
                time_text(e.record_time.as_ref()),
            ]
        })
        .collect();
    print_table(&["SHA256", "BYTES", "MEDIA TYPE", "CAPTURED AT", "CAPTURED BY", "RECORDED"], &rows);
    print_more_hint(&next, "captures");
    Ok(())
}

async fn custody(args: CustodyArgs) -> Result<(), CliError> {
    let evidence = evidence_name(&args.link, &args.sha256);
    let client = links(&args.client).await?;
    let (events, next) = pages(&args.page, |page_token| {
        let mut client = client.clone();
        let request =
            pb::ListCustodyEventsRequest { evidence: evidence.clone(), page_size: args.page.page_size, page_token };
        async move {
            client.list_custody_events(request).await.map(|r| r.into_inner()).map(|r| (r.events, r.next_page_token))
        }
    })
    .await?;
    let kind = |code: i32| {
        pb::CustodyEventKind::try_from(code)
            .map(|k| k.as_str_name().trim_start_matches("CUSTODY_EVENT_KIND_").to_owned())
            .unwrap_or_else(|_| code.to_string())
    };
    if args.client.json {
        let events: Vec<_> = events
            .iter()
            .map(|e| json!({ "kind": kind(e.kind), "actor": e.actor, "reason": e.reason, "occurred_at": time_text(e.occurred_at.as_ref()) }))
            .collect();
        print_json(&json!({ "evidence": evidence, "events": events, "next_page_token": next }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| vec![time_text(e.occurred_at.as_ref()), kind(e.kind), e.actor.clone(), e.reason.clone()])
        .collect();
    print_table(&["WHEN", "WHAT", "WHO", "WHY"], &rows);
    print_more_hint(&next, "entries");
    Ok(())
}

fn as_json(e: &pb::Evidence) -> serde_json::Value {
    json!({
        "name": e.name,
        "link": e.link,
        "sha256": e.sha256,
        "size_bytes": e.size_bytes,
        "media_type": e.media_type,
        "captured_at": time_text(e.captured_at.as_ref()),
        "captured_by": e.captured_by,
        "note": e.note,
        "record_time": time_text(e.record_time.as_ref()),
        "capture_id": e.capture_id,
    })
}

fn show(e: &pb::Evidence, json: bool) {
    if json {
        print_json(&as_json(e));
        return;
    }
    print_fields(vec![
        ("name", e.name.clone()),
        ("sha256", e.sha256.clone()),
        ("size_bytes", e.size_bytes.to_string()),
        ("media_type", e.media_type.clone()),
        ("captured_at", time_text(e.captured_at.as_ref())),
        ("captured_by", e.captured_by.clone()),
        ("note", e.note.clone()),
        ("capture_id", e.capture_id.clone()),
    ]);
}
