//! Channels to peer services. They connect lazily, so a service starts (and queues its effects in
//! its outbox) while a peer is still down, and reconnects by itself when the peer comes back.
//! Every call on them goes through one interceptor that names the calling service and carries the
//! current trace context, so no call site can forget either.

use std::time::Duration;

use tonic::{
    metadata::MetadataValue,
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Channel, Endpoint},
};

/// How long a synchronous read of a peer may take before the caller hears UNAVAILABLE.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// A channel to a peer whose every call names the calling service and carries trace context.
pub type PeerChannel = InterceptedService<Channel, Caller>;

/// Adds the calling service's name and the current trace context to every call to a peer.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    service: &'static str,
}

impl Interceptor for Caller {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(crate::actor::SERVICE_HEADER, MetadataValue::from_static(self.service));
        crate::telemetry::inject_current(request.metadata_mut());
        Ok(request)
    }
}

/// A lazily connecting channel to the peer at `url`, for calls made by `from_service`.
pub fn connect(url: &str, from_service: &'static str) -> Result<PeerChannel, tonic::transport::Error> {
    let channel = Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(3))
        .timeout(PEER_TIMEOUT)
        .tcp_nodelay(true)
        .connect_lazy();
    Ok(InterceptedService::new(channel, Caller { service: from_service }))
}
