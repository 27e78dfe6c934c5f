//! The per-channel removal figures come a page at a time: the top channels first (most links
//! requested, then most links, then by name), the rest behind a page token that keeps the first
//! page's moments, so every page counts the same records even when links arrive in between.

mod common;

use common::*;
use doxwatch_kit::testing::{TestDatabase, violated_fields};
use doxwatch_proto::links as pb;

backend_tests!(the_channels_figures_come_top_first_a_page_at_a_time, bad_channel_pages_are_refused_naming_the_field);

const AS_OF: &str = "2019-11-08T12:00:00+08:00";

/// Seven Telegram channels; channel `c{i}` has `i + 1` links, and removal requests for links of
/// `c1`, `c4` and `c6` (two for `c1`).
async fn seven_channels(app: &TestApp) {
    let mut c = app.client.clone();
    let seen = "2019-09-20T00:00:00+08:00";
    let registrations: Vec<pb::LinkRegistration> =
        (0..7).flat_map(|i| (0..=i).map(move |n| registration(&format!("https://t.me/c{i}/{n}"), "", seen))).collect();
    let links: Vec<pb::Link> =
        register(&mut c, registrations).await.into_iter().map(|r| r.link.expect("a link")).collect();
    let requested: Vec<String> = links
        .iter()
        .filter(|l| ["/c1/0", "/c1/1", "/c4/0", "/c6/0"].iter().any(|tail| l.canonical_url.ends_with(tail)))
        .map(|l| l.name.clone())
        .collect();
    assert_eq!(requested.len(), 4);
    c.record_removal_requests(pb::RecordRemovalRequestsRequest {
        notice: "notices/01900000-0000-7000-8000-000000000001".into(),
        links: requested,
        served_at: Some(ts("2019-10-01T10:00:00+08:00")),
        request_id: String::new(),
    })
    .await
    .expect("requests recorded");
}

async fn page(app: &TestApp, size: i32, token: &str) -> Result<pb::LinkStatistics, tonic::Status> {
    app.client
        .clone()
        .get_link_statistics(pb::GetLinkStatisticsRequest {
            as_of: Some(ts(AS_OF)),
            recorded_before: None,
            channel_page_size: size,
            channel_page_token: token.to_owned(),
        })
        .await
        .map(|r| r.into_inner())
}

fn handles(s: &pb::LinkStatistics) -> Vec<&str> {
    s.by_channel.iter().map(|c| c.handle.as_str()).collect()
}

async fn the_channels_figures_come_top_first_a_page_at_a_time(db: TestDatabase) {
    let app = spawn_app(&db).await;
    seven_channels(&app).await;
    let first = page(&app, 3, "").await.expect("the first page");
    assert_eq!(first.channels_involved, 7);
    // c1 has two links requested; c6 and c4 one each, c6 with more links.
    assert_eq!(handles(&first), vec!["c1", "c6", "c4"]);
    assert!(!first.next_channel_page_token.is_empty());

    // Links that arrive between pages do not move the later pages: the token keeps the moment.
    let mut c = app.client.clone();
    link(&mut c, "https://t.me/c7/0", "2019-09-21T00:00:00+08:00").await;
    let second = page(&app, 3, &first.next_channel_page_token).await.expect("the second page");
    assert_eq!(handles(&second), vec!["c5", "c3", "c2"], "then most links");
    assert_eq!(second.channels_involved, 7, "counted as the first page counted");
    assert!(first.recorded_before.is_none(), "asked without one");
    assert!(second.recorded_before.is_some(), "a later page says which records it counted");
    let third = page(&app, 3, &second.next_channel_page_token).await.expect("the last page");
    assert_eq!(handles(&third), vec!["c0"]);
    assert!(third.next_channel_page_token.is_empty(), "the last page has no next");
    // A fresh first page sees the new channel; the default page holds all eight.
    let now = page(&app, 0, "").await.expect("the figures");
    assert_eq!(now.channels_involved, 8);
    assert_eq!(now.by_channel.len(), 8);
    assert!(now.next_channel_page_token.is_empty());
    app.stop().await;
}

async fn bad_channel_pages_are_refused_naming_the_field(db: TestDatabase) {
    let app = spawn_app(&db).await;
    seven_channels(&app).await;
    let status = page(&app, -1, "").await.expect_err("a negative size");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(violated_fields(&status), vec!["channel_page_size"]);
    for token in ["not-a-token", "eyJ2IjoxfQ"] {
        let status = page(&app, 3, token).await.expect_err(token);
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{token}");
        assert_eq!(violated_fields(&status), vec!["channel_page_token"], "{token}");
    }
    // A token of one moment is refused for another.
    let first = page(&app, 3, "").await.expect("the first page");
    let status = app
        .client
        .clone()
        .get_link_statistics(pb::GetLinkStatisticsRequest {
            as_of: Some(ts("2019-11-01T12:00:00+08:00")),
            channel_page_token: first.next_channel_page_token.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another moment");
    assert_eq!(violated_fields(&status), vec!["channel_page_token"]);
    // A token forged from a real one: an offset past any listing, or a moment in the future.
    let forged = |position: serde_json::Value| {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let bytes = URL_SAFE_NO_PAD.decode(&first.next_channel_page_token).expect("a token");
        let mut token: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        token["p"] = position;
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).expect("json"))
    };
    let moment = serde_json::json!([1_573_185_600, 0]);
    for position in [
        serde_json::json!({ "offset": u64::MAX, "as_of": moment, "recorded_before": moment }),
        serde_json::json!({ "offset": 3, "as_of": [i64::MAX, 0], "recorded_before": moment }),
        serde_json::json!({ "offset": 3, "as_of": moment, "recorded_before": [0, -1] }),
    ] {
        let status = page(&app, 3, &forged(position.clone())).await.expect_err("forged");
        assert_eq!(violated_fields(&status), vec!["channel_page_token"], "{position}");
    }
    // A huge page size is taken as the most a page holds, not refused.
    let all = page(&app, i32::MAX, "").await.expect("the figures");
    assert_eq!(all.by_channel.len(), 7);
    app.stop().await;
}
