//! The referral figures as at several moments, and with `recorded_before`, against expectations
//! computed by hand from the scenario below.

mod common;

use common::*;
use doxwatch_proto::referral as pb;
use pb::{Decision as D, ReferralStatus as RS};

backend_tests!(worker_threads = 4; figures_as_at_several_moments_and_as_recorded_before);

const DAY: i64 = 86_400;

/// The figures that matter, in a form a test can compare.
#[derive(Debug, PartialEq, Eq)]
struct Figures {
    assessed: i64,
    /// REFER_TO_POLICE, PROSECUTE_SUMMARY, NO_FURTHER_ACTION, MORE_INFORMATION_NEEDED.
    decisions: [i64; 4],
    referred: i64,
    police: Agency,
    icac: Agency,
    /// The medians over every agency, in seconds.
    to_referral: Option<i64>,
    to_acknowledgement: Option<i64>,
}

#[derive(Debug, PartialEq, Eq, Default)]
struct Agency {
    referred: i64,
    acknowledged: i64,
    /// Non-zero outcomes only.
    outcomes: Vec<(RS, i64)>,
    to_referral: Option<i64>,
}

async fn figures(s: &mut Suite, as_of: &str, recorded_before: Option<prost_types::Timestamp>) -> Figures {
    let request = pb::GetReferralStatisticsRequest { as_of: Some(ts(as_of)), recorded_before };
    let f = s.referral.get_referral_statistics(request).await.expect("figures").into_inner();
    let decision = |d: D| f.decisions.iter().find(|c| c.decision == d as i32).map(|c| c.cases).expect("every decision");
    let outcomes = |counts: &[pb::OutcomeCount]| {
        assert_eq!(counts.len(), 6, "every outcome is listed");
        counts.iter().filter(|c| c.referrals > 0).map(|c| (RS::try_from(c.outcome).unwrap(), c.referrals)).collect()
    };
    let agency = |name: &str| {
        let a = f.by_agency.iter().find(|a| a.agency == name).expect("every configured agency is listed");
        Agency {
            referred: a.cases_referred,
            acknowledged: a.referrals_acknowledged,
            outcomes: outcomes(&a.by_outcome),
            to_referral: a.median_time_to_referral.map(|d| d.seconds),
        }
    };
    Figures {
        assessed: f.cases_assessed,
        decisions: [
            decision(D::ReferToPolice),
            decision(D::ProsecuteSummary),
            decision(D::NoFurtherAction),
            decision(D::MoreInformationNeeded),
        ],
        referred: f.cases_referred,
        police: agency("POLICE"),
        icac: agency("ICAC"),
        to_referral: f.median_time_to_referral.map(|d| d.seconds),
        to_acknowledgement: f.median_time_to_acknowledgement.map(|d| d.seconds),
    }
}

/// Cases referred by legal basis (non-zero counts): over every agency, to the Police, to ICAC.
type Bases = Vec<(pb::LegalBasis, i64)>;
async fn legal_bases(s: &mut Suite, as_of: &str) -> (Bases, Bases, Bases) {
    let request = pb::GetReferralStatisticsRequest { as_of: Some(ts(as_of)), recorded_before: None };
    let f = s.referral.get_referral_statistics(request).await.expect("figures").into_inner();
    let non_zero = |counts: &[pb::LegalBasisCount]| -> Bases {
        assert_eq!(counts.len(), 5, "every basis is listed");
        counts
            .iter()
            .filter(|c| c.cases > 0)
            .map(|c| (pb::LegalBasis::try_from(c.legal_basis).unwrap(), c.cases))
            .collect()
    };
    let agency = |name: &str| {
        f.by_agency.iter().find(|a| a.agency == name).expect("listed").cases_referred_by_legal_basis.clone()
    };
    (non_zero(&f.cases_referred_by_legal_basis), non_zero(&agency("POLICE")), non_zero(&agency("ICAC")))
}

async fn acknowledge(s: &Suite, referral: &str, reference: &str, at: &str) -> pb::Referral {
    let request = pb::AcknowledgeReferralRequest {
        name: referral.to_owned(),
        agency_reference: reference.to_owned(),
        acknowledged_at: Some(ts(at)),
        request_id: String::new(),
    };
    s.police().acknowledge_referral(request).await.expect("acknowledged").into_inner()
}

async fn report(s: &Suite, referral: &str, outcome: RS, at: &str) {
    let request = pb::ReportOutcomeRequest {
        name: referral.to_owned(),
        outcome: outcome as i32,
        occurred_at: Some(ts(at)),
        details: None,
        request_id: String::new(),
    };
    s.police().report_outcome(request).await.expect("reported");
}

/// The scenario (all times +08:00, 2019):
///   C1 received 06-10: MORE_INFORMATION_NEEDED 06-15, REFER 07-01, referred (POLICE) 07-02,
///      acknowledged 07-04, under investigation 07-05, arrest 07-20.
///   C2 received 06-12: REFER 06-20, referred 06-22, withdrawn 06-25, referred again 07-03,
///      acknowledged 07-13 and under investigation 07-15 (both recorded after the mark).
///   C3 received 06-20: NO_FURTHER_ACTION 06-25.
///   C4 received 07-01: PROSECUTE_SUMMARY 07-10 (recorded after the mark).
///   C5 received 07-05: REFER 07-06, referred to ICAC 07-08.
async fn figures_as_at_several_moments_and_as_recorded_before(stores: Stores) {
    let mut s = start(&stores).await;
    let at = |day: &str| format!("2019-{day}T10:00:00+08:00");
    let c1 = s.complaint(&at("06-10")).await;
    let c2 = s.complaint(&at("06-12")).await;
    let c3 = s.complaint(&at("06-20")).await;
    let c4 = s.complaint(&at("07-01")).await;
    let c5 = s.complaint(&at("07-05")).await;

    s.assess(&c1, D::MoreInformationNeeded, &at("06-15")).await;
    let a1 = s.assess(&c1, D::ReferToPolice, &at("07-01")).await;
    let r1 = s.refer(&a1.name, "POLICE", &at("07-02")).await;
    acknowledge(&s, &r1.name, "P-1", &at("07-04")).await;
    report(&s, &r1.name, RS::UnderInvestigation, &at("07-05")).await;
    report(&s, &r1.name, RS::ArrestMade, &at("07-20")).await;

    let a2 = s.assess(&c2, D::ReferToPolice, &at("06-20")).await;
    let r2 = s.refer(&a2.name, "POLICE", &at("06-22")).await;
    s.withdraw(&r2.name, &at("06-25")).await;
    let r2b = s.refer(&a2.name, "POLICE", &at("07-03")).await;

    s.assess(&c3, D::NoFurtherAction, &at("06-25")).await;
    let s64_1 = pb::Criteria { legal_basis: vec![pb::LegalBasis::S641 as i32], ..criteria() };
    let a5 = s.try_assess(&c5, D::ReferToPolice, &at("07-06"), s64_1).await.expect("assessed");
    s.refer(&a5.name, "ICAC", &at("07-08")).await;

    // The mark falls just before C2's acknowledgement is recorded.
    let acknowledged = acknowledge(&s, &r2b.name, "P-2", &at("07-13")).await;
    let mark = acknowledged.update_time.expect("the acknowledgement's record time");
    report(&s, &r2b.name, RS::UnderInvestigation, &at("07-15")).await;
    s.assess(&c4, D::ProsecuteSummary, &at("07-10")).await;

    // 06-23: C1 (more information) and C2 (refer) assessed; C2 referred the day before.
    assert_eq!(
        figures(&mut s, &at("06-23"), None).await,
        Figures {
            assessed: 2,
            decisions: [1, 0, 0, 1],
            referred: 1,
            police: Agency { referred: 1, to_referral: Some(10 * DAY), ..Agency::default() },
            icac: Agency::default(),
            to_referral: Some(10 * DAY),
            to_acknowledgement: None,
        }
    );
    // 06-30: C3 closed; C2's referral was withdrawn on 06-25 and no longer counts.
    assert_eq!(
        figures(&mut s, &at("06-30"), None).await,
        Figures {
            assessed: 3,
            decisions: [1, 0, 1, 1],
            referred: 0,
            police: Agency::default(),
            icac: Agency::default(),
            to_referral: None,
            to_acknowledgement: None,
        }
    );
    // 07-10 (the morning): C1 referred 07-02 (22 days after receipt) and acknowledged, under
    // investigation; C2 referred again 07-03 (21 days); C5 to ICAC 07-08 (3 days). C4's
    // prosecution decision is dated 07-10 10:00, later that day.
    assert_eq!(
        figures(&mut s, "2019-07-10T09:00:00+08:00", None).await,
        Figures {
            assessed: 4,
            decisions: [3, 0, 1, 0],
            referred: 3,
            police: Agency {
                referred: 2,
                acknowledged: 1,
                outcomes: vec![(RS::UnderInvestigation, 1)],
                to_referral: Some(43 * DAY / 2),
            },
            icac: Agency { referred: 1, to_referral: Some(3 * DAY), ..Agency::default() },
            to_referral: Some(21 * DAY),
            to_acknowledgement: Some(2 * DAY),
        }
    );
    // 07-31: everything. Acknowledgements took 2 and 10 days.
    let end = Figures {
        assessed: 5,
        decisions: [3, 1, 1, 0],
        referred: 3,
        police: Agency {
            referred: 2,
            acknowledged: 2,
            outcomes: vec![(RS::UnderInvestigation, 1), (RS::ArrestMade, 1)],
            to_referral: Some(43 * DAY / 2),
        },
        icac: Agency { referred: 1, to_referral: Some(3 * DAY), ..Agency::default() },
        to_referral: Some(21 * DAY),
        to_acknowledgement: Some(6 * DAY),
    };
    assert_eq!(figures(&mut s, &at("07-31"), None).await, end);
    // The same moment as recorded before the mark: C4's decision and C2's acknowledgement and
    // outcome were not recorded yet.
    assert_eq!(
        figures(&mut s, &at("07-31"), Some(mark)).await,
        Figures {
            assessed: 4,
            decisions: [3, 0, 1, 0],
            referred: 3,
            police: Agency {
                referred: 2,
                acknowledged: 1,
                outcomes: vec![(RS::ArrestMade, 1)],
                to_referral: Some(43 * DAY / 2),
            },
            icac: Agency { referred: 1, to_referral: Some(3 * DAY), ..Agency::default() },
            to_referral: Some(21 * DAY),
            to_acknowledgement: Some(2 * DAY),
        }
    );
    // The cases referred by the legal bases their assessments cite: C1 and C2 on s64(3A) and
    // s64(3C) (each case in both counts), C5 on s64(1) alone.
    use pb::LegalBasis as B;
    assert_eq!(legal_bases(&mut s, &at("06-30")).await, (vec![], vec![], vec![]));
    assert_eq!(
        legal_bases(&mut s, &at("07-31")).await,
        (vec![(B::S641, 1), (B::S643a, 2), (B::S643c, 2)], vec![(B::S643a, 2), (B::S643c, 2)], vec![(B::S641, 1)])
    );
    // A backfill today does not change what was recorded before the mark.
    let late = s.complaint(&at("06-01")).await;
    let a = s.assess(&late, D::ReferToPolice, &at("06-02")).await;
    s.refer(&a.name, "POLICE", &at("06-03")).await;
    assert_eq!(figures(&mut s, &at("07-31"), Some(mark)).await.referred, 3);
    assert_eq!(figures(&mut s, &at("07-31"), None).await.referred, 4);
    assert_eq!(s.outbox_settled().await.rejected, 0);
    s.stop().await;
}
