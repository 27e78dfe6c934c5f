//! Correspondence figures as at several moments, against counts worked out by hand.

mod common;

use common::*;
use doxwatch_proto::liaison as pb;
use pb::{NoticeKind as K, ReplyOutcome as O};

backend_tests!(correspondence_figures_as_at_several_moments);

async fn stats(s: &mut Suite, as_of: &str, recorded_before: Option<prost_types::Timestamp>) -> pb::LiaisonStatistics {
    s.liaison
        .get_liaison_statistics(pb::GetLiaisonStatisticsRequest {
            as_of: Some(ts(as_of)),
            recorded_before,
            platform: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn served(f: &pb::CorrespondenceFigures, kind: K) -> i64 {
    f.served_by_kind.iter().find(|k| k.kind == kind as i32).map_or(-1, |k| k.notices)
}

async fn correspondence_figures_as_at_several_moments(stores: Stores) {
    let mut s = start(&stores).await;
    let t = s.links(&["https://t.me/doxchan/1", "https://t.me/doxchan/2"]).await;
    let f = s.links(&["https://www.facebook.com/groups/9/posts/1/"]).await;
    let telegram = s.platform(&t[0]).await;
    let facebook = s.platform(&f[0]).await;

    // Telegram: a removal request on 1 Oct, its reminder on 20 Oct, a disclosure request on 2 Oct
    // answered with data on 10 Oct. Facebook: a removal request on 5 Oct, complied on 8 Oct; a
    // disclosure request on 6 Oct that goes unanswered; a draft never served.
    let r1 = s.draft(K::RemovalRequest, &telegram, &t).await;
    s.serve(&r1.name, "2019-10-01T10:00:00+08:00").await;
    let d1 = s.draft(K::DisclosureRequest, &telegram, &t[..1]).await;
    s.serve(&d1.name, "2019-10-02T10:00:00+08:00").await;
    s.liaison
        .record_reply(pb::RecordReplyRequest {
            name: d1.name.clone(),
            received_at: Some(ts("2019-10-10T10:00:00+08:00")),
            all_items: O::DataProvided as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let r2 = s.draft(K::RemovalRequest, &facebook, &f).await;
    s.serve(&r2.name, "2019-10-05T10:00:00+08:00").await;
    s.liaison
        .record_reply(pb::RecordReplyRequest {
            name: r2.name.clone(),
            received_at: Some(ts("2019-10-08T10:00:00+08:00")),
            all_items: O::Complied as i32,
            ..Default::default()
        })
        .await
        .unwrap();
    let d2 = s.draft(K::DisclosureRequest, &facebook, &f).await;
    s.serve(&d2.name, "2019-10-06T10:00:00+08:00").await;
    s.draft(K::RemovalRequest, &facebook, &f).await;

    // The figures are published just before the reminder is recorded.
    let reminder = s
        .liaison
        .remind_notice(pb::RemindNoticeRequest { name: r1.name.clone(), request_id: String::new() })
        .await
        .unwrap()
        .into_inner();
    let published = reminder.create_time.expect("the reminder's record time");
    s.serve(&reminder.name, "2019-10-20T10:00:00+08:00").await;
    // Both platforms' attention drawn to an injunction, on 29 and 30 Oct; a summons to Telegram
    // drafted (considered) and never served.
    let i1 = s.draft(K::InjunctionNotice, &facebook, &f).await;
    s.serve(&i1.name, "2019-10-29T10:00:00+08:00").await;
    let i2 = s.draft(K::InjunctionNotice, &telegram, &t).await;
    s.serve(&i2.name, "2019-10-30T15:00:00+08:00").await;
    s.draft(K::Summons, &telegram, &t[..1]).await;

    let end = stats(&mut s, "2019-10-31T12:00:00+08:00", None).await;
    let total = end.total.clone().unwrap();
    assert_eq!(end.platforms_written_to, 2);
    assert_eq!(total.notices_served, 7);
    assert_eq!(total.letters_sent, 3, "two removal requests and one reminder of one");
    assert_eq!(served(&total, K::InjunctionNotice), 2);
    let injunctions = total.service_by_kind.iter().find(|k| k.kind == K::InjunctionNotice as i32).unwrap();
    assert_eq!((injunctions.notices, injunctions.platforms), (2, 2));
    assert_eq!(injunctions.first_served_at, Some(ts("2019-10-29T10:00:00+08:00")));
    assert_eq!(injunctions.last_served_at, Some(ts("2019-10-30T15:00:00+08:00")));
    let removals = total.service_by_kind.iter().find(|k| k.kind == K::RemovalRequest as i32).unwrap();
    assert_eq!((removals.notices, removals.platforms), (2, 2));
    assert!(total.service_by_kind.iter().all(|k| k.kind != K::Summons as i32), "no summons served");
    // Drafts have no business time: none existed yet as at 31 October 2019.
    assert!(total.drafted_by_kind.iter().all(|k| k.notices == 0), "{:?}", total.drafted_by_kind);
    assert_eq!(
        end.by_platform.iter().map(|p| served(p.figures.as_ref().unwrap(), K::InjunctionNotice)).sum::<i64>(),
        2
    );
    assert_eq!(served(&total, K::RemovalRequest), 2);
    assert_eq!(served(&total, K::Reminder), 1);
    assert_eq!(served(&total, K::DisclosureRequest), 2);
    let d = total.disclosure_requests.unwrap();
    assert_eq!((d.sent, d.answered, d.refused, d.unanswered), (2, 1, 0, 1));
    // Overdue on 31 Oct: r1 (deadline 15 Oct, no reply), d2 (20 Oct, no reply); the reminder's
    // deadline is 27 Oct: overdue too.
    assert_eq!(total.overdue, 3);
    let complied = total.replies_by_outcome.iter().find(|o| o.outcome == O::Complied as i32).map_or(0, |o| o.items);
    assert_eq!(complied, 1);
    assert_eq!(end.by_platform[0].platform, telegram, "most letters first");

    let early = stats(&mut s, "2019-10-03T12:00:00+08:00", None).await;
    let total = early.total.unwrap();
    assert_eq!((early.platforms_written_to, total.notices_served, total.letters_sent, total.overdue), (1, 2, 1, 0));

    let as_published = stats(&mut s, "2019-10-31T12:00:00+08:00", Some(published)).await;
    let total = as_published.total.unwrap();
    assert_eq!((total.notices_served, total.letters_sent, total.overdue), (4, 2, 2), "the reminder came later");

    // As at now: the summons and the Facebook removal request are in draft; nothing else is.
    let now = s
        .liaison
        .get_liaison_statistics(pb::GetLiaisonStatisticsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .total
        .unwrap();
    let drafted: Vec<(i32, i64)> =
        now.drafted_by_kind.iter().filter(|k| k.notices > 0).map(|k| (k.kind, k.notices)).collect();
    assert_eq!(drafted, vec![(K::RemovalRequest as i32, 1), (K::Summons as i32, 1)]);
    assert_eq!(now.drafted_by_kind.len(), 7, "every kind is listed");

    let only_facebook = s
        .liaison
        .get_liaison_statistics(pb::GetLiaisonStatisticsRequest {
            as_of: Some(ts("2019-10-31T12:00:00+08:00")),
            recorded_before: None,
            platform: facebook.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_facebook.platforms_written_to, 1);
    assert_eq!(only_facebook.total.unwrap().notices_served, 3);
    s.stop().await;
}
