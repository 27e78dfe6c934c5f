//! `doxwatch link …`: links to doxxing content — registering and importing them, what checks
//! found, the removal requests made of platforms, and the removal figures (the link-tracking
//! service).

use std::io::Read;

use doxwatch_proto::links as pb;
use serde_json::json;

pub use super::link_stats::StatsArgs;
use super::link_stats::stats;
use super::{PageArgs, every_page, links, pages, resource_name};
use crate::{
    ClientArgs,
    output::{CliError, label, parse_time, print_fields, print_json, print_more_hint, print_table, time_text},
};

/// The most registrations one RegisterLinks call or one ImportLinks message carries.
const MAX_REGISTRATIONS: usize = 1000;

#[derive(clap::Subcommand)]
pub enum LinkCommand {
    /// Show one link.
    Get(NameArgs),
    /// List links, oldest first.
    List(ListArgs),
    /// List the cases citing a link, in the order of their names (a link shows only the first ten).
    Citations(CitationsArgs),
    /// Register every URL of a file, one a line (a patrol export of many thousands).
    Import(ImportArgs),
    /// Record what a check found of a link.
    Observe(ObserveArgs),
    /// Show what checks (and the platform) said of a link, in business-time order.
    Observations(NameArgs),
    /// Removal figures as at a moment.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
pub struct NameArgs {
    /// The link: links/{id} or just the id.
    name: String,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// Only links on this platform: platforms/{id} or just the id.
    #[arg(long)]
    platform: Option<String>,
    /// Only links in this channel: channels/{id} or just the id.
    #[arg(long)]
    channel: Option<String>,
    /// Only links with this status as at --as-of.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::LinkStatus>())]
    status: Option<pb::LinkStatus>,
    /// The moment statuses are given as at (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    as_of: Option<prost_types::Timestamp>,
    /// Only links cited by this case: its reference (DOX-2019-004122), cases/{id} or just the id.
    #[arg(long)]
    case: Option<String>,
    #[arg(long, value_parser = parse_time)]
    first_seen_after: Option<prost_types::Timestamp>,
    #[arg(long, value_parser = parse_time)]
    first_seen_before: Option<prost_types::Timestamp>,
    /// Only links that reappeared (ONLINE again after a confirmed removal) as at --as-of.
    #[arg(long)]
    reappeared: bool,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct CitationsArgs {
    /// The link: links/{id} or just the id.
    name: String,
    #[command(flatten)]
    page: PageArgs,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// A file of URLs, one a line; blank lines and lines starting with # are skipped; - reads
    /// standard input.
    file: String,
    /// The case citing them: its reference (DOX-2019-004122), cases/{id} or just the id.
    #[arg(long)]
    case: Option<String>,
    /// When they were seen (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    seen_at: Option<prost_types::Timestamp>,
    /// Print the name of each new link (the first 1,000) after the counts.
    #[arg(long)]
    show_new: bool,
    #[command(flatten)]
    client: ClientArgs,
}

#[derive(clap::Args)]
pub struct ObserveArgs {
    /// The link: links/{id} or just the id.
    name: String,
    /// What the check found.
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::LinkStatus>())]
    status: pb::LinkStatus,
    /// Who made the check (a platform's report is its claim, which never changes the link's
    /// status by itself).
    #[arg(long, value_parser = crate::choice::vocabulary::<pb::ObservationSource>())]
    source: pb::ObservationSource,
    /// Where the check was made from.
    #[arg(long, default_value = "unknown", value_parser = crate::choice::vocabulary::<pb::Vantage>())]
    vantage: pb::Vantage,
    /// When it was observed (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    observed_at: Option<prost_types::Timestamp>,
    #[arg(long)]
    note: Option<String>,
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
}

fn link_name(text: &str) -> String {
    resource_name("links", text)
}

pub async fn run(command: LinkCommand) -> Result<(), CliError> {
    match command {
        LinkCommand::Get(args) => {
            let request = pb::GetLinkRequest { name: link_name(&args.name) };
            let link = links(&args.client).await?.get_link(request).await?.into_inner();
            show_link(&link, args.client.json);
            Ok(())
        }
        LinkCommand::List(args) => list(args).await,
        LinkCommand::Citations(args) => citations(args).await,
        LinkCommand::Import(args) => import(args).await,
        LinkCommand::Observe(args) => observe(args).await,
        LinkCommand::Observations(args) => observations(args).await,
        LinkCommand::Stats(args) => stats(args).await,
    }
}

async fn list(args: ListArgs) -> Result<(), CliError> {
    let request = pb::ListLinksRequest {
        page_size: args.page.page_size,
        page_token: String::new(),
        platform: match args.platform.as_deref() {
            Some(p) => super::platform::platform_named(&args.client, p).await?,
            None => String::new(),
        },
        channel: args.channel.as_deref().map(|c| resource_name("channels", c)).unwrap_or_default(),
        status: args.status.map_or(0, i32::from),
        as_of: args.as_of,
        case: super::case::optional_case_named(&args.client, args.case.as_deref()).await?,
        first_seen_after: args.first_seen_after,
        first_seen_before: args.first_seen_before,
        reappeared: args.reappeared,
    };
    let client = links(&args.client).await?;
    let (links, next) = pages(&args.page, |page_token| {
        let (mut client, request) = (client.clone(), pb::ListLinksRequest { page_token, ..request.clone() });
        async move { client.list_links(request).await.map(|r| r.into_inner()).map(|p| (p.links, p.next_page_token)) }
    })
    .await?;
    if args.client.json {
        print_json(&json!({ "links": links.iter().map(link_json).collect::<Vec<_>>(), "next_page_token": next }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = links
        .iter()
        .map(|l| {
            vec![
                l.name.clone(),
                label::<pb::LinkStatus>(l.status),
                time_text(l.first_seen_at.as_ref()),
                l.case_count.to_string(),
                l.canonical_url.clone(),
            ]
        })
        .collect();
    print_table(&["NAME", "STATUS", "FIRST SEEN", "CASES", "URL"], &rows);
    print_more_hint(&next, "links");
    Ok(())
}

async fn citations(args: CitationsArgs) -> Result<(), CliError> {
    let request = pb::ListLinkCitationsRequest {
        parent: link_name(&args.name),
        page_size: args.page.page_size,
        page_token: String::new(),
    };
    let client = links(&args.client).await?;
    let (citations, next) = pages(&args.page, |page_token| {
        let (mut client, request) = (client.clone(), pb::ListLinkCitationsRequest { page_token, ..request.clone() });
        async move {
            client.list_link_citations(request).await.map(|r| r.into_inner()).map(|p| (p.citations, p.next_page_token))
        }
    })
    .await?;
    if args.client.json {
        let citations: Vec<serde_json::Value> = citations
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "case": c.case,
                    "first_seen_at": time_text(c.first_seen_at.as_ref()),
                    "create_time": time_text(c.create_time.as_ref()),
                })
            })
            .collect();
        print_json(&json!({ "citations": citations, "next_page_token": next }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = citations
        .iter()
        .map(|c| vec![c.case.clone(), time_text(c.first_seen_at.as_ref()), time_text(c.create_time.as_ref())])
        .collect();
    print_table(&["CASE", "FIRST SEEN", "RECORDED"], &rows);
    print_more_hint(&next, "citations");
    Ok(())
}

/// The URLs of an import file: one a line, without blank lines and `#` comments.
fn import_urls(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
}

async fn import(args: ImportArgs) -> Result<(), CliError> {
    let read_error = |e: std::io::Error| CliError::Other(format!("cannot read {}: {e}", args.file));
    let text = if args.file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(read_error)?;
        text
    } else {
        std::fs::read_to_string(&args.file).map_err(read_error)?
    };
    let urls = import_urls(&text);
    if urls.is_empty() {
        return Err(CliError::Usage(format!("{} has no URLs", args.file)));
    }
    let case = super::case::optional_case_named(&args.client, args.case.as_deref()).await?;
    let count = urls.len();
    // Read whole before sending, so that a file that cannot be read stores nothing; the stream
    // then lets the service write its batches as the messages arrive.
    let messages: Vec<pb::ImportLinksRequest> = urls
        .chunks(MAX_REGISTRATIONS)
        .map(|chunk| pb::ImportLinksRequest {
            registrations: chunk
                .iter()
                .map(|url| pb::LinkRegistration { url: url.clone(), case: case.clone(), seen_at: args.seen_at })
                .collect(),
        })
        .collect();
    // Progress on a terminal (indicatif draws nothing otherwise): the URLs as they are sent, then
    // the wait while the service registers them all together.
    let bar = indicatif::ProgressBar::new(count as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:<22} {bar:40} {pos}/{len} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message("sending URLs");
    let sent = bar.clone();
    let stream = tokio_stream::StreamExt::map(tokio_stream::iter(messages), move |message| {
        sent.inc(message.registrations.len() as u64);
        if sent.position() == sent.length().unwrap_or(0) {
            sent.set_message("registering them");
        }
        message
    });
    let response = links(&args.client).await?.import_links(stream).await;
    bar.finish_and_clear();
    let response = response?.into_inner();
    let refusals: Vec<_> = response
        .refusals
        .iter()
        .map(|r| json!({ "reason": r.reason, "count": r.count, "examples": r.examples }))
        .collect();
    if args.client.json {
        print_json(&json!({
            "urls": count,
            "new_links": response.new_links,
            "new_link_names": response.new_link_names,
            "known_links": response.known_links,
            "refused": response.refused,
            "refusals": refusals,
        }));
        return Ok(());
    }
    println!(
        "{}: {} new, {} known, {} refused",
        crate::output::counted(count, "URL"),
        response.new_links,
        response.known_links,
        response.refused
    );
    if !response.refusals.is_empty() {
        let rows: Vec<Vec<String>> = response
            .refusals
            .iter()
            .map(|r| vec![r.count.to_string(), r.reason.clone(), r.examples.join(" ")])
            .collect();
        print_table(&["REFUSED", "REASON", "EXAMPLES"], &rows);
    }
    if args.show_new {
        for name in &response.new_link_names {
            println!("{name}");
        }
        let unnamed = response.new_links.saturating_sub(response.new_link_names.len() as i64);
        if unnamed > 0 {
            println!(
                "… and {} not named here (`link list --first-seen-after`, `--first-seen-before` find links by when they were first seen)",
                crate::output::counted(unnamed, "new link")
            );
        }
    }
    Ok(())
}

async fn observe(args: ObserveArgs) -> Result<(), CliError> {
    let observation = pb::Observation {
        link: link_name(&args.name),
        status: args.status as i32,
        observed_at: args.observed_at,
        vantage: args.vantage as i32,
        source: args.source as i32,
        note: args.note.unwrap_or_default(),
        ..Default::default()
    };
    let request = pb::RecordObservationsRequest {
        observations: vec![observation],
        request_id: args.request_id.unwrap_or_default(),
    };
    let response = links(&args.client).await?.record_observations(request).await?.into_inner();
    for o in &response.observations {
        if args.client.json {
            print_json(&observation_json(o));
        } else {
            print_fields(vec![
                ("name", o.name.clone()),
                ("status", label::<pb::LinkStatus>(o.status)),
                ("observed_at", time_text(o.observed_at.as_ref())),
                ("source", label::<pb::ObservationSource>(o.source)),
                ("vantage", label::<pb::Vantage>(o.vantage)),
                ("note", o.note.clone()),
                ("recorded_by", o.recorded_by.clone()),
            ]);
        }
    }
    Ok(())
}

async fn observations(args: NameArgs) -> Result<(), CliError> {
    let client = links(&args.client).await?;
    let request =
        pb::ListObservationsRequest { link: link_name(&args.name), page_size: 1000, page_token: String::new() };
    let observations = every_page(|page_token| {
        let (mut client, request) = (client.clone(), pb::ListObservationsRequest { page_token, ..request.clone() });
        async move {
            client.list_observations(request).await.map(|r| r.into_inner()).map(|p| (p.observations, p.next_page_token))
        }
    })
    .await?;
    if args.client.json {
        print_json(&json!({ "observations": observations.iter().map(observation_json).collect::<Vec<_>>() }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = observations
        .iter()
        .map(|o| {
            vec![
                time_text(o.observed_at.as_ref()),
                label::<pb::LinkStatus>(o.status),
                label::<pb::ObservationSource>(o.source),
                label::<pb::Vantage>(o.vantage),
                o.recorded_by.clone(),
                o.note.clone(),
            ]
        })
        .collect();
    print_table(&["OBSERVED", "STATUS", "SOURCE", "VANTAGE", "BY", "NOTE"], &rows);
    Ok(())
}

fn link_json(l: &pb::Link) -> serde_json::Value {
    json!({
        "name": l.name,
        "reported_url": l.reported_url,
        "canonical_url": l.canonical_url,
        "platform": l.platform,
        "channel": l.channel,
        "message_id": l.message_id,
        "first_seen_at": time_text(l.first_seen_at.as_ref()),
        "case_count": l.case_count,
        "cases": l.cases,
        "status": label::<pb::LinkStatus>(l.status),
        "create_time": time_text(l.create_time.as_ref()),
    })
}

fn show_link(l: &pb::Link, as_json: bool) {
    if as_json {
        print_json(&link_json(l));
        return;
    }
    let mut fields = vec![
        ("name", l.name.clone()),
        ("status", label::<pb::LinkStatus>(l.status)),
        ("canonical_url", l.canonical_url.clone()),
        ("reported_url", l.reported_url.clone()),
        ("platform", l.platform.clone()),
        ("channel", l.channel.clone()),
        ("message_id", l.message_id.clone()),
        ("first_seen_at", time_text(l.first_seen_at.as_ref())),
    ];
    fields.push(("case_count", l.case_count.to_string()));
    fields.extend(l.cases.iter().map(|c| ("case", c.clone())));
    let more = l.case_count.saturating_sub(l.cases.len() as i64);
    if more > 0 {
        fields.push(("case", format!("… and {more} more: doxwatch link citations {}", l.name)));
    }
    fields.push(("create_time", time_text(l.create_time.as_ref())));
    print_fields(fields);
}

fn observation_json(o: &pb::Observation) -> serde_json::Value {
    json!({
        "name": o.name,
        "link": o.link,
        "status": label::<pb::LinkStatus>(o.status),
        "observed_at": time_text(o.observed_at.as_ref()),
        "vantage": label::<pb::Vantage>(o.vantage),
        "source": label::<pb::ObservationSource>(o.source),
        "note": o.note,
        "recorded_by": o.recorded_by,
        "record_time": time_text(o.record_time.as_ref()),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_import_file_is_one_url_a_line_without_blank_lines_and_comments() {
        let text = "# patrol export\n\nhttps://t.me/a/1\n  https://t.me/a/2  \r\n# https://t.me/skipped/3\nhttps://x.example/#frag\n";
        assert_eq!(super::import_urls(text), ["https://t.me/a/1", "https://t.me/a/2", "https://x.example/#frag"]);
    }
}
