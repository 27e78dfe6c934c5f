//! A client's credentials: the suite's CA, the client's certificate and key, and for an officer
//! the token bound to that certificate. `doxwatch officer add` writes them as a profile
//! directory (`ca.pem`, `client.pem`, `client.key`, `token`); an agency's profile has no token.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use tonic::{
    Request, Status,
    metadata::{Ascii, MetadataValue},
    service::Interceptor,
    transport::Channel,
};

use crate::{
    config::{ExposeSecret, Secret},
    tls::TlsMaterial,
};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "no credentials in {dir}: {cause} (create them with `doxwatch officer add`, or start `doxwatch up`, which makes a local profile)"
    )]
    Missing { dir: PathBuf, cause: String },
    #[error("the credentials in {dir} are not usable: {cause}")]
    Invalid { dir: PathBuf, cause: String },
    #[error("{url:?} is not a doxwatch URL: every service speaks TLS only, use https://")]
    NotHttps { url: String },
    #[error("cannot connect to {url}: {cause}")]
    Connect { url: String, cause: String },
}

/// What a client presents: its TLS material, and an officer's token.
#[derive(Clone, Debug)]
pub struct Credentials {
    pub tls: TlsMaterial,
    pub token: Option<Secret>,
}

impl Credentials {
    /// The profile in `dir`: `ca.pem`, `client.pem`, `client.key`, and `token` if there is one.
    pub fn load(dir: &Path) -> Result<Self, ProfileError> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| ProfileError::Missing { dir: dir.to_owned(), cause: format!("{name}: {e}") })
        };
        let tls = TlsMaterial::from_pem(read("ca.pem")?, read("client.pem")?, read("client.key")?).map_err(|e| {
            ProfileError::Invalid { dir: dir.to_owned(), cause: crate::error::CauseChain(&e).to_string() }
        })?;
        let token = match std::fs::read_to_string(dir.join("token")) {
            Ok(token) => Some(Secret::from(token.trim().to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(ProfileError::Invalid { dir: dir.to_owned(), cause: format!("token: {e}") }),
        };
        Ok(Self { tls, token })
    }

    /// Writes a profile to `dir`: the key and token only their owner may read.
    pub fn save(
        dir: &Path,
        ca_pem: &str,
        cert_pem: &str,
        key_pem: &str,
        token: Option<&str>,
    ) -> Result<(), crate::pki::PkiError> {
        crate::pki::write_public(&dir.join("ca.pem"), ca_pem)?;
        crate::pki::write_public(&dir.join("client.pem"), cert_pem)?;
        crate::pki::write_private(&dir.join("client.key"), key_pem)?;
        if let Some(token) = token {
            crate::pki::write_private(&dir.join("token"), token)?;
        }
        Ok(())
    }

    /// The interceptor that sends the token with every call (nothing for a profile without one).
    pub fn bearer(&self) -> Result<Bearer, ProfileError> {
        match &self.token {
            None => Ok(Bearer { token: None, purpose: None, break_glass: false }),
            Some(token) => MetadataValue::try_from(format!("Bearer {}", token.expose_secret()))
                .map(|v| Bearer { token: Some(v), purpose: None, break_glass: false })
                .map_err(|_| ProfileError::Invalid { dir: PathBuf::new(), cause: "the token is not ASCII".into() }),
        }
    }

    /// A connected TLS channel to `url`, with a generous header limit: an INVALID_ARGUMENT names
    /// every bad field in its headers, up to a thousand for a refused import.
    pub async fn connect(&self, url: &str, timeout: Duration) -> Result<Channel, ProfileError> {
        let channel = crate::peer::endpoint(url, &self.tls)
            .map_err(|e| match e {
                crate::peer::PeerError::NotHttps(url) => ProfileError::NotHttps { url },
                other => {
                    ProfileError::Connect { url: url.to_owned(), cause: crate::error::CauseChain(&other).to_string() }
                }
            })?
            .timeout(timeout)
            .http2_max_header_list_size(1 << 20)
            .connect()
            .await
            .map_err(|e| ProfileError::Connect { url: url.to_owned(), cause: describe_connect(&e) })?;
        Ok(channel)
    }
}

/// A connection failure as an officer can act on it.
fn describe_connect(e: &tonic::transport::Error) -> String {
    let chain = crate::error::CauseChain(e).to_string();
    if chain.contains("UnknownIssuer") || chain.contains("invalid peer certificate") {
        format!("{chain} (the server's certificate is not from this profile's CA)")
    } else if chain.contains("CertificateRequired") || chain.contains("certificate required") {
        format!("{chain} (the server wants a client certificate its CA issued)")
    } else if chain.contains("InvalidContentType") || chain.contains("corrupt message") {
        format!("{chain} (the server did not answer with TLS)")
    } else {
        chain
    }
}

/// Sends an officer's token, and the purpose they stated, with every call.
#[derive(Clone, Debug)]
pub struct Bearer {
    token: Option<MetadataValue<Ascii>>,
    purpose: Option<MetadataValue<Ascii>>,
    break_glass: bool,
}

impl Bearer {
    /// States `purpose` on every call (what the audit log keeps with each read of personal data).
    pub fn with_purpose(mut self, purpose: &str) -> Result<Self, String> {
        let purpose = purpose.trim();
        if purpose.is_empty() {
            return Ok(self);
        }
        if purpose.len() > crate::audit::MAX_PURPOSE_LEN || !purpose.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
            return Err(format!("a purpose is at most {} printable ASCII characters", crate::audit::MAX_PURPOSE_LEN));
        }
        self.purpose = Some(MetadataValue::try_from(purpose).map_err(|_| "not printable ASCII".to_owned())?);
        Ok(self)
    }

    /// Breaks the glass on every call: reads of other teams' cases give their personal data, each
    /// recorded for a supervisor's review.
    pub fn breaking_glass(mut self) -> Self {
        self.break_glass = true;
        self
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.token {
            request.metadata_mut().insert("authorization", value.clone());
        }
        if let Some(value) = &self.purpose {
            request.metadata_mut().insert(crate::audit::PURPOSE_HEADER, value.clone());
        }
        if self.break_glass {
            request.metadata_mut().insert(crate::audit::BREAK_GLASS_HEADER, MetadataValue::from_static("1"));
        }
        Ok(request)
    }
}
