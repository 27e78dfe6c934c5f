//! The officer's client: connections to the services, naming the acting officer on every call.

pub mod case;
pub mod health;

use doxwatch_kit::actor::OFFICER_HEADER;
use tonic::{
    Request, Status,
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

use crate::output::CliError;

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
    let name = given
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.trim().is_empty());
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
        .timeout(std::time::Duration::from_secs(60));
    endpoint
        .connect()
        .await
        .map_err(|e| CliError::Connect { url: url.to_owned(), cause: doxwatch_kit::error::CauseChain(&e).to_string() })
}
