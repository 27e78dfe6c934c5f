//! Liaison's mutating RPCs: SetPlatformContact, CreateNotice, UpdateNotice, ServeNotice,
//! RecordReply, CloseNotice, RemindNotice, EscalateNotice, EraseCaseData (as intake).

use doxwatch_liaison::{
    convert::MAX_ADDRESS_CHARS,
    domain::{MAX_CASES, MAX_ITEMS, MAX_LEGAL_BASIS_CHARS, MAX_TEXT_CHARS},
};
use doxwatch_proto::liaison as pb;
use tonic::Code;

use super::{
    fixture::{Clients, Fixture, PRIMED, at, bad_nanos, before_earliest, good_contact, good_notice, oversized},
    intake::hostile_urls,
    rows,
    walk::{Class, Row, Walk, bad, refused, row},
};

fn contact_rows(f: &Fixture) -> Vec<Row<pb::SetPlatformContactRequest>> {
    type R = pb::SetPlatformContactRequest;
    fn c(r: &mut R) -> &mut pb::PlatformContact {
        r.contact.get_or_insert_with(Default::default)
    }
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("contact"), |r: &mut R| r.contact = None),
        row(Class::Empty, bad("contact"), |r: &mut R| c(r).email = String::new()),
        row(Class::Empty, bad("contact.legal_entity"), |r: &mut R| c(r).legal_entity = " ".into()),
        row(Class::OverLong, bad("contact.jurisdiction"), |r: &mut R| c(r).jurisdiction = "HKG".into()),
        row(Class::ControlInLine, bad("contact.jurisdiction"), |r: &mut R| c(r).jurisdiction = "H\0".into()),
        row(Class::UnknownEnum, bad("contact.language"), |r: &mut R| c(r).language = 99),
        row(Class::Oversized, refused(Code::ResourceExhausted, "RESOURCE_EXHAUSTED"), |r: &mut R| {
            c(r).notes = oversized()
        }),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = "bad-input-contact".into();
            c(r).legal_entity = "Another Ltd".into();
        }),
    ];
    rows.extend(rows::reference("contact.platform", "platforms", &f.case, |r: &mut R, n| c(r).platform = n));
    rows.extend(rows::line("contact.legal_entity", 300, |r: &mut R, s| c(r).legal_entity = s));
    rows.extend(rows::line("contact.email", MAX_ADDRESS_CHARS, |r: &mut R, s| c(r).email = s));
    rows.extend(rows::text("contact.postal_address", MAX_ADDRESS_CHARS, |r: &mut R, s| c(r).postal_address = s));
    rows.extend(rows::text("contact.notes", 4000, |r: &mut R, s| c(r).notes = s));
    rows.extend(hostile_urls("contact.web_form_url", |r: &mut R, u| c(r).web_form_url = u));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn notice(r: &mut pb::CreateNoticeRequest) -> &mut pb::Notice {
    r.notice.get_or_insert_with(Default::default)
}

fn create_rows(f: &Fixture) -> Vec<Row<pb::CreateNoticeRequest>> {
    type R = pb::CreateNoticeRequest;
    let link = f.link.clone();
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("notice"), |r: &mut R| r.notice = None),
        row(Class::Missing, bad("notice.kind"), |r: &mut R| notice(r).kind = 0),
        row(Class::UnknownEnum, bad("notice.kind"), |r: &mut R| notice(r).kind = 99),
        row(Class::Missing, bad("notice.items[0].action"), |r: &mut R| notice(r).items[0].action = 0),
        row(Class::UnknownEnum, bad("notice.items[0].action"), |r: &mut R| notice(r).items[0].action = 99),
        row(Class::TooMany, bad("notice.items"), |r: &mut R| {
            notice(r).items = vec![notice(r).items[0].clone(); MAX_ITEMS + 1]
        }),
        row(Class::TooMany, bad("notice.cases"), |r: &mut R| {
            notice(r).cases = vec![notice(r).cases[0].clone(); MAX_CASES + 1]
        }),
        row(Class::Duplicate, bad("notice.items[1].link"), |r: &mut R| {
            let item = notice(r).items[0].clone();
            notice(r).items.push(item);
        }),
        row(Class::MalformedName, bad("notice.channel"), |r: &mut R| notice(r).channel = "channels/x".into()),
        row(Class::ForeignName, bad("notice.channel"), move |r: &mut R| notice(r).channel = link.clone()),
        row(Class::BeforeEarliest, bad("notice.deadline"), |r: &mut R| notice(r).deadline = before_earliest()),
        row(Class::NanosOutOfRange, bad("notice.deadline"), |r: &mut R| notice(r).deadline = bad_nanos()),
        row(Class::Oversized, refused(Code::ResourceExhausted, "RESOURCE_EXHAUSTED"), |r: &mut R| {
            notice(r).legal_basis = oversized()
        }),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = "bad-input-notice".into();
            notice(r).legal_basis = "another basis".into();
        }),
    ];
    rows.extend(rows::reference("notice.platform", "platforms", &f.link, |r: &mut R, n| notice(r).platform = n));
    rows.extend(rows::reference("notice.items[0].link", "links", &f.case, |r: &mut R, n| notice(r).items[0].link = n));
    // Liaison does not ask intake whether a cited case exists (see docs/bad-input.md): no unknown
    // case is sent.
    rows.extend(rows::names("notice.cases[0]", "cases", &f.link, None, |r: &mut R, n| notice(r).cases[0] = n));
    rows.extend(rows::line("notice.legal_basis", MAX_LEGAL_BASIS_CHARS, |r: &mut R, s| notice(r).legal_basis = s));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn update_rows(f: &Fixture) -> Vec<Row<pb::UpdateNoticeRequest>> {
    type R = pb::UpdateNoticeRequest;
    fn notice(r: &mut R) -> &mut pb::Notice {
        r.notice.get_or_insert_with(Default::default)
    }
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("notice"), |r: &mut R| r.notice = None),
        row(Class::Missing, bad("update_mask"), |r: &mut R| r.update_mask = None),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = PRIMED[5].into()
        }),
        row(Class::UnknownEnum, bad("update_mask.paths[0]"), |r: &mut R| {
            r.update_mask = Some(prost_types::FieldMask { paths: vec!["kind".into()] })
        }),
        row(Class::Duplicate, bad("update_mask.paths[1]"), |r: &mut R| {
            r.update_mask = Some(prost_types::FieldMask { paths: vec!["legal_basis".into(), "legal_basis".into()] })
        }),
        row(Class::BeforeEarliest, bad("notice.deadline"), |r: &mut R| {
            r.update_mask = Some(prost_types::FieldMask { paths: vec!["deadline".into()] });
            notice(r).deadline = before_earliest();
        }),
    ];
    rows.extend(rows::name("notice.name", "notices", &f.case, |r: &mut R, n| notice(r).name = n));
    rows.extend(rows::line("notice.legal_basis", MAX_LEGAL_BASIS_CHARS, |r: &mut R, s| notice(r).legal_basis = s));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn serve_rows(f: &Fixture) -> Vec<Row<pb::ServeNoticeRequest>> {
    type R = pb::ServeNoticeRequest;
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("service_method"), |r: &mut R| r.service_method = 0),
        row(Class::UnknownEnum, bad("service_method"), |r: &mut R| r.service_method = 99),
        row(Class::Backdated, refused(Code::FailedPrecondition, "BEFORE_FIRST_SIGHTING"), |r: &mut R| {
            r.served_at = at("2019-06-01T09:00:00+08:00")
        }),
    ];
    rows.extend(rows::name("name", "notices", &f.case, |r: &mut R, n| r.name = n));
    rows.extend(rows::time("served_at", |r: &mut R, t| r.served_at = t));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn reply_rows(f: &Fixture) -> Vec<Row<pb::RecordReplyRequest>> {
    type R = pb::RecordReplyRequest;
    // A name that the Copy setters below can hold: the test leaks this one string.
    let link: &'static str = Box::leak(f.link.clone().into_boxed_str());
    let item = move |r: &mut R| {
        r.items = vec![pb::ItemReplyInput {
            link: link.to_owned(),
            outcome: pb::ReplyOutcome::Complied as i32,
            text: String::new(),
        }];
    };
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Empty, bad("items"), |r: &mut R| r.all_items = 0),
        row(Class::UnknownEnum, bad("all_items"), |r: &mut R| r.all_items = 99),
        row(Class::UnknownEnum, bad("items[0].outcome"), move |r: &mut R| {
            item(r);
            r.items[0].outcome = 99;
        }),
        row(Class::OutOfOrder, refused(Code::FailedPrecondition, "NOT_SERVED"), |_: &mut R| {}),
    ];
    // The fixture's notice is a draft, which no reply may name: an unknown link would only be
    // refused as NOT_SERVED, so none is sent.
    rows.extend(rows::names("items[0].link", "links", &f.case, None, move |r: &mut R, n| {
        item(r);
        r.items[0].link = n;
    }));
    rows.extend(rows::name("name", "notices", &f.case, |r: &mut R, n| r.name = n));
    rows.extend(rows::time("received_at", |r: &mut R, t| r.received_at = t));
    rows.extend(rows::text("text", MAX_TEXT_CHARS, |r: &mut R, s| r.text = s));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn close_rows(f: &Fixture) -> Vec<Row<pb::CloseNoticeRequest>> {
    type R = pb::CloseNoticeRequest;
    let mut rows = rows::name("name", "notices", &f.case, |r: &mut R, n| r.name = n);
    rows.extend(rows::required_text("reason", 2000, |r: &mut R, s| r.reason = s));
    rows.extend(rows::time("occurred_at", |r: &mut R, t| r.occurred_at = t));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn remind_rows(f: &Fixture) -> Vec<Row<pb::RemindNoticeRequest>> {
    type R = pb::RemindNoticeRequest;
    let mut rows: Vec<Row<R>> =
        vec![row(Class::OutOfOrder, refused(Code::FailedPrecondition, "NOT_OUTSTANDING"), |_: &mut R| {})];
    rows.extend(rows::name("name", "notices", &f.case, |r: &mut R, n| r.name = n));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn escalate_rows(f: &Fixture) -> Vec<Row<pb::EscalateNoticeRequest>> {
    type R = pb::EscalateNoticeRequest;
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("to_kind"), |r: &mut R| r.to_kind = 0),
        row(Class::UnknownEnum, bad("to_kind"), |r: &mut R| r.to_kind = 99),
        row(Class::OutOfOrder, refused(Code::FailedPrecondition, "NOT_OUTSTANDING"), |_: &mut R| {}),
    ];
    rows.extend(rows::name("name", "notices", &f.case, |r: &mut R, n| r.name = n));
    rows.extend(rows::line("legal_basis", MAX_LEGAL_BASIS_CHARS, |r: &mut R, s| r.legal_basis = s));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

pub async fn walk(w: &mut Walk, c: &Clients, f: &Fixture) {
    let liaison = &c.liaison;
    let base = pb::SetPlatformContactRequest { contact: Some(good_contact(&f.platform)), request_id: String::new() };
    w.rpc(
        "SetPlatformContact",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.set_platform_contact(r).await.map(drop) }
        },
        contact_rows(f),
    )
    .await;

    let base =
        pb::CreateNoticeRequest { notice: Some(good_notice(&f.platform, &f.link, &f.case)), request_id: String::new() };
    w.rpc(
        "CreateNotice",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.create_notice(r).await.map(drop) }
        },
        create_rows(f),
    )
    .await;

    let base = pb::UpdateNoticeRequest {
        notice: Some(pb::Notice {
            name: f.notice.clone(),
            legal_basis: "s66M PDPO, as amended".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["legal_basis".into()] }),
        request_id: String::new(),
    };
    w.rpc(
        "UpdateNotice",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.update_notice(r).await.map(drop) }
        },
        update_rows(f),
    )
    .await;

    let base = pb::ServeNoticeRequest {
        name: f.notice.clone(),
        served_at: at("2019-07-10T10:00:00+08:00"),
        service_method: pb::ServiceMethod::Email as i32,
        request_id: String::new(),
    };
    w.rpc(
        "ServeNotice",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.serve_notice(r).await.map(drop) }
        },
        serve_rows(f),
    )
    .await;

    let base = pb::RecordReplyRequest {
        name: f.notice.clone(),
        received_at: at("2019-07-12T10:00:00+08:00"),
        all_items: pb::ReplyOutcome::Complied as i32,
        ..Default::default()
    };
    w.rpc(
        "RecordReply",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.record_reply(r).await.map(drop) }
        },
        reply_rows(f),
    )
    .await;

    let base = pb::CloseNoticeRequest { name: f.notice.clone(), reason: "complied".into(), ..Default::default() };
    w.rpc(
        "CloseNotice",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.close_notice(r).await.map(drop) }
        },
        close_rows(f),
    )
    .await;

    let base = pb::RemindNoticeRequest { name: f.notice.clone(), request_id: String::new() };
    w.rpc(
        "RemindNotice",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.remind_notice(r).await.map(drop) }
        },
        remind_rows(f),
    )
    .await;

    let base = pb::EscalateNoticeRequest {
        name: f.notice.clone(),
        to_kind: pb::NoticeKind::CessationNotice as i32,
        legal_basis: "s66N PDPO".into(),
        request_id: String::new(),
    };
    w.rpc(
        "EscalateNotice",
        &base,
        |r| {
            let mut c = liaison.clone();
            async move { c.escalate_notice(r).await.map(drop) }
        },
        escalate_rows(f),
    )
    .await;

    type E = pb::EraseCaseDataRequest;
    let base = E { case: f.case.clone(), erase_time: at("2020-01-01T00:00:00Z"), request_id: String::new() };
    let rows = rows::erase(
        &f.link,
        |r: &mut E, n| r.case = n,
        |r: &mut E, t| r.erase_time = t,
        |r: &mut E, id| r.request_id = id,
    );
    let peer = &c.liaison_as_intake;
    w.rpc(
        "EraseCaseData (liaison)",
        &base,
        |r| {
            let mut c = peer.clone();
            async move { c.erase_case_data(r).await.map(drop) }
        },
        rows,
    )
    .await;
}
