//! Liaison's part of the harness: a removal request drafted, served and answered COMPLIED for a
//! link of each cycle, while liaison (and link-tracking) are killed under it. Serving owes
//! link-tracking removal requests and the reply owes it an observation; an observation is a new
//! record each time it is applied, so a reply applied twice would show as two.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use doxwatch_proto::{
    liaison::{self as pb, liaison_service_client::LiaisonServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
};
use tonic::Code;

use crate::process::Officer;

/// A notice whose three calls were all acknowledged.
#[derive(Debug, Clone)]
pub struct Answered {
    pub notice: String,
    pub link: String,
}

/// What liaison's client saw.
#[derive(Default)]
pub struct Correspondence {
    pub answered: Vec<Answered>,
    pub failures: BTreeMap<String, u32>,
    pub refusals: Vec<String>,
}

/// Calls `call` until it is acknowledged, retrying what a client retries; a refusal is recorded
/// and ends the notice.
macro_rules! until_acknowledged {
    ($log:expr, $what:expr, $call:expr) => {{
        let started = Instant::now();
        loop {
            match $call.await {
                Ok(answer) => break Some(answer.into_inner()),
                Err(status) => {
                    let retry = matches!(
                        status.code(),
                        Code::Unavailable
                            | Code::DeadlineExceeded
                            | Code::Cancelled
                            | Code::Unknown
                            | Code::Internal
                            | Code::ResourceExhausted
                    );
                    let mut log = $log.lock().expect("not poisoned");
                    *log.failures.entry(format!("{:?}", status.code())).or_default() += 1;
                    if !retry || started.elapsed() > Duration::from_secs(90) {
                        log.refusals.push(format!("{}: {:?} {}", $what, status.code(), status.message()));
                        break None;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }};
}

fn timed<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(Duration::from_secs(5));
    request
}

/// Drafts, serves and answers a removal request for `link`, cited by `case`, each call with its
/// own `request_id` and retried with it until acknowledged. The calls are spread over the cycle
/// by `pauses`, so that kills land between and during them.
pub async fn correspond(
    liaison: Officer,
    cycle: u32,
    (link, case): (links_pb::Link, String),
    pauses: [Duration; 3],
    log: Arc<Mutex<Correspondence>>,
) {
    let mut client = LiaisonServiceClient::new(liaison);
    tokio::time::sleep(pauses[0]).await;
    let notice = pb::Notice {
        platform: link.platform.clone(),
        kind: pb::NoticeKind::RemovalRequest as i32,
        items: vec![pb::NoticeItem { link: link.name.clone(), action: pb::NoticeAction::Remove as i32, reply: None }],
        cases: vec![case],
        legal_basis: "Personal Data (Privacy) Ordinance, section 64".into(),
        ..Default::default()
    };
    let create = pb::CreateNoticeRequest { notice: Some(notice), request_id: format!("fault-notice-{cycle}-create") };
    let what = format!("notice of cycle {cycle}");
    let Some(draft) = until_acknowledged!(log, what, client.create_notice(timed(create.clone()))) else { return };
    tokio::time::sleep(pauses[1]).await;
    let serve = pb::ServeNoticeRequest {
        name: draft.name.clone(),
        service_method: pb::ServiceMethod::Email as i32,
        request_id: format!("fault-notice-{cycle}-serve"),
        ..Default::default()
    };
    if until_acknowledged!(log, what, client.serve_notice(timed(serve.clone()))).is_none() {
        return;
    }
    tokio::time::sleep(pauses[2]).await;
    let reply = pb::RecordReplyRequest {
        name: draft.name.clone(),
        all_items: pb::ReplyOutcome::Complied as i32,
        text: "Removed.".into(),
        request_id: format!("fault-notice-{cycle}-reply"),
        ..Default::default()
    };
    if until_acknowledged!(log, what, client.record_reply(timed(reply.clone()))).is_some() {
        log.lock().expect("not poisoned").answered.push(Answered { notice: draft.name, link: link.name });
    }
}

/// The platform's reports of `answered` notices link-tracking holds: each must be there once; and
/// liaison owes nothing, having delivered two effects (removal requests, the report) a notice.
pub async fn check(links: &Officer, liaison: &Officer, answered: &[Answered], problems: &mut Vec<String>) -> usize {
    use doxwatch_proto::ops::{GetOutboxStatusRequest, outbox_service_client::OutboxServiceClient};
    let status = OutboxServiceClient::new(liaison.clone())
        .get_outbox_status(GetOutboxStatusRequest {})
        .await
        .expect("liaison's GetOutboxStatus")
        .into_inner();
    if status.pending != 0 || status.rejected != 0 || usize::try_from(status.delivered) != Ok(2 * answered.len()) {
        problems.push(format!(
            "liaison's outbox: {} pending, {} rejected, {} delivered for {} notices",
            status.pending,
            status.rejected,
            status.delivered,
            answered.len()
        ));
    }
    let mut client = LinksServiceClient::new(links.clone());
    let mut checked = 0;
    for notice in answered {
        let mut reports = 0;
        let mut page_token = String::new();
        loop {
            let request = links_pb::ListObservationsRequest {
                link: notice.link.clone(),
                page_size: 200,
                page_token: page_token.clone(),
            };
            let page = match client.list_observations(request).await {
                Err(status) if status.code() == Code::ResourceExhausted => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                answer => answer.expect("ListObservations").into_inner(),
            };
            // One notice is sent about each link, so each link holds one platform report.
            reports += page
                .observations
                .iter()
                .filter(|o| o.source == links_pb::ObservationSource::PlatformReport as i32)
                .count();
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        checked += 1;
        if reports != 1 {
            problems.push(format!("{}'s reply is recorded {reports} times on {}", notice.notice, notice.link));
        }
    }
    checked
}
