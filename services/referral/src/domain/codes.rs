//! The closed vocabularies of the referral service, numbered as in the contract and the store.
//! `Harm` and `HongKongNexus` keep intake's numbers, whose contract defines them.

use doxwatch_kit::vocabulary;

vocabulary!(
    /// Whether the discloser acted with intent, or recklessly, as to a specified harm.
    IntentOrRecklessness { Intent = 1, Recklessness = 2, Neither = 3, Unknown = 4 }
);

vocabulary!(
    /// Whether the person who disclosed the data is known.
    Discloser { Identified = 1, Unidentified = 2 }
);

vocabulary!(
    /// A provision of PDPO section 64 considered, named as the statute numbers it.
    #[allow(non_camel_case_types)]
    LegalBasis { S64_1 = 1, S64_2 = 2, S64_3A = 3, S64_3C = 4, Other = 5 }
);

vocabulary!(
    /// What the regulator decided.
    Decision { ReferToPolice = 1, ProsecuteSummary = 2, NoFurtherAction = 3, MoreInformationNeeded = 4 }
);

vocabulary!(
    /// A specified harm (intake's vocabulary).
    Harm {
        Harassment = 1,
        Molestation = 2,
        Pestering = 3,
        Threat = 4,
        Intimidation = 5,
        BodilyHarm = 6,
        PsychologicalHarm = 7,
        ConcernForSafety = 8,
        PropertyDamage = 9,
    }
);

vocabulary!(
    /// The data subject's connection with Hong Kong (intake's vocabulary).
    HongKongNexus { Resident = 1, PresentAtDisclosure = 2, Neither = 3, Unknown = 4 }
);

vocabulary!(
    /// Where a referral stands; also what each timeline entry reached.
    ReferralStatus {
        Pending = 1,
        Delivered = 2,
        Acknowledged = 3,
        UnderInvestigation = 4,
        ArrestMade = 5,
        Charged = 6,
        Convicted = 7,
        Acquitted = 8,
        NoFurtherAction = 9,
        Withdrawn = 10,
    }
);

impl ReferralStatus {
    /// Whether the agency reports this step with ReportOutcome.
    pub fn is_outcome(self) -> bool {
        matches!(
            self,
            Self::UnderInvestigation
                | Self::ArrestMade
                | Self::Charged
                | Self::Convicted
                | Self::Acquitted
                | Self::NoFurtherAction
        )
    }

    /// Whether a referral that reached this step has ended: withdrawn, or a final outcome. Until
    /// then the referral holds its bundle for the agency.
    pub fn ends_referral(self) -> bool {
        matches!(self, Self::Withdrawn | Self::Convicted | Self::Acquitted | Self::NoFurtherAction)
    }

    /// The outcomes, in the order of their steps.
    pub const OUTCOMES: &'static [ReferralStatus] = &[
        Self::UnderInvestigation,
        Self::ArrestMade,
        Self::Charged,
        Self::Convicted,
        Self::Acquitted,
        Self::NoFurtherAction,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Delivered => "DELIVERED",
            Self::Acknowledged => "ACKNOWLEDGED",
            Self::UnderInvestigation => "UNDER_INVESTIGATION",
            Self::ArrestMade => "ARREST_MADE",
            Self::Charged => "CHARGED",
            Self::Convicted => "CONVICTED",
            Self::Acquitted => "ACQUITTED",
            Self::NoFurtherAction => "NO_FURTHER_ACTION",
            Self::Withdrawn => "WITHDRAWN",
        }
    }
}

vocabulary!(
    /// What an entry of an agency's feed announces.
    FeedEntryKind { Referred = 1, Withdrawn = 2 }
);

/// Where a case stands in intake, as far as the referral service needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseStanding {
    Received,
    UnderAssessment,
    Referred,
    Closed,
    Answered,
}

vocabulary!(
    /// A link's status in link-tracking (its vocabulary), as frozen in an evidence bundle.
    LinkStatus { Online = 1, Removed = 2, AccessRestricted = 3, ChannelRemoved = 4, Unreachable = 5 }
);
