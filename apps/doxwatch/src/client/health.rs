//! `doxwatch health`: asks the services' gRPC health service whether they are serving, so an
//! operator sees the whole suite at a glance and container health checks need no extra tool.

use serde_json::json;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use super::Service;
use crate::{
    ClientArgs,
    output::{CliError, print_json, print_table},
};

#[derive(clap::Args)]
pub struct HealthArgs {
    /// Ask only this service, at its address (--intake-url, DOXWATCH_INTAKE_URL, …); every
    /// service when neither this nor --url is given.
    #[arg(long, value_enum, conflicts_with = "url")]
    pub service: Option<Service>,
    /// Ask the server at this address instead (a container's own health check).
    #[arg(long)]
    pub url: Option<String>,
    /// The gRPC service name to ask about; empty asks about the server as a whole.
    #[arg(long, default_value = "")]
    pub grpc_service: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// One server's answer: its status, or why it gave none.
struct Answer {
    service: Option<Service>,
    url: String,
    status: Result<ServingStatus, CliError>,
}

pub async fn run(args: HealthArgs) -> Result<(), CliError> {
    // Any certificate of the suite's CA will do: health needs no officer's token.
    let credentials = super::credentials(args.client.profile.as_deref())?;
    let targets: Vec<(Option<Service>, String)> = match (&args.url, args.service) {
        (Some(url), _) => vec![(None, url.clone())],
        (None, Some(service)) => vec![(Some(service), service.url(&args.client).to_owned())],
        (None, None) => Service::ALL.iter().map(|s| (Some(*s), s.url(&args.client).to_owned())).collect(),
    };
    let mut answers: Vec<Answer> = Vec::new();
    for (service, url) in targets {
        let status = async {
            let channel = super::connect_with(&credentials, &url).await?;
            let request = HealthCheckRequest { service: args.grpc_service.clone() };
            let response = HealthClient::new(channel).check(request).await?.into_inner();
            Ok(ServingStatus::try_from(response.status).unwrap_or(ServingStatus::Unknown))
        }
        .await;
        answers.push(Answer { service, url, status });
    }
    show(&answers, args.client.json);
    let failing: Vec<String> = answers
        .iter()
        .filter(|a| !matches!(a.status, Ok(ServingStatus::Serving)))
        .map(|a| a.service.map_or_else(|| a.url.clone(), |s| s.name().to_owned()))
        .collect();
    if failing.is_empty() {
        return Ok(());
    }
    // One server asked and not reached: its own error says best why.
    if let [Answer { status: Err(_), .. }] = answers.as_slice()
        && let Some(Answer { status: Err(e), .. }) = answers.pop()
    {
        return Err(e);
    }
    Err(CliError::Other(format!("not serving: {}", failing.join(", "))))
}

fn status_text(status: &Result<ServingStatus, CliError>) -> String {
    match status {
        Ok(s) => s.as_str_name().to_owned(),
        Err(e) => format!("UNREACHABLE ({e})"),
    }
}

fn show(answers: &[Answer], as_json: bool) {
    if as_json {
        print_json(&json!(
            answers
                .iter()
                .map(|a| json!({
                    "service": a.service.map(Service::name),
                    "url": a.url,
                    "status": a.status.as_ref().map(|s| s.as_str_name()).unwrap_or("UNREACHABLE"),
                    "error": a.status.as_ref().err().map(|e| e.to_string()),
                }))
                .collect::<Vec<_>>()
        ));
    } else if let [Answer { service: None, status, .. }] = answers {
        // A health check of one address prints one word, as container tooling expects.
        println!("{}", status.as_ref().map(|s| s.as_str_name()).unwrap_or("UNREACHABLE"));
    } else {
        let rows = answers
            .iter()
            .map(|a| vec![a.service.map_or("", Service::name).to_owned(), a.url.clone(), status_text(&a.status)])
            .collect::<Vec<_>>();
        print_table(&["SERVICE", "ADDRESS", "STATUS"], &rows);
    }
}
