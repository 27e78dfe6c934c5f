//! The officer's client: connections to the services, naming the acting officer on every call, and
//! what every command family shares (resource names, paging, the moment figures are as at).

pub mod agency;
pub mod assessment;
pub mod audit;
pub mod case;
pub mod channel;
pub mod contact;
pub mod evidence;
pub mod health;
pub mod keys;
pub mod link;
mod link_stats;
pub mod notice;
mod notice_args;
pub mod outbox;
pub mod platform;
pub mod recheck;
pub mod referral;

use std::{
    future::Future,
    path::{Path, PathBuf},
};

use doxwatch_kit::profile::{Bearer, Credentials, ProfileError};
use doxwatch_proto::liaison::liaison_service_client::LiaisonServiceClient;
use doxwatch_proto::links::links_service_client::LinksServiceClient;
use tonic::{Status, service::interceptor::InterceptedService, transport::Channel};

use crate::{
    ClientArgs,
    output::{CliError, parse_time},
};

pub type Authed = InterceptedService<Channel, Bearer>;

/// The variable naming the data directory of `doxwatch up`.
pub const DATA_DIR_VARIABLE: &str = "DOXWATCH_DATA_DIR";

/// The data directory of `doxwatch up`: `DOXWATCH_DATA_DIR`, else `doxwatch-data`.
pub fn data_dir() -> PathBuf {
    std::env::var_os(DATA_DIR_VARIABLE).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("doxwatch-data"))
}

/// The local profile `doxwatch up` writes.
pub fn default_profile() -> PathBuf {
    data_dir().join("profile")
}

/// The credentials to call with: the profile named, else a service's own certificate when this
/// runs beside one (its `DOXWATCH_TLS_*` variables set, as in a container's health check), else
/// the local profile.
pub fn credentials(profile: Option<&Path>) -> Result<Credentials, CliError> {
    if let Some(dir) = profile {
        return Credentials::load(dir).map_err(profile_error);
    }
    let var = |name: &str| std::env::var_os(name).map(PathBuf::from);
    if let (Some(ca), Some(cert), Some(key)) =
        (var("DOXWATCH_TLS_CA_FILE"), var("DOXWATCH_TLS_CERT_FILE"), var("DOXWATCH_TLS_KEY_FILE"))
    {
        let tls = doxwatch_kit::tls::TlsMaterial::load(&ca, &cert, &key).map_err(|e| CliError::chain(&e))?;
        return Ok(Credentials { tls, token: None });
    }
    Credentials::load(&default_profile()).map_err(profile_error)
}

fn profile_error(e: ProfileError) -> CliError {
    match e {
        ProfileError::Connect { url, cause } => CliError::Connect { url, cause },
        ProfileError::NotHttps { .. } => CliError::Usage(e.to_string()),
        other => CliError::Config(other.to_string()),
    }
}

/// One of the four services, as every `--service` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    Intake,
    Links,
    Liaison,
    Referral,
}

impl Service {
    pub const ALL: [Service; 4] = [Service::Intake, Service::Links, Service::Liaison, Service::Referral];

    pub fn name(self) -> &'static str {
        match self {
            Service::Intake => "intake",
            Service::Links => "links",
            Service::Liaison => "liaison",
            Service::Referral => "referral",
        }
    }

    /// Where it answers: its `--*-url` (or `DOXWATCH_*_URL`).
    pub fn url(self, c: &ClientArgs) -> &str {
        match self {
            Service::Intake => &c.intake_url,
            Service::Links => &c.links_url,
            Service::Liaison => &c.liaison_url,
            Service::Referral => &c.referral_url,
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Connects to a service at `url` with `credentials`.
pub async fn connect_with(credentials: &Credentials, url: &str) -> Result<Channel, CliError> {
    credentials.connect(url, std::time::Duration::from_secs(60)).await.map_err(profile_error)
}

/// Connects to the service at `url` with the caller's credentials, sending the token on every call.
pub async fn authed(url: &str, args: &ClientArgs) -> Result<Authed, CliError> {
    let credentials = credentials(args.profile.as_deref())?;
    let mut bearer = credentials.bearer().map_err(profile_error)?;
    if let Some(purpose) = args.purpose.as_deref() {
        bearer = bearer.with_purpose(purpose).map_err(|e| CliError::Usage(format!("--purpose: {e}")))?;
    }
    if args.break_glass {
        if args.purpose.as_deref().is_none_or(|p| p.trim().is_empty()) {
            return Err(CliError::Usage("--break-glass needs --purpose: say why you read another team's case".into()));
        }
        bearer = bearer.breaking_glass();
    }
    Ok(InterceptedService::new(connect_with(&credentials, url).await?, bearer))
}

/// The link-tracking service, which the platform, link and channel commands all ask.
pub async fn links(args: &ClientArgs) -> Result<LinksServiceClient<Authed>, CliError> {
    Ok(LinksServiceClient::new(authed(&args.links_url, args).await?))
}

/// The platform-liaison service, which the notice and platform contact commands ask.
pub async fn liaison(args: &ClientArgs) -> Result<LiaisonServiceClient<Authed>, CliError> {
    Ok(LiaisonServiceClient::new(authed(&args.liaison_url, args).await?))
}

/// A resource name as officers may write it: `links/ID` or just `ID`.
pub fn resource_name(collection: &str, text: &str) -> String {
    let text = text.trim();
    match text.strip_prefix(collection).and_then(|rest| rest.strip_prefix('/')) {
        Some(_) => text.to_owned(),
        None => format!("{collection}/{text}"),
    }
}

/// Whether a resource name (`notices/NTC-2019-000311`) names a record by its reference number
/// rather than its id.
pub fn names_reference(name: &str) -> bool {
    name.split_once('/').and_then(|(_, rest)| doxwatch_kit::reference::normalize(rest)).is_some()
}

/// How much of a listing to fetch.
#[derive(clap::Args)]
pub struct PageArgs {
    /// Results per page.
    #[arg(long, default_value_t = 50)]
    pub page_size: i32,
    /// Start at this page: the token a previous page printed.
    #[arg(long, default_value = "", conflicts_with = "all")]
    pub page_token: String,
    /// Fetch every page, not just the first.
    #[arg(long)]
    pub all: bool,
}

/// One page (the first, or the one at `--page-token`), or with `--all` every page. `fetch` asks for
/// the page at a token and answers with its items and the next token; the answer is the items and
/// the token after them (empty at the end).
pub async fn pages<T, F, Fut>(page: &PageArgs, mut fetch: F) -> Result<(Vec<T>, String), CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), Status>>,
{
    let mut items = Vec::new();
    let mut token = page.page_token.clone();
    loop {
        let (found, next) = fetch(token).await?;
        items.extend(found);
        if !page.all || next.is_empty() {
            return Ok((items, next));
        }
        token = next;
    }
}

/// Every page, for commands that show a whole collection (a timeline, a case's records).
pub async fn every_page<T, F, Fut>(fetch: F) -> Result<Vec<T>, CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), Status>>,
{
    let every = PageArgs { page_size: 0, page_token: String::new(), all: true };
    Ok(pages(&every, fetch).await?.0)
}

/// The moment figures are given as at, and what they count.
#[derive(clap::Args)]
pub struct AsAtArgs {
    /// The moment the figures are as at (RFC 3339); defaults to now.
    #[arg(long, value_parser = parse_time)]
    pub as_of: Option<prost_types::Timestamp>,
    /// Count only what was recorded before this moment (RFC 3339), so that a published figure
    /// can be reproduced however much is backfilled later.
    #[arg(long, value_parser = parse_time)]
    pub recorded_before: Option<prost_types::Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::resource_name;

    #[test]
    fn a_resource_may_be_named_by_its_id_alone() {
        assert_eq!(resource_name("links", "0190"), "links/0190");
        assert_eq!(resource_name("links", "links/0190"), "links/0190");
        assert_eq!(resource_name("cases", " cases/0190 "), "cases/0190");
        assert_eq!(resource_name("cases", "casesx/0190"), "cases/casesx/0190");
    }
}
