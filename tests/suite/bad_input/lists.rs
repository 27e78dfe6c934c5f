//! The List RPCs of the four services: page sizes (negative, zero, huge), a forged page token and
//! one of another listing, and SQL metacharacters in the filters that take text, which must be
//! data, not syntax. Every forgery of a page token is walked in `page_tokens.rs`; one stands for
//! them here.

use doxwatch_proto::{intake as ipb, liaison as npb, links as lpb, ops as opb, referral as rpb};
use doxwatch_suite_tests::forged_page_tokens;
use tonic::Status;

use super::{
    fixture::{Clients, Fixture},
    walk::{Class, Row, Walk, accepted, bad, row},
};

/// The paging rows of a List.
fn paging<R: 'static>(
    foreign_token: &str,
    size: impl Fn(&mut R, i32) + Copy + Send + Sync + 'static,
    token: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    let forged = forged_page_tokens().swap_remove(0);
    let foreign = foreign_token.to_owned();
    vec![
        row(Class::NegativePageSize, bad("page_size"), move |r: &mut R| size(r, -1)),
        row(Class::ZeroPageSize, accepted(), move |r: &mut R| size(r, 0)),
        row(Class::HugePageSize, accepted(), move |r: &mut R| size(r, i32::MAX)),
        row(Class::ForgedPageToken, bad("page_token"), move |r: &mut R| token(r, forged.clone())),
        row(Class::ForeignPageToken, bad("page_token"), move |r: &mut R| token(r, foreign.clone())),
    ]
}

/// A filter that matched something it should not have: a metacharacter read as syntax.
fn matched(rpc: &str) -> Status {
    Status::unknown(format!("{rpc}: a filter of metacharacters matched stored rows"))
}

fn case_rows(f: &Fixture) -> Vec<Row<ipb::ListCasesRequest>> {
    type R = ipb::ListCasesRequest;
    let mut rows = paging(&f.events_token, |r: &mut R, n| r.page_size = n, |r: &mut R, t| r.page_token = t);
    for text in ["'; DROP TABLE cases; --", "Tes%", "T_st", "Test' OR '1'='1"] {
        rows.push(row(Class::SqlInFilter, accepted(), move |r: &mut R| r.data_subject = text.into()));
    }
    for text in ["%", "_", "%%"] {
        rows.push(row(Class::SqlInFilter, bad("data_subject"), move |r: &mut R| r.data_subject = text.into()));
    }
    rows
}

pub async fn walk(w: &mut Walk, c: &Clients, f: &Fixture) {
    let (intake, links, liaison, referral) = (&c.intake, &c.links, &c.liaison, &c.referral);
    let token = &f.events_token;

    w.rpc(
        "ListCases",
        &ipb::ListCasesRequest::default(),
        |r| {
            let mut c = intake.clone();
            async move {
                let searched = !r.data_subject.is_empty();
                let found = c.list_cases(r).await?.into_inner().cases;
                if searched && !found.is_empty() { Err(matched("ListCases")) } else { Ok(()) }
            }
        },
        case_rows(f),
    )
    .await;

    type Events = ipb::ListCaseEventsRequest;
    let base = Events { name: f.case.clone(), ..Default::default() };
    let rows = paging(&f.platforms_token, |r: &mut Events, n| r.page_size = n, |r: &mut Events, t| r.page_token = t);
    w.rpc(
        "ListCaseEvents",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.list_case_events(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Publications = ipb::ListPublicationsRequest;
    let rows = paging(token, |r: &mut Publications, n| r.page_size = n, |r: &mut Publications, t| r.page_token = t);
    w.rpc(
        "ListPublications",
        &Publications::default(),
        |r| {
            let mut c = intake.clone();
            async move { c.list_publications(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type CaseLinks = ipb::ListCaseLinksRequest;
    let base = CaseLinks { name: f.case.clone(), ..Default::default() };
    let rows = paging(token, |r: &mut CaseLinks, n| r.page_size = n, |r: &mut CaseLinks, t| r.page_token = t);
    w.rpc(
        "ListCaseLinks",
        &base,
        |r| {
            let mut c = intake.clone();
            async move { c.list_case_links(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Platforms = lpb::ListPlatformsRequest;
    let rows = paging(token, |r: &mut Platforms, n| r.page_size = n, |r: &mut Platforms, t| r.page_token = t);
    w.rpc(
        "ListPlatforms",
        &Platforms::default(),
        |r| {
            let mut c = links.clone();
            async move { c.list_platforms(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Channels = lpb::ListChannelsRequest;
    let mut rows = paging(token, |r: &mut Channels, n| r.page_size = n, |r: &mut Channels, t| r.page_token = t);
    rows.push(row(Class::SqlInFilter, bad("platform"), |r: &mut Channels| r.platform = "platforms/' OR 1=1 --".into()));
    w.rpc(
        "ListChannels",
        &Channels::default(),
        |r| {
            let mut c = links.clone();
            async move { c.list_channels(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Links = lpb::ListLinksRequest;
    let mut rows = paging(token, |r: &mut Links, n| r.page_size = n, |r: &mut Links, t| r.page_token = t);
    rows.push(row(Class::SqlInFilter, bad("case"), |r: &mut Links| r.case = "cases/%".into()));
    w.rpc(
        "ListLinks",
        &Links::default(),
        |r| {
            let mut c = links.clone();
            async move { c.list_links(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Citations = lpb::ListLinkCitationsRequest;
    let base = Citations { parent: f.link.clone(), ..Default::default() };
    let rows = paging(token, |r: &mut Citations, n| r.page_size = n, |r: &mut Citations, t| r.page_token = t);
    w.rpc(
        "ListLinkCitations",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.list_link_citations(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Observations = lpb::ListObservationsRequest;
    let base = Observations { link: f.link.clone(), ..Default::default() };
    let rows = paging(token, |r: &mut Observations, n| r.page_size = n, |r: &mut Observations, t| r.page_token = t);
    w.rpc(
        "ListObservations",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.list_observations(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Evidence = lpb::ListEvidenceRequest;
    let base = Evidence { link: f.link.clone(), ..Default::default() };
    let rows = paging(token, |r: &mut Evidence, n| r.page_size = n, |r: &mut Evidence, t| r.page_token = t);
    w.rpc(
        "ListEvidence",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.list_evidence(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Custody = lpb::ListCustodyEventsRequest;
    let base = Custody { evidence: f.evidence.clone(), ..Default::default() };
    let rows = paging(token, |r: &mut Custody, n| r.page_size = n, |r: &mut Custody, t| r.page_token = t);
    w.rpc(
        "ListCustodyEvents",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.list_custody_events(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Contacts = npb::ListPlatformContactsRequest;
    let rows = paging(token, |r: &mut Contacts, n| r.page_size = n, |r: &mut Contacts, t| r.page_token = t);
    w.rpc(
        "ListPlatformContacts",
        &Contacts::default(),
        |r| {
            let mut c = liaison.clone();
            async move { c.list_platform_contacts(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Notices = npb::ListNoticesRequest;
    let mut rows = paging(token, |r: &mut Notices, n| r.page_size = n, |r: &mut Notices, t| r.page_token = t);
    rows.push(row(Class::SqlInFilter, bad("platform"), |r: &mut Notices| r.platform = "platforms/_".into()));
    w.rpc(
        "ListNotices",
        &Notices::default(),
        |r| {
            let mut c = liaison.clone();
            async move { c.list_notices(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type NoticeEvents = npb::ListNoticeEventsRequest;
    let base = NoticeEvents { name: f.notice.clone(), ..Default::default() };
    let rows = paging(token, |r: &mut NoticeEvents, n| r.page_size = n, |r: &mut NoticeEvents, t| r.page_token = t);
    w.rpc(
        "ListNoticeEvents",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.list_notice_events(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Assessments = rpb::ListAssessmentsRequest;
    let rows = paging(token, |r: &mut Assessments, n| r.page_size = n, |r: &mut Assessments, t| r.page_token = t);
    w.rpc(
        "ListAssessments",
        &Assessments::default(),
        |r| {
            let mut c = referral.clone();
            async move { c.list_assessments(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type Referrals = rpb::ListReferralsRequest;
    let mut rows = paging(token, |r: &mut Referrals, n| r.page_size = n, |r: &mut Referrals, t| r.page_token = t);
    rows.push(row(Class::SqlInFilter, bad("agency"), |r: &mut Referrals| r.agency = "POLICE' OR '1'='1".into()));
    w.rpc(
        "ListReferrals",
        &Referrals::default(),
        |r| {
            let mut c = referral.clone();
            async move { c.list_referrals(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type ReferralEvents = rpb::ListReferralEventsRequest;
    let base = ReferralEvents { name: f.referral.clone(), ..Default::default() };
    let rows = paging(token, |r: &mut ReferralEvents, n| r.page_size = n, |r: &mut ReferralEvents, t| r.page_token = t);
    w.rpc(
        "ListReferralEvents",
        &base,
        |r| {
            let mut c = referral.clone();
            async move { c.list_referral_events(r).await.map(drop) }
        },
        rows,
    )
    .await;

    for late in &c.late_records {
        type Late = opb::ListLateRecordsRequest;
        let base = Late {
            as_of: Some(doxwatch_kit::testing::ts("2019-11-08T12:00:00+08:00")),
            recorded_after: Some(doxwatch_kit::testing::ts("2019-11-08T12:00:00+08:00")),
            ..Default::default()
        };
        let mut rows = paging(token, |r: &mut Late, n| r.page_size = n, |r: &mut Late, t| r.page_token = t);
        rows.extend(super::rows::time("as_of", |r: &mut Late, t| r.as_of = t));
        rows.push(row(Class::Missing, bad("as_of"), |r: &mut Late| r.as_of = None));
        rows.push(row(Class::Missing, bad("recorded_after"), |r: &mut Late| r.recorded_after = None));
        rows.push(row(Class::NanosOutOfRange, bad("recorded_after"), |r: &mut Late| {
            r.recorded_after = Some(prost_types::Timestamp { seconds: 1_562_000_000, nanos: -1 })
        }));
        w.rpc(
            "ListLateRecords",
            &base,
            |r| {
                let mut c = late.clone();
                async move { c.list_late_records(r).await.map(drop) }
            },
            rows,
        )
        .await;
    }

    for outbox in &c.outboxes {
        type Rejected = opb::ListRejectedEffectsRequest;
        let rows = paging(token, |r: &mut Rejected, n| r.page_size = n, |r: &mut Rejected, t| r.page_token = t);
        w.rpc(
            "ListRejectedEffects",
            &Rejected::default(),
            |r| {
                let mut c = outbox.clone();
                async move { c.list_rejected_effects(r).await.map(drop) }
            },
            rows,
        )
        .await;
    }
}
