//! Running services: `up` starts every service in this process on embedded stores, `serve` one
//! service as configured. Both use each service's own `Application`, as the tests do.

use std::{net::SocketAddr, path::PathBuf};

use doxwatch_kit::{
    config::{Layers, PeerUrls, SecurityConfig, ServiceConfig, TelemetryConfig},
    server::shutdown_signal,
    telemetry,
};
use tokio::sync::watch;

use crate::{ConfigArgs, output::CliError};

/// The services of the suite, in the order `up` starts them.
pub const SERVICES: &[(&str, u16)] = &[
    (doxwatch_intake::SERVICE, doxwatch_intake::DEFAULT_PORT),
    (doxwatch_links::SERVICE, doxwatch_links::DEFAULT_PORT),
    (doxwatch_liaison::SERVICE, doxwatch_liaison::DEFAULT_PORT),
    (doxwatch_referral::SERVICE, doxwatch_referral::DEFAULT_PORT),
];

#[derive(clap::Args)]
pub struct UpArgs {
    /// Where the services keep their SQLite stores (created if missing).
    #[arg(long, env = "DOXWATCH_DATA_DIR", default_value = "doxwatch-data")]
    pub data_dir: PathBuf,
    /// The address the services listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(clap::Args)]
pub struct ServeArgs {
    /// The service to run.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(SERVICES.iter().map(|(name, _)| *name)))]
    pub service: String,
    #[command(flatten)]
    pub config: ConfigArgs,
}

fn env() -> Vec<(String, String)> {
    std::env::vars().collect()
}

/// A built service, ready to serve.
enum Built {
    /// Boxed: intake's carries its retention periods, much larger than the others.
    Intake(Box<doxwatch_intake::Application>),
    Links(doxwatch_links::Application),
    Liaison(doxwatch_liaison::Application),
    Referral(doxwatch_referral::Application),
}

impl Built {
    /// Builds `service`; `layers` holds the configuration keys only that service reads.
    async fn build(service: &str, config: &ServiceConfig, layers: &mut Layers) -> Result<Self, CliError> {
        match service {
            doxwatch_intake::SERVICE => {
                let own = doxwatch_intake::IntakeConfig::from_layers(layers);
                Ok(Built::Intake(Box::new(
                    doxwatch_intake::Application::build_with(config, &own).await.map_err(|e| CliError::chain(&e))?,
                )))
            }
            doxwatch_links::SERVICE => {
                let own = doxwatch_links::config::LinksConfig::from_layers(layers, config);
                Ok(Built::Links(
                    doxwatch_links::Application::build_with(config, &own).await.map_err(|e| CliError::chain(&e))?,
                ))
            }
            doxwatch_liaison::SERVICE => {
                let periods = doxwatch_liaison::compliance_periods(layers);
                Ok(Built::Liaison(
                    doxwatch_liaison::Application::build_with(config, periods)
                        .await
                        .map_err(|e| CliError::chain(&e))?,
                ))
            }
            doxwatch_referral::SERVICE => {
                let own = doxwatch_referral::ReferralConfig::from_layers(layers);
                Ok(Built::Referral(
                    doxwatch_referral::Application::build_with(config, &own).await.map_err(|e| CliError::chain(&e))?,
                ))
            }
            other => Err(CliError::Usage(format!("no service named {other}"))),
        }
    }

    fn local_addr(&self) -> SocketAddr {
        match self {
            Built::Intake(app) => app.local_addr(),
            Built::Links(app) => app.local_addr(),
            Built::Liaison(app) => app.local_addr(),
            Built::Referral(app) => app.local_addr(),
        }
    }

    async fn run(self, mut stop: watch::Receiver<bool>) -> Result<(), CliError> {
        let shutdown = async move {
            let _ = stop.wait_for(|stopping| *stopping).await;
        };
        match self {
            Built::Intake(app) => app.run_until(shutdown).await.map_err(|e| CliError::chain(&e)),
            Built::Links(app) => app.run_until(shutdown).await.map_err(|e| CliError::chain(&e)),
            Built::Liaison(app) => app.run_until(shutdown).await.map_err(|e| CliError::chain(&e)),
            Built::Referral(app) => app.run_until(shutdown).await.map_err(|e| CliError::chain(&e)),
        }
    }
}

/// `serve --help`'s list of configuration keys, by service: each is a key of the TOML file
/// (`--config`) and a `DOXWATCH_*` variable.
pub fn config_keys_help() -> String {
    let line = |keys: &[&str]| keys.join(", ");
    let every: Vec<&str> =
        ServiceConfig::KEYS.iter().chain(SecurityConfig::KEYS).chain(TelemetryConfig::KEYS).copied().collect();
    format!(
        "Configuration keys (in the --config file as written; as variables upper-cased after DOXWATCH_, \
         e.g. DOXWATCH_DATABASE_URL); see the README's Configuration for each:\n\n\
         every service: {}\n\nintake: {}\n\nlinks: {}\n\nliaison: {}\n\nreferral: {}",
        line(&every),
        line(doxwatch_intake::CONFIG_KEYS),
        line(doxwatch_links::config::LinksConfig::KEYS),
        line(doxwatch_liaison::CONFIG_KEYS),
        line(doxwatch_referral::CONFIG_KEYS),
    )
}

/// Says which `DOXWATCH_*` variables this command does not read, with the key probably meant: a
/// misspelt variable would otherwise be ignored without a word.
fn warn_of_unknown_variables(layers: &Layers, command: &str) {
    let elsewhere = crate::variables_read_elsewhere();
    let elsewhere: Vec<&str> = elsewhere.iter().map(String::as_str).collect();
    for (name, closest) in layers.unknown_variables(&elsewhere) {
        match closest {
            Some(meant) => eprintln!("warning: `doxwatch {command}` does not read {name}; did you mean {meant}?"),
            None => eprintln!("warning: `doxwatch {command}` does not read {name}"),
        }
    }
}

/// `text` as one word of a POSIX shell: quoted unless it is plainly safe.
fn shell_word(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+:@,".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// The keys of the callers' rate limits, which `up` passes to every service.
const RATE_LIMIT_KEYS: &[&str] = &["rate_limit_per_second", "rate_limit_burst"];

pub async fn up(args: UpArgs) -> Result<(), CliError> {
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| CliError::Other(format!("cannot create {}: {e}", args.data_dir.display())))?;
    // Secure by default: TLS with client certificates and officers' tokens from the first start.
    let pki = crate::credentials::ensure_local(&args.data_dir, &args.host.to_string())?;

    // Telemetry, and link-tracking's keys: its background rechecker is off unless configured.
    // The office's time zone too: every service numbers references and dates letters in it.
    // The callers' rate limits too, the same in every service.
    let known: Vec<&str> = TelemetryConfig::KEYS
        .iter()
        .chain(doxwatch_links::config::LinksConfig::KEYS)
        .chain(&["time_zone"])
        .chain(RATE_LIMIT_KEYS)
        .copied()
        .collect();
    let mut layers = Layers::load(args.config.config.as_deref(), env(), &known);
    let links_values: Vec<(&str, String)> = doxwatch_links::config::LinksConfig::KEYS
        .iter()
        .filter_map(|key| layers.get_optional(key).map(|value| (*key, value)))
        .collect();
    let time_zone = layers.get_optional("time_zone");
    let rate_limits: Vec<(&str, String)> =
        RATE_LIMIT_KEYS.iter().filter_map(|key| layers.get_optional(key).map(|value| (*key, value))).collect();
    warn_of_unknown_variables(&layers, "up");
    // An https:// collector is verified with the local CA unless told otherwise; the suite in one
    // process presents no certificate of its own to it.
    layers.default_value("otlp_ca_file", pki.join("ca.pem").display().to_string());
    let telemetry_config = TelemetryConfig::from_layers(&mut layers);
    layers.finish().map_err(|e| CliError::Config(e.to_string()))?;
    let telemetry = telemetry::init(&telemetry_config, "doxwatch", None).map_err(|e| CliError::chain(&e))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut running = Vec::new();
    let mut exports = Vec::new();
    for (name, port) in SERVICES {
        let mut service_layers = Layers::default();
        let file = |p: PathBuf| p.display().to_string();
        service_layers.default_value("tls_ca_file", file(pki.join("ca.pem")));
        service_layers.default_value("tls_cert_file", file(pki.join(format!("services/{name}.pem"))));
        service_layers.default_value("tls_key_file", file(pki.join(format!("services/{name}.key"))));
        service_layers.default_value("token_jwks", file(pki.join("jwks.json")));
        service_layers.default_value("audit_key_file", file(pki.join(format!("audit/{name}.key"))));
        service_layers.default_value("encryption_key_file", file(pki.join(format!("encryption/{name}.key"))));
        if let Some(zone) = &time_zone {
            service_layers.default_value("time_zone", zone.clone());
        }
        for (key, value) in &rate_limits {
            service_layers.default_value(key, value.clone());
        }
        if *name == doxwatch_links::SERVICE {
            for (key, value) in &links_values {
                service_layers.default_value(key, value.clone());
            }
        }
        let path = args.data_dir.join(format!("{name}.db"));
        let mut config = ServiceConfig::from_layers(
            &mut service_layers,
            SocketAddr::new(args.host, *port),
            &format!("sqlite://{}", path.display()),
        );
        let peer_host = if args.host.is_unspecified() { "127.0.0.1".to_owned() } else { args.host.to_string() };
        config.peers = PeerUrls::local(&peer_host);
        let built = Built::build(name, &config, &mut service_layers).await?;
        service_layers.finish().map_err(|e| CliError::Config(e.to_string()))?;
        println!("{name:<10}{}", built.local_addr());
        exports.push((
            format!("DOXWATCH_{}_URL", name.to_uppercase()),
            format!("https://{peer_host}:{}", built.local_addr().port()),
        ));
        running.push(tokio::spawn(built.run(stop_rx.clone())));
    }
    // The client finds this suite's profile and addresses in the data directory's name and these
    // variables, from any directory and any terminal.
    let data_dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
    println!("\nFor the client in another terminal:");
    println!("export DOXWATCH_DATA_DIR={}", shell_word(&data_dir.display().to_string()));
    for (variable, url) in &exports {
        println!("export {variable}={url}");
    }
    println!("\ndoxwatch is up; press Ctrl-C to stop");
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let mut result = Ok(());
    for handle in running {
        match handle.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(e) => result = Err(CliError::Other(format!("a service task failed: {e}"))),
        }
    }
    telemetry.shutdown();
    result
}

pub async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let port = SERVICES.iter().find(|(name, _)| *name == args.service).map(|(_, p)| *p).unwrap_or(0);
    let mut known: Vec<&str> =
        ServiceConfig::KEYS.iter().chain(SecurityConfig::KEYS).chain(TelemetryConfig::KEYS).copied().collect();
    if args.service == doxwatch_liaison::SERVICE {
        known.extend(doxwatch_liaison::CONFIG_KEYS);
    }
    if args.service == doxwatch_links::SERVICE {
        known.extend(doxwatch_links::config::LinksConfig::KEYS);
    }
    if args.service == doxwatch_referral::SERVICE {
        known.extend(doxwatch_referral::CONFIG_KEYS);
    }
    if args.service == doxwatch_intake::SERVICE {
        known.extend(doxwatch_intake::CONFIG_KEYS);
    }
    let mut layers = Layers::load(args.config.config.as_deref(), env(), &known);
    warn_of_unknown_variables(&layers, &format!("serve {}", args.service));
    let config = ServiceConfig::from_layers(
        &mut layers,
        SocketAddr::from(([127, 0, 0, 1], port)),
        &format!("sqlite://doxwatch-data/{}.db", args.service),
    );
    let telemetry_config = TelemetryConfig::from_layers(&mut layers);
    let periods =
        (args.service == doxwatch_liaison::SERVICE).then(|| doxwatch_liaison::compliance_periods(&mut layers));
    let links_config = (args.service == doxwatch_links::SERVICE)
        .then(|| doxwatch_links::config::LinksConfig::from_layers(&mut layers, &config));
    let referral_config = (args.service == doxwatch_referral::SERVICE)
        .then(|| doxwatch_referral::ReferralConfig::from_layers(&mut layers));
    let intake_config =
        (args.service == doxwatch_intake::SERVICE).then(|| doxwatch_intake::IntakeConfig::from_layers(&mut layers));
    layers.finish().map_err(|e| CliError::Config(e.to_string()))?;
    // The service's own certificate, presented to an https:// collector, and its CA.
    let tls = match &telemetry_config.otlp_endpoint {
        Some(endpoint) if endpoint.starts_with("https://") => {
            Some(config.security.tls.material().map_err(|e| CliError::chain(&e))?)
        }
        _ => None,
    };
    let telemetry = telemetry::init(&telemetry_config, &format!("doxwatch-{}", args.service), tls.as_ref())
        .map_err(|e| CliError::chain(&e))?;
    let built = match (periods, links_config) {
        (Some(periods), _) => Built::Liaison(
            doxwatch_liaison::Application::build_with(&config, periods).await.map_err(|e| CliError::chain(&e))?,
        ),
        (None, Some(own)) => {
            Built::Links(doxwatch_links::Application::build_with(&config, &own).await.map_err(|e| CliError::chain(&e))?)
        }
        (None, None) => match referral_config {
            Some(own) => Built::Referral(
                doxwatch_referral::Application::build_with(&config, &own).await.map_err(|e| CliError::chain(&e))?,
            ),
            None => match intake_config {
                Some(own) => Built::Intake(Box::new(
                    doxwatch_intake::Application::build_with(&config, &own).await.map_err(|e| CliError::chain(&e))?,
                )),
                None => Built::build(&args.service, &config, &mut Layers::default()).await?,
            },
        },
    };
    tracing::info!(service = %args.service, addr = %built.local_addr(), "serving");
    let (stop_tx, stop_rx) = watch::channel(false);
    let run = tokio::spawn(built.run(stop_rx));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let result = run.await.map_err(|e| CliError::Other(format!("the service task failed: {e}")))?;
    telemetry.shutdown();
    result
}
