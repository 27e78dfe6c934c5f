//! `doxwatch report publish`, `doxwatch report publications` and `doxwatch report revisions`: a
//! report recorded as published, kept by intake with the moment its figures were computed for; the
//! list of what was published; and why a published figure has moved since.

use doxwatch_report::publication::{self, Published};
use time::OffsetDateTime;

use crate::{
    output::CliError,
    report::{EndpointArgs, parse_moment},
};

#[derive(clap::Subcommand)]
pub enum ReportAction {
    /// Publish the press-safe report as at a moment: its figures are computed as recorded before
    /// now (by intake's clock; a second later, once writes under way have committed), and intake
    /// keeps them with that moment, who
    /// published them and when. `report revisions` later explains every figure that moved.
    Publish(PublishArgs),
    /// List the reports published, oldest first.
    Publications(PublicationsArgs),
    /// Recompute a published report's moment now and list every figure that moved, and under
    /// each the records that moved it: counted now, not then (a business time at or before its
    /// as-of, recorded after it was published), with who entered them and when.
    Revisions(RevisionsArgs),
}

#[derive(clap::Args)]
pub struct RevisionsArgs {
    /// The publication: its reference (PUB-2019-000001) or publications/{id}.
    publication: String,
    /// Print the revisions as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoints: EndpointArgs,
}

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The moment the report is as at (RFC 3339, or a time without an offset read in the display
    /// zone); defaults to the moment its figures are computed for.
    #[arg(long, value_parser = parse_moment)]
    as_of: Option<OffsetDateTime>,
    /// Print the publication and its figures as JSON.
    #[arg(long)]
    json: bool,
    /// An idempotency key: re-running with the same key publishes once.
    #[arg(long)]
    request_id: Option<String>,
    #[command(flatten)]
    endpoints: EndpointArgs,
}

#[derive(clap::Args)]
pub struct PublicationsArgs {
    /// Print them as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    endpoints: EndpointArgs,
}

pub async fn run(action: ReportAction) -> Result<(), CliError> {
    match action {
        ReportAction::Publish(args) => publish(args).await,
        ReportAction::Publications(args) => list(args).await,
        ReportAction::Revisions(args) => revisions(args).await,
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    let zone = crate::output::display_zone();
    doxwatch_report::moment::in_zone(t, zone)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// A publication as JSON: its figures by name.
pub fn json(p: &Published) -> serde_json::Value {
    serde_json::json!({
        "name": p.name,
        "reference": p.reference,
        "as_of": rfc3339(p.as_of),
        "recorded_before": rfc3339(p.recorded_before),
        "published_by": p.published_by,
        "publish_time": rfc3339(p.publish_time),
        "figures": p.figures,
    })
}

async fn publish(args: PublishArgs) -> Result<(), CliError> {
    let endpoints = args.endpoints.endpoints()?;
    let other = |e: doxwatch_report::report::ReportError| CliError::Other(e.to_string());
    let recorded_before = publication::recorded_before_now(&endpoints).await.map_err(other)?;
    let as_of = args.as_of.unwrap_or(recorded_before);
    if as_of > recorded_before {
        return Err(CliError::Usage(format!(
            "--as-of {} is later than now ({}, by intake's clock): a report is of what has happened",
            rfc3339(as_of),
            rfc3339(recorded_before)
        )));
    }
    let zone = crate::output::display_zone();
    let request_id = args.request_id.unwrap_or_default();
    let (published, _report) =
        publication::publish(&endpoints, as_of, recorded_before, zone, request_id).await.map_err(other)?;
    if args.json {
        crate::output::print_json(&json(&published));
        return Ok(());
    }
    println!(
        "published {}: the report as at {}, as recorded before {} ({} figures), by {}",
        published.reference,
        rfc3339(published.as_of),
        rfc3339(published.recorded_before),
        published.figures.len(),
        published.published_by
    );
    Ok(())
}

async fn list(args: PublicationsArgs) -> Result<(), CliError> {
    let endpoints = args.endpoints.endpoints()?;
    let all = publication::list(&endpoints).await.map_err(|e| CliError::Other(e.to_string()))?;
    if args.json {
        crate::output::print_json(&serde_json::Value::Array(all.iter().map(json).collect()));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|p| {
            vec![
                p.reference.clone(),
                rfc3339(p.as_of),
                rfc3339(p.recorded_before),
                p.published_by.clone(),
                rfc3339(p.publish_time),
            ]
        })
        .collect();
    crate::output::print_table(&["REFERENCE", "AS OF", "RECORDED BEFORE", "PUBLISHED BY", "PUBLISHED AT"], &rows);
    Ok(())
}

async fn revisions(args: RevisionsArgs) -> Result<(), CliError> {
    let endpoints = args.endpoints.endpoints()?;
    let zone = crate::output::display_zone();
    let found =
        doxwatch_report::revisions::revisions(&endpoints, &args.publication, zone).await.map_err(|e| match e {
            doxwatch_report::report::ReportError::Refused { status, .. } if status.code() == tonic::Code::NotFound => {
                CliError::Usage(format!("there is no publication {}", args.publication.trim()))
            }
            doxwatch_report::report::ReportError::Refused { status, .. }
                if status.code() == tonic::Code::InvalidArgument =>
            {
                CliError::Usage(format!(
                    "{} is not a publication: give its reference (PUB-2019-000001) or publications/{{id}}",
                    args.publication.trim()
                ))
            }
            other => CliError::Other(other.to_string()),
        })?;
    if args.json {
        crate::output::print_json(&serde_json::to_value(&found).map_err(|e| CliError::Other(e.to_string()))?);
        return Ok(());
    }
    println!(
        "{}: the report as at {}, published by {} at {}, as recorded before {}",
        found.reference,
        rfc3339(found.as_of),
        found.published_by,
        rfc3339(found.publish_time),
        rfc3339(found.recorded_before)
    );
    if found.moved.is_empty() {
        println!("no figure has moved: all {} read as published", found.unchanged);
        return Ok(());
    }
    let platforms = found.report.as_ref().map(|r| r.liaison.by_platform.clone()).unwrap_or_default();
    let shown = |figure: &str| platforms.iter().fold(figure.to_owned(), |name, p| name.replace(&p.platform, &p.name));
    let value = |v: Option<i64>| v.map_or_else(|| "none".to_owned(), |v| v.to_string());
    println!("{} figures moved ({} unchanged):", found.moved.len(), found.unchanged);
    for revision in &found.moved {
        println!("  {}: {} published, {} now", shown(&revision.figure), value(revision.published), value(revision.now));
        if revision.records.is_empty() {
            println!("    no late record found for it");
        }
        for r in &revision.records {
            let reference = if r.reference.is_empty() { String::new() } else { format!(" {}", r.reference) };
            let by =
                if r.recorded_by.is_empty() { "no actor kept".to_owned() } else { format!("by {}", r.recorded_by) };
            println!(
                "    {} {}{}: business time {}, entered {} {by} ({})",
                r.kind.replace('_', " "),
                r.record,
                reference,
                rfc3339(r.business_time),
                rfc3339(r.record_time),
                r.service
            );
        }
    }
    Ok(())
}
