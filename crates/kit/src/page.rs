//! Pagination (AIP-158): page sizes with a default and a cap, and opaque page tokens that carry
//! the position and a fingerprint of the filters, so a token is refused with other filters.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};

/// A page size: 0 means `default`, above `max` is `max`, negative is an error.
pub fn page_size(requested: i32, default: u32, max: u32) -> Result<u32, String> {
    match requested {
        n if n < 0 => Err("must not be negative".to_owned()),
        0 => Ok(default),
        n => Ok((n as u32).min(max)),
    }
}

/// A fingerprint of the filters a listing was made with.
pub fn filter_fingerprint(filters: &impl Serialize) -> String {
    let json = serde_json::to_vec(filters).unwrap_or_default();
    let digest = Sha256::digest(json);
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

#[derive(Serialize, serde::Deserialize)]
struct Token<P> {
    f: String,
    p: P,
}

/// Encodes a position with the filters' fingerprint.
pub fn encode_token<P: Serialize>(fingerprint: &str, position: &P) -> String {
    let token = Token { f: fingerprint.to_owned(), p: position };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

/// Decodes a token made by [`encode_token`] with the same filters; `None` for an empty token.
pub fn decode_token<P: DeserializeOwned>(token: &str, fingerprint: &str) -> Result<Option<P>, String> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| "is not a page token from this listing".to_owned())?;
    let token: Token<P> =
        serde_json::from_slice(&bytes).map_err(|_| "is not a page token from this listing".to_owned())?;
    if token.f != fingerprint {
        return Err("was made with other filters".to_owned());
    }
    Ok(Some(token.p))
}
