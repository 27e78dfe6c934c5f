//! Evidence: captures of what a link showed, kept content-addressed by SHA-256, and the custody
//! log of who fetched the bytes, when and why.

use time::OffsetDateTime;
use uuid::Uuid;

use super::LinkId;

/// The media types a capture may have: screenshots, pages, web archives, documents and text.
pub const MEDIA_TYPES: &[&str] =
    &["image/png", "image/jpeg", "image/webp", "text/html", "application/warc", "application/pdf", "text/plain"];

/// The largest capture accepted unless configured otherwise (`evidence_max_bytes`): 50 MiB.
pub const DEFAULT_MAX_EVIDENCE_BYTES: u64 = 50 * 1024 * 1024;
/// Longest reason for a fetch, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A SHA-256 digest; lowercase hex on the wire and in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    pub fn parse_hex(text: &str) -> Result<Self, String> {
        let bad = || "must be 64 lowercase hexadecimal digits".to_owned();
        if text.len() != 64 || text.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| bad())?;
        Ok(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// `links/{link}/evidence/{sha256}`: the bytes with this digest as evidence of this link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EvidenceName {
    pub link: LinkId,
    pub sha256: Sha256Digest,
}

impl EvidenceName {
    pub fn parse_name(name: &str) -> Result<Self, String> {
        let form = || "must be of the form links/{link}/evidence/{sha256}".to_owned();
        let (link, sha256) = name.split_once("/evidence/").ok_or_else(form)?;
        let link = LinkId::parse_name(link).map_err(|_| form())?;
        let sha256 = Sha256Digest::parse_hex(sha256).map_err(|e| format!("{}: the digest {e}", form()))?;
        Ok(Self { link, sha256 })
    }

    pub fn name(&self) -> String {
        format!("{}/evidence/{}", self.link.name(), self.sha256)
    }
}

/// A media type as stored: the accepted type, lowercase, without parameters.
pub fn normalize_media_type(input: &str) -> Result<String, String> {
    let essence = input.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence.is_empty() {
        return Err("is required".to_owned());
    }
    if MEDIA_TYPES.contains(&essence.as_str()) {
        Ok(essence)
    } else {
        Err(format!("{essence:?} is not accepted; expected one of {}", MEDIA_TYPES.join(", ")))
    }
}

/// One capture record. The same bytes captured twice are two records with one digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    pub id: Uuid,
    pub link: LinkId,
    pub sha256: Sha256Digest,
    pub size_bytes: i64,
    pub media_type: String,
    pub captured_at: OffsetDateTime,
    pub captured_by: String,
    pub note: String,
    pub record_time: OffsetDateTime,
    /// When every case citing the link was erased, and this capture's note and bytes with it.
    pub erase_time: Option<OffsetDateTime>,
}

impl Capture {
    pub fn evidence(&self) -> EvidenceName {
        EvidenceName { link: self.link, sha256: self.sha256 }
    }
}

/// A capture's metadata, checked, before its bytes arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCapture {
    pub link: LinkId,
    pub media_type: String,
    pub captured_at: OffsetDateTime,
    pub note: String,
}

doxwatch_kit::vocabulary!(
    /// What happened to evidence, as its custody log records it.
    CustodyKind { Captured = 1, Fetched = 2, IntegrityFailure = 3, Erased = 4 }
);

/// One entry of an evidence's custody log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustodyEvent {
    pub id: Uuid,
    pub evidence: EvidenceName,
    pub kind: CustodyKind,
    pub actor: String,
    pub reason: String,
    pub occurred_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_names_round_trip_and_digests_are_strict() {
        let name = "links/01900000-0000-7000-8000-000000000001/evidence/\
                    e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(EvidenceName::parse_name(name).unwrap().name(), name);
        assert!(EvidenceName::parse_name(&name.to_uppercase()).is_err());
        assert!(EvidenceName::parse_name("links/x/evidence/00").is_err());
        assert!(Sha256Digest::parse_hex(&"A".repeat(64)).is_err());
    }

    #[test]
    fn media_types_are_normalized_and_limited() {
        assert_eq!(normalize_media_type("Text/HTML; charset=utf-8").unwrap(), "text/html");
        assert!(normalize_media_type("application/x-msdownload").is_err());
        assert!(normalize_media_type(" ").is_err());
    }
}
