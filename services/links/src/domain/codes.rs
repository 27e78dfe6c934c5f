//! The closed vocabularies of link-tracking, numbered as in the contract and the store.

use doxwatch_kit::vocabulary;

vocabulary!(
    /// What kind of platform it is.
    PlatformKind {
        SocialNetwork = 1,
        Forum = 2,
        InstantMessaging = 3,
        VideoSharing = 4,
        FileSharing = 5,
        SearchEngine = 6,
        PasteSite = 7,
        Website = 8,
        Other = 9,
        Unclassified = 10,
    }
);

impl PlatformKind {
    /// The contract's name without its prefix, as the registry file spells it.
    pub fn parse_label(label: &str) -> Option<Self> {
        Some(match label {
            "SOCIAL_NETWORK" => Self::SocialNetwork,
            "FORUM" => Self::Forum,
            "INSTANT_MESSAGING" => Self::InstantMessaging,
            "VIDEO_SHARING" => Self::VideoSharing,
            "FILE_SHARING" => Self::FileSharing,
            "SEARCH_ENGINE" => Self::SearchEngine,
            "PASTE_SITE" => Self::PasteSite,
            "WEBSITE" => Self::Website,
            "OTHER" => Self::Other,
            "UNCLASSIFIED" => Self::Unclassified,
            _ => return None,
        })
    }
}

vocabulary!(
    /// A channel's status.
    ChannelStatus { Active = 1, Suspended = 2, Removed = 3 }
);

vocabulary!(
    /// What a check found of a link.
    LinkStatus { Online = 1, Removed = 2, AccessRestricted = 3, ChannelRemoved = 4, Unreachable = 5 }
);

impl LinkStatus {
    /// Whether the status counts as removed in the removal figures.
    pub fn is_removed(self) -> bool {
        matches!(self, Self::Removed | Self::ChannelRemoved)
    }
}

vocabulary!(
    /// Who made an observation.
    ObservationSource { OfficerCheck = 1, AutomatedRecheck = 2, PlatformReport = 3 }
);

impl ObservationSource {
    /// Whether an observation from this source sets a link's status. A platform's report is its
    /// claim, which only a check can confirm.
    pub fn confirms(self) -> bool {
        !matches!(self, Self::PlatformReport)
    }
}

vocabulary!(
    /// Where a check was made from.
    Vantage { InsideHk = 1, OutsideHk = 2, Unknown = 3 }
);
