//! Registering links: deduplication across spellings, platforms made for unknown sites, channels,
//! citations, reads, listing and imports.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::links as pb;
use pb::RegistrationOutcome as O;
use tonic::Code;

backend_tests!(
    spellings_of_one_post_are_one_link,
    unknown_sites_get_their_own_unclassified_platform,
    channels_are_derived_and_keep_their_status_history,
    reads_lists_and_filters,
    refusals_and_bad_requests,
    imports_a_patrol_export_in_batches,
);

async fn spellings_of_one_post_are_one_link(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let results = register(
        &mut client,
        vec![
            registration("https://t.me/s/ExampleChannel/101?single", CASE_A, "2019-07-02T10:00:00+08:00"),
            registration("http://telegram.me/examplechannel/101#top", CASE_B, "2019-07-01T10:00:00+08:00"),
            registration("https://youtu.be/dQw4w9WgXcQ?t=42", CASE_A, "2019-07-03T10:00:00+08:00"),
            registration("https://m.youtube.com/watch?v=dQw4w9WgXcQ&utm_source=x", "", "2019-07-04T10:00:00+08:00"),
        ],
    )
    .await;
    let outcomes: Vec<i32> = results.iter().map(|r| r.outcome).collect();
    assert_eq!(outcomes, vec![O::New as i32, O::Known as i32, O::New as i32, O::Known as i32]);
    let telegram = results[1].link.clone().unwrap();
    assert_eq!(telegram.canonical_url, "https://t.me/examplechannel/101");
    assert_eq!(telegram.reported_url, "https://t.me/s/ExampleChannel/101?single", "the first form seen is kept");
    assert_eq!(telegram.message_id, "101");
    assert_eq!(telegram.first_seen_at, Some(ts("2019-07-01T10:00:00+08:00")), "the earliest sighting");
    assert_eq!(telegram.cases, vec![CASE_A, CASE_B]);
    assert_eq!(telegram.case_count, 2);
    assert_eq!(telegram.status, pb::LinkStatus::Online as i32);
    assert_eq!(telegram.platform, platform_named(&mut client, "Telegram").await.name);
    let youtube = results[3].link.clone().unwrap();
    assert_eq!(youtube.canonical_url, "https://www.youtube.com/watch?v=dQw4w9WgXcQ");
    assert_eq!(youtube.name, results[2].link.as_ref().unwrap().name);

    // Registering again (as an outbox retry would, without a request id) changes nothing.
    let again = register(
        &mut client,
        vec![registration("https://t.me/examplechannel/101", CASE_A, "2019-07-02T10:00:00+08:00")],
    )
    .await;
    assert_eq!(again[0].outcome, O::Known as i32);
    assert_eq!(again[0].link.as_ref().unwrap().cases, vec![CASE_A, CASE_B]);
    assert_eq!(again[0].link.as_ref().unwrap().case_count, 2, "a case citing a link again is counted once");
    app.stop().await;
}

async fn unknown_sites_get_their_own_unclassified_platform(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let a = link(&mut client, "https://www.doxx-site.example.co.uk/post/1", "2019-08-01T00:00:00Z").await;
    let b = link(&mut client, "https://forum.doxx-site.example.co.uk/t/2", "2019-08-01T00:00:00Z").await;
    assert_eq!(a.platform, b.platform, "one registrable domain, one platform");
    let platform = client.get_platform(pb::GetPlatformRequest { name: a.platform.clone() }).await.unwrap().into_inner();
    assert_eq!(platform.display_name, "example.co.uk");
    assert_eq!(platform.kind, pb::PlatformKind::Unclassified as i32);
    assert_eq!(platform.domains, vec!["example.co.uk"]);

    // Sites under private suffixes are separate sites.
    let blog1 = link(&mut client, "https://alice.blogspot.com/2019/08/post.html", "2019-08-01T00:00:00Z").await;
    let blog2 = link(&mut client, "https://bob.blogspot.com/2019/08/post.html", "2019-08-01T00:00:00Z").await;
    assert_ne!(blog1.platform, blog2.platform);
    let subdomain = link(&mut client, "https://m.facebook.com/groups/123/permalink/456/", "2019-08-01T00:00:00Z").await;
    assert_eq!(subdomain.platform, platform_named(&mut client, "Facebook").await.name);
    app.stop().await;
}

async fn channels_are_derived_and_keep_their_status_history(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let first = link(&mut client, "https://t.me/doxchannel/1", "2019-09-01T00:00:00+08:00").await;
    let second = link(&mut client, "https://t.me/DoxChannel/2", "2019-09-02T00:00:00+08:00").await;
    assert!(!first.channel.is_empty());
    assert_eq!(first.channel, second.channel);
    let channel = client
        .get_channel(pb::GetChannelRequest { name: first.channel.clone(), as_of: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(channel.handle, "doxchannel");
    assert_eq!(channel.url, "https://t.me/doxchannel");
    assert_eq!(channel.status, pb::ChannelStatus::Active as i32);

    client
        .record_channel_status(pb::RecordChannelStatusRequest {
            channel: first.channel.clone(),
            status: pb::ChannelStatus::Suspended as i32,
            effective_at: Some(ts("2019-11-07T00:00:00+08:00")),
            source: "platform announcement".into(),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let at = |t: &str| pb::GetChannelRequest { name: first.channel.clone(), as_of: Some(ts(t)) };
    let before = client.get_channel(at("2019-11-06T12:00:00+08:00")).await.unwrap().into_inner();
    assert_eq!(before.status, pb::ChannelStatus::Active as i32);
    let after = client.get_channel(at("2019-11-08T12:00:00+08:00")).await.unwrap().into_inner();
    assert_eq!(after.status, pb::ChannelStatus::Suspended as i32);
    assert_eq!(after.status_since, Some(ts("2019-11-07T00:00:00+08:00")));

    let suspended = client
        .list_channels(pb::ListChannelsRequest {
            status: pb::ChannelStatus::Suspended as i32,
            as_of: Some(ts("2019-11-08T12:00:00+08:00")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channels;
    assert_eq!(suspended.len(), 1);
    let suspended_earlier = client
        .list_channels(pb::ListChannelsRequest {
            status: pb::ChannelStatus::Suspended as i32,
            as_of: Some(ts("2019-11-01T12:00:00+08:00")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channels;
    assert!(suspended_earlier.is_empty());

    // A channel's suspension does not by itself change its links' status.
    let got = client.get_link(pb::GetLinkRequest { name: first.name.clone() }).await.unwrap().into_inner();
    assert_eq!(got.status, pb::LinkStatus::Online as i32);
    app.stop().await;
}

async fn reads_lists_and_filters(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut names = Vec::new();
    for i in 0..5 {
        let case = if i < 2 { CASE_A } else { CASE_B };
        let r = register(
            &mut client,
            vec![registration(
                &format!("https://lihkg.com/thread/{}/page/1", 1000 + i),
                case,
                &format!("2019-10-0{}T00:00:00Z", i + 1),
            )],
        )
        .await;
        names.push(r[0].link.clone().unwrap().name);
    }
    let got = client
        .batch_get_links(pb::BatchGetLinksRequest { names: vec![names[3].clone(), names[0].clone()] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.links.iter().map(|l| l.name.clone()).collect::<Vec<_>>(), vec![names[3].clone(), names[0].clone()]);
    let err = client
        .batch_get_links(pb::BatchGetLinksRequest {
            names: vec![names[0].clone(), "links/01900000-0000-7000-8000-000000000000".into()],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_links(pb::ListLinksRequest { page_size: 2, page_token: token.clone(), ..Default::default() })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.links.into_iter().map(|l| l.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, names);
    let by_case = client
        .list_links(pb::ListLinksRequest { case: CASE_A.into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .links;
    assert_eq!(by_case.len(), 2);
    let by_time = client
        .list_links(pb::ListLinksRequest {
            first_seen_after: Some(ts("2019-10-02T00:00:00Z")),
            first_seen_before: Some(ts("2019-10-04T00:00:00Z")),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .links;
    assert_eq!(by_time.len(), 2);
    let lihkg = platform_named(&mut client, "LIHKG").await;
    let by_platform = client
        .list_links(pb::ListLinksRequest { platform: lihkg.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .links;
    assert_eq!(by_platform.len(), 5);
    app.stop().await;
}

async fn refusals_and_bad_requests(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let results = register(
        &mut client,
        vec![
            registration("javascript:alert(1)", "", "2019-10-01T00:00:00Z"),
            registration("https://user:pw@example.com/x", "", "2019-10-01T00:00:00Z"),
            registration("https://t.me/fine/9", "", "2019-10-01T00:00:00Z"),
        ],
    )
    .await;
    assert_eq!(results[0].outcome, O::Refused as i32);
    assert!(results[0].link.is_none());
    assert!(!results[0].error.is_empty());
    assert_eq!(results[1].outcome, O::Refused as i32);
    assert_eq!(results[2].outcome, O::New as i32);

    let err = client
        .register_links(pb::RegisterLinksRequest {
            registrations: vec![pb::LinkRegistration {
                url: "https://t.me/x/1".into(),
                case: "case/1".into(),
                seen_at: Some(ts("2999-01-01T00:00:00Z")),
            }],
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["registrations[0].case", "registrations[0].seen_at"]);
    let err = client.register_links(pb::RegisterLinksRequest::default()).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["registrations"]);
    let all = client.list_links(pb::ListLinksRequest::default()).await.unwrap().into_inner().links;
    assert_eq!(all.len(), 1, "only the accepted URL is stored");
    app.stop().await;
}

async fn imports_a_patrol_export_in_batches(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut messages = Vec::new();
    let total = 100_000;
    for chunk in 0..(total / 1000) {
        let registrations = (0..1000)
            .map(|i| {
                let n = chunk * 1000 + i;
                let url = match n % 100 {
                    0 => "not a url".to_owned(),
                    2 => format!("https://t.me/s/patrolchannel/{}", n - 1), // a spelling of the one before
                    _ => format!("https://t.me/patrolchannel/{n}"),
                };
                pb::LinkRegistration { url, case: String::new(), seen_at: Some(ts("2019-09-01T00:00:00Z")) }
            })
            .collect();
        messages.push(pb::ImportLinksRequest { registrations });
    }
    let response = client.import_links(tokio_stream::iter(messages)).await.unwrap().into_inner();
    assert_eq!(response.refused, 1_000);
    assert_eq!(response.new_links, 98_000);
    assert_eq!(response.known_links, 1_000);
    assert_eq!(response.refusals.len(), 1);
    assert_eq!(response.refusals[0].count, 1_000);
    assert!(response.refusals[0].examples.len() <= 5);
    let stats = client
        .get_link_statistics(pb::GetLinkStatisticsRequest {
            as_of: Some(ts("2019-09-02T00:00:00Z")),
            recorded_before: None,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.total.unwrap().links, 98_000);
    app.stop().await;
}
