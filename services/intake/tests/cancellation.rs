//! Calls cancelled at any moment (client deadlines of a few milliseconds, clients that go away)
//! leave the store usable: the next write is accepted at once, and every case is whole.

mod common;

use std::time::Duration;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use pb::DataSubjectCategory as Cat;
use rand::Rng;
use tonic::Request;

backend_tests!(impatient_clients_never_wedge_the_store);

async fn impatient_clients_never_wedge_the_store(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut workers = Vec::new();
    for worker in 0..16 {
        let mut client = app.client.clone();
        workers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for call in 0..40 {
                let deadline = Duration::from_millis(rand::rng().random_range(1..=50));
                let mut request = Request::new(pb::CreateCaseRequest {
                    case: Some(complaint("2019-07-01T09:00:00+08:00", Cat::Student)),
                    request_id: format!("cancel-{worker}-{call}"),
                });
                request.set_timeout(deadline);
                let call = client.create_case(request);
                // Some clients go away before their deadline: the server sees the stream reset.
                let cut = Duration::from_millis(rand::rng().random_range(1..=60));
                if let Ok(Ok(response)) = tokio::time::timeout(cut, call).await {
                    acknowledged.push(response.into_inner());
                }
            }
            acknowledged
        }));
    }
    let mut acknowledged = Vec::new();
    for w in workers {
        acknowledged.extend(w.await.expect("worker"));
    }

    // The next write is accepted within a second.
    let mut client = app.client.clone();
    let mut request = Request::new(pb::CreateCaseRequest {
        case: Some(complaint("2019-07-02T09:00:00+08:00", Cat::Student)),
        request_id: String::new(),
    });
    request.set_timeout(Duration::from_secs(1));
    let after = tokio::time::timeout(Duration::from_secs(2), client.create_case(request))
        .await
        .expect("the write returns within its deadline")
        .expect("the store accepts a write after the cancellations");

    // Every acknowledged case is there, whole; every case in the store is whole.
    let mut cases = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_cases(pb::ListCasesRequest { page_size: 500, page_token, ..Default::default() })
            .await
            .expect("list")
            .into_inner();
        cases.extend(page.cases);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    for case in &acknowledged {
        let stored = cases.iter().find(|c| c.name == case.name).expect("an acknowledged case is kept");
        assert_eq!(stored.data_subjects.len(), 1);
    }
    for case in &cases {
        assert_eq!(case.data_subjects.len(), 1, "{} is whole", case.name);
        assert_eq!(case.reported_urls.len(), 1, "{} is whole", case.name);
    }
    assert!(cases.iter().any(|c| c.name == after.get_ref().name));
    let shutdown = tokio::time::timeout(Duration::from_secs(10), app.stop()).await;
    assert!(shutdown.is_ok(), "the service stops within its grace period");
}
