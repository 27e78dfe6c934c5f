//! The statistics RPCs of the four services: their two moments (`as_of`, a business time, and
//! `recorded_before`, any moment a timestamp can hold), liaison's platform filter and
//! link-tracking's channel pages. A read changes nothing; a bad moment, name or page is refused
//! naming its field.

use doxwatch_proto::{intake as ipb, liaison as npb, links as lpb, referral as rpb};
use doxwatch_suite_tests::forged_page_tokens;
use prost_types::Timestamp;

use super::{
    fixture::{Clients, Fixture, far_future},
    rows,
    walk::{Class, Row, Walk, accepted, bad, row},
};

/// The moments of a statistics request: `as_of` as any business time; `recorded_before` outside
/// what a timestamp can hold or with its nanoseconds out of range (a cut in the future counts
/// everything recorded, and is no mistake).
fn moments<R: 'static>(
    as_of: impl Fn(&mut R, Option<Timestamp>) + Copy + Send + Sync + 'static,
    recorded_before: impl Fn(&mut R, Option<Timestamp>) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    let mut rows = rows::time("as_of", as_of);
    let field = "recorded_before";
    let ts = |seconds, nanos| Some(Timestamp { seconds, nanos });
    rows.extend([
        row(Class::FarFuture, accepted(), move |r| recorded_before(r, far_future())),
        row(Class::FarFuture, bad(field), move |r| recorded_before(r, ts(i64::MAX, 0))),
        row(Class::BeforeEarliest, bad(field), move |r| recorded_before(r, ts(i64::MIN, 0))),
        row(Class::NanosOutOfRange, bad(field), move |r| recorded_before(r, ts(1_562_000_000, 1_000_000_000))),
        row(Class::NanosOutOfRange, bad(field), move |r| recorded_before(r, ts(1_562_000_000, -1))),
    ]);
    rows
}

pub async fn walk(w: &mut Walk, c: &Clients, f: &Fixture) {
    type I = ipb::GetIntakeStatisticsRequest;
    let rows = moments(|r: &mut I, t| r.as_of = t, |r: &mut I, t| r.recorded_before = t);
    w.rpc(
        "GetIntakeStatistics",
        &I::default(),
        |r| {
            let mut c = c.intake.clone();
            async move { c.get_intake_statistics(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type L = lpb::GetLinkStatisticsRequest;
    let mut rows = moments(|r: &mut L, t| r.as_of = t, |r: &mut L, t| r.recorded_before = t);
    let forged = forged_page_tokens().swap_remove(0);
    let foreign = f.events_token.clone();
    rows.extend([
        row(Class::NegativePageSize, bad("channel_page_size"), |r: &mut L| r.channel_page_size = -1),
        row(Class::ZeroPageSize, accepted(), |r: &mut L| r.channel_page_size = 0),
        row(Class::HugePageSize, accepted(), |r: &mut L| r.channel_page_size = i32::MAX),
        row(Class::ForgedPageToken, bad("channel_page_token"), move |r: &mut L| r.channel_page_token = forged.clone()),
        row(Class::ForeignPageToken, bad("channel_page_token"), move |r: &mut L| {
            r.channel_page_token = foreign.clone()
        }),
    ]);
    w.rpc(
        "GetLinkStatistics",
        &L::default(),
        |r| {
            let mut c = c.links.clone();
            async move { c.get_link_statistics(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type N = npb::GetLiaisonStatisticsRequest;
    let mut rows = moments(|r: &mut N, t| r.as_of = t, |r: &mut N, t| r.recorded_before = t);
    rows.extend([
        row(Class::MalformedName, bad("platform"), |r: &mut N| r.platform = "platforms/not-a-uuid".into()),
        row(Class::MalformedName, bad("platform"), |r: &mut N| r.platform = "platforms/".into()),
        row(Class::ForeignName, bad("platform"), |r: &mut N| {
            r.platform = "cases/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into()
        }),
    ]);
    w.rpc(
        "GetLiaisonStatistics",
        &N::default(),
        |r| {
            let mut c = c.liaison.clone();
            async move { c.get_liaison_statistics(r).await.map(drop) }
        },
        rows,
    )
    .await;

    type R = rpb::GetReferralStatisticsRequest;
    let rows = moments(|r: &mut R, t| r.as_of = t, |r: &mut R, t| r.recorded_before = t);
    w.rpc(
        "GetReferralStatistics",
        &R::default(),
        |r| {
            let mut c = c.referral.clone();
            async move { c.get_referral_statistics(r).await.map(drop) }
        },
        rows,
    )
    .await;
}
