//! The closed vocabularies of liaison, numbered as in the contract and the store.

use doxwatch_kit::vocabulary;

vocabulary!(
    /// What a notice is.
    NoticeKind {
        RemovalRequest = 1,
        CessationNotice = 2,
        DisclosureRequest = 3,
        WarningPostRequest = 4,
        InjunctionNotice = 5,
        Reminder = 6,
        Summons = 7,
    }
);

impl NoticeKind {
    /// The config key suffix and template key of the kind.
    pub fn key(self) -> &'static str {
        match self {
            Self::RemovalRequest => "removal_request",
            Self::CessationNotice => "cessation_notice",
            Self::DisclosureRequest => "disclosure_request",
            Self::WarningPostRequest => "warning_post_request",
            Self::InjunctionNotice => "injunction_notice",
            Self::Reminder => "reminder",
            Self::Summons => "summons",
        }
    }

    /// Kinds a served notice may be escalated to.
    pub fn is_escalation(self) -> bool {
        matches!(self, Self::InjunctionNotice | Self::CessationNotice | Self::Summons)
    }
}

vocabulary!(
    /// What a notice asks of the platform about one item.
    NoticeAction { Remove = 1, RestrictAccess = 2, DiscontinueHosting = 3, DiscloseUploaderData = 4, PostWarning = 5 }
);

impl NoticeAction {
    /// Actions that ask for the content to go, which link-tracking counts as removal requests.
    pub fn asks_removal(self) -> bool {
        matches!(self, Self::Remove | Self::RestrictAccess | Self::DiscontinueHosting)
    }

    pub fn key(self) -> &'static str {
        match self {
            Self::Remove => "remove",
            Self::RestrictAccess => "restrict_access",
            Self::DiscontinueHosting => "discontinue_hosting",
            Self::DiscloseUploaderData => "disclose_uploader_data",
            Self::PostWarning => "post_warning",
        }
    }
}

vocabulary!(
    /// Where a notice stands.
    NoticeStatus { Draft = 1, Served = 2, Replied = 3, NoReply = 4, Closed = 5 }
);

vocabulary!(
    /// How a notice was served.
    ServiceMethod { Email = 1, Post = 2, WebForm = 3, InApp = 4, ByHand = 5 }
);

vocabulary!(
    /// A platform's answer about an item.
    ReplyOutcome { Complied = 1, Refused = 2, PartiallyComplied = 3, NoAction = 4, DataProvided = 5, DataRefused = 6 }
);

impl ReplyOutcome {
    /// Whether the item needs nothing more from the platform.
    pub fn settles(self) -> bool {
        matches!(self, Self::Complied | Self::DataProvided)
    }
}

vocabulary!(
    /// The language a letter is written in.
    Language { English = 1, TraditionalChinese = 2 }
);

vocabulary!(
    /// What a timeline entry of a notice records.
    NoticeEventKind { Created = 1, Updated = 2, Served = 3, ReplyRecorded = 4, Closed = 5, Reminded = 6, Escalated = 7 }
);
