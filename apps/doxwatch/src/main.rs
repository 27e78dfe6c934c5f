//! The `doxwatch` binary: runs the whole suite (`up`), one service (`serve`), or acts as the
//! officer's client. `main` installs the crypto provider, parses the command line and dispatches.

mod bench;
mod choice;
mod client;
mod credentials;
#[cfg(test)]
mod help_tests;
mod output;
mod publish;
mod report;
mod suite;

use std::{path::PathBuf, process::ExitCode};

use clap::{CommandFactory, Parser, Subcommand};
use output::CliError;

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
    #[command(after_help = suite::config_keys_help())]
    Serve(suite::ServeArgs),
    /// Record, read, list and move cases (the intake service).
    #[command(subcommand)]
    Case(client::case::CaseCommand),
    /// Register, read and classify platforms and their domains (the link-tracking service).
    #[command(subcommand)]
    Platform(client::platform::PlatformCommand),
    /// Register, list and check links, import patrol exports, removal figures (link-tracking).
    #[command(subcommand)]
    Link(client::link::LinkCommand),
    /// Read channels and record their suspension or removal (link-tracking).
    #[command(subcommand)]
    Channel(client::channel::ChannelCommand),
    /// Store and fetch captures of what links showed, and their custody log (link-tracking).
    #[command(subcommand)]
    Evidence(client::evidence::EvidenceCommand),
    /// Run the link rechecker now (link-tracking).
    #[command(subcommand)]
    Recheck(client::recheck::RecheckCommand),
    /// Draft, serve and follow up notices to platforms; letters and figures (the liaison service).
    #[command(subcommand)]
    Notice(client::notice::NoticeCommand),
    /// Assess cases under section 64 of the PDPO and decide (the referral service).
    #[command(subcommand)]
    Assessment(client::assessment::AssessmentCommand),
    /// Refer cases to the Police, withdraw referrals, referral figures (the referral service).
    #[command(subcommand)]
    Referral(client::referral::ReferralCommand),
    /// Play the Police's (or another agency's) system: watch referrals, acknowledge, report outcomes.
    #[command(subcommand)]
    Agency(client::agency::AgencyCommand),
    /// What a service still owes its peers, and what they refused.
    #[command(subcommand)]
    Outbox(client::outbox::OutboxCommand),
    /// Each service's audit log of access to personal data: list it, keep a signed checkpoint,
    /// verify it (auditors).
    #[command(subcommand)]
    Audit(client::audit::AuditCommand),
    /// The data keys each service seals personal data with: rotate them, see the re-sealing
    /// (operators).
    #[command(subcommand)]
    Keys(client::keys::KeysCommand),
    /// Create the suite's CA and the certificates of its services and agencies.
    #[command(subcommand)]
    Certs(credentials::CertsCommand),
    /// Issue officers' profiles (certificate, key, token) from the local issuer; operators only.
    #[command(subcommand)]
    Officer(credentials::OfficerCommand),
    /// Print who the services think you are.
    Whoami(credentials::WhoAmIArgs),
    /// Ask a service whether it is serving (exit code 0 if it is).
    Health(client::health::HealthArgs),
    /// The situation report as at a moment, from the four services' figures.
    Report(report::ReportArgs),
    /// Replay a scenario file (published figures) through the public APIs.
    #[command(subcommand)]
    Scenario(report::ScenarioCommand),
    /// Benchmark the services: an open-model load on the real services (each its own process),
    /// beside a raw baseline in the same run; figures and ratios as a table or JSON.
    Bench(bench::BenchArgs),
    /// Print a completion script for a shell, e.g. `doxwatch completions bash > ~/.local/share/bash-completion/completions/doxwatch`.
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `doxwatch man | man -l -`.
    Man,
}

#[derive(clap::Args)]
struct CompletionsArgs {
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// The `DOXWATCH_*` variables the command line reads itself (every `env` of its arguments, in
/// every command) and those the client reads directly: a shell set up for the client may hold
/// them when it starts a service, which is not a mistake to warn of.
fn variables_read_elsewhere() -> Vec<String> {
    fn walk(command: &clap::Command, out: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(name) = arg.get_env().and_then(|n| n.to_str()) {
                out.push(name.to_owned());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = vec![client::DATA_DIR_VARIABLE.to_owned(), output::TIME_ZONE_VARIABLE.to_owned()];
    walk(&Cli::command(), &mut out);
    out.sort();
    out.dedup();
    out
}

/// Writes the completion script for `shell`, generated from the command line's definition.
fn completions(args: &CompletionsArgs) -> Result<(), CliError> {
    let mut command = Cli::command();
    clap_complete::generate(args.shell, &mut command, "doxwatch", &mut std::io::stdout());
    Ok(())
}

/// Writes the manual page, generated from the command line's definition.
fn man_page() -> Result<(), CliError> {
    clap_mangen::Man::new(Cli::command())
        .render(&mut std::io::stdout())
        .map_err(|e| CliError::Other(format!("cannot write the manual page: {e}")))
}

/// Options every client command shares.
#[derive(clap::Args, Clone, Debug)]
pub struct ClientArgs {
    /// The credentials to call with: a profile directory (`ca.pem`, `client.pem`, `client.key`,
    /// `token`) from `doxwatch officer add`. Defaults to the local profile `doxwatch up` writes
    /// in its data directory.
    #[arg(long, env = "DOXWATCH_PROFILE", global = true)]
    pub profile: Option<PathBuf>,
    /// The intake service's address.
    #[arg(long, env = "DOXWATCH_INTAKE_URL", default_value = "https://127.0.0.1:50051", global = true)]
    pub intake_url: String,
    /// The link-tracking service's address.
    #[arg(long, env = "DOXWATCH_LINKS_URL", default_value = "https://127.0.0.1:50052", global = true)]
    pub links_url: String,
    /// The platform-liaison service's address.
    #[arg(long, env = "DOXWATCH_LIAISON_URL", default_value = "https://127.0.0.1:50053", global = true)]
    pub liaison_url: String,
    /// The referral service's address.
    #[arg(long, env = "DOXWATCH_REFERRAL_URL", default_value = "https://127.0.0.1:50054", global = true)]
    pub referral_url: String,
    /// Why you read the personal data this command shows (kept in the audit log with the
    /// access). Required by the commands that read case details; set DOXWATCH_PURPOSE once for
    /// a session of work, e.g. `export DOXWATCH_PURPOSE="assessing complaint DOX-123"`.
    #[arg(long, env = "DOXWATCH_PURPOSE", global = true)]
    pub purpose: Option<String>,
    /// Read the personal data of another team's case, for the purpose stated: the read is marked
    /// in the audit log for a supervisor's review.
    #[arg(long, global = true)]
    pub break_glass: bool,
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
    // Times are read while the command line is parsed: a zone that does not exist is said first.
    if let Err(e) = output::configured_zone() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    // A server must outlive whoever reads its output; the client ends with its reader. The
    // benchmark keeps connections open to services it stops: a write on one of them that its
    // peer has just closed must be an error to handle, not a SIGPIPE that ends the run unseen.
    if !matches!(cli.command, Command::Up(_) | Command::Serve(_) | Command::Bench(_)) {
        restore_sigpipe();
    }
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
            Command::Platform(command) => client::platform::run(command).await,
            Command::Link(command) => client::link::run(command).await,
            Command::Channel(command) => client::channel::run(command).await,
            Command::Evidence(command) => client::evidence::run(command).await,
            Command::Recheck(command) => client::recheck::run(command).await,
            Command::Notice(command) => client::notice::run(command).await,
            Command::Assessment(command) => client::assessment::run(command).await,
            Command::Referral(command) => client::referral::run(command).await,
            Command::Agency(command) => client::agency::run(command).await,
            Command::Outbox(command) => client::outbox::run(command).await,
            Command::Audit(command) => client::audit::run(command).await,
            Command::Keys(command) => client::keys::run(command).await,
            Command::Health(args) => client::health::run(args).await,
            Command::Certs(command) => credentials::certs(command),
            Command::Officer(command) => credentials::officer(command),
            Command::Whoami(args) => credentials::whoami(args).await,
            Command::Report(args) => report::report(args).await,
            Command::Scenario(command) => report::scenario(command).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Completions(args) => completions(&args),
            Command::Man => man_page(),
        }
    });
    // A service's shutdown has already waited out its grace period; work still running on the
    // runtime's blocking threads (a file write, say) must not hold the process after it.
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`doxwatch link list | head`) panics.
/// Like any Unix tool, the client should instead end quietly when its reader has gone. (Not for
/// `up` and `serve`: a service must not die because the reader of its log went away.)
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_variables_the_client_reads_are_not_taken_for_mistakes() {
        let read = super::variables_read_elsewhere();
        for name in ["DOXWATCH_INTAKE_URL", "DOXWATCH_REFERRAL_URL", "DOXWATCH_PURPOSE", "DOXWATCH_PROFILE"] {
            assert!(read.iter().any(|r| r == name), "{name} missing from {read:?}");
        }
        for name in ["DOXWATCH_CONFIG", "DOXWATCH_DATA_DIR", "DOXWATCH_TIME_ZONE"] {
            assert!(read.iter().any(|r| r == name), "{name} missing from {read:?}");
        }
        assert!(!read.iter().any(|r| r == "DOXWATCH_DATABASE_URL"), "a service key is not the client's");
    }
}
