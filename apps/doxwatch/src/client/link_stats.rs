//! `doxwatch link stats`: the removal figures as at a moment, by platform, and by channel a page
//! at a time.

use doxwatch_proto::links as pb;
use serde_json::json;

use super::{AsAtArgs, links};
use crate::{
    ClientArgs,
    output::{CliError, duration_text, label, percent, print_json, print_table, time_text},
};

#[derive(clap::Args)]
pub struct StatsArgs {
    #[command(flatten)]
    at: AsAtArgs,
    /// Show the figures of this many channels, most links requested first (at most 500; the
    /// service's default, 20, in --json when not given)
    #[arg(long, value_name = "N")]
    channels: Option<i32>,
    /// The next page of channels: the token an earlier answer printed, with the same --as-of and
    /// --recorded-before
    #[arg(long, default_value = "")]
    channel_page_token: String,
    #[command(flatten)]
    client: ClientArgs,
}

pub(super) async fn stats(args: StatsArgs) -> Result<(), CliError> {
    let request = pb::GetLinkStatisticsRequest {
        as_of: args.at.as_of,
        recorded_before: args.at.recorded_before,
        channel_page_size: args.channels.unwrap_or(0),
        channel_page_token: args.channel_page_token.clone(),
    };
    let s = links(&args.client).await?.get_link_statistics(request).await?.into_inner();
    if args.client.json {
        print_json(&stats_json(&s));
        return Ok(());
    }
    let total = s.total.unwrap_or_default();
    let recorded = match s.recorded_before.as_ref() {
        Some(t) => format!(", recorded before {}", time_text(Some(t))),
        None => String::new(),
    };
    println!(
        "as at {}{recorded}: {} on {}",
        time_text(s.as_of.as_ref()),
        crate::output::counted(total.links, "link"),
        crate::output::counted(s.platforms_involved, "platform")
    );
    println!(
        "removal requested for {}, removed {} ({}), access-restricted {}; time to removal: median {}, p90 {}",
        total.links_requested,
        total.links_removed,
        rate_text(&total),
        total.links_access_restricted,
        time_to_removal(total.median_seconds_to_removal, &total),
        time_to_removal(total.p90_seconds_to_removal, &total),
    );
    let rows: Vec<Vec<String>> = s
        .by_platform
        .iter()
        .map(|p| {
            let f = p.figures.unwrap_or_default();
            vec![
                p.display_name.clone(),
                label::<pb::PlatformKind>(p.kind),
                f.links.to_string(),
                f.links_requested.to_string(),
                f.links_removed.to_string(),
                rate_text(&f),
                f.links_access_restricted.to_string(),
                time_to_removal(f.median_seconds_to_removal, &f),
            ]
        })
        .collect();
    print_table(&["PLATFORM", "KIND", "LINKS", "REQUESTED", "REMOVED", "RATE", "RESTRICTED", "MEDIAN TIME"], &rows);
    if args.channels.is_some() || !args.channel_page_token.is_empty() {
        print_channels(&s);
    }
    if !s.suspended_channels.is_empty() {
        let platform = |name: &str| {
            s.by_platform
                .iter()
                .find(|p| p.platform == name)
                .map_or_else(|| name.to_owned(), |p| p.display_name.clone())
        };
        let rows: Vec<Vec<String>> = s
            .suspended_channels
            .iter()
            .map(|c| {
                // Link-tracking names channels only to roles allowed to read them.
                let handle = if s.handles_included { c.handle.clone() } else { "(withheld)".to_owned() };
                vec![handle, platform(&c.platform), time_text(c.suspended_since.as_ref()), c.channel.clone()]
            })
            .collect();
        print_table(&["SUSPENDED CHANNEL", "PLATFORM", "SINCE", "NAME"], &rows);
    }
    Ok(())
}

/// The removal rate, or `-` when nothing was requested (a rate of nothing is not 0%).
fn rate_text(f: &pb::RemovalFigures) -> String {
    if f.links_requested == 0 { "-".to_owned() } else { percent(f.removal_rate) }
}

fn time_to_removal(seconds: f64, f: &pb::RemovalFigures) -> String {
    if f.links_removed == 0 { "-".to_owned() } else { duration_text(seconds) }
}

fn figures_json(f: Option<&pb::RemovalFigures>) -> serde_json::Value {
    let f = f.copied().unwrap_or_default();
    json!({
        "links": f.links,
        "links_requested": f.links_requested,
        "links_removed": f.links_removed,
        "links_access_restricted": f.links_access_restricted,
        "removal_rate": f.removal_rate,
        "median_seconds_to_removal": f.median_seconds_to_removal,
        "p90_seconds_to_removal": f.p90_seconds_to_removal,
    })
}

/// The figures as `--json` prints them.
fn stats_json(s: &pb::LinkStatistics) -> serde_json::Value {
    json!({
        "as_of": time_text(s.as_of.as_ref()),
        "recorded_before": time_text(s.recorded_before.as_ref()),
        "platforms_involved": s.platforms_involved,
        "total": figures_json(s.total.as_ref()),
        "by_platform": s.by_platform.iter().map(|p| json!({
            "platform": p.platform,
            "display_name": p.display_name,
            "kind": label::<pb::PlatformKind>(p.kind),
            "figures": figures_json(p.figures.as_ref()),
        })).collect::<Vec<_>>(),
        "by_channel": s.by_channel.iter().map(|c| json!({
            "channel": c.channel,
            "platform": c.platform,
            "handle": c.handle,
            "status": label::<pb::ChannelStatus>(c.status),
            "figures": figures_json(c.figures.as_ref()),
        })).collect::<Vec<_>>(),
        "suspended_channels": s.suspended_channels.iter().map(|c| json!({
            "channel": c.channel,
            "platform": c.platform,
            "handle": c.handle,
            "suspended_since": time_text(c.suspended_since.as_ref()),
        })).collect::<Vec<_>>(),
        "handles_included": s.handles_included,
        "channels_involved": s.channels_involved,
        "next_channel_page_token": s.next_channel_page_token,
    })
}

/// The page of channels' figures, and the token of the next.
fn print_channels(s: &pb::LinkStatistics) {
    let rows: Vec<Vec<String>> = s
        .by_channel
        .iter()
        .map(|c| {
            let f = c.figures.unwrap_or_default();
            let handle = if s.handles_included { c.handle.clone() } else { "(withheld)".to_owned() };
            vec![
                handle,
                label::<pb::ChannelStatus>(c.status),
                f.links.to_string(),
                f.links_requested.to_string(),
                f.links_removed.to_string(),
                rate_text(&f),
                c.channel.clone(),
            ]
        })
        .collect();
    println!("{} involved", crate::output::counted(s.channels_involved, "channel"));
    print_table(&["CHANNEL", "STATUS", "LINKS", "REQUESTED", "REMOVED", "RATE", "NAME"], &rows);
    if !s.next_channel_page_token.is_empty() {
        println!("next page: --channel-page-token {}", s.next_channel_page_token);
    }
}
