//! Removal requests, observations and the removal figures as at several moments, against
//! figures worked out by hand: reminders, platform claims, geo-blocks, out-of-order observations,
//! a suspended channel, and backfills after a figure was published.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::links as pb;
use pb::{LinkStatus as S, ObservationSource as Src};

backend_tests!(
    removal_figures_as_at_several_moments,
    removal_requests_and_observations_are_checked,
    history_before_a_link_was_seen_is_refused
);

const N1: &str = "notices/01900000-0000-7000-8000-0000000000n1";

fn notice(n: u32) -> String {
    format!("notices/01900000-0000-7000-8000-{n:012}")
}

async fn request(client: &mut Client, notice: &str, links: &[&pb::Link], served_at: &str) -> i64 {
    client
        .record_removal_requests(pb::RecordRemovalRequestsRequest {
            notice: notice.to_owned(),
            links: links.iter().map(|l| l.name.clone()).collect(),
            served_at: Some(ts(served_at)),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .recorded
}

async fn observe(client: &mut Client, link: &pb::Link, status: S, at: &str, source: Src) -> pb::Observation {
    client
        .record_observations(pb::RecordObservationsRequest {
            observations: vec![pb::Observation {
                link: link.name.clone(),
                status: status as i32,
                observed_at: Some(ts(at)),
                vantage: pb::Vantage::InsideHk as i32,
                source: source as i32,
                ..Default::default()
            }],
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .observations
        .remove(0)
}

async fn stats(
    client: &mut Client,
    as_of: &str,
    recorded_before: Option<prost_types::Timestamp>,
) -> pb::LinkStatistics {
    client
        .get_link_statistics(pb::GetLinkStatisticsRequest {
            as_of: Some(ts(as_of)),
            recorded_before,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
}

fn counts(f: &pb::RemovalFigures) -> (i64, i64, i64, i64) {
    (f.links, f.links_requested, f.links_removed, f.links_access_restricted)
}

const DAY: f64 = 86_400.0;

async fn removal_figures_as_at_several_moments(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut c = app.client.clone();
    let seen = "2019-09-20T00:00:00+08:00";
    let mut t = Vec::new();
    for i in 1..=6 {
        t.push(link(&mut c, &format!("https://t.me/doxchannel/{i}"), seen).await);
    }
    let f1 = link(&mut c, "https://www.facebook.com/groups/999/posts/1/", seen).await;
    let l1 = link(&mut c, "https://lihkg.com/thread/2000000/page/1", seen).await;

    assert_eq!(
        request(&mut c, &notice(1), &[&t[0], &t[1], &t[2], &t[3], &t[4], &f1], "2019-10-01T10:00:00+08:00").await,
        6
    );
    // A reminder asks again for two of them: still one requested link each.
    assert_eq!(request(&mut c, &notice(2), &[&t[0], &t[1]], "2019-10-10T10:00:00+08:00").await, 2);
    // The same notice recorded twice (a redelivered effect) changes nothing.
    assert_eq!(
        request(&mut c, &notice(1), &[&t[0], &t[1], &t[2], &t[3], &t[4], &f1], "2019-10-01T10:00:00+08:00").await,
        0
    );

    observe(&mut c, &t[0], S::Removed, "2019-10-03T10:00:00+08:00", Src::OfficerCheck).await;
    observe(&mut observing_as(&app, "liaison"), &t[1], S::Removed, "2019-10-02T10:00:00+08:00", Src::PlatformReport)
        .await; // a claim
    observe(&mut c, &t[1], S::Online, "2019-10-04T10:00:00+08:00", Src::OfficerCheck).await;
    observe(&mut c, &t[2], S::AccessRestricted, "2019-10-05T10:00:00+08:00", Src::OfficerCheck).await;
    observe(&mut observing_as(&app, "links"), &t[3], S::Removed, "2019-10-20T10:00:00+08:00", Src::AutomatedRecheck)
        .await;
    observe(
        &mut observing_as(&app, "links"),
        &t[4],
        S::ChannelRemoved,
        "2019-11-07T10:00:00+08:00",
        Src::AutomatedRecheck,
    )
    .await;
    // An officer may record their own checks only: not a platform's claim, not an automated check.
    for source in [Src::PlatformReport, Src::AutomatedRecheck] {
        let forged = pb::Observation {
            link: t[2].name.clone(),
            status: S::Removed as i32,
            observed_at: Some(ts("2019-10-05T10:00:00+08:00")),
            source: source as i32,
            ..Default::default()
        };
        let err = c
            .record_observations(pb::RecordObservationsRequest {
                observations: vec![forged],
                request_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{source:?}: {err:?}");
    }
    observe(&mut c, &f1, S::Removed, "2019-10-02T10:00:00+08:00", Src::OfficerCheck).await;
    observe(&mut c, &t[5], S::Removed, "2019-10-02T10:00:00+08:00", Src::OfficerCheck).await; // never asked
    let channel = t[0].channel.clone();
    c.record_channel_status(pb::RecordChannelStatusRequest {
        channel: channel.clone(),
        status: pb::ChannelStatus::Suspended as i32,
        effective_at: Some(ts("2019-11-07T00:00:00+08:00")),
        source: "platform announcement".into(),
        request_id: String::new(),
    })
    .await
    .unwrap();

    // Backfills after publication: an earlier ONLINE check of T4, and a request for T6. The figures
    // are published just before the first is recorded.
    let backfill = observe(&mut c, &t[3], S::Online, "2019-10-15T10:00:00+08:00", Src::OfficerCheck).await;
    let published = backfill.record_time.expect("the observation's record time");
    assert_eq!(request(&mut c, &notice(3), &[&t[5]], "2019-10-05T10:00:00+08:00").await, 1);

    let noon = "2019-11-08T12:00:00+08:00";
    let published_noon = stats(&mut c, noon, Some(published)).await;
    let total = published_noon.total.unwrap();
    assert_eq!(counts(&total), (8, 6, 4, 1), "T1, T4, T5 and F1 removed of six asked; T3 restricted");
    assert!((total.removal_rate - 4.0 / 6.0).abs() < 1e-9);
    assert_eq!(total.median_seconds_to_removal, 2.0 * DAY, "removal times 1, 2, 19 and 37 days");
    assert_eq!(total.p90_seconds_to_removal, 37.0 * DAY);
    assert_eq!(published_noon.platforms_involved, 3);
    let telegram = &published_noon.by_platform[0];
    assert_eq!(telegram.display_name, "Telegram", "most links requested first");
    assert_eq!(telegram.kind, pb::PlatformKind::InstantMessaging as i32);
    assert_eq!(counts(telegram.figures.as_ref().unwrap()), (6, 5, 3, 1));
    let channel_figures = published_noon.by_channel.iter().find(|f| f.channel == channel).unwrap();
    assert_eq!(counts(channel_figures.figures.as_ref().unwrap()), (6, 5, 3, 1));
    assert_eq!(channel_figures.status, pb::ChannelStatus::Suspended as i32);
    assert_eq!(published_noon.suspended_channels.len(), 1);
    assert_eq!(published_noon.suspended_channels[0].handle, "doxchannel");
    assert_eq!(published_noon.suspended_channels[0].suspended_since, Some(ts("2019-11-07T00:00:00+08:00")));

    // With the backfills: T6 is asked for (and was already removed); T4's earlier ONLINE check
    // does not change its status at noon on 8 November.
    let now_noon = stats(&mut c, noon, None).await;
    assert_eq!(counts(now_noon.total.as_ref().unwrap()), (8, 7, 5, 1));

    // Earlier moments give earlier, smaller figures.
    let mid_october = stats(&mut c, "2019-10-16T12:00:00+08:00", None).await;
    let total = mid_october.total.unwrap();
    assert_eq!(counts(&total), (8, 7, 3, 1), "T1, F1 and T6 removed; T4 seen online on 15 October");
    assert!(mid_october.suspended_channels.is_empty());
    let before_any = stats(&mut c, "2019-09-30T12:00:00+08:00", None).await;
    assert_eq!(counts(before_any.total.as_ref().unwrap()), (8, 0, 0, 0));
    assert_eq!(before_any.total.unwrap().removal_rate, 0.0);
    let before_seen = stats(&mut c, "2019-09-01T00:00:00+08:00", None).await;
    assert_eq!(before_seen.platforms_involved, 0);

    // The link's status follows confirmed observations only.
    let t2 = c.get_link(pb::GetLinkRequest { name: t[1].name.clone() }).await.unwrap().into_inner();
    assert_eq!(t2.status, S::Online as i32);
    let history = c
        .list_observations(pb::ListObservationsRequest { link: t[3].name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .observations;
    let order: Vec<i32> = history.iter().map(|o| o.status).collect();
    assert_eq!(order, vec![S::Online as i32, S::Removed as i32], "in business-time order");
    assert_eq!(history[0].recorded_by, "officer-lee");
    let removed_now = c
        .list_links(pb::ListLinksRequest { status: S::Removed as i32, ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .links;
    assert_eq!(removed_now.len(), 4, "T1, T4, F1, T6 (T5 is CHANNEL_REMOVED)");
    let _ = l1;
    app.stop().await;
}

async fn removal_requests_and_observations_are_checked(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut c = app.client.clone();
    let l = link(&mut c, "https://t.me/x/1", "2019-09-20T00:00:00Z").await;
    let err = c
        .record_removal_requests(pb::RecordRemovalRequestsRequest {
            notice: N1.into(),
            links: vec![l.name.clone(), "links/01900000-0000-7000-8000-000000000000".into(), l.name.clone()],
            served_at: None,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["notice", "links[2]", "served_at"]);
    let err = c
        .record_removal_requests(pb::RecordRemovalRequestsRequest {
            notice: notice(7),
            links: vec![l.name.clone(), "links/01900000-0000-7000-8000-000000000000".into()],
            served_at: Some(ts("2019-10-01T00:00:00Z")),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["links[1]"]);
    let err = c
        .record_observations(pb::RecordObservationsRequest {
            observations: vec![pb::Observation {
                link: l.name.clone(),
                status: 0,
                observed_at: Some(ts("2999-01-01T00:00:00Z")),
                vantage: 9,
                source: 0,
                ..Default::default()
            }],
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        vec![
            "observations[0].status",
            "observations[0].observed_at",
            "observations[0].vantage",
            "observations[0].source"
        ]
    );
    let figures = stats(&mut c, "2019-12-01T00:00:00Z", None).await;
    assert_eq!(counts(figures.total.as_ref().unwrap()), (1, 0, 0, 0), "nothing was recorded");
    let history = c
        .list_observations(pb::ListObservationsRequest { link: l.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .observations;
    assert!(history.is_empty());
    app.stop().await;
}

async fn history_before_a_link_was_seen_is_refused(db: TestDatabase) {
    use tonic_types::StatusExt;
    let app = spawn_app(&db).await;
    let mut c = app.client.clone();
    let seen = link(&mut c, "https://lihkg.com/thread/4242/page/1", "2026-03-01T10:00:00+08:00").await;
    let before = c
        .list_observations(pb::ListObservationsRequest { link: seen.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .observations
        .len();
    // A removal dated before the post was first seen (a typo of a year) is refused, naming the
    // first sighting; so is a request served before it.
    let typo = c
        .record_observations(pb::RecordObservationsRequest {
            observations: vec![pb::Observation {
                link: seen.name.clone(),
                status: S::Removed as i32,
                observed_at: Some(ts("2019-03-02T10:00:00+08:00")),
                vantage: pb::Vantage::InsideHk as i32,
                source: Src::OfficerCheck as i32,
                ..Default::default()
            }],
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(typo.code(), tonic::Code::FailedPrecondition, "{typo:?}");
    assert_eq!(typo.get_details_error_info().map(|i| i.reason), Some("BEFORE_FIRST_SIGHTING".to_owned()));
    assert!(typo.message().contains("2026-03-01T02:00:00Z"), "{typo:?}");
    let early = c
        .record_removal_requests(pb::RecordRemovalRequestsRequest {
            notice: notice(7),
            links: vec![seen.name.clone()],
            served_at: Some(ts("2026-02-01T10:00:00+08:00")),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(early.get_details_error_info().map(|i| i.reason), Some("BEFORE_FIRST_SIGHTING".to_owned()));
    // Before the earliest business time at all: INVALID_ARGUMENT, naming the field.
    let ancient = c
        .record_observations(pb::RecordObservationsRequest {
            observations: vec![pb::Observation {
                link: seen.name.clone(),
                status: S::Removed as i32,
                observed_at: Some(ts("1969-12-31T00:00:00Z")),
                vantage: pb::Vantage::InsideHk as i32,
                source: Src::OfficerCheck as i32,
                ..Default::default()
            }],
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&ancient), vec!["observations[0].observed_at".to_owned()]);
    let after = c
        .list_observations(pb::ListObservationsRequest { link: seen.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .observations
        .len();
    assert_eq!(after, before, "nothing was recorded");
    let figures = stats(&mut c, "2026-12-01T00:00:00Z", None).await;
    assert_eq!(figures.total.map(|t| t.links_removed), Some(0));
    // On the day it was seen, or after, both are taken.
    assert_eq!(request(&mut c, &notice(7), &[&seen], "2026-03-01T10:00:00+08:00").await, 1);
    observe(&mut c, &seen, S::Removed, "2026-03-02T10:00:00+08:00", Src::OfficerCheck).await;
    app.stop().await;
}
