//! The listener a server binds: its port waited for a moment when another socket holds it.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::net::TcpListener;

/// How long a start waits for its port while another socket holds it.
const PORT_WAIT: Duration = Duration::from_secs(5);

/// Binds `addr`. A port in use is tried again every quarter of a second for [`PORT_WAIT`]: the
/// suite's default ports lie in the range Linux hands out to outgoing connections, so another
/// program's connection may hold one for a moment, as may the socket of a server just stopped.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let started = Instant::now();
    let mut warned = false;
    loop {
        match TcpListener::bind(addr).await {
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse && addr.port() != 0 && started.elapsed() < PORT_WAIT =>
            {
                if !warned {
                    tracing::warn!(%addr, "the port is in use; trying again for {} s", PORT_WAIT.as_secs());
                    warned = true;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            bound => return bound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_port_held_for_a_moment_is_waited_for() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = holder.local_addr().expect("its address");
        let release = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            drop(holder);
        });
        let started = Instant::now();
        let listener = bind(addr).await.expect("bound once the port was free");
        assert_eq!(listener.local_addr().expect("its address"), addr);
        assert!(started.elapsed() >= Duration::from_millis(500), "bound before the port was free");
        release.await.expect("released");
    }

    #[tokio::test]
    async fn a_port_held_throughout_is_refused_after_the_wait() {
        let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = holder.local_addr().expect("its address");
        let started = Instant::now();
        let refused = bind(addr).await.expect_err("the port stays held");
        assert_eq!(refused.kind(), std::io::ErrorKind::AddrInUse);
        assert!(started.elapsed() >= PORT_WAIT, "gave up after {:?}", started.elapsed());
        drop(holder);
    }
}
