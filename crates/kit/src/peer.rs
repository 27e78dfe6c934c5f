//! Channels to peer services. They connect lazily, so a service starts (and queues its effects in
//! its outbox) while a peer is still down, and reconnects by itself when the peer comes back.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

/// How long a synchronous read of a peer may take before the caller hears UNAVAILABLE.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// A lazily connecting channel to the peer at `url`.
pub fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(3))
        .timeout(PEER_TIMEOUT)
        .tcp_nodelay(true)
        .connect_lazy())
}
