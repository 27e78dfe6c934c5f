//! Notices through their whole lifecycle, against a real link-tracking service.

mod common;

use common::*;
use doxwatch_proto::{liaison as pb, links as links_pb};
use pb::{NoticeKind as K, NoticeStatus as St, ReplyOutcome as O};
use tonic::Code;

backend_tests!(
    a_removal_request_from_draft_to_close,
    refused_changes_and_bad_input_change_nothing,
    no_reply_is_derived_at_the_deadline,
    letters_are_rendered_with_every_link_and_the_deadline,
    serving_while_link_tracking_is_down_records_requests_once_it_is_back,
    platform_contacts_must_name_known_platforms,
);

async fn a_removal_request_from_draft_to_close(stores: Stores) {
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/doxchan/1", "https://t.me/doxchan/2", "https://t.me/doxchan/3"]).await;
    let telegram = s.platform(&links[0]).await;
    let draft = s.draft(K::RemovalRequest, &telegram, &links[..2]).await;
    assert_eq!(draft.status, St::Draft as i32);
    assert!(draft.served_at.is_none());

    // A draft can change.
    let mut changed = draft.clone();
    changed.items.push(pb::NoticeItem { link: links[2].clone(), action: pb::NoticeAction::Remove as i32, reply: None });
    let updated = s
        .liaison
        .update_notice(pb::UpdateNoticeRequest {
            notice: Some(changed),
            update_mask: Some(prost_types::FieldMask { paths: vec!["items".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.items.len(), 3);

    let served = s.serve(&draft.name, "2019-10-01T10:00:00+08:00").await;
    assert_eq!(served.status, St::NoReply as i32, "served in 2019: its 14-day deadline has long passed");
    assert_eq!(served.deadline, Some(ts("2019-10-15T10:00:00+08:00")));
    let as_of = |t: &str| pb::GetNoticeRequest { name: draft.name.clone(), as_of: Some(ts(t)) };
    let then = s.liaison.get_notice(as_of("2019-10-02T00:00:00+08:00")).await.unwrap().into_inner();
    assert_eq!(then.status, St::Served as i32);

    // Serving recorded a removal request for each link in link-tracking.
    assert_eq!(s.requested_eventually("2019-10-02T00:00:00+08:00", 3).await, 3);

    // A served notice's items cannot change, nor can it be served again.
    let err = s
        .liaison
        .update_notice(pb::UpdateNoticeRequest {
            notice: Some(served.clone()),
            update_mask: Some(prost_types::FieldMask { paths: vec!["legal_basis".into()] }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = s
        .liaison
        .serve_notice(pb::ServeNoticeRequest {
            name: draft.name.clone(),
            service_method: pb::ServiceMethod::Post as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // The platform says it complied with one item and refused another.
    let replied = s
        .liaison
        .record_reply(pb::RecordReplyRequest {
            name: draft.name.clone(),
            received_at: Some(ts("2019-10-05T09:00:00+08:00")),
            items: vec![
                pb::ItemReplyInput { link: links[0].clone(), outcome: O::Complied as i32, text: "removed".into() },
                pb::ItemReplyInput { link: links[1].clone(), outcome: O::Refused as i32, text: "not doxxing".into() },
            ],
            text: "Reply by email".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replied.status, St::Replied as i32);
    assert_eq!(replied.items[0].reply.as_ref().unwrap().outcome, O::Complied as i32);
    assert!(replied.items[2].reply.is_none());

    // The claim reaches link-tracking as a platform report, which does not make the link removed.
    let observations = eventually(std::time::Duration::from_secs(10), async || {
        let request = links_pb::ListObservationsRequest { link: links[0].clone(), ..Default::default() };
        Some(s.links.list_observations(request).await.unwrap().into_inner().observations).filter(|o| !o.is_empty())
    })
    .await
    .unwrap_or_default();
    assert_eq!(observations.len(), 1);
    assert_eq!(observations[0].source, links_pb::ObservationSource::PlatformReport as i32);
    let link = s.links.get_link(links_pb::GetLinkRequest { name: links[0].clone() }).await.unwrap().into_inner();
    assert_eq!(link.status, links_pb::LinkStatus::Online as i32);

    // A reminder carries the outstanding items (refused and unanswered), and follows the notice.
    let reminder = s
        .liaison
        .remind_notice(pb::RemindNoticeRequest { name: draft.name.clone(), request_id: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reminder.kind, K::Reminder as i32);
    assert_eq!(reminder.follows, draft.name);
    // Each notice has its own reference, counted on from the one it follows; GetNotice takes it.
    let year = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::get("Asia/Hong_Kong").unwrap()).year();
    assert_eq!(draft.reference, format!("NTC-{year}-000001"));
    assert_eq!(reminder.reference, format!("NTC-{year}-000002"));
    let by_reference = pb::GetNoticeRequest { name: format!("notices/ntc-{year}-2"), as_of: None };
    let got = s.liaison.get_notice(by_reference).await.unwrap().into_inner();
    assert_eq!(got.name, reminder.name);
    let unknown = pb::GetNoticeRequest { name: format!("notices/NTC-{year}-000099"), as_of: None };
    assert_eq!(s.liaison.get_notice(unknown).await.unwrap_err().code(), tonic::Code::NotFound);
    let letter = s
        .liaison
        .render_notice(pb::RenderNoticeRequest {
            name: reminder.name.clone(),
            language: pb::Language::English as i32,
            format: pb::RenderFormat::Markdown as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        letter.content.contains(&format!("**Further to our reference:** {}", draft.reference)),
        "{}",
        letter.content
    );
    assert_eq!(
        reminder.items.iter().map(|i| i.link.clone()).collect::<Vec<_>>(),
        vec![links[1].clone(), links[2].clone()]
    );
    s.serve(&reminder.name, "2019-10-20T10:00:00+08:00").await;
    // A reminder is another request for the same links: still three requested links.
    assert_eq!(s.requested_eventually("2019-10-21T00:00:00+08:00", 3).await, 3);

    let escalated = s
        .liaison
        .escalate_notice(pb::EscalateNoticeRequest {
            name: reminder.name.clone(),
            to_kind: K::CessationNotice as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(escalated.kind, K::CessationNotice as i32);
    assert_eq!(escalated.follows, reminder.name);
    assert_eq!(escalated.status, St::Draft as i32);

    let closed = s
        .liaison
        .close_notice(pb::CloseNoticeRequest {
            name: draft.name.clone(),
            reason: "superseded by the reminder".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, St::Closed as i32);
    let events = s
        .liaison
        .list_notice_events(pb::ListNoticeEventsRequest { name: draft.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .events;
    let kinds: Vec<i32> = events.iter().map(|e| e.kind).collect();
    use pb::NoticeEventKind as E;
    assert_eq!(
        kinds,
        vec![
            E::Served as i32,
            E::ReplyRecorded as i32,
            E::Created as i32,
            E::Updated as i32,
            E::Reminded as i32,
            E::Closed as i32
        ],
        "in business-time order"
    );
    s.stop().await;
}

async fn refused_changes_and_bad_input_change_nothing(stores: Stores) {
    let mut s = start(&stores).await;
    let telegram_links = s.links(&["https://t.me/doxchan/1"]).await;
    let lihkg_links = s.links(&["https://lihkg.com/thread/5/page/1"]).await;
    let telegram = s.platform(&telegram_links[0]).await;
    let notice = |items: Vec<pb::NoticeItem>, kind: K| pb::CreateNoticeRequest {
        notice: Some(pb::Notice { platform: telegram.clone(), kind: kind as i32, items, ..Default::default() }),
        request_id: String::new(),
    };
    let item =
        |link: &str| pb::NoticeItem { link: link.to_owned(), action: pb::NoticeAction::Remove as i32, reply: None };

    let err = s
        .liaison
        .create_notice(notice(
            vec![item(&telegram_links[0]), item(&lihkg_links[0]), item(&telegram_links[0])],
            K::RemovalRequest,
        ))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["notice.items[2].link"], "the same link twice");
    let err = s
        .liaison
        .create_notice(notice(vec![item(&telegram_links[0]), item(&lihkg_links[0])], K::RemovalRequest))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["notice.items[1].link"], "a link on another platform");
    let err = s
        .liaison
        .create_notice(notice(vec![item("links/01900000-0000-7000-8000-000000000000")], K::RemovalRequest))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["notice.items[0].link"], "an unknown link");
    let err = s.liaison.create_notice(notice(vec![], K::RemovalRequest)).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["notice.items"], "no items");
    let err = s.liaison.create_notice(notice(vec![item(&telegram_links[0])], K::Reminder)).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["notice.kind"]);
    let err = s
        .liaison
        .create_notice(pb::CreateNoticeRequest {
            notice: Some(pb::Notice {
                platform: "platforms/x".into(),
                kind: 42,
                items: vec![pb::NoticeItem { link: "l".into(), action: 0, reply: None }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        vec!["notice.platform", "notice.kind", "notice.items[0].link", "notice.items[0].action"]
    );
    let none = s.liaison.list_notices(pb::ListNoticesRequest::default()).await.unwrap().into_inner().notices;
    assert!(none.is_empty(), "nothing was drafted");

    // A disclosure request about a channel needs no items.
    let channel = s
        .links
        .get_link(links_pb::GetLinkRequest { name: telegram_links[0].clone() })
        .await
        .unwrap()
        .into_inner()
        .channel;
    let disclosure = s
        .liaison
        .create_notice(pb::CreateNoticeRequest {
            notice: Some(pb::Notice {
                platform: telegram.clone(),
                kind: K::DisclosureRequest as i32,
                channel: channel.clone(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    // Not yet served: no reply, no reminder, no escalation.
    let err = s
        .liaison
        .record_reply(pb::RecordReplyRequest {
            name: disclosure.name.clone(),
            all_items: O::DataProvided as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = s
        .liaison
        .remind_notice(pb::RemindNoticeRequest { name: disclosure.name.clone(), request_id: String::new() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    let err = s
        .liaison
        .escalate_notice(pb::EscalateNoticeRequest {
            name: disclosure.name.clone(),
            to_kind: K::Reminder as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["to_kind"]);
    let served = s.serve(&disclosure.name, "2019-10-01T10:00:00+08:00").await;
    let err = s
        .liaison
        .record_reply(pb::RecordReplyRequest {
            name: served.name.clone(),
            received_at: Some(ts("2019-09-30T10:00:00+08:00")),
            items: vec![pb::ItemReplyInput {
                link: telegram_links[0].clone(),
                outcome: O::DataProvided as i32,
                text: String::new(),
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["received_at", "items[0].link"]);
    let after = s
        .liaison
        .get_notice(pb::GetNoticeRequest { name: served.name.clone(), as_of: None })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.status, St::NoReply as i32, "the refused reply changed nothing");
    s.stop().await;
}

async fn no_reply_is_derived_at_the_deadline(stores: Stores) {
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/doxchan/1", "https://t.me/doxchan/2"]).await;
    let telegram = s.platform(&links[0]).await;
    let notice = s.draft(K::RemovalRequest, &telegram, &links).await;
    s.serve(&notice.name, "2019-10-01T10:00:00+08:00").await;
    let at = |t: &str| pb::GetNoticeRequest { name: notice.name.clone(), as_of: Some(ts(t)) };
    assert_eq!(
        s.liaison.get_notice(at("2019-10-15T09:59:59+08:00")).await.unwrap().into_inner().status,
        St::Served as i32
    );
    assert_eq!(
        s.liaison.get_notice(at("2019-10-15T10:00:01+08:00")).await.unwrap().into_inner().status,
        St::NoReply as i32
    );
    let overdue = |t: &str| pb::ListNoticesRequest { overdue: true, as_of: Some(ts(t)), ..Default::default() };
    assert!(
        s.liaison.list_notices(overdue("2019-10-10T00:00:00+08:00")).await.unwrap().into_inner().notices.is_empty()
    );
    assert_eq!(
        s.liaison.list_notices(overdue("2019-10-20T00:00:00+08:00")).await.unwrap().into_inner().notices.len(),
        1
    );
    let by_status = pb::ListNoticesRequest {
        status: St::NoReply as i32,
        as_of: Some(ts("2019-10-20T00:00:00+08:00")),
        ..Default::default()
    };
    assert_eq!(s.liaison.list_notices(by_status).await.unwrap().into_inner().notices.len(), 1);
    s.stop().await;
}

async fn letters_are_rendered_with_every_link_and_the_deadline(stores: Stores) {
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/doxchan/1", "https://t.me/s/doxchan/2", "https://t.me/doxchan/3"]).await;
    let telegram = s.platform(&links[0]).await;
    s.liaison
        .set_platform_contact(pb::SetPlatformContactRequest {
            contact: Some(pb::PlatformContact {
                platform: telegram.clone(),
                legal_entity: "Telegram FZ-LLC <legal>".into(),
                jurisdiction: "ae".into(),
                email: "abuse@telegram.example".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap();
    let notice = s.draft(K::RemovalRequest, &telegram, &links).await;
    // Served at 01:00 in Hong Kong, still 31 October in UTC: the letter is dated in the office's zone.
    s.serve(&notice.name, "2019-11-01T01:00:00+08:00").await;
    let render = |language: pb::Language, format: pb::RenderFormat| pb::RenderNoticeRequest {
        name: notice.name.clone(),
        language: language as i32,
        format: format as i32,
    };
    let en =
        s.liaison.render_notice(render(pb::Language::English, pb::RenderFormat::Markdown)).await.unwrap().into_inner();
    for url in ["https://t.me/doxchan/1", "https://t.me/doxchan/2", "https://t.me/doxchan/3"] {
        assert!(en.content.contains(url), "{url} missing:\n{}", en.content);
    }
    assert!(en.content.contains("15 November 2019"), "the deadline:\n{}", en.content);
    assert!(en.content.contains("1 November 2019") && !en.content.contains("31 October"), "dated:\n{}", en.content);
    assert!(!notice.reference.is_empty());
    assert!(en.content.contains(&format!("**Our reference:** {}", notice.reference)), "{}", en.content);
    assert!(en.content.contains("Telegram FZ\\-LLC \\<legal\\>"), "the addressee, escaped:\n{}", en.content);
    assert!(en.content.contains("section 64"));
    let zh = s
        .liaison
        .render_notice(render(pb::Language::TraditionalChinese, pb::RenderFormat::Markdown))
        .await
        .unwrap()
        .into_inner();
    assert!(zh.content.contains("2019年11月15日"), "{}", zh.content);
    assert!(zh.content.contains("https://t.me/doxchan/3"));
    let html =
        s.liaison.render_notice(render(pb::Language::English, pb::RenderFormat::Html)).await.unwrap().into_inner();
    assert!(html.media_type.starts_with("text/html"));
    assert!(html.content.contains("<table>"), "{}", html.content);
    assert!(html.content.contains("href=\"https://t.me/doxchan/2\""));
    assert!(!html.content.contains("<legal>"), "free text never becomes markup");
    s.stop().await;
}

async fn serving_while_link_tracking_is_down_records_requests_once_it_is_back(stores: Stores) {
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/doxchan/1", "https://t.me/doxchan/2"]).await;
    let telegram = s.platform(&links[0]).await;
    let notice = s.draft(K::CessationNotice, &telegram, &links).await;
    s.stop_links().await;
    // Drafting needs link-tracking's answer; serving does not.
    let err = s
        .liaison
        .create_notice(pb::CreateNoticeRequest {
            notice: Some(pb::Notice {
                platform: telegram.clone(),
                kind: K::RemovalRequest as i32,
                items: vec![pb::NoticeItem { link: links[0].clone(), action: 1, reply: None }],
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    s.serve(&notice.name, "2019-10-01T10:00:00+08:00").await;
    s.restart_links(&stores.links).await;
    assert_eq!(s.requested_eventually("2019-10-02T00:00:00+08:00", 2).await, 2);
    s.stop().await;
}

async fn platform_contacts_must_name_known_platforms(stores: Stores) {
    let mut s = start(&stores).await;
    let links = s.links(&["https://t.me/doxchan/1"]).await;
    let telegram = s.platform(&links[0]).await;
    let err = s
        .liaison
        .set_platform_contact(pb::SetPlatformContactRequest {
            contact: Some(pb::PlatformContact {
                platform: "platforms/01900000-0000-7000-8000-000000000000".into(),
                legal_entity: "Nobody Ltd".into(),
                jurisdiction: "HK".into(),
                email: "x@example.invalid".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["contact.platform"]);
    let err = s
        .liaison
        .set_platform_contact(pb::SetPlatformContactRequest {
            contact: Some(pb::PlatformContact {
                platform: telegram.clone(),
                jurisdiction: "Hong Kong".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["contact.legal_entity", "contact.jurisdiction", "contact"]);
    let set = s
        .liaison
        .set_platform_contact(pb::SetPlatformContactRequest {
            contact: Some(pb::PlatformContact {
                platform: telegram.clone(),
                legal_entity: "Telegram FZ-LLC".into(),
                jurisdiction: "ae".into(),
                web_form_url: "https://telegram.org/support".into(),
                language: pb::Language::English as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(set.jurisdiction, "AE");
    assert_eq!(set.updated_by, "officer-ho");
    let got = s
        .liaison
        .get_platform_contact(pb::GetPlatformContactRequest { name: set.name.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, set);
    assert_eq!(
        s.liaison
            .list_platform_contacts(pb::ListPlatformContactsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .contacts
            .len(),
        1
    );
    s.stop().await;
}
