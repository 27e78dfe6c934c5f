//! Officers' tokens: JWTs signed with an asymmetric key (EdDSA or ES256), verified against a key
//! set (JWKS) from a file or an OpenID Connect provider's HTTPS endpoint, and bound to the client
//! certificate they were issued for (RFC 8705 `cnf.x5t#S256`): a token copied off a laptop without
//! the certificate's key is useless. HMAC and `none` are never accepted, whatever the header says.

use std::{
    collections::{BTreeSet, HashMap},
    path::PathBuf,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::Engine;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation,
    errors::ErrorKind,
    jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet},
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::RwLock;

use crate::policy::Role;

/// The longest token accepted, in bytes.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a doxwatch officer token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    /// The officer's id.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    /// The officer's display name.
    pub name: String,
    /// Role names; names this suite does not know (a provider's other roles) are ignored.
    pub roles: Vec<String>,
    /// The team the officer works in.
    pub team: String,
    /// The client certificate the token is bound to.
    pub cnf: Confirmation,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Confirmation {
    #[serde(rename = "x5t#S256")]
    pub x5t_s256: String,
}

/// The officer a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Officer {
    pub id: String,
    pub name: String,
    pub roles: BTreeSet<Role>,
    pub team: String,
    /// When the token expires.
    pub expires: OffsetDateTime,
}

/// Why a token was refused; each maps to one error reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is invalid: {0}")]
    Invalid(String),
    #[error("the token has expired or is not valid yet")]
    Expired,
    #[error("the token is bound to another client certificate")]
    Unbound,
}

/// Issues tokens: the local issuer of `doxwatch officer add`.
pub struct TokenIssuer {
    key: EncodingKey,
    kid: String,
    issuer: String,
    audience: String,
}

impl TokenIssuer {
    /// An issuer signing with the Ed25519 PKCS#8 PEM `key_pem`, whose key set is `jwks_json`.
    pub fn new(key_pem: &str, jwks_json: &str, issuer: &str, audience: &str) -> Result<Self, TokenError> {
        let key = EncodingKey::from_ed_pem(key_pem.as_bytes()).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let set: JwkSet = serde_json::from_str(jwks_json).map_err(|e| TokenError::Invalid(e.to_string()))?;
        let kid = set
            .keys
            .first()
            .and_then(|k| k.common.key_id.clone())
            .ok_or_else(|| TokenError::Invalid("the key set names no key id".into()))?;
        Ok(Self { key, kid, issuer: issuer.to_owned(), audience: audience.to_owned() })
    }

    /// A token for `officer`, bound to the client certificate whose thumbprint is `x5t_s256`,
    /// valid from now for `lifetime`.
    pub fn issue(
        &self,
        id: &str,
        name: &str,
        roles: &[Role],
        team: &str,
        x5t_s256: &str,
        lifetime: Duration,
    ) -> Result<String, TokenError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let lifetime = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: id.to_owned(),
            aud: self.audience.clone(),
            exp: now.saturating_add(lifetime),
            nbf: now,
            iat: now,
            name: name.to_owned(),
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            team: team.to_owned(),
            cnf: Confirmation { x5t_s256: x5t_s256.to_owned() },
        };
        self.sign(&claims)
    }

    /// Signs any claims with the issuer's key (tests use it for tokens a verifier must refuse).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// The claims [`issue`](Self::issue) would sign, for tests to alter.
    pub fn claims(&self, id: &str, roles: &[Role], x5t_s256: &str, lifetime: Duration) -> Claims {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        Claims {
            iss: self.issuer.clone(),
            sub: id.to_owned(),
            aud: self.audience.clone(),
            exp: now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2)),
            nbf: now,
            iat: now,
            name: id.to_owned(),
            roles: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            team: "team-a".to_owned(),
            cnf: Confirmation { x5t_s256: x5t_s256.to_owned() },
        }
    }
}

/// The key set of an Ed25519 public key, with a key id derived from the key (RFC 7638).
pub fn jwks_for_ed25519(public_raw: &[u8]) -> String {
    let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public_raw);
    // RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = crate::identity::thumbprint(canonical.as_bytes());
    serde_json::json!({
        "keys": [{ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig" }]
    })
    .to_string()
}

/// Where the verifier's key set comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JWKS file, read at start and again when a token names a key it does not hold.
    File(PathBuf),
    /// An HTTPS URL (an OpenID Connect provider's `jwks_uri`), cached and refreshed.
    Url(String),
}

/// What a verifier checks besides the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub keys: KeySource,
    /// The CA (PEM) an `https://` key set's server is verified with instead of the public web's
    /// roots: for an identity provider with a private certificate.
    pub jwks_ca_file: Option<PathBuf>,
    pub issuer: String,
    pub audience: String,
    /// The clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

/// How often an unknown key id may trigger a reload of the key set, and how long a fetched set
/// is used before it is fetched again.
const RELOAD_AT_MOST_EVERY: Duration = Duration::from_secs(30);
const REFRESH_EVERY: Duration = Duration::from_secs(600);

/// Verifies officers' tokens. Clones share one cached key set and one memory of tokens verified.
#[derive(Clone)]
pub struct TokenVerifier {
    settings: Arc<TokenSettings>,
    keys: Arc<RwLock<Cached>>,
    verified: Arc<Mutex<HashMap<[u8; 32], Verified>>>,
    http: reqwest::Client,
    /// How often an unknown key id may reload the set ([`RELOAD_AT_MOST_EVERY`]).
    reload_at_most_every: Duration,
}

struct Cached {
    set: JwkSet,
    loaded: Option<Instant>,
}

/// A token whose signature verified: the officer it names, the key that signed it, and its times.
/// Every later call with the same token and certificate is answered from here while the key set
/// still holds that same key and the times still hold, without verifying the signature again
/// (an Ed25519 verification is most of what a small call costs otherwise).
#[derive(Clone)]
struct Verified {
    officer: Officer,
    key: Jwk,
    nbf: i64,
    exp: i64,
}

/// The most verified tokens remembered. Past it, the expired ones are forgotten, and if that is not
/// enough, all of them (each is verified again on its next use).
const MAX_VERIFIED: usize = 10_000;

/// What a verified token is remembered under: SHA-256 of the token and the certificate it came
/// with, so that the memory holds no bearer token and a token is remembered per certificate.
fn verified_key(token: &str, x5t_s256: &str) -> [u8; 32] {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    digest.update(token.as_bytes());
    digest.update(&[0]);
    digest.update(x5t_s256.as_bytes());
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.finish().as_ref());
    key
}

impl TokenVerifier {
    /// A verifier; the key set is loaded now, so that a missing or unreadable one stops the start.
    pub async fn new(settings: TokenSettings) -> Result<Self, String> {
        let mut http = reqwest::Client::builder().timeout(Duration::from_secs(10)).https_only(true);
        if let Some(path) = &settings.jwks_ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read the key set server's CA {}: {e}", path.display()))?;
            let roots = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("the key set server's CA {} is not PEM: {e}", path.display()))?;
            if roots.is_empty() {
                return Err(format!("the key set server's CA {} holds no certificate", path.display()));
            }
            // Only that CA: the provider's certificate must chain to it.
            http = http.tls_built_in_root_certs(false);
            for root in roots {
                http = http.add_root_certificate(root);
            }
        }
        let http = http.build().map_err(|e| format!("cannot build the key set client: {e}"))?;
        let verifier = Self {
            settings: Arc::new(settings),
            keys: Arc::new(RwLock::new(Cached { set: JwkSet { keys: Vec::new() }, loaded: None })),
            verified: Arc::default(),
            http,
            reload_at_most_every: RELOAD_AT_MOST_EVERY,
        };
        let set = verifier.fetch().await?;
        *verifier.keys.write().await = Cached { set, loaded: Some(Instant::now()) };
        Ok(verifier)
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let text = match &self.settings.keys {
            KeySource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the token key set {}: {e}", path.display()))?,
            KeySource::Url(url) => self
                .http
                .get(url)
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(|e| format!("cannot fetch the token key set from {url}: {e}"))?
                .text()
                .await
                .map_err(|e| format!("cannot read the token key set from {url}: {e}"))?,
        };
        serde_json::from_str(&text).map_err(|e| format!("the token key set is not a JWKS: {e}"))
    }

    /// The key named `kid`, reloading the set if it is stale or lacks it (at most every 30 s).
    async fn key(&self, kid: Option<&str>) -> Option<Jwk> {
        let find = |set: &JwkSet| match kid {
            Some(kid) => set.find(kid).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        let (found, stale) = {
            let cached = self.keys.read().await;
            let age = cached.loaded.map(|t| t.elapsed());
            (find(&cached.set), age.is_none_or(|a| a > REFRESH_EVERY))
        };
        let may_reload = self.keys.read().await.loaded.is_none_or(|t| t.elapsed() >= self.reload_at_most_every);
        if (found.is_none() || stale) && may_reload {
            match self.fetch().await {
                Ok(set) => {
                    let key = find(&set);
                    *self.keys.write().await = Cached { set, loaded: Some(Instant::now()) };
                    return key;
                }
                Err(e) => tracing::warn!(error = %e, "cannot refresh the token key set; using the cached one"),
            }
        }
        found
    }

    /// The officer a token names, if its signature, issuer, audience, times and binding to the
    /// certificate with thumbprint `x5t_s256` all hold.
    pub async fn verify(&self, token: &str, x5t_s256: &str) -> Result<Officer, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid(format!("longer than {MAX_TOKEN_LEN} bytes")));
        }
        let remembered = verified_key(token, x5t_s256);
        let known = self.verified.lock().ok().and_then(|v| v.get(&remembered).cloned());
        if let Some(known) = known {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX);
            if now.saturating_add(leeway) < known.nbf || now.saturating_sub(leeway) > known.exp {
                self.forget(&remembered);
                return Err(TokenError::Expired);
            }
            // The same key must still be in the set: a key taken out of it ends its tokens.
            if self.key(known.key.common.key_id.as_deref()).await.as_ref() == Some(&known.key) {
                return Ok(known.officer);
            }
            self.forget(&remembered);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Invalid(describe(e.kind())))?;
        let jwk = self
            .key(header.kid.as_deref())
            .await
            .ok_or_else(|| TokenError::Invalid("signed with a key the key set does not hold".into()))?;
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => Algorithm::EdDSA,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
            _ => return Err(TokenError::Invalid("its key is neither Ed25519 nor P-256".into())),
        };
        if header.alg != algorithm {
            return Err(TokenError::Invalid(format!("signed with {:?}, but its key is for {algorithm:?}", header.alg)));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|e| TokenError::Invalid(describe(e.kind())))?;
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.settings.leeway.as_secs();
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => TokenError::Expired,
            other => TokenError::Invalid(describe(other)),
        })?;
        let claims = data.claims;
        if claims.cnf.x5t_s256 != x5t_s256 {
            return Err(TokenError::Unbound);
        }
        crate::identity::Identity::officer(&claims.sub).map_err(TokenError::Invalid)?;
        let expires = OffsetDateTime::from_unix_timestamp(claims.exp)
            .map_err(|_| TokenError::Invalid("its expiry is out of range".into()))?;
        let officer = Officer {
            id: claims.sub,
            name: claims.name,
            roles: claims.roles.iter().filter_map(|r| r.parse().ok()).collect(),
            team: claims.team,
            expires,
        };
        self.remember(remembered, Verified { officer: officer.clone(), key: jwk, nbf: claims.nbf, exp: claims.exp });
        Ok(officer)
    }

    fn remember(&self, key: [u8; 32], verified: Verified) {
        let Ok(mut known) = self.verified.lock() else { return };
        if known.len() >= MAX_VERIFIED {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            known.retain(|_, v| v.exp >= now);
            if known.len() >= MAX_VERIFIED {
                known.clear();
            }
        }
        known.insert(key, verified);
    }

    fn forget(&self, key: &[u8; 32]) {
        if let Ok(mut known) = self.verified.lock() {
            known.remove(key);
        }
    }
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidToken => "not a JWT".into(),
        ErrorKind::InvalidSignature => "its signature does not verify".into(),
        ErrorKind::InvalidIssuer => "issued by another issuer".into(),
        ErrorKind::InvalidAudience => "issued for another audience".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("the {claim} claim is missing"),
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => "its algorithm is not accepted".into(),
        ErrorKind::Json(_) => "its claims are not doxwatch claims".into(),
        ErrorKind::Base64(_) | ErrorKind::Utf8(_) => "not a JWT".into(),
        _ => "it cannot be verified".into(),
    }
}

#[cfg(test)]
mod tests {
    //! A key set at an identity provider's HTTPS URL: fetched at start over TLS verified against
    //! the configured CA, and fetched again when a token names a key it has not seen (the provider
    //! rotated its keys).
    use std::sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    };

    use rustls::pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::pki::{Authority, TokenKey};

    /// An HTTPS server answering every GET with the key set it currently holds.
    struct KeySetServer {
        url: String,
        jwks: Arc<Mutex<String>>,
        fetches: Arc<AtomicUsize>,
    }

    async fn serve_key_set(ca: &Authority, jwks: &str) -> KeySetServer {
        let server = ca.issue_server("idp", &["127.0.0.1".to_owned()], Duration::from_secs(3600)).unwrap();
        let chain = rustls::pki_types::CertificateDer::pem_slice_iter(server.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(server.key_pem.as_bytes()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://127.0.0.1:{}/keys", listener.local_addr().unwrap().port());
        let (held, fetches) = (Arc::new(Mutex::new(jwks.to_owned())), Arc::new(AtomicUsize::new(0)));
        let (jwks, count) = (held.clone(), fetches.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, jwks, count) = (acceptor.clone(), jwks.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    count.fetch_add(1, Ordering::SeqCst);
                    let body = jwks.lock().unwrap().clone();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        KeySetServer { url, jwks: held, fetches }
    }

    fn settings(url: &str, ca_file: Option<PathBuf>) -> TokenSettings {
        TokenSettings {
            keys: KeySource::Url(url.to_owned()),
            jwks_ca_file: ca_file,
            issuer: "https://idp.example".into(),
            audience: "doxwatch".into(),
            leeway: Duration::from_secs(30),
        }
    }

    fn issuer(key: &TokenKey) -> TokenIssuer {
        TokenIssuer::new(&key.key_pem, &key.jwks_json, "https://idp.example", "doxwatch").unwrap()
    }

    #[tokio::test]
    async fn a_key_set_url_is_fetched_over_verified_tls_and_again_when_the_provider_rotates() {
        crate::install_crypto_provider();
        let (ca, _) = Authority::generate("provider CA").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("provider-ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();
        let (first, second) = (TokenKey::generate().unwrap(), TokenKey::generate().unwrap());
        let server = serve_key_set(&ca, &first.jwks_json).await;

        let mut verifier =
            TokenVerifier::new(settings(&server.url, Some(ca_file))).await.expect("the key set is fetched");
        assert_eq!(server.fetches.load(Ordering::SeqCst), 1, "fetched once at start");
        let thumbprint = "x5t";
        let token = issuer(&first)
            .issue("chan.tm", "Chan", &[Role::IntakeOfficer], "team-a", thumbprint, Duration::from_secs(600))
            .unwrap();
        let officer = verifier.verify(&token, thumbprint).await.expect("a token signed with the provider's key");
        assert_eq!(officer.id, "chan.tm");
        assert_eq!(server.fetches.load(Ordering::SeqCst), 1, "a known key is not fetched again");

        // The provider rotates: its set now holds only the second key.
        *server.jwks.lock().unwrap() = second.jwks_json.clone();
        let rotated = issuer(&second)
            .issue("chan.tm", "Chan", &[Role::IntakeOfficer], "team-a", thumbprint, Duration::from_secs(600))
            .unwrap();
        // Within the reload interval an unknown key id does not make the verifier fetch again...
        assert!(verifier.verify(&rotated, thumbprint).await.is_err());
        assert_eq!(server.fetches.load(Ordering::SeqCst), 1, "no fetch per unknown token");
        // ...after it, it does, and the new key verifies.
        verifier.reload_at_most_every = Duration::ZERO;
        verifier.verify(&rotated, thumbprint).await.expect("the rotated key is fetched");
        assert_eq!(server.fetches.load(Ordering::SeqCst), 2);
        assert!(verifier.verify(&token, thumbprint).await.is_err(), "the retired key no longer verifies");
    }

    /// A token verified once is answered from memory, but only for its own certificate and only
    /// while its times hold.
    #[tokio::test]
    async fn a_remembered_token_holds_only_for_its_certificate_and_its_lifetime() {
        crate::install_crypto_provider();
        let key = TokenKey::generate().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let jwks = dir.path().join("jwks.json");
        std::fs::write(&jwks, &key.jwks_json).unwrap();
        let verifier = TokenVerifier::new(TokenSettings {
            keys: KeySource::File(jwks),
            leeway: Duration::ZERO,
            ..settings("unused", None)
        })
        .await
        .expect("the key set is read");
        let token = issuer(&key)
            .issue("chan.tm", "Chan", &[Role::IntakeOfficer], "team-a", "x5t", Duration::from_secs(2))
            .unwrap();
        for _ in 0..3 {
            assert_eq!(verifier.verify(&token, "x5t").await.expect("verified").id, "chan.tm");
        }
        assert_eq!(verifier.verified.lock().unwrap().len(), 1, "remembered once");
        assert_eq!(verifier.verify(&token, "another").await, Err(TokenError::Unbound));
        tokio::time::sleep(Duration::from_millis(3100)).await;
        assert_eq!(verifier.verify(&token, "x5t").await, Err(TokenError::Expired), "remembered, but expired");
        assert_eq!(verifier.verify(&token, "x5t").await, Err(TokenError::Expired), "and forgotten");
    }

    #[tokio::test]
    async fn a_key_set_server_that_the_ca_does_not_vouch_for_is_refused() {
        crate::install_crypto_provider();
        let (provider_ca, _) = Authority::generate("provider CA").unwrap();
        let (other_ca, _) = Authority::generate("another CA").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other-ca.pem");
        std::fs::write(&other, other_ca.cert_pem()).unwrap();
        let key = TokenKey::generate().unwrap();
        let server = serve_key_set(&provider_ca, &key.jwks_json).await;
        // Verified against another CA, and against the public web's roots: both refuse it.
        for ca_file in [Some(other), None] {
            let refused = TokenVerifier::new(settings(&server.url, ca_file)).await.err().expect("refused");
            assert!(refused.contains("cannot fetch the token key set"), "{refused}");
        }
        assert_eq!(server.fetches.load(Ordering::SeqCst), 0, "no request got past the handshake");
        // And never over plaintext.
        let plain = server.url.replace("https://", "http://");
        let refused = TokenVerifier::new(settings(&plain, None)).await.err().expect("refused");
        assert!(refused.contains("cannot fetch the token key set"), "{refused}");
    }
}
