//! The situation report "as at" a moment, assembled from the four services' statistics, and the
//! scenario files whose published figures the system must reproduce: checked, turned into a
//! synthetic dataset, and pushed through the public APIs as officers' clients would.

pub mod chart;
pub mod html;
pub mod load;
pub mod moment;
pub mod plan;
pub mod publication;
pub mod render;
pub mod report;
pub mod revisions;
pub mod scenario;
pub mod words;

/// Where the four services answer, and the credentials to call them with.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub intake: String,
    pub links: String,
    pub liaison: String,
    pub referral: String,
    pub credentials: doxwatch_kit::profile::Credentials,
}

impl Endpoints {
    /// The suite as `doxwatch up` runs it on one host.
    pub fn local(host: &str, credentials: doxwatch_kit::profile::Credentials) -> Self {
        let urls = doxwatch_kit::config::PeerUrls::local(host);
        Self { intake: urls.intake, links: urls.links, liaison: urls.liaison, referral: urls.referral, credentials }
    }
}
