//! The suite's own certificate authority and officer-token issuer, for `doxwatch certs init`,
//! `doxwatch officer add` and the secure default of `doxwatch up`. A deployment with its own PKI
//! (cert-manager, a corporate CA) and its own identity provider needs none of this: it mounts
//! certificates with the same URI SANs and configures the provider's key set.
//!
//! A PKI directory holds:
//!
//! | file | what | mode |
//! |---|---|---|
//! | `ca.pem` | the CA certificate every party trusts | 0644 |
//! | `ca.key` | the CA's private key: keep it offline once certificates are issued | 0600 |
//! | `issuer.key` | the Ed25519 key that signs officer tokens | 0600 |
//! | `jwks.json` | its public key, the key set services verify tokens with | 0644 |
//! | `services/<name>.pem`, `.key` | each service's certificate, for its listener and its calls to peers | 0600 key |
//! | `agencies/<AGENCY>.pem`, `.key` | each agency's client certificate | 0600 key |
//! | `audit/<service>.key`, `.pub` | each service's audit signing key, and its public key for auditors | 0600 key |
//! | `encryption/<service>.key` | each service's key-encryption key (base64): it wraps the keys its store's personal data is sealed with | 0600 |
//! | `servers/<name>.pem`, `.key` | a server-only certificate (`certs server`), e.g. the collector's | 0600 key |
//! | `profiles/<officer>/` | an officer's profile: `ca.pem`, `client.pem`, `client.key`, `token` | 0600 key, token |

use std::{
    io::Write,
    net::IpAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_ED25519, SanType,
};
use time::OffsetDateTime;

use crate::identity::{Identity, SERVICES};

/// How long the CA is valid.
pub const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long a service's or agency's certificate is valid: rotate within the year.
pub const PEER_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long an officer's client certificate is valid.
pub const OFFICER_CERT_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);
/// How long an officer's token is valid unless asked otherwise: one working day.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot generate a key or certificate")]
    Generate(#[from] rcgen::Error),
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} already exists: refusing to overwrite it")]
    Exists(PathBuf),
    #[error("{0}")]
    Invalid(String),
}

/// An issued certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The suite's CA: its certificate and key.
pub struct Authority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    /// A new CA named `name`.
    pub fn generate(name: &str) -> Result<(Self, String), PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + CA_LIFETIME;
        let cert = params.self_signed(&key)?;
        let key_pem = key.serialize_pem();
        let cert_pem = cert.pem();
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
        Ok((Self { cert_pem, issuer }, key_pem))
    }

    /// The CA of a PKI directory.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let cert_pem = read(&dir.join("ca.pem"))?;
        let key = KeyPair::from_pem(&read(&dir.join("ca.key"))?)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
        Ok(Self { cert_pem, issuer })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A certificate for `identity`: a client certificate, and for a service also the server
    /// certificate of its listener, valid for `hosts` (DNS names or IP addresses).
    pub fn issue(&self, identity: &Identity, hosts: &[String], lifetime: Duration) -> Result<Issued, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(&identity.to_string());
        let uri = identity.uri().try_into().map_err(|_| PkiError::Invalid(format!("{identity} is not ASCII")))?;
        params.subject_alt_names.push(SanType::URI(uri));
        let mut usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if matches!(identity, Identity::Service(_)) {
            usages.push(ExtendedKeyUsagePurpose::ServerAuth);
            for host in hosts {
                params.subject_alt_names.push(host_san(host)?);
            }
        }
        params.extended_key_usages = usages;
        self.sign(params, &key, lifetime)
    }

    /// Signs `params` for `key`, valid from five minutes ago (clock skew) for `lifetime`.
    fn sign(&self, mut params: CertificateParams, key: &KeyPair, lifetime: Duration) -> Result<Issued, PkiError> {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + lifetime;
        let cert = params.signed_by(key, &self.issuer)?;
        Ok(Issued { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A server-only certificate for a party that is not a doxwatch identity (the OpenTelemetry
    /// collector): valid for `hosts`, server authentication only, no URI SAN, so that it can
    /// never call a doxwatch service.
    pub fn issue_server(&self, name: &str, hosts: &[String], lifetime: Duration) -> Result<Issued, PkiError> {
        if hosts.is_empty() {
            return Err(PkiError::Invalid(format!("the certificate of {name} must name at least one host")));
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(name);
        for host in hosts {
            params.subject_alt_names.push(host_san(host)?);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params, &key, lifetime)
    }
}

/// A host name or address as a subject alternative name.
fn host_san(host: &str) -> Result<SanType, PkiError> {
    Ok(match host.parse::<IpAddr>() {
        Ok(ip) => SanType::IpAddress(ip),
        Err(_) => {
            SanType::DnsName(host.try_into().map_err(|_| PkiError::Invalid(format!("{host:?} is not a host name")))?)
        }
    })
}

/// Writes `servers/<name>.pem` and `.key` in the PKI `dir`: a server-only certificate from its CA
/// for `hosts` (by default `name` and loopback). Refuses to overwrite one.
pub fn write_server(dir: &Path, name: &str, hosts: &[String]) -> Result<PathBuf, PkiError> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if !valid {
        return Err(PkiError::Invalid(format!("{name:?} is not a server name: lower-case letters, digits and '-'")));
    }
    let cert = dir.join("servers").join(format!("{name}.pem"));
    if cert.exists() {
        return Err(PkiError::Exists(cert));
    }
    let hosts = if hosts.is_empty() { default_hosts(name) } else { hosts.to_vec() };
    let issued = Authority::load(dir)?.issue_server(name, &hosts, PEER_LIFETIME)?;
    write_pair(&dir.join("servers"), name, &issued)?;
    Ok(cert)
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "doxwatch");
    dn.push(DnType::CommonName, common_name);
    dn
}

/// The key that signs officer tokens: Ed25519, PKCS#8 PEM, with the id its tokens name.
pub struct TokenKey {
    pub key_pem: String,
    pub jwks_json: String,
}

impl TokenKey {
    pub fn generate() -> Result<Self, PkiError> {
        let key = KeyPair::generate_for(&PKCS_ED25519)?;
        let jwks_json = crate::token::jwks_for_ed25519(key.public_key_raw());
        Ok(Self { key_pem: key.serialize_pem(), jwks_json })
    }
}

/// The host names every service certificate is valid for besides its own name: the loopback
/// addresses, so that the suite on one machine verifies like any other.
pub fn default_hosts(service: &str) -> Vec<String> {
    vec![service.to_owned(), "localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()]
}

/// Creates a PKI directory: the CA, the token issuer, a certificate for every service (valid for
/// its name, `extra_hosts` and loopback) and for every agency in `agencies`. Refuses to overwrite
/// an existing CA.
pub fn init(dir: &Path, extra_hosts: &[String], agencies: &[String]) -> Result<Authority, PkiError> {
    if dir.join("ca.pem").exists() {
        return Err(PkiError::Exists(dir.join("ca.pem")));
    }
    let (ca, ca_key) = Authority::generate("doxwatch CA")?;
    write_public(&dir.join("ca.pem"), ca.cert_pem())?;
    write_private(&dir.join("ca.key"), &ca_key)?;
    let token_key = TokenKey::generate()?;
    write_private(&dir.join("issuer.key"), &token_key.key_pem)?;
    write_public(&dir.join("jwks.json"), &token_key.jwks_json)?;
    for service in SERVICES {
        let mut hosts = default_hosts(service);
        hosts.extend(extra_hosts.iter().cloned());
        let issued = ca.issue(&Identity::Service(service), &hosts, PEER_LIFETIME)?;
        write_pair(&dir.join("services"), service, &issued)?;
    }
    write_service_keys(dir)?;
    for agency in agencies {
        let identity = Identity::agency(agency).map_err(PkiError::Invalid)?;
        let issued = ca.issue(&identity, &[], PEER_LIFETIME)?;
        write_pair(&dir.join("agencies"), identity.name(), &issued)?;
    }
    Ok(ca)
}

/// Writes the keys of each service that lacks them: its audit signing key, `audit/<service>.key`
/// (0600), with the public key auditors verify its checkpoints with, `audit/<service>.pub`; and its
/// encryption key, `encryption/<service>.key` (0600, base64), which wraps the keys its store's
/// personal data is sealed with. A key already there is kept (checkpoints were signed, data keys
/// wrapped with it); returns the files written.
pub fn write_service_keys(dir: &Path) -> Result<Vec<PathBuf>, PkiError> {
    let mut written = Vec::new();
    for service in SERVICES {
        let audit = dir.join("audit").join(format!("{service}.key"));
        if !audit.exists() {
            let (key, public) = crate::audit::Signer::generate().map_err(PkiError::Invalid)?;
            write_private(&audit, &key)?;
            write_public(&dir.join("audit").join(format!("{service}.pub")), &public)?;
            written.push(audit);
        }
        let encryption = dir.join("encryption").join(format!("{service}.key"));
        if !encryption.exists() {
            let key = crate::sealing::Kek::generate().map_err(|e| PkiError::Invalid(e.to_string()))?;
            write_private(&encryption, &key)?;
            written.push(encryption);
        }
    }
    Ok(written)
}

/// Writes `name.pem` (0644) and `name.key` (0600) in `dir`.
pub fn write_pair(dir: &Path, name: &str, issued: &Issued) -> Result<(), PkiError> {
    write_public(&dir.join(format!("{name}.pem")), &issued.cert_pem)?;
    write_private(&dir.join(format!("{name}.key")), &issued.key_pem)
}

/// Writes a file anyone may read, creating its directory.
pub fn write_public(path: &Path, text: &str) -> Result<(), PkiError> {
    write_with_mode(path, text, 0o644)
}

/// Writes a file only its owner may read (0600), creating its directory; the file is created with
/// that mode, never widened after the fact, and replaced atomically.
pub fn write_private(path: &Path, text: &str) -> Result<(), PkiError> {
    write_with_mode(path, text, 0o600)
}

fn write_with_mode(path: &Path, text: &str, mode: u32) -> Result<(), PkiError> {
    let err = |source| PkiError::Write { path: path.to_owned(), source };
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let mut file =
        tempfile::Builder::new().prefix(".doxwatch-").permissions(permissions(mode)).tempfile_in(dir).map_err(err)?;
    file.write_all(text.as_bytes()).map_err(err)?;
    file.as_file().sync_all().map_err(err)?;
    file.persist(path).map_err(|e| err(e.error))?;
    Ok(())
}

#[cfg(unix)]
fn permissions(mode: u32) -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(mode)
}

#[cfg(not(unix))]
fn permissions(_mode: u32) -> std::fs::Permissions {
    std::fs::metadata(".").map(|m| m.permissions()).unwrap_or_else(|_| unreachable!("the working directory exists"))
}

fn read(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|source| PkiError::Read { path: path.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_writes_every_certificate_with_private_keys_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), &["doxwatch.internal".into()], &["police".into()]).unwrap();
        let cert = std::fs::read_to_string(dir.path().join("services/links.pem")).unwrap();
        let der = crate::tls::TlsMaterial::certificate_der(&cert).unwrap();
        assert_eq!(Identity::from_certificate(&der).unwrap(), Identity::Service("links"));
        let agency = std::fs::read_to_string(dir.path().join("agencies/POLICE.pem")).unwrap();
        let der = crate::tls::TlsMaterial::certificate_der(&agency).unwrap();
        assert_eq!(Identity::from_certificate(&der).unwrap(), Identity::Agency("POLICE".into()));
        #[cfg(unix)]
        for key in ["ca.key", "issuer.key", "services/intake.key", "agencies/POLICE.key"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(key)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{key}");
        }
        assert!(matches!(init(dir.path(), &[], &[]), Err(PkiError::Exists(_))));
        // The CA reloads and issues more.
        let ca = Authority::load(dir.path()).unwrap();
        ca.issue(&Identity::Officer("chan".into()), &[], OFFICER_CERT_LIFETIME).unwrap();
    }
}
