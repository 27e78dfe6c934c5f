//! Channel handles in the removal figures: a handle can itself identify a victim, so
//! GetLinkStatistics names channels only to callers the policy lets read them (GetChannel) and
//! leaves the handles empty for everyone else, whose figures are otherwise the same.

mod common;

use common::*;
use doxwatch_kit::{
    policy::Role,
    testing::{OfficerWith, TestDatabase},
};
use doxwatch_proto::links::{self as pb, links_service_client::LinksServiceClient};
use tonic::{service::interceptor::InterceptedService, transport::Channel};

backend_tests!(
    a_report_reader_gets_the_figures_without_channel_handles,
    the_policy_not_a_list_of_roles_decides_who_gets_the_handles
);

const REPORT_READER: &[Role] = &[Role::ReportReader];
const LIAISON_OFFICER: &[Role] = &[Role::LiaisonOfficer];
const AS_OF: &str = "2019-11-08T12:00:00+08:00";

type OfficerClient = LinksServiceClient<InterceptedService<Channel, OfficerWith>>;

fn officer(app: &TestApp, id: &'static str, roles: &'static [Role]) -> OfficerClient {
    LinksServiceClient::with_interceptor(app.channel.clone(), OfficerWith(id, roles))
}

async fn stats(client: &mut OfficerClient) -> pb::LinkStatistics {
    client
        .get_link_statistics(pb::GetLinkStatisticsRequest {
            as_of: Some(ts(AS_OF)),
            recorded_before: None,
            ..Default::default()
        })
        .await
        .expect("the figures")
        .into_inner()
}

/// The channel `t.me/doxchannel`, with two links (one asked to be removed), suspended on
/// 7 November 2019; answers its name.
async fn suspended_channel(app: &TestApp) -> String {
    let mut c = app.client.clone();
    let seen = "2019-09-20T00:00:00+08:00";
    let first = link(&mut c, "https://t.me/doxchannel/1", seen).await;
    link(&mut c, "https://t.me/doxchannel/2", seen).await;
    c.record_removal_requests(pb::RecordRemovalRequestsRequest {
        notice: "notices/01900000-0000-7000-8000-000000000001".into(),
        links: vec![first.name.clone()],
        served_at: Some(ts("2019-10-01T10:00:00+08:00")),
        request_id: String::new(),
    })
    .await
    .unwrap();
    c.record_channel_status(pb::RecordChannelStatusRequest {
        channel: first.channel.clone(),
        status: pb::ChannelStatus::Suspended as i32,
        effective_at: Some(ts("2019-11-07T00:00:00+08:00")),
        source: "platform announcement".into(),
        request_id: String::new(),
    })
    .await
    .unwrap();
    first.channel
}

/// The figures with every handle taken out: what a caller without them should get.
fn without_handles(mut s: pb::LinkStatistics) -> pb::LinkStatistics {
    s.handles_included = false;
    s.suspended_channels.iter_mut().for_each(|c| c.handle.clear());
    s.by_channel.iter_mut().for_each(|c| c.handle.clear());
    s
}

async fn a_report_reader_gets_the_figures_without_channel_handles(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let channel = suspended_channel(&app).await;

    let mut liaison = officer(&app, "officer-liaison", LIAISON_OFFICER);
    let named = stats(&mut liaison).await;
    assert!(named.handles_included);
    assert_eq!(named.suspended_channels.len(), 1);
    assert_eq!(named.suspended_channels[0].handle, "doxchannel");
    assert_eq!(named.suspended_channels[0].channel, channel);
    assert_eq!(named.by_channel[0].handle, "doxchannel");

    // A report reader may not read channels, and the figures do not tell it their handles either.
    let mut reader = officer(&app, "officer-reader", REPORT_READER);
    let denied = reader.get_channel(pb::GetChannelRequest { name: channel.clone(), ..Default::default() }).await;
    assert_eq!(denied.unwrap_err().code(), tonic::Code::PermissionDenied);
    let figures = stats(&mut reader).await;
    assert!(!figures.handles_included);
    assert_eq!(figures.suspended_channels.len(), 1);
    assert_eq!(figures.suspended_channels[0].handle, "");
    assert_eq!(figures.suspended_channels[0].channel, channel);
    assert_eq!(figures.suspended_channels[0].suspended_since, Some(ts("2019-11-07T00:00:00+08:00")));
    assert!(!figures.by_channel.is_empty());
    assert!(figures.by_channel.iter().all(|c| c.handle.is_empty()), "{:?}", figures.by_channel);
    assert_eq!(figures, without_handles(named), "the same figures, less the handles");
    app.stop().await;
}

async fn the_policy_not_a_list_of_roles_decides_who_gets_the_handles(db: TestDatabase) {
    // A deployment that lets report readers read channels, and liaison officers no longer.
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "[service.\"doxwatch.links.v1.LinksService\".GetChannel]\nroles = [\"report_reader\"]\n")
        .unwrap();
    let app = spawn_app_with_policy(&db, &policy).await;
    suspended_channel(&app).await;

    let reader = stats(&mut officer(&app, "officer-reader", REPORT_READER)).await;
    assert!(reader.handles_included);
    assert_eq!(reader.suspended_channels[0].handle, "doxchannel");
    let liaison = stats(&mut officer(&app, "officer-liaison", LIAISON_OFFICER)).await;
    assert!(!liaison.handles_included);
    assert_eq!(liaison.suspended_channels[0].handle, "");
    app.stop().await;
}
