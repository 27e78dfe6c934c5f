//! Officers' tokens: JWTs signed with an asymmetric key (EdDSA or ES256), verified against a key
//! set (JWKS) from a file or an OpenID Connect provider's HTTPS endpoint, and bound to the client
//! certificate they were issued for (RFC 8705 `cnf.x5t#S256`): a token copied off a laptop without
//! the certificate's key is useless. HMAC and `none` are never accepted, whatever the header says.

use std::{
    collections::BTreeSet,
    path::PathBuf,
    sync::Arc,
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
    pub issuer: String,
    pub audience: String,
    /// The clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

/// How often an unknown key id may trigger a reload of the key set, and how long a fetched set
/// is used before it is fetched again.
const RELOAD_AT_MOST_EVERY: Duration = Duration::from_secs(30);
const REFRESH_EVERY: Duration = Duration::from_secs(600);

/// Verifies officers' tokens. Clones share one cached key set.
#[derive(Clone)]
pub struct TokenVerifier {
    settings: Arc<TokenSettings>,
    keys: Arc<RwLock<Cached>>,
    http: reqwest::Client,
}

struct Cached {
    set: JwkSet,
    loaded: Option<Instant>,
}

impl TokenVerifier {
    /// A verifier; the key set is loaded now, so that a missing or unreadable one stops the start.
    pub async fn new(settings: TokenSettings) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .https_only(true)
            .build()
            .map_err(|e| format!("cannot build the key set client: {e}"))?;
        let verifier = Self {
            settings: Arc::new(settings),
            keys: Arc::new(RwLock::new(Cached { set: JwkSet { keys: Vec::new() }, loaded: None })),
            http,
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
        let may_reload = self.keys.read().await.loaded.is_none_or(|t| t.elapsed() > RELOAD_AT_MOST_EVERY);
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
        Ok(Officer {
            id: claims.sub,
            name: claims.name,
            roles: claims.roles.iter().filter_map(|r| r.parse().ok()).collect(),
            team: claims.team,
            expires,
        })
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
