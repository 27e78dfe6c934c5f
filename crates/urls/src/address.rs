//! Which addresses are on the public internet. A link is a place on the internet where personal
//! data was posted: one that names a private, loopback or link-local address names a place inside
//! some network (the regulator's own, a cloud's metadata service) and is refused; the rechecker
//! applies the same rule to every address it would connect to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether an address is on the public internet (what `IpAddr::is_global` will say once stable).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let first = s[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link-local
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated, still routed inside some networks)
        || first == 0x2002 // 6to4: an IPv4 address, possibly private, inside
        || (s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4]) // NAT64 64:ff9b::/96
        || s[..6] == [0; 6] // IPv4-compatible ::a.b.c.d
        || first == 0x2001 && s[1] == 0x0db8) // documentation
}

/// The address a host names literally, when it is not public: `Some` for `10.0.0.5`,
/// `[fe80::1]`, `127.0.0.1`; `None` for a public address or a domain name.
pub fn non_public_literal(host: &str) -> Option<IpAddr> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse::<IpAddr>().ok().filter(|ip| !is_public(*ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_addresses_inside_a_network_are_told_apart_from_names_and_public_ones() {
        for inside in ["127.0.0.1", "10.0.0.5", "169.254.169.254", "192.168.1.1", "[::1]", "[fe80::1]", "[fd00::1]"] {
            assert!(non_public_literal(inside).is_some(), "{inside}");
        }
        for outside in ["8.8.8.8", "[2404:6800:4005::200e]", "t.me", "10.example.com", "localhost"] {
            assert!(non_public_literal(outside).is_none(), "{outside}");
        }
    }
}
