//! Pagination (AIP-158): page sizes with a default and a cap, and opaque, versioned page tokens
//! that carry the position and a fingerprint of the filters, so a token is refused with other
//! filters. A token is client input: a forged one is refused with INVALID_ARGUMENT, and no number
//! in it reaches arithmetic or SQL unchecked.

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

/// A time filter as a fingerprint holds it (seconds and nanoseconds), unset as `None`.
pub fn instant(ts: Option<&prost_types::Timestamp>) -> Option<(i64, i32)> {
    ts.map(|t| (t.seconds, t.nanos))
}

/// A fingerprint of the filters a listing was made with: a typed struct of the request's filter
/// fields (never its page size or token), so that a token made with other filters is refused.
pub fn filter_fingerprint(filters: &impl Serialize) -> String {
    let json = serde_json::to_vec(filters).unwrap_or_default();
    let digest = Sha256::digest(json);
    URL_SAFE_NO_PAD.encode(&digest[..12])
}

/// The version of the tokens this code makes; tokens of other versions are refused.
const TOKEN_VERSION: u32 = 1;

#[derive(Serialize, serde::Deserialize)]
struct Token<P> {
    v: u32,
    f: String,
    p: P,
}

/// Encodes a position with the filters' fingerprint.
pub fn encode_token<P: Serialize>(fingerprint: &str, position: &P) -> String {
    let token = Token { v: TOKEN_VERSION, f: fingerprint.to_owned(), p: position };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
}

/// The largest offset a token may carry: far beyond any listing, and small enough that the next
/// page's offset and the SQL `OFFSET` (a signed 64-bit number) cannot overflow.
pub const MAX_OFFSET: u64 = 1 << 48;

/// The offset in a token made by [`next_offset_token`] with the same filters: 0 for an empty
/// token; a forged one out of range is refused like any other foreign token.
pub fn decode_offset(token: &str, fingerprint: &str) -> Result<u64, String> {
    match decode_token::<u64>(token, fingerprint)? {
        None => Ok(0),
        Some(offset) if offset <= MAX_OFFSET => Ok(offset),
        Some(_) => Err(FOREIGN.to_owned()),
    }
}

/// The token of the page after the one at `offset` of `limit` items, or empty when there is none.
pub fn next_offset_token(fingerprint: &str, offset: u64, limit: u32, more: bool) -> String {
    match offset.checked_add(u64::from(limit)) {
        Some(next) if more && next <= MAX_OFFSET => encode_token(fingerprint, &next),
        _ => String::new(),
    }
}

const FOREIGN: &str = "is not a page token from this listing";

/// Decodes a token made by [`encode_token`] with the same filters; `None` for an empty token.
pub fn decode_token<P: DeserializeOwned>(token: &str, fingerprint: &str) -> Result<Option<P>, String> {
    if token.is_empty() {
        return Ok(None);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| FOREIGN.to_owned())?;
    let token: Token<P> = serde_json::from_slice(&bytes).map_err(|_| FOREIGN.to_owned())?;
    if token.v != TOKEN_VERSION {
        return Err("was made by another version of this service; list again from the first page".to_owned());
    }
    if token.f != fingerprint {
        return Err("was made with other filters".to_owned());
    }
    Ok(Some(token.p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forged_offsets_are_refused_and_never_overflow() {
        for forged in [u64::MAX, i64::MAX as u64, MAX_OFFSET + 1] {
            let token = encode_token("f", &forged);
            assert!(decode_offset(&token, "f").is_err(), "{forged}");
        }
        assert_eq!(decode_offset(&encode_token("f", &MAX_OFFSET), "f"), Ok(MAX_OFFSET));
        assert_eq!(next_offset_token("f", MAX_OFFSET, 100, true), "");
        assert_eq!(next_offset_token("f", u64::MAX, u32::MAX, true), "");
        assert_eq!(decode_offset(&next_offset_token("f", 10, 5, true), "f"), Ok(15));
        assert!(decode_offset(&next_offset_token("f", 10, 5, true), "g").is_err(), "other filters");
        assert!(decode_offset("not base64!", "f").is_err());
        let old = URL_SAFE_NO_PAD.encode(br#"{"f":"f","p":3}"#);
        assert!(decode_offset(&old, "f").is_err(), "an unversioned token");
    }
}
