//! The officer's client: connections to the services, naming the acting officer on every call, and
//! what every command family shares (resource names, paging, the moment figures are as at).

pub mod agency;
pub mod assessment;
pub mod case;
pub mod channel;
pub mod contact;
pub mod evidence;
pub mod health;
pub mod link;
pub mod notice;
mod notice_args;
pub mod outbox;
pub mod platform;
pub mod recheck;
pub mod referral;

use std::future::Future;

use doxwatch_kit::actor::OFFICER_HEADER;
use doxwatch_proto::liaison::liaison_service_client::LiaisonServiceClient;
use doxwatch_proto::links::links_service_client::LinksServiceClient;
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

use crate::{
    ClientArgs,
    output::{CliError, parse_time},
};

/// Adds the acting officer to each request.
#[derive(Clone)]
pub struct Officer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Officer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert(OFFICER_HEADER, value.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Officer>;

/// The acting officer: `--officer`, else `DOXWATCH_OFFICER`, else the login name.
pub fn officer(given: Option<&str>) -> Result<Officer, CliError> {
    let name = given.map(str::to_owned).or_else(|| std::env::var("USER").ok()).filter(|n| !n.trim().is_empty());
    match name {
        None => Ok(Officer(None)),
        Some(name) => MetadataValue::try_from(name.trim())
            .map(|v| Officer(Some(v)))
            .map_err(|_| CliError::Usage("--officer must be printable ASCII".to_owned())),
    }
}

/// Connects to a service at `url`.
pub async fn connect(url: &str) -> Result<Channel, CliError> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| CliError::Usage(format!("{url:?} is not a service URL: {e}")))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(60))
        // An INVALID_ARGUMENT names every bad field in its headers, and a refused import message
        // has up to a thousand; above hyper's 16 KiB default the officer would see only "h2
        // protocol error" instead of what was wrong.
        .http2_max_header_list_size(1 << 20);
    endpoint
        .connect()
        .await
        .map_err(|e| CliError::Connect { url: url.to_owned(), cause: doxwatch_kit::error::CauseChain(&e).to_string() })
}

/// Connects to the service at `url`, naming the acting officer on every call.
pub async fn authed(url: &str, args: &ClientArgs) -> Result<Authed, CliError> {
    let officer = officer(args.officer.as_deref())?;
    Ok(InterceptedService::new(connect(url).await?, officer))
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

/// How much of a listing to fetch.
#[derive(clap::Args)]
pub struct PageArgs {
    /// Results per page.
    #[arg(long, default_value_t = 50)]
    pub page_size: i32,
    /// Fetch every page, not just the first.
    #[arg(long)]
    pub all: bool,
}

/// The first page, or with `all` every page. `fetch` asks for the page at a token and answers
/// with its items and the next token; the answer is the items and the token after them (empty
/// at the end).
pub async fn pages<T, F, Fut>(all: bool, mut fetch: F) -> Result<(Vec<T>, String), CliError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, String), Status>>,
{
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (page, next) = fetch(token).await?;
        items.extend(page);
        if !all || next.is_empty() {
            return Ok((items, next));
        }
        token = next;
    }
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
