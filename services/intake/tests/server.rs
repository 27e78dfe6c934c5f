//! What every doxwatch server does around the service: health, reflection, durability across a
//! restart, deadlines and load shedding.

mod common;

use std::time::Duration;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use pb::DataSubjectCategory as Cat;
use tonic::{Code, Request};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

backend_tests!(acknowledged_cases_survive_a_restart);

async fn acknowledged_cases_survive_a_restart(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let mut names = Vec::new();
    for day in 1..=5 {
        names.push(create(&mut client, complaint(&format!("2019-07-0{day}T09:00:00+08:00"), Cat::Student)).await.name);
    }
    app.stop().await;

    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let listed: Vec<String> = client
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cases
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(listed, names);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_health_and_goes_not_serving_on_shutdown() {
    let db = TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    let mut health = HealthClient::new(app.channel.clone());
    for service in ["", "doxwatch.intake.v1.IntakeService"] {
        let status = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
    let mut watch = health
        .watch(HealthCheckRequest { service: "doxwatch.intake.v1.IntakeService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(watch.message().await.unwrap().unwrap().status, ServingStatus::Serving as i32);
    let stopping = tokio::spawn(app.stop());
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message()).await.expect("a status change");
    let change = next.expect("the watch stays open until the status changes").expect("a message");
    assert_eq!(change.status, ServingStatus::NotServing as i32);
    // The open watch is a call in flight; closing it lets shutdown finish before the grace period.
    drop(watch);
    tokio::time::timeout(Duration::from_secs(4), stopping).await.expect("stops within the grace period").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_reflection_v1_and_v1alpha() {
    use futures::StreamExt;
    use tonic_reflection::pb::{v1, v1alpha};
    let db = TestDatabase::sqlite();
    let app = spawn_app(&db).await;

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1::server_reflection_request::MessageRequest::ListServices(String::new())),
    };
    let mut responses = client.server_reflection_info(futures::stream::iter([request])).await.unwrap().into_inner();
    let Some(Ok(response)) = responses.next().await else { panic!("no reflection answer") };
    let Some(v1::server_reflection_response::MessageResponse::ListServicesResponse(list)) = response.message_response
    else {
        panic!("not a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(names.contains(&"doxwatch.intake.v1.IntakeService".to_owned()), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health".to_owned()), "{names:?}");

    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(v1alpha::server_reflection_request::MessageRequest::FileContainingSymbol(
            "doxwatch.intake.v1.IntakeService".into(),
        )),
    };
    let mut responses = client.server_reflection_info(futures::stream::iter([request])).await.unwrap().into_inner();
    let Some(Ok(response)) = responses.next().await else { panic!("no reflection answer") };
    assert!(matches!(
        response.message_response,
        Some(v1alpha::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f)) if !f.file_descriptor_proto.is_empty()
    ));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_the_servers_time_limit_is_deadline_exceeded() {
    // A client's own deadline is enforced by the client too, which reports it first; the server's
    // cap is what only the server enforces, so that is what this drives: many calls at once
    // against a 1 ms limit, so that some cannot finish in time.
    let db = TestDatabase::sqlite();
    let app = spawn_app(&db).await;
    for day in 1..=9 {
        create(&mut app.client.clone(), complaint(&format!("2019-07-0{day}T09:00:00+08:00"), Cat::Student)).await;
    }
    app.stop().await;
    let mut config = config(&db);
    config.limits.request_timeout = Duration::from_millis(1);
    let app = spawn_with(config).await;
    let calls = (0..200).map(|_| {
        let mut client = app.client.clone();
        tokio::spawn(async move {
            client.list_cases(pb::ListCasesRequest { page_size: 500, ..Default::default() }).await.map(|_| ())
        })
    });
    let mut late = 0;
    for call in futures::future::join_all(calls).await {
        match call.unwrap() {
            Ok(()) => {}
            Err(status) if status.code() == Code::DeadlineExceeded => late += 1,
            Err(other) => panic!("a late call must be DEADLINE_EXCEEDED, not {other:?}"),
        }
    }
    assert!(late > 0, "some calls ran past the limit");
    app.stop().await;

    let app = spawn_app(&db).await;
    let mut request = Request::new(pb::GetIntakeStatisticsRequest::default());
    request.set_timeout(Duration::from_secs(10));
    app.client.clone().get_intake_statistics(request).await.expect("a generous deadline is honoured");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_concurrency_limit_are_shed_not_queued() {
    let db = TestDatabase::sqlite();
    let mut config = config(&db);
    config.limits.concurrency_limit = 1;
    let app = spawn_with(config).await;
    for day in 1..=9 {
        create(&mut app.client.clone(), complaint(&format!("2019-07-0{day}T09:00:00+08:00"), Cat::Student)).await;
    }
    let calls = (0..200).map(|_| {
        let mut client = app.client.clone();
        tokio::spawn(async move {
            client.list_cases(pb::ListCasesRequest { page_size: 500, ..Default::default() }).await.map(|_| ())
        })
    });
    let mut ok = 0;
    let mut shed = 0;
    for call in futures::future::join_all(calls).await {
        match call.unwrap() {
            Ok(()) => ok += 1,
            Err(status) if status.code() == Code::ResourceExhausted => shed += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert!(ok > 0, "some calls are served");
    assert!(shed > 0, "calls beyond the limit are refused at once");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_size_limit_is_resource_exhausted_and_stores_nothing() {
    use tonic_types::StatusExt;
    let db = TestDatabase::sqlite();
    let mut config = config(&db);
    config.limits.max_message_bytes = 16 * 1024;
    let app = spawn_with(config).await;
    let mut case = complaint("2019-07-01T09:00:00+08:00", Cat::Student);
    case.summary = "x".repeat(20 * 1024);
    let refused = app
        .client
        .clone()
        .create_case(pb::CreateCaseRequest { case: Some(case), request_id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(refused.get_details_error_info().map(|i| i.reason), Some("RESOURCE_EXHAUSTED".to_owned()));
    assert!(refused.message().contains("larger than the server accepts"), "{refused:?}");
    assert_eq!(count_cases(&mut app.client.clone()).await, 0);
    app.stop().await;
}
