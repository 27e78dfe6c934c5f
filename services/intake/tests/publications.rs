//! Publications: a report recorded as published with who published it and when, read back by id
//! and by reference exactly as published, listed page by page; bad input refused by field with
//! nothing stored, and a retry answered once.

mod common;

use common::*;
use doxwatch_kit::testing::TestDatabase;
use doxwatch_proto::intake as pb;
use tonic::Code;

backend_tests!(a_publication_is_kept_as_published, bad_publications_are_refused_and_change_nothing);

/// A change that makes a good publication bad.
type Spoil = Box<dyn Fn(&mut pb::Publication)>;

fn figure(name: &str, value: i64) -> pb::PublishedFigure {
    pb::PublishedFigure { name: name.to_owned(), value }
}

/// A moment a little before now, to the microsecond (as stores keep times), as the report's
/// client fixes `recorded_before`.
fn just_now() -> prost_types::Timestamp {
    doxwatch_kit::timestamp::to_proto(doxwatch_kit::timestamp::now() - time::Duration::seconds(2))
}

fn publication(as_of: &str) -> pb::Publication {
    pb::Publication {
        as_of: Some(ts(as_of)),
        recorded_before: Some(just_now()),
        figures: vec![
            figure("cases.total", 4370),
            figure("victims.police_and_families_pct", 36),
            figure("liaison.by_platform.platforms/01900000-0000-7000-8000-00000000000a.links_removed", 12),
        ],
        ..Default::default()
    }
}

async fn publish(client: &mut Client, p: pb::Publication, request_id: &str) -> Result<pb::Publication, tonic::Status> {
    client
        .create_publication(pb::CreatePublicationRequest { publication: Some(p), request_id: request_id.to_owned() })
        .await
        .map(|r| r.into_inner())
}

async fn listed(client: &mut Client) -> Vec<pb::Publication> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_publications(pb::ListPublicationsRequest { page_size: 1, page_token })
            .await
            .expect("list")
            .into_inner();
        all.extend(page.publications);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

async fn a_publication_is_kept_as_published(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let asked = publication("2019-11-08T12:00:00+08:00");
    let first = publish(&mut client, asked.clone(), "publish-noon").await.expect("published");
    assert!(first.name.starts_with("publications/"), "{}", first.name);
    assert_eq!(first.reference, "PUB-2019-000001");
    assert_eq!(first.published_by, "officer-chan", "the token's subject, not anything the client wrote");
    assert!(first.publish_time.is_some());
    assert_eq!(
        (first.as_of, first.recorded_before, &first.figures),
        (asked.as_of, asked.recorded_before, &asked.figures)
    );

    // A retry gets the first answer and records nothing more; the next is numbered on.
    let again = publish(&mut client, asked.clone(), "publish-noon").await.expect("retried");
    assert_eq!(again, first);
    let second = publish(&mut client, publication("2019-11-15T12:00:00+08:00"), "").await.expect("published");
    assert_eq!(second.reference, "PUB-2019-000002");

    for name in [first.name.clone(), "publications/pub-2019-1".to_owned(), "publications/PUB-2019-000001".to_owned()] {
        let read = client.get_publication(pb::GetPublicationRequest { name: name.clone() }).await.expect(&name);
        assert_eq!(read.into_inner(), first, "{name} reads the publication as published");
    }
    assert_eq!(listed(&mut client).await, vec![first, second], "in the order published, a page at a time");

    let unknown = client
        .get_publication(pb::GetPublicationRequest { name: "publications/PUB-2019-000009".into() })
        .await
        .expect_err("no such publication");
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(unknown.message().contains("PUB-2019-000009"), "{}", unknown.message());
    let malformed =
        client.get_publication(pb::GetPublicationRequest { name: "cases/x".into() }).await.expect_err("malformed");
    assert_eq!(violated_fields(&malformed), ["name"]);
    app.stop().await;
}

async fn bad_publications_are_refused_and_change_nothing(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let kept = publish(&mut client, publication("2019-11-08T12:00:00+08:00"), "kept").await.expect("published");
    let future = doxwatch_kit::timestamp::to_proto(time::OffsetDateTime::now_utc() + time::Duration::minutes(5));
    let cases: Vec<(&str, Spoil)> = vec![
        ("publication.as_of", Box::new(|p| p.as_of = None)),
        ("publication.as_of", Box::new(move |p| p.as_of = Some(future))),
        ("publication.recorded_before", Box::new(|p| p.recorded_before = None)),
        ("publication.recorded_before", Box::new(move |p| p.recorded_before = Some(future))),
        ("publication.recorded_before", Box::new(|p| p.recorded_before = Some(ts("2019-11-08T11:00:00+08:00")))),
        ("publication.figures", Box::new(|p| p.figures.clear())),
        ("publication.figures", Box::new(|p| p.figures = vec![figure("cases.total", 1); 2001])),
        ("publication.figures[1].name", Box::new(|p| p.figures[1].name = "links.@a_channel_handle".into())),
        ("publication.figures[1].name", Box::new(|p| p.figures[1].name = "Chan Tai Man".into())),
        ("publication.figures[2].name", Box::new(|p| p.figures[2].name = "cases.total".into())),
        ("publication.figures[0].value", Box::new(|p| p.figures[0].value = -1)),
    ];
    for (field, spoil) in cases {
        let mut p = publication("2019-11-08T12:00:00+08:00");
        spoil(&mut p);
        let status = publish(&mut client, p, "").await.expect_err(field);
        assert_eq!(violated_fields(&status), [field], "{status:?}");
    }
    let status = publish(&mut client, publication("2019-11-09T12:00:00+08:00"), "kept").await.expect_err("reused");
    assert_eq!(status.code(), Code::Aborted);
    let status = client
        .create_publication(pb::CreatePublicationRequest { publication: None, request_id: String::new() })
        .await
        .expect_err("no publication");
    assert_eq!(violated_fields(&status), ["publication"]);
    assert_eq!(listed(&mut client).await, vec![kept.clone()], "nothing refused was kept");
    let next = publish(&mut client, publication("2019-11-08T12:00:00+08:00"), "").await.expect("published");
    assert_eq!(next.reference, "PUB-2019-000002", "no refused request took a number");
    app.stop().await;
}
