//! Who is at the other end of a connection: the identity in its client certificate. Every
//! certificate the suite's CA issues carries exactly one URI SAN in the `doxwatch` trust domain
//! (SPIFFE IDs): `spiffe://doxwatch/service/<name>` for a doxwatch service,
//! `spiffe://doxwatch/agency/<AGENCY>` for another agency's system (the Police's), and
//! `spiffe://doxwatch/officer/<id>` for an officer's client, which must also send a token.

use std::fmt;

use sha2::{Digest, Sha256};

/// The SPIFFE trust domain of every doxwatch identity.
pub const TRUST_DOMAIN: &str = "doxwatch";

/// The services of the suite, the only names a service identity may carry.
pub const SERVICES: &[&str] = &["intake", "links", "liaison", "referral"];

/// The longest agency name or officer id accepted.
pub const MAX_NAME_LEN: usize = 64;

/// The identity a client certificate names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identity {
    /// A doxwatch service calling a peer.
    Service(&'static str),
    /// Another agency's system, by its upper-case name (`POLICE`).
    Agency(String),
    /// An officer's client; who acts is in the token it sends with every call.
    Officer(String),
}

impl Identity {
    /// The identity's SPIFFE ID, as written in its certificate's URI SAN.
    pub fn uri(&self) -> String {
        format!("spiffe://{TRUST_DOMAIN}/{}/{}", self.kind(), self.name())
    }

    /// `service`, `agency` or `officer`.
    pub fn kind(&self) -> &'static str {
        match self {
            Identity::Service(_) => "service",
            Identity::Agency(_) => "agency",
            Identity::Officer(_) => "officer",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Identity::Service(name) => name,
            Identity::Agency(name) | Identity::Officer(name) => name,
        }
    }

    /// A service identity, for one of [`SERVICES`].
    pub fn service(name: &str) -> Result<Self, String> {
        SERVICES
            .iter()
            .find(|s| **s == name)
            .map(|s| Identity::Service(s))
            .ok_or_else(|| format!("{name:?} is not a doxwatch service ({})", SERVICES.join(", ")))
    }

    /// An agency identity: 1 to 64 upper-case letters, digits, `-` or `_` (lower case is raised).
    pub fn agency(name: &str) -> Result<Self, String> {
        let name = name.trim().to_ascii_uppercase();
        if name.is_empty()
            || name.len() > MAX_NAME_LEN
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!("an agency is 1 to {MAX_NAME_LEN} letters, digits, '-' or '_'"));
        }
        Ok(Identity::Agency(name))
    }

    /// An officer identity: 1 to 64 lower-case letters, digits, `.`, `-` or `_`.
    pub fn officer(id: &str) -> Result<Self, String> {
        if !valid_officer_id(id) {
            return Err(format!("an officer id is 1 to {MAX_NAME_LEN} lower-case letters, digits, '.', '-' or '_'"));
        }
        Ok(Identity::Officer(id.to_owned()))
    }

    /// Reads a SPIFFE ID of the doxwatch trust domain; `None` for anything else.
    pub fn parse_uri(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("spiffe://")?.strip_prefix(TRUST_DOMAIN)?.strip_prefix('/')?;
        let (kind, name) = rest.split_once('/')?;
        match kind {
            "service" => Self::service(name).ok(),
            "agency" if name == name.to_ascii_uppercase() => Self::agency(name).ok(),
            "officer" => Self::officer(name).ok(),
            _ => None,
        }
    }

    /// The identity a DER certificate names: its one doxwatch URI SAN. The chain was verified
    /// against the suite's CA during the handshake; this only reads what the CA vouched for.
    pub fn from_certificate(der: &[u8]) -> Result<Self, String> {
        let (_, cert) =
            x509_parser::parse_x509_certificate(der).map_err(|_| "the client certificate cannot be read".to_owned())?;
        let san = cert
            .subject_alternative_name()
            .map_err(|_| "the client certificate's subject alternative names cannot be read".to_owned())?
            .ok_or_else(|| "the client certificate names no identity (no subject alternative name)".to_owned())?;
        let mut found = san.value.general_names.iter().filter_map(|name| match name {
            x509_parser::extensions::GeneralName::URI(uri) if uri.starts_with("spiffe://") => Some(*uri),
            _ => None,
        });
        let (Some(uri), None) = (found.next(), found.next()) else {
            return Err("the client certificate must carry exactly one spiffe:// URI".to_owned());
        };
        Self::parse_uri(uri).ok_or_else(|| format!("{uri} is not a doxwatch identity"))
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.name())
    }
}

fn valid_officer_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_NAME_LEN
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
}

/// The RFC 8705 thumbprint of a DER certificate: base64url (no padding) of its SHA-256, the value
/// of a bound token's `cnf.x5t#S256`.
pub fn thumbprint(der: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids_round_trip_and_foreign_ones_are_refused() {
        for id in [Identity::Service("links"), Identity::Agency("POLICE".into()), Identity::Officer("chan.tm".into())] {
            assert_eq!(Identity::parse_uri(&id.uri()), Some(id));
        }
        for uri in [
            "spiffe://doxwatch/service/mail",
            "spiffe://other/service/links",
            "spiffe://doxwatch/agency/police",
            "spiffe://doxwatch/officer/Chan",
            "spiffe://doxwatch/root/x",
            "https://doxwatch/service/links",
            "spiffe://doxwatch/officer/",
        ] {
            assert_eq!(Identity::parse_uri(uri), None, "{uri}");
        }
    }
}
