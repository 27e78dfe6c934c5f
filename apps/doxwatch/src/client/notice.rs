//! `doxwatch notice …`: the liaison officer's correspondence with platforms — drafting notices,
//! serving them, recording replies, reminders and escalation, the letters themselves and the
//! correspondence figures (the liaison service).

use std::io::Write;

use doxwatch_proto::liaison as pb;
use serde_json::json;

use super::{
    AsAtArgs, PageArgs, every_page, liaison, links,
    notice_args::{
        channel_name, escalation_choice, event_json, item, item_help, item_reply, item_reply_help, notice_json,
        show_events, show_notice, show_notices, show_statistics, statistics_json,
    },
    pages, resource_name,
};
use crate::{
    ClientArgs,
    output::{CliError, label, parse_time, print_json, print_more_hint},
};

#[derive(clap::Subcommand)]
pub enum NoticeCommand {
    /// Draft a notice to a platform about links.
    Create(CreateArgs),
    /// Show one notice, with its status as at a moment.
    Get(GetArgs),
    /// List notices, oldest first.
    List(ListArgs),
    /// Change a draft: only the fields given change.
    Update(UpdateArgs),
    /// Serve a draft on its platform; its deadline is then fixed.
    Serve(ServeArgs),
    /// Record the platform's reply, item by item.
    Reply(ReplyArgs),
    /// Close a notice (a draft is closed as withdrawn).
    Close(CloseArgs),
    /// Draft a reminder of a served notice, carrying its outstanding items.
    Remind(RemindArgs),
    /// Draft a stronger notice following a served one, carrying its outstanding items.
    Escalate(EscalateArgs),
    /// Show a notice's history.
    Events(NameArgs),
    /// Write the letter itself, in Markdown or HTML, to a file.
    Render(RenderArgs),
    /// Correspondence figures as at a moment.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The platform written to: platforms/{id} or just the id.
    #[arg(long)]
    platform: String,
    /// What the notice is.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::NoticeKind>())]
    kind: pb::NoticeKind,
    #[arg(long = "link", value_name = "LINK[=ACTION]", value_parser = item, help = item_help("A link the notice covers"))]
    items: Vec<pb::NoticeItem>,
    /// A case the notice concerns: its reference (DOX-2019-004122), cases/{id} or just the id (repeatable).
    #[arg(long = "case", value_name = "CASE")]
    cases: Vec<String>,
    /// For a notice about a channel: channels/{id} or just the id.
    #[arg(long)]
    channel: Option<String>,
    /// The legal basis the letter cites.
    #[arg(long)]
    legal_basis: Option<String>,
    /// When compliance is due (RFC 3339); defaults to the compliance period of the kind.
    #[arg(long, value_parser = parse_time)]
    deadline: Option<prost_types::Timestamp>,
    /// An idempotency key: re-running with the same key drafts the notice once.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct NameArgs {
    /// The notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct GetArgs {
    /// The notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    /// The moment the status is given as at (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    as_of: Option<prost_types::Timestamp>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only notices to this platform: platforms/{id} or just the id.
    #[arg(long)]
    platform: Option<String>,
    /// Only notices of this kind.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::NoticeKind>())]
    kind: Option<pb::NoticeKind>,
    /// Only notices with this status as at --as-of.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::NoticeStatus>())]
    status: Option<pb::NoticeStatus>,
    /// Only notices overdue as at --as-of: served, deadline passed, items without a reply.
    #[arg(long)]
    overdue: bool,
    /// The moment statuses are given as at (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    as_of: Option<prost_types::Timestamp>,
    #[arg(long, value_parser = parse_time)]
    served_after: Option<prost_types::Timestamp>,
    #[arg(long, value_parser = parse_time)]
    served_before: Option<prost_types::Timestamp>,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
#[command(group(
    clap::ArgGroup::new("change").args(["items", "cases", "legal_basis", "channel", "deadline"]).required(true).multiple(true)
))]
pub struct UpdateArgs {
    /// The notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    #[arg(long = "link", value_name = "LINK[=ACTION]", value_parser = item, help = item_help("A link the draft covers, replacing its items"))]
    items: Vec<pb::NoticeItem>,
    /// The cases it concerns, replacing its cases (repeatable).
    #[arg(long = "case", value_name = "CASE")]
    cases: Vec<String>,
    /// A new legal basis ("" for none).
    #[arg(long)]
    legal_basis: Option<String>,
    /// The channel it is about ("" for none).
    #[arg(long)]
    channel: Option<String>,
    /// A new deadline (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    deadline: Option<prost_types::Timestamp>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    /// How it was served.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::ServiceMethod>())]
    method: pb::ServiceMethod,
    /// When it was served (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    served_at: Option<prost_types::Timestamp>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ReplyArgs {
    /// The notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    /// When the reply was received (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    received_at: Option<prost_types::Timestamp>,
    #[arg(long = "item", value_name = "LINK=OUTCOME[:TEXT]", value_parser = item_reply, help = item_reply_help())]
    items: Vec<pb::ItemReplyInput>,
    /// The outcome for every item not given with --item.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::ReplyOutcome>())]
    all_items: Option<pb::ReplyOutcome>,
    /// The reply as a whole, e.g. the platform's letter summarised.
    #[arg(long)]
    text: Option<String>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct CloseArgs {
    /// The notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    /// Why it is closed.
    #[arg(long)]
    reason: String,
    /// When it was closed (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    occurred_at: Option<prost_types::Timestamp>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct RemindArgs {
    /// The served notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct EscalateArgs {
    /// The served notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    /// The stronger notice to serve in its place.
    #[arg(long, value_parser = escalation_choice())]
    to: pb::NoticeKind,
    /// The legal basis the new notice cites.
    #[arg(long)]
    legal_basis: Option<String>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct RenderArgs {
    /// The notice: its reference (NTC-2019-000311), notices/{id} or just the id.
    name: String,
    /// en or zh-hant; defaults to the platform contact's language, else English.
    #[arg(long, value_parser = super::contact::languages())]
    language: Option<pb::Language>,
    /// The letter's format.
    #[arg(long, default_value = "markdown", value_parser = crate::choice::vocabulary::<pb::RenderFormat>())]
    format: pb::RenderFormat,
    /// The file to write the letter to; - writes it to standard output.
    #[arg(long, value_name = "FILE")]
    out: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    at: AsAtArgs,
    /// Only this platform's correspondence: platforms/{id} or just the id.
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

fn notice_name(text: &str) -> String {
    resource_name("notices", text)
}

/// The notice a user named, as `notices/{id}`: from its id, `notices/{id}`, or its reference
/// number (`NTC-2019-000311`), which liaison looks up.
async fn notice_named(args: &ClientArgs, text: &str) -> Result<String, CliError> {
    let name = notice_name(text);
    if !super::names_reference(&name) {
        return Ok(name);
    }
    let request = pb::GetNoticeRequest { name, as_of: None };
    Ok(liaison(args).await?.get_notice(request).await?.into_inner().name)
}

async fn platform_name(args: &ClientArgs, text: Option<&str>) -> Result<String, CliError> {
    match text {
        Some(p) => super::platform::platform_named(args, p).await,
        None => Ok(String::new()),
    }
}

pub async fn run(command: NoticeCommand) -> Result<(), CliError> {
    match command {
        NoticeCommand::Create(args) => create(args).await,
        NoticeCommand::Get(args) => {
            let request =
                pb::GetNoticeRequest { name: notice_named(&args.client, &args.name).await?, as_of: args.as_of };
            let notice = liaison(&args.client).await?.get_notice(request).await?.into_inner();
            show_notice(&notice, args.client.json);
            Ok(())
        }
        NoticeCommand::List(args) => list(args).await,
        NoticeCommand::Update(args) => update(args).await,
        NoticeCommand::Serve(args) => {
            let request = pb::ServeNoticeRequest {
                name: notice_named(&args.client, &args.name).await?,
                served_at: args.served_at,
                service_method: args.method as i32,
                request_id: args.request_id.unwrap_or_default(),
            };
            let notice = liaison(&args.client).await?.serve_notice(request).await?.into_inner();
            show_notice(&notice, args.client.json);
            Ok(())
        }
        NoticeCommand::Reply(args) => {
            let request = pb::RecordReplyRequest {
                name: notice_named(&args.client, &args.name).await?,
                received_at: args.received_at,
                items: args.items,
                all_items: args.all_items.map_or(0, i32::from),
                text: args.text.unwrap_or_default(),
                request_id: args.request_id.unwrap_or_default(),
            };
            let notice = liaison(&args.client).await?.record_reply(request).await?.into_inner();
            show_notice(&notice, args.client.json);
            Ok(())
        }
        NoticeCommand::Close(args) => {
            let request = pb::CloseNoticeRequest {
                name: notice_named(&args.client, &args.name).await?,
                reason: args.reason,
                occurred_at: args.occurred_at,
                request_id: args.request_id.unwrap_or_default(),
            };
            let notice = liaison(&args.client).await?.close_notice(request).await?.into_inner();
            show_notice(&notice, args.client.json);
            Ok(())
        }
        NoticeCommand::Remind(args) => {
            let request = pb::RemindNoticeRequest {
                name: notice_named(&args.client, &args.name).await?,
                request_id: args.request_id.unwrap_or_default(),
            };
            let notice = liaison(&args.client).await?.remind_notice(request).await?.into_inner();
            show_notice(&notice, args.client.json);
            Ok(())
        }
        NoticeCommand::Escalate(args) => {
            let request = pb::EscalateNoticeRequest {
                name: notice_named(&args.client, &args.name).await?,
                to_kind: args.to as i32,
                legal_basis: args.legal_basis.unwrap_or_default(),
                request_id: args.request_id.unwrap_or_default(),
            };
            let notice = liaison(&args.client).await?.escalate_notice(request).await?.into_inner();
            show_notice(&notice, args.client.json);
            Ok(())
        }
        NoticeCommand::Events(args) => events(args).await,
        NoticeCommand::Render(args) => render(args).await,
        NoticeCommand::Stats(args) => stats(args).await,
    }
}

async fn create(args: CreateArgs) -> Result<(), CliError> {
    let notice = pb::Notice {
        platform: super::platform::platform_named(&args.client, &args.platform).await?,
        kind: args.kind as i32,
        items: args.items,
        cases: super::case::cases_named(&args.client, &args.cases).await?,
        channel: args.channel.as_deref().map(channel_name).unwrap_or_default(),
        legal_basis: args.legal_basis.unwrap_or_default(),
        deadline: args.deadline,
        ..Default::default()
    };
    let request = pb::CreateNoticeRequest { notice: Some(notice), request_id: args.request_id.unwrap_or_default() };
    let created = liaison(&args.client).await?.create_notice(request).await?.into_inner();
    show_notice(&created, args.client.json);
    Ok(())
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let request = pb::ListNoticesRequest {
        page_size: args.page.page_size,
        page_token: String::new(),
        platform: platform_name(&args.client, args.platform.as_deref()).await?,
        kind: args.kind.map_or(0, i32::from),
        status: args.status.map_or(0, i32::from),
        overdue: args.overdue,
        as_of: args.as_of,
        served_after: args.served_after,
        served_before: args.served_before,
    };
    let client = liaison(&args.client).await?;
    let (notices, next) = pages(&args.page, |page_token| {
        let (mut client, request) = (client.clone(), pb::ListNoticesRequest { page_token, ..request.clone() });
        async move { client.list_notices(request).await.map(|r| r.into_inner()).map(|p| (p.notices, p.next_page_token)) }
    })
    .await?;
    if args.client.json {
        print_json(&json!({ "notices": notices.iter().map(notice_json).collect::<Vec<_>>(), "next_page_token": next }));
        return Ok(());
    }
    show_notices(&notices, &super::platform::display_names(&args.client).await?);
    print_more_hint(&next, "notices");
    Ok(())
}

async fn update(args: UpdateArgs) -> Result<(), CliError> {
    // Only the fields given change; clap has made sure there is at least one.
    let mut paths = Vec::new();
    for (given, path) in [
        (!args.items.is_empty(), "items"),
        (!args.cases.is_empty(), "cases"),
        (args.legal_basis.is_some(), "legal_basis"),
        (args.channel.is_some(), "channel"),
        (args.deadline.is_some(), "deadline"),
    ] {
        if given {
            paths.push(path.to_owned());
        }
    }
    let notice = pb::Notice {
        name: notice_named(&args.client, &args.name).await?,
        items: args.items,
        cases: super::case::cases_named(&args.client, &args.cases).await?,
        channel: args.channel.as_deref().map(channel_name).unwrap_or_default(),
        legal_basis: args.legal_basis.unwrap_or_default(),
        deadline: args.deadline,
        ..Default::default()
    };
    let request = pb::UpdateNoticeRequest {
        notice: Some(notice),
        update_mask: Some(prost_types::FieldMask { paths }),
        request_id: args.request_id.unwrap_or_default(),
    };
    let updated = liaison(&args.client).await?.update_notice(request).await?.into_inner();
    show_notice(&updated, args.client.json);
    Ok(())
}

/// The whole timeline, however many pages it takes.
async fn events(args: NameArgs) -> Result<(), CliError> {
    let client = liaison(&args.client).await?;
    let request = pb::ListNoticeEventsRequest {
        name: notice_named(&args.client, &args.name).await?,
        page_size: 500,
        page_token: String::new(),
    };
    let events = every_page(|page_token| {
        let (mut client, request) = (client.clone(), pb::ListNoticeEventsRequest { page_token, ..request.clone() });
        async move {
            client.list_notice_events(request).await.map(|r| r.into_inner()).map(|p| (p.events, p.next_page_token))
        }
    })
    .await?;
    if args.client.json {
        print_json(&json!({ "events": events.iter().map(event_json).collect::<Vec<_>>() }));
    } else {
        show_events(&events);
    }
    Ok(())
}

async fn render(args: RenderArgs) -> Result<(), CliError> {
    let request = pb::RenderNoticeRequest {
        name: notice_named(&args.client, &args.name).await?,
        language: args.language.map_or(0, i32::from),
        format: args.format as i32,
    };
    let letter = liaison(&args.client).await?.render_notice(request).await?.into_inner();
    let language = label::<pb::Language>(letter.language);
    if args.out == "-" {
        if args.client.json {
            print_json(&json!({ "content": letter.content, "media_type": letter.media_type, "language": language }));
        } else {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(letter.content.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|e| CliError::Other(format!("cannot write the letter: {e}")))?;
        }
        return Ok(());
    }
    std::fs::write(&args.out, &letter.content)
        .map_err(|e| CliError::Other(format!("cannot write {}: {e}", args.out)))?;
    if args.client.json {
        print_json(&json!({
            "file": args.out,
            "bytes": letter.content.len(),
            "media_type": letter.media_type,
            "language": language,
        }));
    } else {
        println!("wrote {} ({}, {language}, {} bytes)", args.out, letter.media_type, letter.content.len());
    }
    Ok(())
}

async fn stats(args: StatsArgs) -> Result<(), CliError> {
    let request = pb::GetLiaisonStatisticsRequest {
        as_of: args.at.as_of,
        recorded_before: args.at.recorded_before,
        platform: platform_name(&args.client, args.platform.as_deref()).await?,
    };
    let s = liaison(&args.client).await?.get_liaison_statistics(request).await?.into_inner();
    if args.client.json {
        print_json(&statistics_json(&s));
        return Ok(());
    }
    // Platforms by the names link-tracking gives them, where it answers; else by resource name.
    let mut names = std::collections::HashMap::new();
    if !s.by_platform.is_empty()
        && let Ok(mut client) = links(&args.client).await
    {
        for p in &s.by_platform {
            let request = doxwatch_proto::links::GetPlatformRequest { name: p.platform.clone() };
            match client.get_platform(request).await {
                Ok(platform) => names.insert(p.platform.clone(), platform.into_inner().display_name),
                Err(_) => break,
            };
        }
    }
    show_statistics(&s, |platform| names.get(platform).cloned().unwrap_or_else(|| platform.to_owned()));
    Ok(())
}
