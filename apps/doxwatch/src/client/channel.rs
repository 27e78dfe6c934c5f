//! `doxwatch channel …`: the groups, channels and accounts links are posted in, and their status
//! in business time (the link-tracking service).

use doxwatch_proto::links as pb;
use serde_json::json;

use super::{PageArgs, links, pages, resource_name};
use crate::{
    ClientArgs,
    output::{CliError, label, parse_time, print_fields, print_json, print_more_hint, print_table, time_text},
};

#[derive(clap::Subcommand)]
pub enum ChannelCommand {
    /// Show one channel with its status as at a moment.
    Get(GetArgs),
    /// List channels.
    List(ListArgs),
    /// Record a change of a channel's status, e.g. suspended by the platform.
    Status(StatusArgs),
}

#[derive(clap::Args)]
pub struct GetArgs {
    /// The channel: channels/{id} or just the id.
    name: String,
    /// The moment the status is given as at (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    as_of: Option<prost_types::Timestamp>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only channels of this platform: platforms/{id} or just the id.
    #[arg(long)]
    platform: Option<String>,
    /// Only channels with this status as at --as-of.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::ChannelStatus>())]
    status: Option<pb::ChannelStatus>,
    /// The moment statuses are given as at (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    as_of: Option<prost_types::Timestamp>,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The channel: channels/{id} or just the id.
    name: String,
    /// The channel's status from --effective-at.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::ChannelStatus>())]
    status: pb::ChannelStatus,
    /// When the status took effect (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    effective_at: prost_types::Timestamp,
    /// Where it is known from, e.g. "platform announcement" or "officer check".
    #[arg(long)]
    source: String,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

pub async fn run(command: ChannelCommand) -> Result<(), CliError> {
    match command {
        ChannelCommand::Get(args) => {
            let request = pb::GetChannelRequest { name: resource_name("channels", &args.name), as_of: args.as_of };
            let channel = links(&args.client).await?.get_channel(request).await?.into_inner();
            show_channel(&channel, args.client.json);
            Ok(())
        }
        ChannelCommand::List(args) => list(args).await,
        ChannelCommand::Status(args) => {
            let request = pb::RecordChannelStatusRequest {
                channel: resource_name("channels", &args.name),
                status: args.status as i32,
                effective_at: Some(args.effective_at),
                source: args.source,
                request_id: args.request_id.unwrap_or_default(),
            };
            let channel = links(&args.client).await?.record_channel_status(request).await?.into_inner();
            show_channel(&channel, args.client.json);
            Ok(())
        }
    }
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let request = pb::ListChannelsRequest {
        page_size: args.page.page_size,
        page_token: String::new(),
        platform: match args.platform.as_deref() {
            Some(p) => super::platform::platform_named(&args.client, p).await?,
            None => String::new(),
        },
        status: args.status.map_or(0, i32::from),
        as_of: args.as_of,
    };
    let client = links(&args.client).await?;
    let (channels, next) =
        pages(&args.page, |page_token| {
            let (mut client, request) = (client.clone(), pb::ListChannelsRequest { page_token, ..request.clone() });
            async move {
                client.list_channels(request).await.map(|r| r.into_inner()).map(|p| (p.channels, p.next_page_token))
            }
        })
        .await?;
    if args.client.json {
        print_json(
            &json!({ "channels": channels.iter().map(channel_json).collect::<Vec<_>>(), "next_page_token": next }),
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = channels
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.handle.clone(),
                label::<pb::ChannelStatus>(c.status),
                time_text(c.status_since.as_ref()),
                c.url.clone(),
            ]
        })
        .collect();
    print_table(&["NAME", "HANDLE", "STATUS", "SINCE", "URL"], &rows);
    print_more_hint(&next, "channels");
    Ok(())
}

fn channel_json(c: &pb::Channel) -> serde_json::Value {
    json!({
        "name": c.name,
        "platform": c.platform,
        "handle": c.handle,
        "url": c.url,
        "status": label::<pb::ChannelStatus>(c.status),
        "status_since": time_text(c.status_since.as_ref()),
        "create_time": time_text(c.create_time.as_ref()),
    })
}

fn show_channel(c: &pb::Channel, as_json: bool) {
    if as_json {
        print_json(&channel_json(c));
        return;
    }
    print_fields(vec![
        ("name", c.name.clone()),
        ("platform", c.platform.clone()),
        ("handle", c.handle.clone()),
        ("url", c.url.clone()),
        ("status", label::<pb::ChannelStatus>(c.status)),
        ("status_since", time_text(c.status_since.as_ref())),
        ("create_time", time_text(c.create_time.as_ref())),
    ]);
}
