//! Channels to peer services. They connect lazily, so a service starts (and queues its effects in
//! its outbox) while a peer is still down, and reconnects by itself when the peer comes back.
//! Every call is made over TLS with the calling service's certificate, which is how the peer knows
//! who calls, and through one interceptor that carries the current trace context, so no call site
//! can forget it.

use std::time::Duration;

use tonic::{
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

/// How long a synchronous read of a peer may take before the caller hears UNAVAILABLE.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel to a peer whose every call carries trace context.
pub type PeerChannel = InterceptedService<Channel, Caller>;

/// Adds the current trace context to every call to a peer.
#[derive(Clone, Copy, Debug)]
pub struct Caller;

impl Interceptor for Caller {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        crate::telemetry::inject_current(request.metadata_mut());
        Ok(request)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("the peer address {0:?} must be an https:// URL: every doxwatch service speaks TLS only")]
    NotHttps(String),
    #[error("the peer address is not usable")]
    Url(#[from] tonic::transport::Error),
    #[error("the TLS material is not usable")]
    Tls(#[from] crate::tls::TlsError),
}

/// A lazily connecting TLS channel to the peer at `url`, identified by the certificate in `tls`.
pub fn connect(url: &str, tls: &crate::config::TlsSource) -> Result<PeerChannel, PeerError> {
    Ok(InterceptedService::new(channel(url, &tls.material()?)?, Caller))
}

/// A lazily connecting TLS channel to `url` with `material`'s CA and certificate: what peers and
/// the CLI both use. An `http://` URL is refused rather than spoken to in plaintext.
pub fn channel(url: &str, material: &crate::tls::TlsMaterial) -> Result<Channel, PeerError> {
    Ok(endpoint(url, material)?.timeout(PEER_TIMEOUT).connect_lazy())
}

/// The endpoint of a TLS channel to `url`.
pub fn endpoint(url: &str, material: &crate::tls::TlsMaterial) -> Result<Endpoint, PeerError> {
    if !url.starts_with("https://") {
        return Err(PeerError::NotHttps(url.to_owned()));
    }
    Ok(base_endpoint(url)?.tls_config(material.client_config())?.connect_timeout(Duration::from_secs(3)))
}

/// The endpoint every channel of the suite starts from (to peers, from the CLI and the report, to
/// the telemetry collector), with TCP_NODELAY set: a small request leaves at once instead of
/// waiting for the peer's delayed ACK, some 40 ms a call. (Every listener sets it on the sockets
/// it accepts: see `tls::accept`.)
pub fn base_endpoint(url: &str) -> Result<Endpoint, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?.tcp_nodelay(true))
}
