//! The Police's side through `AgencyReferralService`: a watch stream that resumes from its cursor
//! and sees every referral exactly once, heartbeats and shutdown, acknowledgement, outcomes in and
//! out of order and their notes on the case in intake, and agencies kept apart.

mod common;

use std::time::Duration;

use common::*;
use doxwatch_proto::{intake as intake_pb, referral as pb};
use pb::{FeedEntryKind as K, ReferralStatus as RS, watch_referrals_response::Message as M};
use tonic::{Code, Streaming};

backend_tests!(
    worker_threads = 4;
    a_police_client_resumes_from_its_cursor_and_sees_every_referral_once,
    acknowledgement_is_idempotent_and_agencies_see_only_their_own,
    outcomes_in_and_out_of_order_and_their_notes_on_the_case,
    an_agency_holds_at_most_four_feeds_open,
    summaries_and_outcomes_are_sealed_at_rest,
);

async fn summaries_and_outcomes_are_sealed_at_rest(stores: Stores) {
    const ARRESTED: &str = "Wong Siu Fung";
    const SENTENCE: &str = "240 hours of community service";
    let mut s = start(&stores).await;
    let (_case, referral) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-03T10:00:00+08:00", "POLICE").await;
    let summary = referral.summary.clone();
    assert!(summary.contains("police officer's family"), "{summary}");
    let mut police = s.police();
    let ack = pb::AcknowledgeReferralRequest {
        name: referral.name.clone(),
        agency_reference: "HKPF/CSTCB/19/78".into(),
        acknowledged_at: Some(ts("2019-08-04T10:00:00+08:00")),
        request_id: String::new(),
    };
    police.acknowledge_referral(ack).await.unwrap();
    for (outcome, at, details) in [
        (RS::UnderInvestigation, "2019-08-05T10:00:00+08:00", pb::OutcomeDetails::default()),
        (
            RS::ArrestMade,
            "2019-08-10T10:00:00+08:00",
            pb::OutcomeDetails { note: format!("arrested {ARRESTED}"), ..Default::default() },
        ),
        (
            RS::Charged,
            "2019-08-20T10:00:00+08:00",
            pb::OutcomeDetails { offence: format!("{ARRESTED}: s64(3A) PDPO"), ..Default::default() },
        ),
        (
            RS::Convicted,
            "2019-09-30T10:00:00+08:00",
            pb::OutcomeDetails { offence: "s64(3A) PDPO".into(), sentence: SENTENCE.into(), ..Default::default() },
        ),
    ] {
        let request = pb::ReportOutcomeRequest {
            name: referral.name.clone(),
            outcome: outcome as i32,
            occurred_at: Some(ts(at)),
            details: Some(details),
            request_id: format!("outcome-{}", outcome as i32),
        };
        police.report_outcome(request).await.unwrap();
    }

    // Read back whole...
    let read = s.referral.get_referral(pb::GetReferralRequest { name: referral.name.clone() }).await.unwrap();
    assert_eq!(read.into_inner().summary, summary);
    let events = s
        .referral
        .list_referral_events(pb::ListReferralEventsRequest { name: referral.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .events;
    let details: Vec<pb::OutcomeDetails> = events.into_iter().filter_map(|e| e.details).collect();
    assert!(details.iter().any(|d| d.note == format!("arrested {ARRESTED}")), "{details:?}");
    assert!(details.iter().any(|d| d.sentence == SENTENCE), "{details:?}");
    // ...yet not in the referral store in plain text.
    assert_eq!(stores.referral.plaintext(&[ARRESTED, SENTENCE, "police officer's family"]).await, Vec::<String>::new());
    s.stop().await;
}

async fn an_agency_holds_at_most_four_feeds_open(stores: Stores) {
    let s = start(&stores).await;
    let mut police = s.police();
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(watch(&mut police, "").await);
    }
    let err = police.watch_referrals(pb::WatchReferralsRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // Another agency's feeds are its own.
    let _icac = watch(&mut s.agency(Some("ICAC")), "").await;
    // Closing one gives its place back.
    drop(open.pop());
    let reopened = eventually(Duration::from_secs(5), async || {
        police.watch_referrals(pb::WatchReferralsRequest::default()).await.ok()
    })
    .await;
    assert!(reopened.is_some(), "a closed feed's place is given back");
    s.stop().await;
}

async fn watch(client: &mut AgencyClient, after: &str) -> Streaming<pb::WatchReferralsResponse> {
    client
        .watch_referrals(pb::WatchReferralsRequest { after_cursor: after.to_owned() })
        .await
        .expect("watching")
        .into_inner()
}

async fn next(stream: &mut Streaming<pb::WatchReferralsResponse>) -> M {
    let message =
        tokio::time::timeout(Duration::from_secs(10), stream.message()).await.expect("a message within 10 seconds");
    message.expect("the stream is healthy").expect("the stream goes on").message.expect("a message")
}

/// The next feed entry, skipping heartbeats.
async fn next_entry(stream: &mut Streaming<pb::WatchReferralsResponse>) -> pb::FeedEntry {
    loop {
        if let M::Entry(entry) = next(stream).await {
            return entry;
        }
    }
}

fn seen(entry: &pb::FeedEntry) -> (i32, String) {
    (entry.kind, entry.referral.as_ref().map(|r| r.name.clone()).unwrap_or_default())
}

async fn a_police_client_resumes_from_its_cursor_and_sees_every_referral_once(stores: Stores) {
    let mut s = start(&stores).await;
    let mut police = s.police();
    let (_, r1) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-02T10:00:00+08:00", "POLICE").await;
    let (_, r2) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-03T10:00:00+08:00", "POLICE").await;
    let (_, r3) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-04T10:00:00+08:00", "POLICE").await;
    let (_, icac) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-04T10:00:00+08:00", "ICAC").await;

    // The first connection reads two entries and goes away mid-stream.
    let mut stream = watch(&mut police, "").await;
    let first = next_entry(&mut stream).await;
    let second = next_entry(&mut stream).await;
    assert_eq!(seen(&first), (K::Referred as i32, r1.name.clone()));
    assert_eq!(seen(&second), (K::Referred as i32, r2.name.clone()));
    assert_eq!(first.referral.as_ref().unwrap().status, RS::Pending as i32, "the referral as it stood when sent");
    drop(stream);
    let delivered = police.get_referral(pb::GetReferralRequest { name: r1.name.clone() }).await.unwrap().into_inner();
    assert_eq!(delivered.status, RS::Delivered as i32, "delivered once the stream sent it");

    // While it is away: another referral, a withdrawal, and another referral.
    let (_, r4) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-05T10:00:00+08:00", "POLICE").await;
    s.withdraw(&r2.name, "2019-08-06T10:00:00+08:00").await;
    let (_, r5) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-07T10:00:00+08:00", "POLICE").await;

    // It resumes after the last cursor it saw and gets everything it missed, in order.
    let mut stream = watch(&mut police, &second.cursor).await;
    let mut resumed = Vec::new();
    for _ in 0..4 {
        resumed.push(next_entry(&mut stream).await);
    }
    assert_eq!(
        resumed.iter().map(seen).collect::<Vec<_>>(),
        vec![
            (K::Referred as i32, r3.name.clone()),
            (K::Referred as i32, r4.name.clone()),
            (K::Withdrawn as i32, r2.name.clone()),
            (K::Referred as i32, r5.name.clone()),
        ]
    );
    assert_eq!(resumed[2].referral.as_ref().unwrap().status, RS::Withdrawn as i32);

    // A referral made while it watches arrives promptly.
    let started = tokio::time::Instant::now();
    let (_, r6) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-08T10:00:00+08:00", "POLICE").await;
    let live = next_entry(&mut stream).await;
    assert_eq!(seen(&live), (K::Referred as i32, r6.name.clone()));
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());

    // Idle, it hears heartbeats that carry its cursor.
    match next(&mut stream).await {
        M::Heartbeat(h) => assert_eq!(h.cursor, live.cursor),
        other => panic!("expected a heartbeat, got {other:?}"),
    }

    // Every referral to the Police was seen exactly once as REFERRED; ICAC's never.
    let mut referred: Vec<String> = [first, second]
        .iter()
        .chain(resumed.iter())
        .chain(std::iter::once(&live))
        .filter(|e| e.kind == K::Referred as i32)
        .map(|e| seen(e).1)
        .collect();
    referred.sort();
    let mut expected = vec![r1.name, r2.name.clone(), r3.name, r4.name, r5.name, r6.name];
    expected.sort();
    assert_eq!(referred, expected);
    assert!(!referred.contains(&icac.name));

    // Reconnecting from the last cursor sends nothing again.
    drop(stream);
    let mut stream = watch(&mut police, &live.cursor).await;
    assert!(matches!(next(&mut stream).await, M::Heartbeat(_)));

    // Bad cursors and callers.
    let err = police.watch_referrals(pb::WatchReferralsRequest { after_cursor: "yesterday".into() }).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["after_cursor".to_owned()]);
    let err = s.agency(None).watch_referrals(pb::WatchReferralsRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Shutting the server down ends the stream at once, telling the client to come back.
    let reader = tokio::spawn(async move {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(status) => return Some(status.code()),
            }
        }
    });
    let stopping = tokio::time::Instant::now();
    s.stop_referral().await;
    assert!(stopping.elapsed() < Duration::from_secs(3), "the stream held the shutdown for {:?}", stopping.elapsed());
    let ended = tokio::time::timeout(Duration::from_secs(5), reader).await.expect("the stream ended").unwrap();
    assert_eq!(ended, Some(Code::Unavailable));
    s.stop().await;
}

async fn acknowledgement_is_idempotent_and_agencies_see_only_their_own(stores: Stores) {
    let mut s = start(&stores).await;
    let (_, referral) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-03T10:00:00+08:00", "POLICE").await;
    let mut police = s.police();
    let mut icac = s.agency(Some("ICAC"));
    let ack = |reference: &str, at: &str| pb::AcknowledgeReferralRequest {
        name: referral.name.clone(),
        agency_reference: reference.to_owned(),
        acknowledged_at: Some(ts(at)),
        request_id: String::new(),
    };

    // The Police quote our reference back; another agency cannot see or touch it, by id or reference.
    assert_eq!(referral.reference, "REF-2019-000001", "numbered in the year it was made");
    let quoted = pb::GetReferralRequest { name: "referrals/ref-2019-1".into() };
    assert_eq!(police.get_referral(quoted.clone()).await.unwrap().into_inner().name, referral.name);
    assert_eq!(icac.get_referral(quoted).await.unwrap_err().code(), Code::NotFound);
    let get = pb::GetReferralRequest { name: referral.name.clone() };
    assert_eq!(icac.get_referral(get.clone()).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(
        icac.acknowledge_referral(ack("ICAC/1", "2019-08-04T10:00:00+08:00")).await.unwrap_err().code(),
        Code::NotFound
    );
    assert_eq!(s.agency(None).get_referral(get.clone()).await.unwrap_err().code(), Code::Unauthenticated);

    let err = police.acknowledge_referral(ack("KT RN 19/001", "2019-08-02T10:00:00+08:00")).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["acknowledged_at".to_owned()], "not before the referral");
    let first =
        police.acknowledge_referral(ack("KT RN 19/001", "2019-08-04T10:00:00+08:00")).await.unwrap().into_inner();
    assert_eq!(first.status, RS::Acknowledged as i32);
    assert_eq!(first.agency_reference, "KT RN 19/001");
    assert_eq!(first.acknowledged_at, Some(ts("2019-08-04T10:00:00+08:00")));
    let again =
        police.acknowledge_referral(ack("KT RN 19/001", "2019-08-05T10:00:00+08:00")).await.unwrap().into_inner();
    assert_eq!(again, first, "the same reference again gives the same answer");
    let err = police.acknowledge_referral(ack("KT RN 19/999", "2019-08-05T10:00:00+08:00")).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(police.get_referral(get).await.unwrap().into_inner().agency_reference, "KT RN 19/001");

    // A withdrawn referral cannot be acknowledged.
    let (_, withdrawn) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-03T10:00:00+08:00", "POLICE").await;
    s.withdraw(&withdrawn.name, "2019-08-04T10:00:00+08:00").await;
    let late = pb::AcknowledgeReferralRequest {
        name: withdrawn.name.clone(),
        agency_reference: "X".into(),
        ..Default::default()
    };
    assert_eq!(police.acknowledge_referral(late).await.unwrap_err().code(), Code::FailedPrecondition);

    // Request ids replay; reused with another payload they are refused.
    let (_, third) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-03T10:00:00+08:00", "POLICE").await;
    let keyed = pb::AcknowledgeReferralRequest {
        name: third.name.clone(),
        agency_reference: "R3".into(),
        request_id: "ack-3".into(),
        ..Default::default()
    };
    let once = police.acknowledge_referral(keyed.clone()).await.unwrap().into_inner();
    assert_eq!(police.acknowledge_referral(keyed.clone()).await.unwrap().into_inner(), once);
    let reused = pb::AcknowledgeReferralRequest { agency_reference: "R4".into(), ..keyed };
    assert_eq!(police.acknowledge_referral(reused).await.unwrap_err().code(), Code::Aborted);

    // The officers' timeline shows who acknowledged.
    let events = s
        .referral
        .list_referral_events(pb::ListReferralEventsRequest { name: referral.name.clone(), ..Default::default() })
        .await
        .unwrap();
    let events = events.into_inner().events;
    let acked = events.iter().find(|e| e.status == RS::Acknowledged as i32).unwrap();
    assert_eq!((acked.actor.as_str(), acked.agency_reference.as_str()), ("agency:POLICE", "KT RN 19/001"));
    s.stop().await;
}

async fn outcomes_in_and_out_of_order_and_their_notes_on_the_case(stores: Stores) {
    let mut s = start(&stores).await;
    let (case, referral) = s.referred_case("2019-08-01T10:00:00+08:00", "2019-08-03T10:00:00+08:00", "POLICE").await;
    let mut police = s.police();
    let report = |outcome: RS, at: &str, details: pb::OutcomeDetails| pb::ReportOutcomeRequest {
        name: referral.name.clone(),
        outcome: outcome as i32,
        occurred_at: Some(ts(at)),
        details: Some(details),
        request_id: String::new(),
    };
    let none = pb::OutcomeDetails::default;
    let charge = || pb::OutcomeDetails {
        offence: "disclosing personal data without consent, s64(3A) PDPO".into(),
        ..Default::default()
    };
    let status = |r: pb::Referral| RS::try_from(r.status).unwrap();

    let err =
        police.report_outcome(report(RS::UnderInvestigation, "2019-08-05T10:00:00+08:00", none())).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "not before the acknowledgement");
    let ack = pb::AcknowledgeReferralRequest {
        name: referral.name.clone(),
        agency_reference: "HKPF/CSTCB/19/77".into(),
        acknowledged_at: Some(ts("2019-08-04T10:00:00+08:00")),
        request_id: String::new(),
    };
    police.acknowledge_referral(ack).await.unwrap();

    let r = police
        .report_outcome(report(RS::UnderInvestigation, "2019-08-05T10:00:00+08:00", none()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(r), RS::UnderInvestigation);
    let r =
        police.report_outcome(report(RS::Charged, "2019-08-20T10:00:00+08:00", charge())).await.unwrap().into_inner();
    assert_eq!(status(r), RS::Charged);
    // The arrest is reported late: it fits between the investigation and the charge.
    let arrest = report(
        RS::ArrestMade,
        "2019-08-10T10:00:00+08:00",
        pb::OutcomeDetails { note: "one arrested".into(), ..Default::default() },
    );
    let r = police.report_outcome(arrest.clone()).await.unwrap().into_inner();
    assert_eq!(status(r.clone()), RS::Charged, "the latest step in business time");
    assert_eq!(
        police.report_outcome(arrest).await.unwrap().into_inner(),
        r,
        "the same report again gives the same answer"
    );

    for (what, bad) in [
        ("a step reported twice", report(RS::ArrestMade, "2019-08-12T10:00:00+08:00", none())),
        (
            "NO_FURTHER_ACTION cannot follow CHARGED",
            report(
                RS::NoFurtherAction,
                "2019-08-25T10:00:00+08:00",
                pb::OutcomeDetails { reason: "x".into(), ..none() },
            ),
        ),
        (
            "before the acknowledgement",
            report(RS::Convicted, "2019-08-01T10:00:00+08:00", pb::OutcomeDetails { sentence: "x".into(), ..charge() }),
        ),
        (
            "a conviction before the charge",
            report(RS::Convicted, "2019-08-15T10:00:00+08:00", pb::OutcomeDetails { sentence: "x".into(), ..charge() }),
        ),
    ] {
        let err = police.report_outcome(bad).await.unwrap_err();
        assert_eq!(err.code(), Code::FailedPrecondition, "{what}: {err:?}");
    }
    let err = police.report_outcome(report(RS::Convicted, "2019-09-30T10:00:00+08:00", charge())).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["details.sentence".to_owned()]);
    let err = police.report_outcome(report(RS::Delivered, "2019-09-30T10:00:00+08:00", none())).await.unwrap_err();
    assert_eq!(violated_fields(&err), vec!["outcome".to_owned()]);
    let err = s
        .agency(Some("ICAC"))
        .report_outcome(report(RS::Acquitted, "2019-09-30T10:00:00+08:00", none()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let convicted = pb::OutcomeDetails { sentence: "4 months' imprisonment".into(), ..charge() };
    let r = police
        .report_outcome(report(RS::Convicted, "2019-09-30T10:00:00+08:00", convicted))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status(r), RS::Convicted);
    let err = police.report_outcome(report(RS::Acquitted, "2019-10-01T10:00:00+08:00", charge())).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "nothing follows a conviction");

    let events = s
        .referral
        .list_referral_events(pb::ListReferralEventsRequest { name: referral.name.clone(), ..Default::default() })
        .await
        .unwrap();
    let order: Vec<i32> = events.into_inner().events.iter().map(|e| e.status).collect();
    let expected = [RS::Pending, RS::Acknowledged, RS::UnderInvestigation, RS::ArrestMade, RS::Charged, RS::Convicted];
    assert_eq!(order, expected.iter().map(|s| *s as i32).collect::<Vec<_>>());

    // The timeline pages, one event at a time, to the same order; a forged token is refused.
    let (mut paged, mut page_token) = (Vec::new(), String::new());
    loop {
        let page = s
            .referral
            .list_referral_events(pb::ListReferralEventsRequest {
                name: referral.name.clone(),
                page_size: 1,
                page_token,
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.events.len() <= 1);
        paged.extend(page.events.iter().map(|e| e.status));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(paged, order);
    let forged = s
        .referral
        .list_referral_events(pb::ListReferralEventsRequest {
            name: referral.name.clone(),
            page_token: "eyJ2IjoxLCJmIjoieCIsInAiOjE4NDQ2NzQ0MDczNzA5NTUxNjE1fQ".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&forged), vec!["page_token".to_owned()]);

    // Every outcome is a note on the case's timeline, at its business time.
    assert_eq!(s.outbox_settled().await.rejected, 0);
    let notes: Vec<(String, Option<prost_types::Timestamp>)> = s
        .case_events(&case)
        .await
        .into_iter()
        .filter(|e| e.kind == intake_pb::CaseEventKind::Note as i32)
        .map(|e| (e.note, e.occurred_at))
        .collect();
    assert_eq!(notes.len(), 4, "{notes:?}");
    let at = |outcome: &str| {
        notes.iter().find(|(n, _)| n.contains(&format!("reported {outcome} "))).map(|(_, t)| t.unwrap())
    };
    assert_eq!(at("ARREST_MADE"), Some(ts("2019-08-10T10:00:00+08:00")));
    assert_eq!(at("CONVICTED"), Some(ts("2019-09-30T10:00:00+08:00")));
    let conviction = notes.iter().find(|(n, _)| n.contains("CONVICTED")).unwrap();
    assert!(conviction.0.contains("4 months") && conviction.0.contains("HKPF/CSTCB/19/77"), "{}", conviction.0);
    assert_eq!(s.case(&case).await.status, intake_pb::CaseStatus::Referred as i32, "outcomes do not move the case");
    s.stop().await;
}
