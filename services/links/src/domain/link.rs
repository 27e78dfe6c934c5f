//! Links, channels, sightings, removal requests and observations.

use time::OffsetDateTime;

use super::{CaseRef, ChannelId, ChannelStatus, LinkId, LinkStatus, ObservationSource, PlatformId, Vantage};

/// Most registrations in one RegisterLinks call or one ImportLinks message.
pub const MAX_REGISTRATIONS: usize = 1000;
/// Most names in one BatchGetLinks call.
pub const MAX_BATCH_GET: usize = 1000;
/// Most links in one RecordRemovalRequests call.
pub const MAX_REMOVAL_LINKS: usize = 10_000;
/// Most observations in one RecordObservations call.
pub const MAX_OBSERVATIONS: usize = 1000;
/// Most citing cases a link carries in full; the rest are counted and listed a page at a time
/// (ListLinkCitations), so a link stays the same size however many cases cite it.
pub const CASES_ON_LINK: usize = 10;
/// Longest note or source text, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;
pub const MAX_SOURCE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: LinkId,
    pub reported_url: String,
    pub canonical_url: String,
    pub platform: PlatformId,
    pub channel: Option<ChannelId>,
    pub message_id: Option<String>,
    pub first_seen_at: OffsetDateTime,
    /// How many cases cite it.
    pub case_count: i64,
    /// The first [`CASES_ON_LINK`] of them, in name order.
    pub first_cases: Vec<CaseRef>,
    pub status: LinkStatus,
    /// ONLINE now by a confirmed observation after an earlier confirmed removal.
    pub reappeared: bool,
    pub create_time: OffsetDateTime,
}

/// That a case cites a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    pub link: LinkId,
    pub case: CaseRef,
    /// The earliest moment the case saw the link (business time).
    pub first_seen_at: OffsetDateTime,
    /// When the citation was first recorded.
    pub create_time: OffsetDateTime,
}

impl Citation {
    /// `links/{link}/citations/{case}`: the case's id under its link.
    pub fn name(&self) -> String {
        format!("{}/citations/{}", self.link.name(), self.case.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub id: ChannelId,
    pub platform: PlatformId,
    pub handle: String,
    pub url: String,
    pub status: ChannelStatus,
    pub status_since: OffsetDateTime,
    pub create_time: OffsetDateTime,
}

/// One URL to register, after its case and time were checked (the URL itself is judged when
/// registered: refusing a URL refuses that registration only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub url: String,
    pub case: Option<CaseRef>,
    pub seen_at: OffsetDateTime,
}

/// What became of one registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    New(LinkId),
    Known(LinkId),
    Refused(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub id: uuid::Uuid,
    pub link: LinkId,
    pub status: LinkStatus,
    pub observed_at: OffsetDateTime,
    pub vantage: Vantage,
    pub source: ObservationSource,
    pub note: String,
    pub recorded_by: String,
    pub record_time: OffsetDateTime,
}

/// A new observation, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewObservation {
    pub link: LinkId,
    pub status: LinkStatus,
    pub observed_at: OffsetDateTime,
    pub vantage: Vantage,
    pub source: ObservationSource,
    pub note: String,
}

/// The most new links an import names in its answer; `new_links` counts them all.
pub const MAX_NEW_LINK_NAMES: usize = 1000;

/// Counts of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportTally {
    pub new_links: i64,
    /// The first [`MAX_NEW_LINK_NAMES`] links the import created, in the order registered.
    pub new_link_names: Vec<String>,
    pub known_links: i64,
    pub refused: i64,
    /// Per reason: how many, and up to five examples.
    pub refusals: std::collections::BTreeMap<String, (i64, Vec<String>)>,
}

impl ImportTally {
    pub fn add(&mut self, url: &str, outcome: &Registered) {
        match outcome {
            Registered::New(id) => {
                self.new_links += 1;
                if self.new_link_names.len() < MAX_NEW_LINK_NAMES {
                    self.new_link_names.push(id.name());
                }
            }
            Registered::Known(_) => self.known_links += 1,
            Registered::Refused(reason) => {
                self.refused += 1;
                let entry = self.refusals.entry(reason.clone()).or_default();
                entry.0 += 1;
                if entry.1.len() < 5 {
                    entry.1.push(url.chars().take(200).collect());
                }
            }
        }
    }
}
