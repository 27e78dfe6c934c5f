//! The cases citing a link: a link carries their count and its first ten, the rest are listed a
//! page at a time, and what is stored grows by the same amount for each new case however many
//! cases already cite the link. Writers citing one link at once each count their own cases, and
//! a store counted before keeps its counts.

mod common;

use common::*;
use doxwatch_kit::{on_pool, testing::TestDatabase};
use doxwatch_proto::links as pb;
use prost::Message;
use tonic::Code;

backend_tests!(
    a_link_counts_its_cases_and_lists_them_a_page_at_a_time,
    storage_grows_linearly_with_the_cases_citing_one_link,
    writers_citing_one_link_at_once_count_each_case_once,
    a_count_kept_in_the_link_row_before_moves_to_its_counter_rows
);

const POPULAR: &str = "https://t.me/popularchannel/7";

fn case(i: u64) -> String {
    format!("cases/01900000-0000-7000-8000-{i:012x}")
}

async fn citations(client: &mut Client, parent: &str, page_size: i32) -> Vec<Vec<pb::Citation>> {
    let mut pages = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListLinkCitationsRequest { parent: parent.to_owned(), page_size, page_token };
        let page = client.list_link_citations(request).await.expect("a page of citations").into_inner();
        pages.push(page.citations);
        if page.next_page_token.is_empty() {
            return pages;
        }
        page_token = page.next_page_token;
    }
}

async fn a_link_counts_its_cases_and_lists_them_a_page_at_a_time(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    // 25 cases, registered in the reverse of their names' order: 20 one call each, then five more
    // in one call with two cases citing the link again (one of them earlier than it first did).
    for i in (6..=25).rev() {
        register(&mut client, vec![registration(POPULAR, &case(i), "2019-07-02T10:00:00+08:00")]).await;
    }
    let mut last = vec![registration(POPULAR, &case(7), "2019-07-01T09:00:00+08:00")];
    last.extend((1..=5).rev().map(|i| registration(POPULAR, &case(i), "2019-07-03T10:00:00+08:00")));
    last.push(registration(POPULAR, &case(20), "2019-07-02T10:00:00+08:00"));
    let results = register(&mut client, last).await;
    let link = results.last().and_then(|r| r.link.clone()).expect("the link");
    let first_ten: Vec<String> = (1..=10).map(case).collect();
    assert_eq!(link.case_count, 25, "each case counted once, however often it cites the link");
    assert_eq!(link.cases, first_ten, "the first ten cases in name order");
    let got = client.get_link(pb::GetLinkRequest { name: link.name.clone() }).await.expect("the link").into_inner();
    assert_eq!((got.case_count, got.cases.clone()), (25, first_ten.clone()));
    let listed = client
        .list_links(pb::ListLinksRequest { case: case(25), ..Default::default() })
        .await
        .expect("links of a case")
        .into_inner()
        .links;
    assert_eq!(
        listed.iter().map(|l| (l.name.clone(), l.case_count)).collect::<Vec<_>>(),
        vec![(link.name.clone(), 25)]
    );

    let pages = citations(&mut client, &link.name, 7).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![7, 7, 7, 4]);
    let all: Vec<pb::Citation> = pages.into_iter().flatten().collect();
    assert_eq!(all.iter().map(|c| c.case.clone()).collect::<Vec<_>>(), (1..=25).map(case).collect::<Vec<_>>());
    let seventh = &all[6];
    assert_eq!(seventh.name, format!("{}/citations/{}", link.name, case(7).trim_start_matches("cases/")));
    assert_eq!(seventh.first_seen_at, Some(ts("2019-07-01T09:00:00+08:00")), "the case's earliest sighting");
    assert_eq!(all[7].first_seen_at, Some(ts("2019-07-02T10:00:00+08:00")));
    assert!(all.iter().all(|c| c.create_time.is_some()));

    // A link no case cites has none; an unknown link is NOT_FOUND; bad names and tokens name the field.
    let uncited = common::link(&mut client, "https://t.me/popularchannel/8", "2019-07-02T10:00:00+08:00").await;
    assert_eq!((uncited.case_count, uncited.cases.len()), (0, 0));
    assert_eq!(citations(&mut client, &uncited.name, 0).await, vec![Vec::<pb::Citation>::new()]);
    let ask = |parent: &str, page_token: &str| pb::ListLinkCitationsRequest {
        parent: parent.to_owned(),
        page_size: 0,
        page_token: page_token.to_owned(),
    };
    let unknown = client.list_link_citations(ask("links/01900000-0000-7000-8000-000000000001", "")).await;
    assert_eq!(unknown.expect_err("an unknown link").code(), Code::NotFound);
    for (parent, token, field) in [
        (case(1), String::new(), "parent"),
        ("links/".to_owned(), String::new(), "parent"),
        (link.name.clone(), "not a token!".to_owned(), "page_token"),
    ] {
        let status = client.list_link_citations(ask(&parent, &token)).await.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{parent} {token}");
        assert_eq!(violated_fields(&status), vec![field], "{parent} {token}");
    }
    let first = client
        .list_link_citations(pb::ListLinkCitationsRequest {
            parent: link.name.clone(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("a page")
        .into_inner();
    let status =
        client.list_link_citations(ask(&uncited.name, &first.next_page_token)).await.expect_err("another link's token");
    assert_eq!(violated_fields(&status), vec!["page_token"]);
    app.stop().await;
}

/// The bytes of every answer kept for replay.
async fn stored_answer_bytes(db: &TestDatabase) -> i64 {
    let store = doxwatch_kit::db::Db::connect(db.url(), 1, doxwatch_links::MIGRATIONS).await.expect("the store");
    let sql = "SELECT CAST(COALESCE(SUM(LENGTH(response)), 0) AS BIGINT) FROM idempotency_keys";
    let bytes: i64 =
        on_pool!(store.read(), p => sqlx::query_scalar(sql).fetch_one(p).await.expect("the answers' bytes"));
    store.close().await;
    bytes
}

/// Registers the URLs of cases `from..to` as intake does, one call per case with its outbox
/// message id as request id: the shared URL and one of the case's own. Returns the encoded size of
/// the last answer.
async fn register_cases(client: &mut Client, from: u64, to: u64) -> usize {
    let mut size = 0;
    for i in from..to {
        let request = pb::RegisterLinksRequest {
            registrations: vec![
                registration(POPULAR, &case(i), "2019-07-02T10:00:00+08:00"),
                registration(&format!("https://t.me/ownchannel/{i}"), &case(i), "2019-07-02T10:00:00+08:00"),
            ],
            request_id: uuid::Uuid::now_v7().to_string(),
        };
        let answer = client.register_links(request).await.expect("registered").into_inner();
        size = answer.encoded_len();
    }
    size
}

async fn storage_grows_linearly_with_the_cases_citing_one_link(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let answer_1000 = register_cases(&mut client, 0, 1000).await;
    let bytes_1000 = stored_answer_bytes(&db).await;
    let answer_2000 = register_cases(&mut client, 1000, 2000).await;
    let bytes_2000 = stored_answer_bytes(&db).await;
    eprintln!(
        "{}: stored answers {bytes_1000} bytes after 1,000 cases, {bytes_2000} after 2,000; \
         one answer {answer_1000} bytes at 1,000 cases, {answer_2000} at 2,000",
        db.backend()
    );
    // Per case, the second thousand costs no more than the first (10% for the store's own
    // overhead); were each answer to carry every citing case, it would cost three times as much.
    assert!((bytes_2000 - bytes_1000) * 10 <= bytes_1000 * 11, "{bytes_1000} then {bytes_2000}");
    assert!(bytes_2000 * 10 <= bytes_1000 * 2 * 11, "{bytes_1000} then {bytes_2000}");
    assert!(answer_2000 <= answer_1000 + 8, "one answer grew from {answer_1000} to {answer_2000} bytes");

    let shared = client
        .list_links(pb::ListLinksRequest { case: case(1999), ..Default::default() })
        .await
        .expect("the case's links")
        .into_inner()
        .links;
    let popular = shared.iter().find(|l| l.canonical_url == POPULAR).expect("the shared link");
    assert_eq!((popular.case_count, popular.cases.len()), (2000, 10));
    let pages = citations(&mut client, &popular.name, 1000).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![1000, 1000]);
    app.stop().await;
}

/// Sixteen writers at once, each citing the popular link for cases of its own and for two cases
/// another writer cites too: every case is counted once, and the count is the number listed.
async fn writers_citing_one_link_at_once_count_each_case_once(db: TestDatabase) {
    let app = spawn_app(&db).await;
    let writers: Vec<_> = (0..16u64)
        .map(|w| {
            let mut client = app.client.clone();
            tokio::spawn(async move {
                for i in 0..10u64 {
                    let mut registrations =
                        vec![registration(POPULAR, &case(100 + w * 10 + i), "2019-07-02T10:00:00+08:00")];
                    // Cases 1 and 2 are cited by every writer.
                    registrations.push(registration(POPULAR, &case(1 + i % 2), "2019-07-03T10:00:00+08:00"));
                    register(&mut client, registrations).await;
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer");
    }
    let mut client = app.client.clone();
    let link = common::link(&mut client, POPULAR, "2019-07-04T10:00:00+08:00").await;
    assert_eq!(link.case_count, 16 * 10 + 2, "each case counted once");
    let listed: usize = citations(&mut client, &link.name, 1000).await.iter().map(Vec::len).sum();
    assert_eq!(listed, 16 * 10 + 2, "the count is the number of citations listed");
    app.stop().await;
}

/// A store whose links kept their counts in their own rows (before the migration
/// `0013_link_case_counts`) answers with the same counts, and counts on from them.
async fn a_count_kept_in_the_link_row_before_moves_to_its_counter_rows(db: TestDatabase) {
    use doxwatch_kit::db::{Db, Migrations, Ts};
    use sqlx::migrate::Migrator;
    let before = |m: &Migrator| -> &'static Migrator {
        let older = m.migrations.iter().filter(|m| m.version < 13).cloned().collect::<Vec<_>>();
        Box::leak(Box::new(Migrator { migrations: older.into(), ..Migrator::DEFAULT }))
    };
    let current = doxwatch_links::MIGRATIONS;
    let older = Migrations { postgres: before(current.postgres), sqlite: before(current.sqlite), ..current };
    let store = Db::connect(db.url(), 1, older).await.expect("a store as it was");
    let (platform, link) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let at = Ts(time::macros::datetime!(2019-07-02 02:00 UTC));
    on_pool!(store.write(), p => {
        sqlx::query(
            "INSERT INTO platforms (id, display_name, kind, registry_key, create_time, update_time) \
             VALUES ($1, 'Telegram', 1, NULL, $2, $2)",
        )
        .bind(platform)
        .bind(at)
        .execute(p)
        .await
        .expect("a platform");
        sqlx::query(
            "INSERT INTO links (id, reported_url, canonical_url, platform_id, channel_id, message_id, create_time, \
             case_count) VALUES ($1, $2, $2, $3, NULL, NULL, $4, 3)",
        )
        .bind(link)
        .bind(POPULAR)
        .bind(platform)
        .bind(at)
        .execute(p)
        .await
        .expect("a link counted in its row");
        for i in 1..=3u64 {
            sqlx::query("INSERT INTO link_citations (link_id, case_name, record_time) VALUES ($1, $2, $3)")
                .bind(link)
                .bind(case(i))
                .bind(at)
                .execute(p)
                .await
                .expect("a citation");
        }
    });
    store.close().await;

    let app = spawn_app(&db).await;
    let mut client = app.client.clone();
    let name = format!("links/{link}");
    let got = client.get_link(pb::GetLinkRequest { name: name.clone() }).await.expect("the link").into_inner();
    assert_eq!(got.case_count, 3, "the count kept in the link's row");
    register(&mut client, vec![registration(POPULAR, &case(4), "2019-07-02T10:00:00+08:00")]).await;
    let got = client.get_link(pb::GetLinkRequest { name }).await.expect("the link").into_inner();
    assert_eq!((got.case_count, got.cases.len()), (4, 4), "counted on from it");
    app.stop().await;
}
