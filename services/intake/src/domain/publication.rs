//! A situation report as published: its figures, the moment it is as at, and the moment its
//! figures were computed for (their `recorded_before`), so that they can be reproduced exactly and
//! their later revisions explained. Figures are whole numbers by name: no text, so no personal data.

use time::OffsetDateTime;

doxwatch_kit::resource_id!(
    /// A publication's id: a UUIDv7, so ids sort in the order publications were recorded.
    PublicationId,
    "publications"
);

/// Most figures one publication may hold (a report has about a hundred, more with many platforms).
pub const MAX_FIGURES: usize = 2000;
/// Longest figure name, in characters.
pub const MAX_FIGURE_NAME_CHARS: usize = 200;
/// The prefix of publication references (`PUB-2019-000001`).
pub const PUBLICATION_PREFIX: &str = "PUB";

/// What an officer asks to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPublication {
    pub as_of: OffsetDateTime,
    pub recorded_before: OffsetDateTime,
    pub figures: Vec<(String, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    pub id: PublicationId,
    pub reference: String,
    pub as_of: OffsetDateTime,
    pub recorded_before: OffsetDateTime,
    pub figures: Vec<(String, i64)>,
    pub published_by: String,
    pub publish_time: OffsetDateTime,
}

/// What is wrong with a figure's name, if anything: it is a path of the report's own keys
/// (`liaison.by_platform.platforms/{uuid}.links_removed`), never free text.
pub fn figure_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is required");
    }
    if name.chars().count() > MAX_FIGURE_NAME_CHARS {
        return Some("must be at most 200 characters");
    }
    let word = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    let platform = |s: &str| s.strip_prefix("platforms/").is_some_and(|id| uuid::Uuid::try_parse(id).is_ok());
    if name.split('.').all(|segment| word(segment) || platform(segment)) {
        None
    } else {
        Some("must be dot-separated segments of ASCII letters, digits and '_', or platforms/{id}")
    }
}

#[cfg(test)]
mod tests {
    use super::figure_name_problem;

    #[test]
    fn figure_names_are_paths_of_keys() {
        assert_eq!(figure_name_problem("cases.total"), None);
        assert_eq!(
            figure_name_problem("liaison.by_platform.platforms/01900000-0000-7000-8000-000000000000.links_removed"),
            None
        );
        for bad in ["", "cases..total", "cases.total ", "links.@handle", "links.platforms/x", "a.b\nc", "名"] {
            assert!(figure_name_problem(bad).is_some(), "{bad:?}");
        }
        assert!(figure_name_problem(&"a".repeat(201)).is_some());
    }

    #[test]
    fn the_publication_prefix_is_a_valid_reference_prefix() {
        assert_eq!(doxwatch_kit::reference::check_prefix(super::PUBLICATION_PREFIX).as_deref(), Ok("PUB"));
    }
}
