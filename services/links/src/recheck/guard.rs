//! What the rechecker may connect to. Links come from complaints, so a link can name an address
//! inside the regulator's own network (a cloud metadata service, an admin page); unless
//! `recheck_allow_private_addresses` is set, only public addresses are fetched — whether the link
//! names one literally, a host name resolves to one, or a redirect leads to one.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use doxwatch_urls::is_public;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::MAX_REDIRECTS;

/// Refused: the address is not public, or the port is not a web port.
#[derive(Debug, thiserror::Error)]
#[error("{0} may not be fetched: only public addresses on ports 80 and 443 are")]
pub struct NotPublic(pub String);

/// The only ports the rechecker connects to: a link to another port of a public host can still
/// reach a service that trusts its network (a database, a mail relay).
pub const WEB_PORTS: [u16; 2] = [80, 443];

/// More than [`MAX_REDIRECTS`] redirects.
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_REDIRECTS} redirects")]
pub struct TooManyRedirects;

/// Whether a URL names a literal address that may not be fetched (host names are checked when
/// they are resolved).
pub fn refused_literal(url: &url::Url) -> Option<NotPublic> {
    if let Some(port) = url.port_or_known_default()
        && !WEB_PORTS.contains(&port)
    {
        return Some(NotPublic(format!("port {port}")));
    }
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    (!is_public(ip)).then(|| NotPublic(ip.to_string()))
}

/// The redirect policy: at most [`MAX_REDIRECTS`], and (unless private addresses are allowed)
/// never to a literal private address.
pub fn redirects(allow_private: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(TooManyRedirects);
        }
        if !allow_private && let Some(refused) = refused_literal(attempt.url()) {
            return attempt.error(refused);
        }
        attempt.follow()
    })
}

/// A resolver that keeps only public addresses.
pub struct PublicOnly;

impl PublicOnly {
    pub fn new() -> Arc<Self> {
        Arc::new(Self)
    }
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(
                    Box::new(NotPublic(format!("every address of {host}"))) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::10.0.0.1",
            "2002:a00:1::1",
            "fec0::1",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "202.128.0.1", "2404:6800:4005::200e"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        assert!(refused_literal(&"http://169.254.169.254/latest".parse().unwrap()).is_some());
        assert!(refused_literal(&"https://t.me/x".parse().unwrap()).is_none());
        assert!(refused_literal(&"http://t.me:80/x".parse().unwrap()).is_none());
        for other_port in ["https://t.me:8443/x", "http://example.com:25/", "http://8.8.8.8:6379/"] {
            assert!(refused_literal(&other_port.parse().unwrap()).is_some(), "{other_port}");
        }
    }
}
