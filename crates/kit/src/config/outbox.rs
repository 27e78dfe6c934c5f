//! How the outbox relay paces itself and how long its claims last. Its own file, so that what
//! decides how quickly effects resume after a crash reads in one place.

use std::time::Duration;

use super::Layers;

/// How the outbox relay paces itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// How often the relay looks for due effects when nothing wakes it.
    pub poll_interval: Duration,
    /// The longest wait between two attempts to deliver an effect to a peer that is down.
    pub max_backoff: Duration,
    /// How long a claim on an effect lasts unless its relay renews it. A live relay renews its
    /// claims while it delivers; a replica that dies without restarting leaves them to another
    /// replica after at most this long (one that restarts takes its own back at once).
    pub lease: Duration,
    /// Most deliveries in flight at once, each of another key. Enough that the relay keeps up
    /// with the service's fastest rate of new effects however long each delivery waits (its
    /// claims and outcomes are written a batch at a time); few enough to leave the peer's
    /// `concurrency_limit` room for its own callers.
    pub in_flight: u32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            lease: Duration::from_secs(5),
            in_flight: 128,
        }
    }
}

impl OutboxConfig {
    pub(super) fn from_layers(layers: &mut Layers) -> Self {
        let defaults = Self::default();
        Self {
            poll_interval: layers.get_millis(
                "outbox_poll_ms",
                defaults.poll_interval,
                Duration::from_millis(10),
                Duration::from_secs(60),
            ),
            max_backoff: layers.get_millis(
                "outbox_max_backoff_ms",
                defaults.max_backoff,
                Duration::from_millis(10),
                Duration::from_secs(3600),
            ),
            // Renewed every third of it: shorter than 300 ms would renew more than it delivers.
            lease: layers.get_millis(
                "outbox_lease_ms",
                defaults.lease,
                Duration::from_millis(300),
                Duration::from_secs(600),
            ),
            in_flight: layers.get_range("outbox_in_flight", defaults.in_flight, 1, 4096),
        }
    }
}
