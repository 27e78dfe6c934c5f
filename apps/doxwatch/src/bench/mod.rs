//! `doxwatch bench <scenario>`: drives the real services, each its own `doxwatch serve` process
//! on a fresh store and with the suite's real credentials, under an open-model load, beside a raw
//! baseline measured in the same run, and prints the figures and their ratios (docs/benchmarks.md).
//! It lives in the doxwatch binary because it runs that very binary as its services.

mod baseline;
mod case_statistics;
mod create_case;
mod cuts;
mod import;
mod load;
mod noop;
mod notice_statistics;
mod process;
mod referral_statistics;
mod report;
mod services;
mod situation;
mod statistics;
mod stores;

use std::{path::PathBuf, time::Duration};

use crate::output::CliError;

#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    scenario: Scenario,
    /// Print the report as JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// Where the run's CA, SQLite stores and service logs are kept (in a fresh directory made
    /// inside, removed at the end); the system's temporary directory by default. SQLite figures
    /// are those of this directory's disk.
    #[arg(long, global = true)]
    work_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum Scenario {
    /// The gRPC health check through the full server stack (TLS, token, policy, audit), beside a
    /// bare tonic health server on the same TLS.
    Noop(noop::NoopArgs),
    /// Durable CreateCase (2 data subjects, 3 URLs, one shared by every case) with intake and
    /// link-tracking, beside a one-row insert-and-commit loop on the same store; with the outbox.
    CreateCase(create_case::CreateCaseArgs),
    /// `link import`'s ImportLinks of N URLs over 50 platforms, beside a batched insert (SQLite)
    /// or COPY (PostgreSQL) of the same canonical URLs into a table of the links table's shape.
    ImportLinks(import::ImportArgs),
    /// GetLinkStatistics and the situation report (`report --as-of`) at several `as_of` and
    /// `recorded_before` moments over stores of growing size (10 observations a link), each size
    /// against the smallest.
    Statistics(statistics::StatisticsArgs),
    /// GetIntakeStatistics at several `as_of` and `recorded_before` moments over intake stores of
    /// growing size (cases over 2019, every third with a status change), each size against the
    /// smallest.
    CaseStatistics(case_statistics::CaseStatisticsArgs),
    /// GetLiaisonStatistics at several `as_of` and `recorded_before` moments over liaison stores
    /// of growing size (notices over 2019, most served, half of those answered), each size
    /// against the smallest.
    NoticeStatistics(notice_statistics::NoticeStatisticsArgs),
    /// GetReferralStatistics at several `as_of` and `recorded_before` moments over referral
    /// stores of growing size (cases over 2019, each assessed, most referred to the Police and
    /// acknowledged), each size against the smallest.
    ReferralStatistics(referral_statistics::ReferralStatisticsArgs),
    /// The noop scenario's baseline server: gRPC health alone on the suite's TLS.
    #[command(hide = true)]
    RawHealth(noop::RawHealthArgs),
}

/// The load options every scenario with an open-model load shares.
#[derive(clap::Args, Clone, Debug)]
pub struct LoadArgs {
    /// How long each load runs, in seconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=3600))]
    duration: u32,
    /// HTTP/2 connections the calls share.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    connections: u32,
}

impl LoadArgs {
    fn duration(&self) -> Duration {
        Duration::from_secs(u64::from(self.duration))
    }

    fn connections(&self) -> usize {
        self.connections as usize
    }
}

pub async fn run(args: BenchArgs) -> Result<(), CliError> {
    let work_dir = args.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let report = match args.scenario {
        Scenario::Noop(a) => noop::run(&a, &work_dir).await?,
        Scenario::CreateCase(a) => create_case::run(&a, &work_dir).await?,
        Scenario::ImportLinks(a) => import::run(&a, &work_dir).await?,
        Scenario::Statistics(a) => statistics::run(&a, &work_dir).await?,
        Scenario::CaseStatistics(a) => case_statistics::run(&a, &work_dir).await?,
        Scenario::NoticeStatistics(a) => notice_statistics::run(&a, &work_dir).await?,
        Scenario::ReferralStatistics(a) => referral_statistics::run(&a, &work_dir).await?,
        Scenario::RawHealth(a) => return noop::raw_health(a).await,
    };
    if args.json {
        println!("{}", report.json());
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

/// Progress for the one running the benchmark, on stderr so that `--json` stays clean.
fn progress(text: &str) {
    eprintln!("bench: {text}");
}
