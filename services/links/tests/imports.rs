//! ImportLinks is atomic per stream: a stream refused at any message, however many messages came
//! before it, leaves the links, their citations and the platforms exactly as they were; the same
//! import sent again whole is then registered whole.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::links as pb;
use tonic::Code;

backend_tests!(a_refused_import_keeps_nothing, an_import_cut_by_its_client_keeps_nothing);

/// Everything a user can see of the store's links and platforms, page by page.
async fn everything(client: &mut Client) -> (Vec<String>, Vec<String>, i64) {
    let mut links = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListLinksRequest { page_size: 1000, page_token, ..Default::default() };
        let page = client.list_links(request).await.unwrap().into_inner();
        links.extend(
            page.links.iter().map(|l| {
                format!("{} {} {} {:?} {:?}", l.name, l.canonical_url, l.case_count, l.cases, l.first_seen_at)
            }),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut platforms = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListPlatformsRequest { page_size: 1000, page_token, ..Default::default() };
        let page = client.list_platforms(request).await.unwrap().into_inner();
        platforms.extend(page.platforms.iter().map(|p| format!("{} {} {:?}", p.name, p.display_name, p.domains)));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let stats = client
        .get_link_statistics(pb::GetLinkStatisticsRequest { as_of: None, recorded_before: None, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    (links, platforms, stats.total.map_or(0, |t| t.links))
}

/// `n` registrations of new URLs on a site no platform knows yet, and one of a URL already
/// registered, now cited by another case.
fn message(prefix: &str, n: usize) -> pb::ImportLinksRequest {
    let mut registrations: Vec<pb::LinkRegistration> = (0..n)
        .map(|i| registration(&format!("https://{prefix}.example/post/{i}"), CASE_B, "2019-09-01T00:00:00Z"))
        .collect();
    registrations.push(registration("https://t.me/known/1", CASE_B, "2019-08-01T00:00:00Z"));
    pb::ImportLinksRequest { registrations }
}

async fn a_refused_import_keeps_nothing(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    register(&mut client, vec![registration("https://t.me/known/1", CASE_A, "2019-09-01T00:00:00Z")]).await;
    let before = everything(&mut client).await;

    // Two full messages (more than a batch of the store) and then one with a malformed case.
    let mut bad = message("gamma", 3);
    bad.registrations[1].case = "cases/not-a-uuid".into();
    let stream = vec![message("alpha", 999), message("beta", 999), bad];
    let err = client.import_links(tokio_stream::iter(stream)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), vec!["messages[2].registrations[1].case"]);
    assert_eq!(everything(&mut client).await, before, "a refused import keeps nothing");

    // The same import, corrected, is registered whole.
    let stream = vec![message("alpha", 999), message("beta", 999), message("gamma", 3)];
    let response = client.import_links(tokio_stream::iter(stream)).await.unwrap().into_inner();
    assert_eq!((response.new_links, response.known_links, response.refused), (2001, 3, 0));
    // The answer names the first thousand new links, each once, none of them the known one.
    let named: std::collections::HashSet<&String> = response.new_link_names.iter().collect();
    assert_eq!((response.new_link_names.len(), named.len()), (1000, 1000));
    let first = client.get_link(pb::GetLinkRequest { name: response.new_link_names[0].clone() }).await.unwrap();
    assert!(first.into_inner().canonical_url.contains("alpha"), "the first named is the first registered");
    let (links, platforms, total) = everything(&mut client).await;
    assert_eq!((links.len(), total), (2002, 2002));
    assert_eq!(platforms.len(), before.1.len() + 3, "a platform for each new site");
    let known = links.iter().find(|l| l.contains("https://t.me/known/1")).unwrap();
    assert!(known.contains(CASE_A) && known.contains(CASE_B), "{known}");
    app.stop().await;
}

async fn an_import_cut_by_its_client_keeps_nothing(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let before = everything(&mut client).await;
    // The client sends two messages, then its stream fails: the server sees the stream end in an
    // error, not a clean end.
    let (sender, receiver) = tokio::sync::mpsc::channel::<Result<pb::ImportLinksRequest, tonic::Status>>(4);
    sender.send(Ok(message("alpha", 500))).await.unwrap();
    sender.send(Ok(message("beta", 500))).await.unwrap();
    let call = tokio::spawn({
        let mut client = client.clone();
        async move {
            let stream = tokio_stream::wrappers::ReceiverStream::new(receiver);
            let stream = tokio_stream::StreamExt::map_while(stream, |m| m.ok());
            let mut request = tonic::Request::new(stream);
            request.set_timeout(std::time::Duration::from_millis(1500));
            client.import_links(request).await
        }
    });
    // The stream is neither ended nor continued: the deadline ends the call.
    let result = call.await.unwrap();
    assert!(result.is_err(), "{result:?}");
    drop(sender);
    // The server discards the staged messages on its own time; nothing is ever merged.
    assert_eq!(everything(&mut client).await, before, "a cut import keeps nothing");
    app.stop().await;
}
