//! What the fault harness checks once the last cycle is over, reading the stores through the
//! services' own APIs: every acknowledged case present exactly once, under the name it was
//! acknowledged with; no write present twice; every case's effect on link-tracking applied, its
//! URLs registered once each; intake's outbox with nothing pending and nothing rejected.

use std::collections::{BTreeMap, HashMap};

use doxwatch_proto::{
    intake::{self as pb, intake_service_client::IntakeServiceClient},
    links::{self as links_pb, links_service_client::LinksServiceClient},
    ops::{GetOutboxStatusRequest, outbox_service_client::OutboxServiceClient},
};

use crate::{
    process::Officer,
    workload::{Ledger, shared_url},
};

/// The harness's counts, as it prints them.
#[derive(Debug, Default)]
pub struct Counts {
    pub acknowledged_checked: usize,
    pub unacknowledged_checked: usize,
    pub unacknowledged_present: usize,
    pub effects_checked: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub problems: Vec<String>,
}

/// The services limit each caller's rate, and the check is one caller reading a great deal.
async fn slow_down() {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

/// Every case in intake's store, by the tag its summary carries.
async fn cases_by_tag(intake: &Officer) -> HashMap<String, Vec<pb::Case>> {
    let mut client = IntakeServiceClient::new(intake.clone());
    let mut by_tag: HashMap<String, Vec<pb::Case>> = HashMap::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListCasesRequest { page_size: 200, page_token, ..Default::default() };
        let page = loop {
            match client.list_cases(request.clone()).await {
                Err(status) if status.code() == tonic::Code::ResourceExhausted => slow_down().await,
                answer => break answer.expect("ListCases").into_inner(),
            }
        };
        for case in page.cases {
            let tag = case.summary.rsplit_once('[').map(|(_, t)| t.trim_end_matches(']').to_owned());
            by_tag.entry(tag.unwrap_or_else(|| format!("untagged {}", case.name))).or_default().push(case);
        }
        if page.next_page_token.is_empty() {
            return by_tag;
        }
        page_token = page.next_page_token;
    }
}

/// The links link-tracking holds, all of them or those `case` cites.
pub async fn links_of(links: &Officer, case: &str) -> Vec<links_pb::Link> {
    let mut client = LinksServiceClient::new(links.clone());
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let request =
            links_pb::ListLinksRequest { page_size: 200, page_token, case: case.to_owned(), ..Default::default() };
        let page = loop {
            match client.list_links(request.clone()).await {
                Err(status) if status.code() == tonic::Code::ResourceExhausted => slow_down().await,
                answer => break answer.expect("ListLinks").into_inner(),
            }
        };
        found.extend(page.links);
        if page.next_page_token.is_empty() {
            return found;
        }
        page_token = page.next_page_token;
    }
}

/// The cases citing `link`, every page, as link-tracking lists them.
pub async fn citations_of(links: &Officer, link: &str) -> Vec<String> {
    let mut client = LinksServiceClient::new(links.clone());
    let mut found = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = links_pb::ListLinkCitationsRequest { parent: link.to_owned(), page_size: 1000, page_token };
        let page = loop {
            match client.list_link_citations(request.clone()).await {
                Err(status) if status.code() == tonic::Code::ResourceExhausted => slow_down().await,
                answer => break answer.expect("ListLinkCitations").into_inner(),
            }
        };
        found.extend(page.citations.into_iter().map(|c| c.case));
        if page.next_page_token.is_empty() {
            return found;
        }
        page_token = page.next_page_token;
    }
}

/// Checks the stores against what the clients know.
pub async fn check(intake: &Officer, links: &Officer, ledger: &Ledger) -> Counts {
    let mut counts = Counts::default();
    let mut cases = cases_by_tag(intake).await;
    let mut present = Vec::new();
    for write in &ledger.writes {
        let found = cases.remove(&write.tag).unwrap_or_default();
        if found.len() > 1 {
            counts.duplicated += 1;
            counts.problems.push(format!("{} is stored {} times", write.request_id, found.len()));
        }
        match ledger.acknowledged.get(&write.request_id) {
            Some(name) => {
                counts.acknowledged_checked += 1;
                if found.is_empty() {
                    counts.lost += 1;
                    counts.problems.push(format!("{} was acknowledged as {name} and is not stored", write.request_id));
                } else if !found.iter().any(|c| &c.name == name) {
                    counts.problems.push(format!("{} was acknowledged as {name}, stored as another", write.request_id));
                }
            }
            None => {
                counts.unacknowledged_checked += 1;
                counts.unacknowledged_present += usize::from(!found.is_empty());
                if !ledger.abandoned.contains(&write.request_id) {
                    counts.problems.push(format!("{} was neither acknowledged nor given up", write.request_id));
                }
            }
        }
        present.extend(found.into_iter().map(|c| (write, c)));
    }
    for (tag, stray) in cases {
        counts.problems.push(format!("{} case(s) no client wrote: {tag}", stray.len()));
    }

    // Each case's effect: its three URLs registered, each link cited by the case once.
    let mut citing: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Each link's citing cases, listed once per link (a shared link is cited by every case of its cycle).
    let mut cited_by: HashMap<String, Vec<String>> = HashMap::new();
    for (write, case) in &present {
        counts.effects_checked += 1;
        let found = links_of(links, &case.name).await;
        let mut reported: Vec<&str> = found.iter().map(|l| l.reported_url.as_str()).collect();
        reported.sort_unstable();
        let mut own: Vec<&str> =
            write.urls.iter().filter(|u| **u != shared_url(write.cycle)).map(String::as_str).collect();
        own.sort_unstable();
        let shared = found.iter().filter(|l| l.reported_url == shared_url(write.cycle)).count();
        let own_found: Vec<&str> = reported.iter().copied().filter(|u| own.contains(u)).collect();
        if found.len() != 3 || shared != 1 || own_found != own {
            counts
                .problems
                .push(format!("{} ({}) cites {reported:?}, not its three URLs once each", case.name, write.tag));
        }
        for link in &found {
            if !cited_by.contains_key(&link.name) {
                cited_by.insert(link.name.clone(), citations_of(links, &link.name).await);
            }
            let cases = cited_by.get(&link.name).map(Vec::as_slice).unwrap_or_default();
            if cases.iter().filter(|c| **c == case.name).count() != 1
                || usize::try_from(link.case_count) != Ok(cases.len())
            {
                counts.problems.push(format!(
                    "{} cites {} other than once: {cases:?} (counted {})",
                    case.name, link.name, link.case_count
                ));
            }
            citing.entry(link.canonical_url.clone()).or_default().push(link.name.clone());
        }
    }
    // One link per canonical URL, however many cases cite it.
    let all = links_of(links, "").await;
    let mut by_url: BTreeMap<&str, usize> = BTreeMap::new();
    for link in &all {
        *by_url.entry(link.canonical_url.as_str()).or_default() += 1;
    }
    for (url, n) in by_url.iter().filter(|(_, n)| **n > 1) {
        counts.duplicated += 1;
        counts.problems.push(format!("{url} is held as {n} links"));
    }
    for (url, names) in &citing {
        if names.iter().any(|n| *n != names[0]) {
            counts.problems.push(format!("{url} answers as different links: {names:?}"));
        }
    }

    let mut outbox = OutboxServiceClient::new(intake.clone());
    let status = outbox.get_outbox_status(GetOutboxStatusRequest {}).await.expect("GetOutboxStatus").into_inner();
    if status.pending != 0 || status.rejected != 0 || usize::try_from(status.delivered) != Ok(present.len()) {
        counts.problems.push(format!(
            "intake's outbox: {} pending, {} rejected, {} delivered for {} cases",
            status.pending,
            status.rejected,
            status.delivered,
            present.len()
        ));
    }
    counts
}

/// How many effects intake still owes.
pub async fn pending(intake: &Officer) -> Option<i64> {
    let mut outbox = OutboxServiceClient::new(intake.clone());
    let mut request = tonic::Request::new(GetOutboxStatusRequest {});
    request.set_timeout(std::time::Duration::from_secs(2));
    outbox.get_outbox_status(request).await.ok().map(|s| s.into_inner().pending)
}
