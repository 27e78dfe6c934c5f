//! Credentials: `doxwatch certs init` (the suite's CA and every service's and agency's
//! certificate), `doxwatch officer add` and `officer token` (an officer's profile: client
//! certificate, key and bound token, from the local issuer; operators only, since it needs the CA
//! and issuer keys), `doxwatch whoami`, and the local PKI and profile `doxwatch up` keeps in its
//! data directory.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use doxwatch_kit::{
    config::SecurityConfig,
    identity::{Identity, thumbprint},
    pki::{self, Authority},
    policy::Role,
    profile::Credentials,
    token::TokenIssuer,
};
use doxwatch_proto::ops::{WhoAmIRequest, identity_service_client::IdentityServiceClient};

use crate::{
    ClientArgs,
    client::{authed, data_dir},
    output::{CliError, time_text},
};

#[derive(clap::Subcommand)]
pub enum CertsCommand {
    /// Create a CA, the token issuer's key, and a certificate for every service (and each agency
    /// named) in DIR. Keys are written 0600; keep `ca.key` and `issuer.key` offline afterwards.
    Init(InitArgs),
    /// Write the keys each service lacks in DIR, a PKI made by `certs init`: its audit signing key
    /// (`audit/<service>.key`, 0600, and the public key `audit/<service>.pub`) and its encryption
    /// key (`encryption/<service>.key`, 0600). Keys already there are kept: checkpoints were signed
    /// and data keys wrapped with them.
    ServiceKeys(ServiceKeysArgs),
    /// Issue a server-only certificate from the CA in DIR for a party that is not a doxwatch
    /// identity, such as the OpenTelemetry collector: `servers/NAME.pem` and `.key` (0600), valid
    /// for NAME, `localhost` and loopback unless `--host` is given, and unable to call any service.
    Server(ServerArgs),
}

#[derive(clap::Args)]
pub struct ServerArgs {
    /// The PKI directory (`doxwatch certs init`; its `ca.key` is needed).
    pub dir: PathBuf,
    /// The server's name: lower-case letters, digits and '-' (e.g. otel-collector).
    pub name: String,
    /// A host name or address the certificate is valid for (repeatable); replaces the defaults.
    #[arg(long = "host")]
    pub hosts: Vec<String>,
}

#[derive(clap::Args)]
pub struct ServiceKeysArgs {
    /// The PKI directory.
    pub dir: PathBuf,
}

#[derive(clap::Args)]
pub struct InitArgs {
    /// The directory to create them in (it must not hold a CA yet).
    pub dir: PathBuf,
    /// A host name or address the services are reached at, besides their own names and loopback
    /// (repeatable): e.g. the name of a load balancer.
    #[arg(long = "host")]
    pub hosts: Vec<String>,
    /// An agency to issue a client certificate for (repeatable), e.g. POLICE.
    #[arg(long = "agency")]
    pub agencies: Vec<String>,
}

#[derive(clap::Subcommand)]
pub enum OfficerCommand {
    /// Issue an officer's profile: a client certificate, its key, and a token bound to it.
    Add(AddArgs),
    /// Issue a fresh token for an existing profile (its certificate unchanged).
    Token(TokenArgs),
}

#[derive(clap::Args)]
pub struct AddArgs {
    /// The officer's id: lower-case letters, digits, '.', '-' or '_' (e.g. chan.tm).
    pub id: String,
    /// The officer's name as shown in records.
    #[arg(long)]
    pub name: Option<String>,
    /// The officer's roles, comma-separated: intake_officer, patrol_officer, liaison_officer,
    /// legal_officer, supervisor, auditor, report_reader, operator.
    #[arg(long, value_delimiter = ',', required = true)]
    pub roles: Vec<String>,
    /// The team the officer works in.
    #[arg(long)]
    pub team: String,
    #[command(flatten)]
    pub issue: IssueArgs,
}

#[derive(clap::Args)]
pub struct TokenArgs {
    /// The officer's id.
    pub id: String,
    #[command(flatten)]
    pub issue: IssueArgs,
}

#[derive(clap::Args)]
pub struct IssueArgs {
    /// The PKI directory (`doxwatch certs init`); defaults to the one `doxwatch up` keeps.
    #[arg(long, env = "DOXWATCH_PKI")]
    pub pki: Option<PathBuf>,
    /// Where to write the profile; defaults to `profiles/<id>` in the PKI directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How long the token is valid, in hours (1 to 744, a month).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=744))]
    pub valid_for_hours: u32,
}

/// What an officer's profile says of them besides their certificate, kept beside it so that a
/// token can be renewed without retyping it.
#[derive(serde::Serialize, serde::Deserialize)]
struct OfficerRecord {
    id: String,
    name: String,
    roles: Vec<Role>,
    team: String,
}

/// The PKI `doxwatch up` keeps.
pub fn local_pki() -> PathBuf {
    data_dir().join("pki")
}

pub fn certs(command: CertsCommand) -> Result<(), CliError> {
    let args = match command {
        CertsCommand::Init(args) => args,
        CertsCommand::ServiceKeys(args) => return service_keys(&args.dir),
        CertsCommand::Server(args) => {
            let cert = pki::write_server(&args.dir, &args.name, &args.hosts).map_err(|e| CliError::chain(&e))?;
            println!("wrote the server certificate {} and its key", cert.display());
            return Ok(());
        }
    };
    pki::init(&args.dir, &args.hosts, &args.agencies).map_err(|e| CliError::chain(&e))?;
    for agency in &args.agencies {
        agency_profile(&args.dir, agency)?;
    }
    println!("created the CA, the token issuer and a certificate for every service in {}", args.dir.display());
    println!("keep ca.key and issuer.key offline: they issue every identity of the suite");
    Ok(())
}

fn service_keys(dir: &Path) -> Result<(), CliError> {
    if !dir.join("ca.pem").exists() {
        return Err(CliError::Usage(format!(
            "{} holds no PKI (no ca.pem): make one with `doxwatch certs init`",
            dir.display()
        )));
    }
    let written = pki::write_service_keys(dir).map_err(|e| CliError::chain(&e))?;
    if written.is_empty() {
        println!("every service has its audit and encryption keys in {}: kept", dir.display());
    }
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// An agency's profile (`agencies/<AGENCY>/`), from the certificate `certs init` issued it.
fn agency_profile(dir: &Path, agency: &str) -> Result<(), CliError> {
    let identity = Identity::agency(agency).map_err(CliError::Usage)?;
    let read = |p: PathBuf| {
        std::fs::read_to_string(&p).map_err(|e| CliError::Other(format!("cannot read {}: {e}", p.display())))
    };
    let agencies = dir.join("agencies");
    let ca = read(dir.join("ca.pem"))?;
    let cert = read(agencies.join(format!("{}.pem", identity.name())))?;
    let key = read(agencies.join(format!("{}.key", identity.name())))?;
    Credentials::save(&agencies.join(identity.name()), &ca, &cert, &key, None).map_err(|e| CliError::chain(&e))
}

pub fn officer(command: OfficerCommand) -> Result<(), CliError> {
    match command {
        OfficerCommand::Add(args) => {
            let identity = Identity::officer(&args.id).map_err(CliError::Usage)?;
            let roles = args
                .roles
                .iter()
                .map(|r| r.trim().parse::<Role>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| CliError::Usage(format!("--roles: {e}")))?;
            if args.team.trim().is_empty() {
                return Err(CliError::Usage("--team must name the officer's team".into()));
            }
            let record = OfficerRecord {
                id: identity.name().to_owned(),
                name: args.name.clone().unwrap_or_else(|| identity.name().to_owned()),
                roles,
                team: args.team.trim().to_owned(),
            };
            let dir = issue_profile(&args.issue, &record)?;
            println!("issued a profile for {} in {}", record.id, dir.display());
            println!("use it with --profile {} (or DOXWATCH_PROFILE)", dir.display());
            Ok(())
        }
        OfficerCommand::Token(args) => {
            let pki_dir = args.issue.pki.clone().unwrap_or_else(local_pki);
            let dir = args.issue.out.clone().unwrap_or_else(|| pki_dir.join("profiles").join(&args.id));
            let text = std::fs::read_to_string(dir.join("officer.json"))
                .map_err(|e| CliError::Other(format!("no officer profile in {}: {e}", dir.display())))?;
            let record: OfficerRecord = serde_json::from_str(&text)
                .map_err(|e| CliError::Other(format!("{} is not an officer profile: {e}", dir.display())))?;
            let credentials = Credentials::load(&dir).map_err(|e| CliError::Config(e.to_string()))?;
            let cert = credentials.tls.certificate().map_err(|e| CliError::chain(&e))?;
            let token = issuer(&pki_dir)?
                .issue(
                    &record.id,
                    &record.name,
                    &record.roles,
                    &record.team,
                    &thumbprint(&cert),
                    hours(args.issue.valid_for_hours),
                )
                .map_err(|e| CliError::chain(&e))?;
            pki::write_private(&dir.join("token"), &token).map_err(|e| CliError::chain(&e))?;
            println!("issued a new token for {} in {}", record.id, dir.display());
            Ok(())
        }
    }
}

fn hours(h: u32) -> Duration {
    Duration::from_secs(u64::from(h) * 3600)
}

fn issuer(pki_dir: &Path) -> Result<TokenIssuer, CliError> {
    let read = |name: &str| {
        std::fs::read_to_string(pki_dir.join(name)).map_err(|e| {
            CliError::Other(format!(
                "cannot read {} (operators only: it needs the PKI's keys): {e}",
                pki_dir.join(name).display()
            ))
        })
    };
    TokenIssuer::new(
        &read("issuer.key")?,
        &read("jwks.json")?,
        SecurityConfig::DEFAULT_ISSUER,
        SecurityConfig::DEFAULT_AUDIENCE,
    )
    .map_err(|e| CliError::chain(&e))
}

/// Issues a certificate and token for `record` and writes its profile.
fn issue_profile(args: &IssueArgs, record: &OfficerRecord) -> Result<PathBuf, CliError> {
    let pki_dir = args.pki.clone().unwrap_or_else(local_pki);
    let dir = args.out.clone().unwrap_or_else(|| pki_dir.join("profiles").join(&record.id));
    write_profile(&pki_dir, &dir, record, hours(args.valid_for_hours))?;
    Ok(dir)
}

fn write_profile(pki_dir: &Path, dir: &Path, record: &OfficerRecord, lifetime: Duration) -> Result<(), CliError> {
    let ca = Authority::load(pki_dir).map_err(|e| CliError::chain(&e))?;
    let identity = Identity::officer(&record.id).map_err(CliError::Usage)?;
    let issued = ca.issue(&identity, &[], pki::OFFICER_CERT_LIFETIME).map_err(|e| CliError::chain(&e))?;
    let der = rustls_pem_der(&issued.cert_pem)?;
    let token = issuer(pki_dir)?
        .issue(&record.id, &record.name, &record.roles, &record.team, &thumbprint(&der), lifetime)
        .map_err(|e| CliError::chain(&e))?;
    Credentials::save(dir, ca.cert_pem(), &issued.cert_pem, &issued.key_pem, Some(&token))
        .map_err(|e| CliError::chain(&e))?;
    let json = serde_json::to_string_pretty(&serde_json::json!({
        "id": record.id, "name": record.name, "roles": record.roles, "team": record.team,
    }))
    .map_err(|e| CliError::Other(e.to_string()))?;
    pki::write_public(&dir.join("officer.json"), &json).map_err(|e| CliError::chain(&e))
}

/// Issues an officer's profile in `dir` from the PKI in `pki_dir`, as `officer add` does: what
/// `doxwatch bench` calls its services with.
pub(crate) fn issue_officer(pki_dir: &Path, dir: &Path, id: &str, roles: &[Role], team: &str) -> Result<(), CliError> {
    let record = OfficerRecord { id: id.to_owned(), name: id.to_owned(), roles: roles.to_vec(), team: team.to_owned() };
    write_profile(pki_dir, dir, &record, pki::TOKEN_LIFETIME)
}

fn rustls_pem_der(pem: &str) -> Result<Vec<u8>, CliError> {
    let material = doxwatch_kit::tls::TlsMaterial::certificate_der(pem).map_err(|e| CliError::chain(&e))?;
    Ok(material)
}

/// The local PKI and profile of `doxwatch up`: created on first start (the CA, the token issuer,
/// every service's certificate, the Police's agency profile), and the local operator's profile
/// re-issued at every start with a fresh token. Returns the PKI directory.
pub fn ensure_local(data_dir: &Path, host: &str) -> Result<PathBuf, CliError> {
    let pki_dir = data_dir.join("pki");
    if !pki_dir.join("ca.pem").exists() {
        let hosts =
            if host == "127.0.0.1" || host == "::1" || host == "0.0.0.0" { vec![] } else { vec![host.to_owned()] };
        pki::init(&pki_dir, &hosts, &["POLICE".to_owned()]).map_err(|e| CliError::chain(&e))?;
        agency_profile(&pki_dir, "POLICE")?;
        println!("created a CA, a token issuer and certificates in {}", pki_dir.display());
    } else {
        // A data directory from before a service key existed: the missing ones.
        for path in pki::write_service_keys(&pki_dir).map_err(|e| CliError::chain(&e))? {
            println!("created {}", path.display());
        }
    }
    let user = std::env::var("USER").unwrap_or_default().to_ascii_lowercase();
    let id = if Identity::officer(&user).is_ok() { user } else { "local-operator".to_owned() };
    let record = OfficerRecord {
        name: id.clone(),
        id,
        // The one who starts the suite on their machine may do everything in it.
        roles: Role::ALL.to_vec(),
        team: "local".to_owned(),
    };
    write_profile(&pki_dir, &data_dir.join("profile"), &record, pki::TOKEN_LIFETIME)?;
    Ok(pki_dir)
}

#[derive(clap::Args)]
pub struct WhoAmIArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `doxwatch whoami`: who the intake service thinks the caller is.
pub async fn whoami(args: WhoAmIArgs) -> Result<(), CliError> {
    let channel = authed(&args.client.intake_url, &args.client).await?;
    let me = IdentityServiceClient::new(channel).who_am_i(WhoAmIRequest {}).await?.into_inner();
    if args.client.json {
        let json = serde_json::json!({
            "identity": me.identity, "kind": me.kind, "officer_id": me.officer_id,
            "display_name": me.display_name, "roles": me.roles, "team": me.team,
            "token_expires": me.token_expires.as_ref().map(|t| time_text(Some(t))),
        });
        println!("{json}");
        return Ok(());
    }
    println!("identity      {}", me.identity);
    if !me.officer_id.is_empty() {
        println!("officer       {} ({})", me.officer_id, me.display_name);
        println!("roles         {}", me.roles.join(", "));
        println!("team          {}", me.team);
        if let Some(expires) = &me.token_expires {
            println!("token expires {}", time_text(Some(expires)));
        }
    }
    Ok(())
}
