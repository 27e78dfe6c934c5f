//! The closed vocabularies of a case. Each value keeps the number the contract gives it, which is
//! also what the stores hold, so the three never drift apart.

use doxwatch_kit::vocabulary;

vocabulary!(
    /// How a case reached the regulator.
    CaseKind { Complaint = 1, Enquiry = 2, PatrolDiscovery = 3, AgencyReferral = 4 }
);

vocabulary!(
    /// The channel a case arrived through.
    IntakeChannel { OnlineForm = 1, Email = 2, Phone = 3, Letter = 4, WalkIn = 5, Patrol = 6, Agency = 7 }
);

vocabulary!(
    /// Where a case stands.
    CaseStatus { Received = 1, UnderAssessment = 2, Referred = 3, Closed = 4, Answered = 5 }
);

vocabulary!(
    /// Why a case was closed.
    ClosureReason { NoPrimaFacieCase = 1, Withdrawn = 2, Resolved = 3, Duplicate = 4, OutsideJurisdiction = 5 }
);

vocabulary!(
    /// Who a data subject is.
    DataSubjectCategory {
        PoliceOfficer = 1,
        PoliceFamilyMember = 2,
        GovernmentOfficial = 3,
        Legislator = 4,
        JudicialOfficer = 5,
        Child = 6,
        Student = 7,
        Teacher = 8,
        Protester = 9,
        Journalist = 10,
        MedicalWorker = 11,
        Other = 12,
    }
);

impl DataSubjectCategory {
    /// Police officers and their families, the group the published figures single out.
    pub fn is_police_or_family(self) -> bool {
        matches!(self, Self::PoliceOfficer | Self::PoliceFamilyMember)
    }
}

vocabulary!(
    /// A data subject's connection with Hong Kong.
    HongKongNexus { Resident = 1, PresentAtDisclosure = 2, Neither = 3, Unknown = 4 }
);

vocabulary!(
    /// A kind of personal data disclosed.
    DisclosedDataType {
        Name = 1,
        IdNumber = 2,
        Address = 3,
        Phone = 4,
        Email = 5,
        Employer = 6,
        Photo = 7,
        FamilyMembers = 8,
        School = 9,
        Vehicle = 10,
        Other = 11,
    }
);

vocabulary!(
    /// A specified harm.
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
    /// The complainant's relation to the data subject.
    ComplainantRelationship { DataSubject = 1, FamilyMember = 2, ThirdParty = 3 }
);

vocabulary!(
    /// What a timeline entry records.
    CaseEventKind { Created = 1, StatusChanged = 2, Updated = 3, Note = 4 }
);

vocabulary!(
    /// The published victim groups; each case is in exactly one.
    VictimGroup { PoliceAndFamilies = 1, Other = 2 }
);
