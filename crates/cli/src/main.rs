//! The `doxwatch` binary: runs the whole suite (`up`), one service (`serve`), or acts as the
//! officer's client. `main` installs the crypto provider, parses the command line and dispatches.

mod client;
mod output;
mod suite;

use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "doxwatch", version, about = "The doxwatch anti-doxxing case system")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run every service in one process, each on its own port, on embedded SQLite stores.
    Up(suite::UpArgs),
    /// Run one service, configured by a file and DOXWATCH_* variables (what a container runs).
    Serve(suite::ServeArgs),
    /// Record, read, list and move cases (the intake service).
    #[command(subcommand)]
    Case(client::case::CaseCommand),
    /// Ask a service whether it is serving (exit code 0 if it is).
    Health(client::health::HealthArgs),
}

/// Options every client command shares.
#[derive(clap::Args, Clone, Debug)]
pub struct ClientArgs {
    /// The acting officer, recorded on every change.
    #[arg(long, env = "DOXWATCH_OFFICER", global = true)]
    pub officer: Option<String>,
    /// The intake service's address.
    #[arg(long, env = "DOXWATCH_INTAKE_URL", default_value = "http://127.0.0.1:50051", global = true)]
    pub intake_url: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// An optional configuration file.
#[derive(clap::Args, Clone, Debug)]
pub struct ConfigArgs {
    /// A TOML file of configuration keys; DOXWATCH_* environment variables override it.
    #[arg(long, env = "DOXWATCH_CONFIG")]
    pub config: Option<PathBuf>,
}

fn main() -> ExitCode {
    doxwatch_kit::install_crypto_provider();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Up(args) => suite::up(args).await,
            Command::Serve(args) => suite::serve(args).await,
            Command::Case(command) => client::case::run(command).await,
            Command::Health(args) => client::health::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
