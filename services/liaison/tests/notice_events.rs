//! A notice's timeline, a page at a time: every entry once, in business-time order, and a page
//! token refused with INVALID_ARGUMENT when it is forged or from another notice's timeline.

mod common;

use common::*;
use doxwatch_kit::page;
use doxwatch_proto::liaison as pb;
use pb::{NoticeEventKind as E, NoticeKind as K, ReplyOutcome as O};

backend_tests!(a_timeline_is_read_a_page_at_a_time, replies_and_notes_are_sealed_at_rest);

/// What platforms answer and officers note can quote what was posted: sealed in the store, given
/// back whole.
async fn replies_and_notes_are_sealed_at_rest(stores: Stores) {
    const QUOTED: &str = "the post naming Chow Mei Ling";
    const ITEM: &str = "removed the photo of Chow Mei Ling's flat";
    const CLOSED: &str = "Chow Mei Ling confirmed all gone";
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/doxchan/9"]).await;
    let telegram = s.platform(&links[0]).await;
    let notice = s.draft(K::RemovalRequest, &telegram, &links).await;
    s.serve(&notice.name, "2019-10-01T10:00:00+08:00").await;
    s.liaison
        .record_reply(pb::RecordReplyRequest {
            name: notice.name.clone(),
            received_at: Some(ts("2019-10-05T09:00:00+08:00")),
            items: vec![pb::ItemReplyInput { link: links[0].clone(), outcome: O::Complied as i32, text: ITEM.into() }],
            text: format!("We removed {QUOTED}"),
            request_id: "sealed-reply".into(),
            ..Default::default()
        })
        .await
        .expect("replied");
    s.liaison
        .close_notice(pb::CloseNoticeRequest { name: notice.name.clone(), reason: CLOSED.into(), ..Default::default() })
        .await
        .expect("closed");

    let read = s
        .liaison
        .get_notice(pb::GetNoticeRequest { name: notice.name.clone(), ..Default::default() })
        .await
        .expect("read");
    let read = read.into_inner();
    assert_eq!(read.items[0].reply.as_ref().map(|r| r.text.as_str()), Some(ITEM));
    let timeline = events(&mut s, &notice.name, 50, "").await.expect("the timeline").events;
    let notes: Vec<&str> = timeline.iter().map(|e| e.note.as_str()).collect();
    assert!(notes.contains(&format!("We removed {QUOTED}").as_str()), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains(CLOSED)), "{notes:?}");
    assert_eq!(stores.liaison.plaintext(&["Chow Mei Ling"]).await, Vec::<String>::new());
}

async fn events(
    s: &mut Suite,
    notice: &str,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListNoticeEventsResponse, tonic::Status> {
    let request = pb::ListNoticeEventsRequest { name: notice.to_owned(), page_size, page_token: page_token.to_owned() };
    s.liaison.list_notice_events(request).await.map(tonic::Response::into_inner)
}

fn kinds(events: &[pb::NoticeEvent]) -> Vec<i32> {
    events.iter().map(|e| e.kind).collect()
}

async fn a_timeline_is_read_a_page_at_a_time(stores: Stores) {
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/doxchan/1", "https://t.me/doxchan/2"]).await;
    let telegram = s.platform(&links[0]).await;
    let notice = s.draft(K::RemovalRequest, &telegram, &links).await;
    let mut changed = notice.clone();
    changed.legal_basis = "Personal Data (Privacy) Ordinance, section 66M".into();
    s.liaison
        .update_notice(pb::UpdateNoticeRequest {
            notice: Some(changed),
            update_mask: Some(prost_types::FieldMask { paths: vec!["legal_basis".into()] }),
            request_id: String::new(),
        })
        .await
        .expect("updated");
    s.serve(&notice.name, "2019-10-01T10:00:00+08:00").await;
    s.liaison
        .record_reply(pb::RecordReplyRequest {
            name: notice.name.clone(),
            received_at: Some(ts("2019-10-05T09:00:00+08:00")),
            items: vec![pb::ItemReplyInput {
                link: links[0].clone(),
                outcome: O::Complied as i32,
                text: String::new(),
            }],
            text: "Reply by email".into(),
            ..Default::default()
        })
        .await
        .expect("replied");
    s.liaison
        .close_notice(pb::CloseNoticeRequest {
            name: notice.name.clone(),
            reason: "complied in part".into(),
            ..Default::default()
        })
        .await
        .expect("closed");
    let expected =
        vec![E::Served as i32, E::ReplyRecorded as i32, E::Created as i32, E::Updated as i32, E::Closed as i32];

    // One entry a page, each once, in business-time order; the last page has no next token.
    let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let page = events(&mut s, &notice.name, 1, &token).await.expect("a page");
        assert_eq!(page.events.len(), 1, "page {pages}: {page:?}");
        seen.extend(kinds(&page.events));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        assert!(pages <= expected.len(), "more pages than entries: {seen:?}");
        token = page.next_page_token;
    }
    assert_eq!(seen, expected);
    let whole = events(&mut s, &notice.name, 0, "").await.expect("the default page");
    assert_eq!(kinds(&whole.events), expected, "the default page holds the whole timeline");
    assert!(whole.next_page_token.is_empty());

    // A token is for the timeline it was made for, and cannot be forged.
    let other = s.draft(K::RemovalRequest, &telegram, &links[..1]).await;
    s.serve(&other.name, "2019-10-02T10:00:00+08:00").await;
    let foreign = events(&mut s, &other.name, 1, "").await.expect("a page").next_page_token;
    assert!(!foreign.is_empty(), "the other notice has two entries");
    // The right fingerprint (it is derived from the notice's name) with an offset out of range.
    let huge = page::encode_token(&page::filter_fingerprint(&notice.name), &u64::MAX);
    for forged in ["not a token!".to_owned(), foreign, huge] {
        let err = events(&mut s, &notice.name, 1, &forged).await.expect_err("a forged page token");
        assert_eq!(violated_fields(&err), vec!["page_token"], "{forged:?}");
    }
    let err = events(&mut s, &notice.name, -1, "").await.expect_err("a negative page size");
    assert_eq!(violated_fields(&err), vec!["page_size"]);
    s.stop().await;
}
