//! `doxwatch report` and `doxwatch scenario load`: the situation report as at a moment (or, with
//! `--chart`, charts of the figures over a span of time), and the replay of a scenario file through
//! the public APIs.

use std::path::{Path, PathBuf};

use doxwatch_report::{Endpoints, chart, load, plan, render, report, scenario::Scenario};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::output::CliError;

/// Where the four services answer.
#[derive(clap::Args, Clone, Debug)]
pub struct EndpointArgs {
    #[arg(long, env = "DOXWATCH_INTAKE_URL", default_value = "https://127.0.0.1:50051")]
    pub intake_url: String,
    #[arg(long, env = "DOXWATCH_LINKS_URL", default_value = "https://127.0.0.1:50052")]
    pub links_url: String,
    #[arg(long, env = "DOXWATCH_LIAISON_URL", default_value = "https://127.0.0.1:50053")]
    pub liaison_url: String,
    #[arg(long, env = "DOXWATCH_REFERRAL_URL", default_value = "https://127.0.0.1:50054")]
    pub referral_url: String,
    /// The credentials to call with (see `doxwatch officer add`); the local profile by default.
    #[arg(long, env = "DOXWATCH_PROFILE")]
    pub profile: Option<PathBuf>,
}

impl EndpointArgs {
    pub fn endpoints(&self) -> Result<Endpoints, CliError> {
        Ok(Endpoints {
            intake: self.intake_url.clone(),
            links: self.links_url.clone(),
            liaison: self.liaison_url.clone(),
            referral: self.referral_url.clone(),
            credentials: crate::client::credentials(self.profile.as_deref())?,
        })
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    /// Publish a report, list what was published, or explain the revisions of a published one;
    /// without one, the report is written.
    #[command(subcommand)]
    action: Option<crate::publish::ReportAction>,
    /// The moment the report is as at (RFC 3339, e.g. 2019-11-08T12:00:00+08:00, or a time
    /// without an offset, read in the display zone); it and every date are stated in the display
    /// zone (DOXWATCH_TIME_ZONE): "As at noon, 8 November 2019 (HKT)". Defaults to now.
    #[arg(long, value_parser = parse_moment)]
    as_of: Option<OffsetDateTime>,
    /// Count only what had been recorded before this moment: the report as it was made then.
    #[arg(long, value_parser = parse_moment)]
    recorded_before: Option<OffsetDateTime>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// The internal form, in any --format: names each suspended channel by its handle, which the
    /// press-safe default never does (a handle can identify a victim). Link-tracking gives handles
    /// only to roles allowed to read channels; for any other role this fails.
    #[arg(long, conflicts_with = "chart")]
    internal: bool,
    /// The report as JSON: the same as --format json.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// Write the report to this file instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the report as one self-contained HTML page into FILE: its words, the figures and
    /// the removals by platform as tables, and the charts from the first case to --as-of inline
    /// as SVG. Nothing in it is fetched from elsewhere.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["chart", "out", "format", "json"])]
    html: Option<PathBuf>,
    /// Draw charts of the figures over time into this file instead of writing the report: one
    /// image of three panels (cases received per step by kind, links whose removal was requested
    /// and links removed, the removal rate per platform), SVG for FILE.svg, PNG for FILE.png.
    /// Needs --from.
    #[arg(long, value_name = "FILE", requires = "from", conflicts_with_all = ["as_of", "recorded_before", "out", "format", "json"])]
    chart: Option<PathBuf>,
    /// With --chart: where the time axis starts (RFC 3339).
    #[arg(long, value_parser = parse_moment, requires = "chart")]
    from: Option<OffsetDateTime>,
    /// With --chart: where the time axis ends (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_moment, requires = "chart")]
    to: Option<OffsetDateTime>,
    /// With --chart: days between the moments the figures are asked as at; each bar of cases
    /// counts the cases received in one step.
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u16).range(1..=366), requires = "chart")]
    step_days: u16,
    #[command(flatten)]
    endpoints: EndpointArgs,
}

#[derive(clap::Subcommand)]
pub enum ScenarioCommand {
    /// Check a scenario file and push a synthetic dataset that agrees with it through the
    /// services' APIs. Safe to run again after an interruption: nothing is loaded twice.
    Load(LoadArgs),
    /// Check a scenario file for consistency without loading anything.
    Check(CheckArgs),
}

#[derive(clap::Args)]
pub struct LoadArgs {
    /// A scenario file, or the name of one shipped with doxwatch: pcpd-2019-11-08 (the published
    /// statement of 8 November 2019), small, synthetic-2020-03.
    file: PathBuf,
    /// Print what was loaded as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoints: EndpointArgs,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// A scenario file, or the name of one shipped with doxwatch: pcpd-2019-11-08, small,
    /// synthetic-2020-03.
    file: PathBuf,
    /// Print what the file holds as JSON.
    #[arg(long)]
    json: bool,
}

/// A moment: given with an offset, that moment; given without one, read in the display zone
/// (`DOXWATCH_TIME_ZONE`). The report states it, as every date, in the display zone.
pub fn parse_moment(s: &str) -> Result<OffsetDateTime, String> {
    if let Ok(t) = OffsetDateTime::parse(s.trim(), &Rfc3339) {
        return Ok(t);
    }
    let t = crate::output::parse_time(s)?;
    OffsetDateTime::from_unix_timestamp(t.seconds).map(in_display_zone).map_err(|e| format!("{s:?}: {e}"))
}

/// `t` at the display zone's offset at that moment, so that its dates are the reader's.
fn in_display_zone(t: OffsetDateTime) -> OffsetDateTime {
    let offset = jiff::Timestamp::from_second(t.unix_timestamp())
        .map(|at| crate::output::display_zone().to_offset(at).seconds())
        .unwrap_or(0);
    time::UtcOffset::from_whole_seconds(offset).map_or(t, |o| t.to_offset(o))
}

fn now() -> OffsetDateTime {
    in_display_zone(OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc()))
}

pub async fn report(mut args: ReportArgs) -> Result<(), CliError> {
    if let Some(action) = args.action.take() {
        return crate::publish::run(action).await;
    }
    if let Some(path) = &args.chart {
        return draw_chart(&args, path).await;
    }
    let as_of = args.as_of.unwrap_or_else(now);
    for (flag, moment) in [("--as-of", Some(as_of)), ("--recorded-before", args.recorded_before)] {
        if let Some(moment) = moment.filter(|m| *m > OffsetDateTime::now_utc()) {
            return Err(CliError::Usage(format!(
                "{flag} {} is in the future: a report is of what has happened",
                moment.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
            )));
        }
    }
    let form = if args.internal { report::Form::Internal } else { report::Form::PressSafe };
    let zone = crate::output::display_zone();
    let endpoints = args.endpoints.endpoints()?;
    let report = report::gather_in(&endpoints, as_of, args.recorded_before, form, zone).await.map_err(|e| match e {
        report::ReportError::HandlesWithheld => CliError::Other(
            "--internal needs a role allowed to read channels: link-tracking withheld the channel \
                 handles from this profile (without --internal, the press-safe report needs none)"
                .to_owned(),
        ),
        other => CliError::Other(other.to_string()),
    })?;
    if let Some(path) = &args.html {
        return write_html(&report, &endpoints, as_of, path).await;
    }
    let format = if args.json { Format::Json } else { args.format };
    let content = match format {
        Format::Text => render::text(&report),
        Format::Markdown => render::markdown(&report),
        Format::Json => serde_json::to_string_pretty(&report).map_err(|e| CliError::Other(e.to_string()))? + "\n",
    };
    match args.out {
        Some(path) => std::fs::write(&path, content)
            .map_err(|e| CliError::Other(format!("cannot write {}: {e}", path.display())))?,
        None => print!("{content}"),
    }
    Ok(())
}

/// The page of the report, with the charts of the weeks from the first case to `as_of`.
async fn write_html(
    report: &report::Report,
    endpoints: &Endpoints,
    as_of: OffsetDateTime,
    path: &Path,
) -> Result<(), CliError> {
    let zone = crate::output::display_zone();
    let as_of = doxwatch_report::moment::in_zone(as_of, zone);
    let first = report
        .first_case_received
        .as_deref()
        .and_then(|d| time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")).ok());
    let charts = match first.map(|d| d.midnight().assume_offset(as_of.offset())) {
        Some(from) if from < as_of => {
            let mut series = chart::series(endpoints, from, as_of, time::Duration::days(7))
                .await
                .map_err(|e| CliError::Other(e.to_string()))?;
            series.zone_abbreviation = report.time_zone_abbreviation.clone();
            Some(chart::svg(&series).map_err(|e| CliError::chain(&e))?)
        }
        _ => None,
    };
    let page = doxwatch_report::html::page(report, charts.as_deref());
    std::fs::write(path, page).map_err(|e| CliError::Other(format!("cannot write {}: {e}", path.display())))
}

/// The figures as at every step from --from to --to, drawn into one image.
async fn draw_chart(args: &ReportArgs, path: &Path) -> Result<(), CliError> {
    // Refuse a file the chart cannot be drawn as before asking the services anything.
    chart::image_format(path).map_err(|e| CliError::Usage(e.to_string()))?;
    // The chart's dates and its "as at" are the display zone's, as the report's are.
    let zone = crate::output::display_zone();
    let from = args.from.ok_or_else(|| CliError::Usage("--chart needs --from".to_owned()))?;
    let from = doxwatch_report::moment::in_zone(from, zone);
    let to = doxwatch_report::moment::in_zone(args.to.unwrap_or_else(now), zone);
    let step = time::Duration::days(i64::from(args.step_days));
    let mut series = chart::series(&args.endpoints.endpoints()?, from, to, step).await.map_err(|e| match e {
        report::ReportError::Span(why) => CliError::Usage(why),
        other => CliError::Other(other.to_string()),
    })?;
    series.zone_abbreviation = doxwatch_report::moment::abbreviation(zone, to);
    chart::draw(&series, path).map_err(|e| CliError::chain(&e))?;
    println!(
        "drew {}: the figures as at {} moments from {} to {}",
        path.display(),
        series.snapshots.len(),
        rfc3339(from),
        rfc3339(to)
    );
    Ok(())
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// The scenarios shipped inside the binary, loadable by name from any directory.
const SHIPPED: &[(&str, &str)] = &[
    ("pcpd-2019-11-08", include_str!("../../../examples/scenarios/pcpd-2019-11-08.toml")),
    ("small", include_str!("../../../examples/scenarios/small.toml")),
    ("synthetic-2020-03", include_str!("../../../examples/scenarios/synthetic-2020-03.toml")),
];

/// A scenario's text: the file named, or else the shipped scenario of that name.
fn scenario_text(file: &PathBuf) -> Result<String, CliError> {
    match std::fs::read_to_string(file) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let name = file.to_str().unwrap_or_default().trim_end_matches(".toml");
            match SHIPPED.iter().find(|(shipped, _)| *shipped == name) {
                Some((_, text)) => Ok((*text).to_owned()),
                None => {
                    let names: Vec<&str> = SHIPPED.iter().map(|(n, _)| *n).collect();
                    Err(CliError::Usage(format!(
                        "{} is neither a file nor a shipped scenario ({})",
                        file.display(),
                        names.join(", ")
                    )))
                }
            }
        }
        Err(e) => Err(CliError::Other(format!("cannot read {}: {e}", file.display()))),
    }
}

fn read_checked(file: &PathBuf) -> Result<doxwatch_report::scenario::Checked, CliError> {
    let text = scenario_text(file)?;
    let scenario = Scenario::parse(&text).map_err(CliError::Usage)?;
    scenario.check().map_err(|problems| {
        CliError::Usage(format!("{} is inconsistent; nothing was loaded:\n  {}", file.display(), problems.join("\n  ")))
    })
}

/// A progress bar on a terminal; nothing elsewhere.
struct Bar(indicatif::ProgressBar);

impl load::Progress for Bar {
    fn phase(&self, name: &str, total: u64) {
        self.0.set_position(0);
        self.0.set_length(total);
        self.0.set_message(name.to_owned());
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

pub async fn scenario(command: ScenarioCommand) -> Result<(), CliError> {
    match command {
        ScenarioCommand::Check(args) => {
            let checked = read_checked(&args.file)?;
            let plan = plan::generate(&checked);
            let letters = plan.notices.iter().filter(|n| n.kind.is_letter()).count();
            if args.json {
                crate::output::print_json(&serde_json::json!({
                    "file": args.file.display().to_string(),
                    "consistent": true,
                    "cases": plan.cases.len(),
                    "links": plan.links.len(),
                    "platforms": plan.platforms.len(),
                    "letters": letters,
                    "removals": plan.removals.len(),
                    "referrals": plan.referrals.len(),
                }));
                return Ok(());
            }
            println!(
                "{} is consistent: {}, {} on {}, {}, {}, {}",
                args.file.display(),
                crate::output::counted(plan.cases.len(), "case"),
                crate::output::counted(plan.links.len(), "link"),
                crate::output::counted(plan.platforms.len(), "platform"),
                crate::output::counted(letters, "letter"),
                crate::output::counted(plan.removals.len(), "removal"),
                crate::output::counted(plan.referrals.len(), "referral")
            );
            Ok(())
        }
        ScenarioCommand::Load(args) => {
            let checked = read_checked(&args.file)?;
            let plan = plan::generate(&checked);
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{msg:<28} {bar:40} {pos}/{len} {elapsed}") {
                bar.set_style(style);
            }
            let started = std::time::Instant::now();
            let written = load::load(&checked, &plan, &args.endpoints.endpoints()?, &Bar(bar.clone()))
                .await
                .map_err(|e| CliError::Other(e.to_string()))?;
            bar.finish_and_clear();
            if args.json {
                crate::output::print_json(&serde_json::json!({
                    "scenario": checked.scenario.name,
                    "cases": plan.cases.len(),
                    "links": plan.links.len(),
                    "records_written": written.new,
                    "records_already_there": written.already,
                    "seconds": started.elapsed().as_secs_f64(),
                    "outboxes_drained": true,
                }));
                return Ok(());
            }
            if written.new == 0 {
                println!(
                    "{} was already loaded: all {} of its records were there, and nothing changed",
                    checked.scenario.name, written.already
                );
                return Ok(());
            }
            let already = match written.already {
                0 => String::new(),
                n => format!(", {n} already there from an earlier run"),
            };
            println!(
                "loaded {} ({}, {}: {} written{already}) in {:.0?}; every service's outbox has drained",
                checked.scenario.name,
                crate::output::counted(plan.cases.len(), "case"),
                crate::output::counted(plan.links.len(), "link"),
                crate::output::counted(written.new, "record"),
                started.elapsed()
            );
            Ok(())
        }
    }
}
