//! TLS for every listener and every call: TLS 1.3 only, a client certificate required of every
//! caller and verified against the suite's CA, and the caller's identity read once per connection
//! from its certificate. There is no plaintext mode.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use rustls::{
    RootCertStore, ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tonic::transport::server::Connected;

use crate::{
    config::{ExposeSecret, Secret},
    identity::Identity,
};

/// How long a client has to complete its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the TLS configuration is not usable")]
    Rustls(#[from] rustls::Error),
}

/// The CA every party trusts, and this party's own certificate and key: what a service needs to
/// listen and to call its peers, and what a client needs to call a service.
#[derive(Clone)]
pub struct TlsMaterial {
    ca_pem: Arc<String>,
    cert_pem: Arc<String>,
    key_pem: Secret,
}

impl std::fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial").field("identity", &self.identity().ok()).finish_non_exhaustive()
    }
}

impl TlsMaterial {
    /// Material from PEM text; the certificate must name a doxwatch identity.
    pub fn from_pem(ca_pem: String, cert_pem: String, key_pem: String) -> Result<Self, TlsError> {
        let material = Self { ca_pem: Arc::new(ca_pem), cert_pem: Arc::new(cert_pem), key_pem: Secret::from(key_pem) };
        material.roots()?;
        material.key()?;
        material.identity().map_err(TlsError::Invalid)?;
        Ok(material)
    }

    /// Material from three PEM files. A key that others may read is used, with a warning.
    pub fn load(ca: &Path, cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).map_err(|source| TlsError::Read { path: path.to_owned(), source })
        };
        warn_if_readable_by_others(key);
        Self::from_pem(read(ca)?, read(cert)?, read(key)?)
    }

    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// This party's certificate, DER.
    pub fn certificate(&self) -> Result<CertificateDer<'static>, TlsError> {
        CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .map_err(|e| TlsError::Invalid(format!("the certificate is not PEM: {e}")))
    }

    /// The first certificate of PEM text, DER.
    pub fn certificate_der(pem: &str) -> Result<Vec<u8>, TlsError> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .map(|c| c.to_vec())
            .map_err(|e| TlsError::Invalid(format!("the certificate is not PEM: {e}")))
    }

    fn chain(&self) -> Result<Vec<CertificateDer<'static>>, TlsError> {
        CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Invalid(format!("the certificate is not PEM: {e}")))
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>, TlsError> {
        PrivateKeyDer::from_pem_slice(self.key_pem.expose_secret().as_bytes())
            .map_err(|e| TlsError::Invalid(format!("the private key is not PEM: {e}")))
    }

    fn roots(&self) -> Result<RootCertStore, TlsError> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            let cert = cert.map_err(|e| TlsError::Invalid(format!("the CA certificate is not PEM: {e}")))?;
            roots.add(cert)?;
        }
        if roots.is_empty() {
            return Err(TlsError::Invalid("the CA file holds no certificate".into()));
        }
        Ok(roots)
    }

    /// The identity this party's certificate names.
    pub fn identity(&self) -> Result<Identity, String> {
        let der = self.certificate().map_err(|e| e.to_string())?;
        Identity::from_certificate(&der)
    }

    /// The RFC 8705 thumbprint of this party's certificate.
    pub fn thumbprint(&self) -> Result<String, TlsError> {
        Ok(crate::identity::thumbprint(&self.certificate()?))
    }

    /// The configuration of a listener: TLS 1.3, HTTP/2, a client certificate of the CA required.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()?), provider.clone())
            .build()
            .map_err(|e| TlsError::Invalid(format!("cannot verify client certificates: {e}")))?;
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain()?, self.key()?)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Arc::new(config))
    }

    /// The configuration of a client: the CA verifies the server, this certificate identifies the
    /// client.
    pub fn client_config(&self) -> tonic::transport::ClientTlsConfig {
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(self.ca_pem.as_bytes()))
            .identity(self.tonic_identity())
    }

    /// This party's certificate and key, as a TLS client or server presents them.
    pub fn tonic_identity(&self) -> tonic::transport::Identity {
        tonic::transport::Identity::from_pem(self.cert_pem.as_bytes(), self.key_pem.expose_secret().as_bytes())
    }
}

#[cfg(unix)]
pub(crate) fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the private key may be read by other users: make it 0600 or 0400");
    }
}

#[cfg(not(unix))]
pub(crate) fn warn_if_readable_by_others(_path: &Path) {}

/// What the server stack knows of a connection's peer, read once at the handshake.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub remote: Option<SocketAddr>,
    /// The identity in the peer's certificate, or why it names none.
    pub identity: Result<Identity, String>,
    /// The thumbprint of the peer's certificate, to which an officer's token must be bound.
    pub thumbprint: String,
}

/// An accepted, handshaken connection.
pub struct TlsConnection {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    info: PeerInfo,
}

impl Connected for TlsConnection {
    type ConnectInfo = PeerInfo;
    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Accepts connections on `listener` and completes their handshakes concurrently (each within
/// [`HANDSHAKE_TIMEOUT`]), yielding those that succeed. Accepted sockets have TCP_NODELAY set, so
/// small responses are not held back for a delayed ACK. The task ends when the receiver is
/// dropped.
pub fn accept(
    listener: TcpListener,
    config: Arc<ServerConfig>,
) -> (mpsc::Receiver<Result<TlsConnection, std::io::Error>>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        loop {
            let (tcp, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = tx.closed() => return,
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(stream)) => {
                        let cert = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).cloned();
                        let info = PeerInfo {
                            remote: Some(remote),
                            identity: cert
                                .as_ref()
                                .ok_or_else(|| "no client certificate".to_owned())
                                .and_then(|c| Identity::from_certificate(c)),
                            thumbprint: cert.as_ref().map(|c| crate::identity::thumbprint(c)).unwrap_or_default(),
                        };
                        let _ = tx.send(Ok(TlsConnection { stream, info })).await;
                    }
                    Ok(Err(e)) => tracing::debug!(%remote, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                }
            });
        }
    });
    (rx, task)
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use crate::{identity::Identity, testing::pki};

    /// The socket of an accepted connection, read back from the connection the server is handed:
    /// TCP_NODELAY is set (Linux leaves it off on accepted sockets), so answers are not held back.
    #[tokio::test]
    async fn accepted_connections_have_nodelay_set() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().expect("an address");
        let config = pki().material(&Identity::Service("links")).server_config().expect("a server configuration");
        let (mut connections, accepting) = super::accept(listener, config);
        let client = crate::peer::endpoint(&format!("https://{addr}"), &pki().material(&Identity::Service("intake")))
            .expect("an endpoint");
        assert!(client.get_tcp_nodelay(), "the suite's channels set it too");
        let connecting = tokio::spawn(async move { client.connect().await });
        let accepted = connections.recv().await.expect("a connection").expect("its handshake");
        assert!(accepted.stream.get_ref().0.nodelay().expect("the socket's option"));
        accepting.abort();
        connecting.abort();
    }
}
