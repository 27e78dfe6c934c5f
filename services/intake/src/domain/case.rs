//! A case and its parts, with the limits officers' input must respect.

use time::OffsetDateTime;
use uuid::Uuid;

use super::codes::*;

/// Longest summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 4000;
/// Longest display name of a person, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest contact field (email, phone, postal address), in characters.
pub const MAX_CONTACT_CHARS: usize = 320;
/// Most URLs one case may report.
pub const MAX_REPORTED_URLS: usize = 100;
/// Most data subjects one case may name.
pub const MAX_DATA_SUBJECTS: usize = 50;
/// Longest note on a transition, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

doxwatch_kit::resource_id!(
    /// A case's id: a UUIDv7, so ids sort in the order cases were recorded.
    CaseId,
    "cases"
);

/// How to reach a person. Personal data.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Contact {
    pub email: String,
    pub phone: String,
    pub postal_address: String,
}

impl Contact {
    pub fn is_empty(&self) -> bool {
        self.email.is_empty() && self.phone.is_empty() && self.postal_address.is_empty()
    }
}

/// A person whose data was disclosed. Personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSubject {
    pub display_name: String,
    pub contact: Option<Contact>,
    pub category: DataSubjectCategory,
    pub hong_kong_nexus: HongKongNexus,
}

/// The person who complained. Personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complainant {
    pub display_name: String,
    pub relationship: ComplainantRelationship,
    pub contact: Option<Contact>,
}

/// The parts of a case an officer may change after recording it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDetails {
    pub channel: IntakeChannel,
    pub summary: String,
    pub reported_urls: Vec<String>,
    pub data_subjects: Vec<DataSubject>,
    pub complainant: Option<Complainant>,
    pub disclosed_data: Vec<DisclosedDataType>,
    pub alleged_harm: Vec<Harm>,
}

impl CaseDetails {
    /// The case's victim group: police and families if any subject is one.
    pub fn victim_group(&self) -> VictimGroup {
        if self.data_subjects.iter().any(|s| s.category.is_police_or_family()) {
            VictimGroup::PoliceAndFamilies
        } else {
            VictimGroup::Other
        }
    }
}

/// A case as an officer records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    pub kind: CaseKind,
    pub received_at: OffsetDateTime,
    pub details: CaseDetails,
    /// The team the case is assigned to: the recording officer's.
    pub team: String,
}

/// A recorded case with its current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    pub id: CaseId,
    pub kind: CaseKind,
    pub received_at: OffsetDateTime,
    pub details: CaseDetails,
    pub status: CaseStatus,
    pub closure_reason: Option<ClosureReason>,
    pub created_by: String,
    pub create_time: OffsetDateTime,
    pub update_time: OffsetDateTime,
    /// Whose officers see the case's personal data; empty for a case recorded before teams.
    pub team: String,
    /// One officer the case is assigned to, who sees it whatever their team; may be empty.
    pub assigned_officer: String,
    /// Set on a case as it is recorded, never stored: earlier cases naming the same person.
    pub same_subject_cases: Vec<CaseId>,
    /// When its personal data was erased.
    pub erase_time: Option<OffsetDateTime>,
    /// Its reference number (`DOX-2019-004122`), given as it is recorded.
    pub reference: String,
}

/// The fields UpdateCase may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdatableField {
    Channel,
    Summary,
    ReportedUrls,
    DataSubjects,
    Complainant,
    DisclosedData,
    AllegedHarm,
}

impl UpdatableField {
    pub fn parse(path: &str) -> Option<Self> {
        Some(match path {
            "channel" => Self::Channel,
            "summary" => Self::Summary,
            "reported_urls" => Self::ReportedUrls,
            "data_subjects" => Self::DataSubjects,
            "complainant" => Self::Complainant,
            "disclosed_data" => Self::DisclosedData,
            "alleged_harm" => Self::AllegedHarm,
            _ => return None,
        })
    }

    pub fn path(self) -> &'static str {
        match self {
            Self::Channel => "channel",
            Self::Summary => "summary",
            Self::ReportedUrls => "reported_urls",
            Self::DataSubjects => "data_subjects",
            Self::Complainant => "complainant",
            Self::DisclosedData => "disclosed_data",
            Self::AllegedHarm => "alleged_harm",
        }
    }

    /// Copies this field from `from` into `into`.
    pub fn apply(self, from: &CaseDetails, into: &mut CaseDetails) {
        match self {
            Self::Channel => into.channel = from.channel,
            Self::Summary => into.summary = from.summary.clone(),
            Self::ReportedUrls => into.reported_urls = from.reported_urls.clone(),
            Self::DataSubjects => into.data_subjects = from.data_subjects.clone(),
            Self::Complainant => into.complainant = from.complainant.clone(),
            Self::DisclosedData => into.disclosed_data = from.disclosed_data.clone(),
            Self::AllegedHarm => into.alleged_harm = from.alleged_harm.clone(),
        }
    }
}

/// One entry of a case's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseEvent {
    pub id: Uuid,
    pub case: CaseId,
    pub kind: CaseEventKind,
    pub actor: String,
    pub occurred_at: OffsetDateTime,
    pub record_time: OffsetDateTime,
    pub from_status: Option<CaseStatus>,
    pub to_status: Option<CaseStatus>,
    pub closure_reason: Option<ClosureReason>,
    pub duplicate_of: Option<CaseId>,
    pub note: String,
}

impl CaseEvent {
    /// An UPDATED entry: `actor` changed the case at `now`, as `note` says.
    pub fn updated(case: CaseId, actor: String, now: OffsetDateTime, note: String) -> Self {
        CaseEvent {
            id: Uuid::now_v7(),
            case,
            kind: CaseEventKind::Updated,
            actor,
            occurred_at: now,
            record_time: now,
            from_status: None,
            to_status: None,
            closure_reason: None,
            duplicate_of: None,
            note,
        }
    }
}
