//! Several replicas of each service starting at the same moment on one fresh PostgreSQL database:
//! migrations (and link-tracking's platform registry) are applied once, and every replica serves.

use doxwatch_kit::testing::{Officer, Running, TestDatabase, config};

macro_rules! three_at_once {
    ($app:ty, $service:expr, $db:expr) => {{
        let db: &TestDatabase = $db;
        let builds = (0..3).map(|_| async { <$app>::build(&config(db, $service)).await });
        let apps = futures::future::join_all(builds).await;
        let mut running = Vec::new();
        for app in apps {
            let app = app.expect("every replica starts");
            running.push(Running::start(app.local_addr(), |s| app.run_until(s)).await);
        }
        for replica in running {
            replica.stop().await;
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_of_each_service_start_at_once_on_one_database() {
    let Some(intake) = TestDatabase::postgres().await else {
        eprintln!("DATABASE_URL is not set: replicas on PostgreSQL skipped");
        return;
    };
    three_at_once!(doxwatch_intake::Application, "intake", &intake);
    let links = TestDatabase::postgres().await.expect("a second database");
    three_at_once!(doxwatch_links::Application, "links", &links);
    // The registry was added once, not three times.
    let app = doxwatch_links::Application::build(&config(&links, "links")).await.unwrap();
    let running = Running::start(app.local_addr(), |s| app.run_until(s)).await;
    let platforms = doxwatch_proto::links::links_service_client::LinksServiceClient::with_interceptor(
        running.channel.clone(),
        Officer(Some("officer-wong")),
    )
    .list_platforms(doxwatch_proto::links::ListPlatformsRequest { page_size: 1000, ..Default::default() })
    .await
    .unwrap()
    .into_inner()
    .platforms;
    let telegram = platforms.iter().filter(|p| p.registry_key == "telegram").count();
    assert_eq!(telegram, 1);
    running.stop().await;
    let liaison = TestDatabase::postgres().await.expect("a third database");
    three_at_once!(doxwatch_liaison::Application, "liaison", &liaison);
    let referral = TestDatabase::postgres().await.expect("a fourth database");
    three_at_once!(doxwatch_referral::Application, "referral", &referral);
}
