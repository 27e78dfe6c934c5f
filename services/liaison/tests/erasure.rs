//! Erasure of a case's correspondence: a notice that names only erased cases loses its replies'
//! texts and its timeline's notes, and takes no more words, while its steps, outcomes and figures
//! stay; a notice that also names a case still kept keeps everything.

mod common;

use common::*;
use doxwatch_proto::liaison as pb;
use pb::{NoticeKind as K, ReplyOutcome as O};

backend_tests!(erasing_cases_erases_the_correspondence_only_they_are_named_in);

const ERASED: &str = "cases/01900000-0000-7000-8000-000000000001";
const KEPT: &str = "cases/01900000-0000-7000-8000-000000000002";
const WORDS: &str = "removed the photo of Tang Siu Fong's flat";

async fn reply(s: &mut Suite, notice: &str, link: &str, received_at: &str) {
    s.liaison
        .record_reply(pb::RecordReplyRequest {
            name: notice.to_owned(),
            received_at: Some(ts(received_at)),
            items: vec![pb::ItemReplyInput { link: link.to_owned(), outcome: O::Complied as i32, text: WORDS.into() }],
            text: format!("We {WORDS}"),
            ..Default::default()
        })
        .await
        .expect("replied");
}

async fn words(s: &mut Suite, notice: &str) -> Vec<String> {
    let read = s.liaison.get_notice(pb::GetNoticeRequest { name: notice.to_owned(), ..Default::default() }).await;
    let read = read.expect("read").into_inner();
    let request = pb::ListNoticeEventsRequest { name: notice.to_owned(), page_size: 100, page_token: String::new() };
    let events = s.liaison.list_notice_events(request).await.expect("the timeline").into_inner().events;
    let mut all: Vec<String> = read.items.iter().filter_map(|i| i.reply.as_ref().map(|r| r.text.clone())).collect();
    all.extend(events.into_iter().map(|e| e.note));
    all.retain(|w| !w.is_empty());
    all
}

async fn erase(s: &Suite, case: &str) -> pb::EraseCaseDataResponse {
    s.liaison_as("intake")
        .erase_case_data(pb::EraseCaseDataRequest {
            case: case.to_owned(),
            erase_time: Some(ts("2026-01-01T00:00:00Z")),
            request_id: format!("erase {case}"),
        })
        .await
        .expect("erased")
        .into_inner()
}

async fn erasing_cases_erases_the_correspondence_only_they_are_named_in(stores: Stores) {
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/doxchan/31", "https://t.me/doxchan/32"]).await;
    let telegram = s.platform(&links[0]).await;
    // The draft names ERASED only; a second notice names ERASED and KEPT.
    let only = s.draft(K::RemovalRequest, &telegram, &links[..1]).await;
    let mut both = s.draft(K::RemovalRequest, &telegram, &links[1..]).await;
    both.cases.push(KEPT.into());
    s.liaison
        .update_notice(pb::UpdateNoticeRequest {
            notice: Some(both.clone()),
            update_mask: Some(prost_types::FieldMask { paths: vec!["cases".into()] }),
            request_id: String::new(),
        })
        .await
        .expect("a second case named");
    for (notice, link) in [(&only.name, &links[0]), (&both.name, &links[1])] {
        s.serve(notice, "2019-10-01T10:00:00+08:00").await;
        reply(&mut s, notice, link, "2019-10-05T09:00:00+08:00").await;
    }
    let before = s.liaison.get_liaison_statistics(pb::GetLiaisonStatisticsRequest::default()).await;
    let before = before.expect("figures").into_inner();

    assert_eq!(erase(&s, ERASED).await.notices_erased, 1);
    assert!(words(&mut s, &only.name).await.is_empty(), "{:?}", words(&mut s, &only.name).await);
    assert!(words(&mut s, &both.name).await.iter().any(|w| w.contains("Tang Siu Fong")));
    // Again: nothing more. And the notice still takes steps, without their words.
    assert_eq!(erase(&s, ERASED).await.notices_erased, 1, "the stored answer");
    s.liaison
        .close_notice(pb::CloseNoticeRequest {
            name: only.name.clone(),
            reason: "Tang Siu Fong confirmed".into(),
            ..Default::default()
        })
        .await
        .expect("closed");
    assert!(words(&mut s, &only.name).await.is_empty());
    let read = s.liaison.get_notice(pb::GetNoticeRequest { name: only.name.clone(), ..Default::default() }).await;
    assert_eq!(read.expect("read").into_inner().items[0].reply.as_ref().map(|r| r.outcome), Some(O::Complied as i32));

    // Once every case it names is erased, the second notice's words go too.
    assert_eq!(erase(&s, KEPT).await.notices_erased, 1);
    assert!(words(&mut s, &both.name).await.is_empty());
    let after = s.liaison.get_liaison_statistics(pb::GetLiaisonStatisticsRequest::default()).await;
    let after = after.expect("figures").into_inner();
    assert_eq!(after.total, before.total);
    assert_eq!(stores.liaison.plaintext(&["Tang Siu Fong"]).await, Vec::<String>::new());

    // Only intake may call it.
    let refused = s
        .liaison
        .erase_case_data(pb::EraseCaseDataRequest {
            case: ERASED.into(),
            erase_time: Some(ts("2026-01-01T00:00:00Z")),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    s.stop().await;
}
