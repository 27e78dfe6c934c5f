//! `doxwatch health`: asks a service's gRPC health service whether it is serving, so container
//! health checks need no extra tool.

use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use crate::output::CliError;

#[derive(clap::Args)]
pub struct HealthArgs {
    /// The service's address.
    #[arg(long, default_value = "https://127.0.0.1:50051")]
    pub url: String,
    /// The credentials to call with (any certificate of the suite's CA will do).
    #[arg(long, env = "DOXWATCH_PROFILE")]
    pub profile: Option<std::path::PathBuf>,
    /// The gRPC service name to ask about; empty asks about the server as a whole.
    #[arg(long, default_value = "")]
    pub service: String,
}

pub async fn run(args: HealthArgs) -> Result<(), CliError> {
    let credentials = super::credentials(args.profile.as_deref())?;
    let channel = super::connect_with(&credentials, &args.url).await?;
    let response =
        HealthClient::new(channel).check(HealthCheckRequest { service: args.service.clone() }).await?.into_inner();
    let status = ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown);
    println!("{}", status.as_str_name());
    if status == ServingStatus::Serving { Ok(()) } else { Err(CliError::Other(format!("{} is not serving", args.url))) }
}
