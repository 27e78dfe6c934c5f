//! The rechecker against a local HTTP site started by each test on 127.0.0.1 (nothing here reaches
//! the internet): each kind of answer classified as documented in `data/RECHECK_RULES.md`, a
//! platform's "not available" page, reappearance, and two replicas sharing the work of a round.

mod common;

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use common::*;
use doxwatch_kit::testing::{TestDatabase, eventually, unused_port};
use doxwatch_links::domain::Vantage;
use doxwatch_proto::links as pb;
use http_body_util::Full;
use hyper::{Request, Response, body::Bytes, service::service_fn};
use pb::LinkStatus as S;

backend_tests!(
    answers_are_classified_as_documented,
    a_platform_not_available_page_is_removed,
    a_removed_link_found_online_has_reappeared,
    two_replicas_never_check_a_link_twice_in_a_round,
    private_addresses_are_not_fetched_unless_allowed,
    the_background_rechecker_runs_when_configured,
    a_streamed_round_shows_each_link_and_ends_within_its_limit,
);

const SEEN: &str = "2019-10-01T10:00:00+08:00";

/// What the test site answers at a path.
#[derive(Clone)]
enum Page {
    Status(u16, &'static str),
    Redirect(&'static str),
    Slow(Duration),
}

/// A local site: pages by path, and what each request looked like.
#[derive(Clone, Default)]
struct Site {
    pages: Arc<Mutex<HashMap<String, Page>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    agents: Arc<Mutex<Vec<String>>>,
    cookies_seen: Arc<Mutex<usize>>,
    delay: Duration,
}

impl Site {
    async fn start(pages: &[(&str, Page)], delay: Duration) -> (Self, SocketAddr, tokio::task::JoinHandle<()>) {
        let site = Site { delay, ..Site::default() };
        site.pages.lock().unwrap().extend(pages.iter().map(|(p, page)| (p.to_string(), page.clone())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = site.clone();
        let handle = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let site = serving.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| site.clone().answer(request));
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        (site, addr, handle)
    }

    fn set(&self, path: &str, page: Page) {
        self.pages.lock().unwrap().insert(path.to_owned(), page);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    async fn answer(self, request: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let path = request.uri().path().to_owned();
        *self.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
        let agent = request.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        self.agents.lock().unwrap().push(agent);
        if request.headers().contains_key("cookie") || request.headers().contains_key("authorization") {
            *self.cookies_seen.lock().unwrap() += 1;
        }
        // Each answer takes `delay`, so that two replicas are mid-round at once: a pace, not a wait.
        tokio::time::sleep(self.delay).await;
        let page = self.pages.lock().unwrap().get(&path).cloned().unwrap_or(Page::Status(404, "no such page"));
        let response = match page {
            Page::Status(code, body) => Response::builder()
                .status(code)
                // A site may try to set a cookie; the rechecker never sends it back.
                .header("set-cookie", "session=abc; Path=/")
                .body(Full::new(Bytes::from_static(body.as_bytes()))),
            Page::Redirect(to) => Response::builder().status(302).header("location", to).body(Full::new(Bytes::new())),
            Page::Slow(wait) => {
                // Slower than the rechecker's timeout, which is the real timer under test.
                tokio::time::sleep(wait).await;
                Response::builder().status(200).body(Full::new(Bytes::from_static(b"late")))
            }
        };
        Ok(response.unwrap())
    }
}

async fn run(client: &mut Client) -> pb::RunRecheckResponse {
    client.run_recheck(pb::RunRecheckRequest::default()).await.unwrap().into_inner()
}

async fn observations(client: &mut Client, link: &pb::Link) -> Vec<pb::Observation> {
    client
        .list_observations(pb::ListObservationsRequest { link: link.name.clone(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .observations
}

async fn last_status(client: &mut Client, link: &pb::Link) -> (i32, String) {
    let all = observations(client, link).await;
    let last = all.last().unwrap_or_else(|| panic!("{} has no observation", link.canonical_url));
    assert_eq!(last.source, pb::ObservationSource::AutomatedRecheck as i32);
    (last.status, last.note.clone())
}

async fn answers_are_classified_as_documented(db: TestDatabase) {
    let (site, addr, server) = Site::start(
        &[
            ("/ok", Page::Status(200, "<p>a post</p>")),
            ("/gone", Page::Status(404, "not found")),
            ("/deleted", Page::Status(410, "gone")),
            ("/blocked", Page::Status(451, "unavailable for legal reasons")),
            ("/login", Page::Status(403, "log in to see this")),
            ("/odd", Page::Status(400, "bad request")),
            ("/r3", Page::Redirect("/r2")),
            ("/r2", Page::Redirect("/r1")),
            ("/r1", Page::Redirect("/landing")),
            ("/landing", Page::Status(200, "<p>moved post</p>")),
            ("/loop", Page::Redirect("/loop")),
            ("/slow", Page::Slow(Duration::from_secs(3))),
        ],
        Duration::ZERO,
    )
    .await;
    let app = spawn_app_with(&db, |c| {
        c.recheck.timeout = Duration::from_millis(500);
        c.recheck.failures_before_unreachable = 2;
        c.recheck.vantage = Vantage::OutsideHk;
        c.recheck.removed_every = Duration::from_secs(3600);
    })
    .await;
    let mut c = app.client.clone();
    let base = format!("http://{addr}");
    let mut links = HashMap::new();
    for path in ["/ok", "/gone", "/deleted", "/blocked", "/login", "/odd", "/r3", "/loop", "/slow"] {
        links.insert(path, link(&mut c, &format!("{base}{path}"), SEEN).await);
    }
    let refused = link(&mut c, &format!("http://127.0.0.1:{}/nothing-listens", unused_port()), SEEN).await;

    let first = run(&mut c).await;
    let expected = pb::RunRecheckResponse {
        checked: 10,
        online: 2,
        removed: 2,
        access_restricted: 2,
        unreachable: 1,
        failed: 2,
        inconclusive: 1,
        reappeared: 0,
    };
    assert_eq!(first, expected);
    for (path, status) in [
        ("/ok", S::Online),
        ("/gone", S::Removed),
        ("/deleted", S::Removed),
        ("/blocked", S::AccessRestricted),
        ("/login", S::AccessRestricted),
        ("/r3", S::Online),
        ("/loop", S::Unreachable),
    ] {
        let (got, note) = last_status(&mut c, &links[path]).await;
        assert_eq!(got, status as i32, "{path}: {note}");
    }
    let (_, note) = last_status(&mut c, &links["/gone"]).await;
    assert!(note.contains("HTTP 404") && note.contains(&format!("{base}/gone")), "{note}");
    let (_, note) = last_status(&mut c, &links["/r3"]).await;
    assert!(note.contains(&format!("final URL {base}/landing")), "the redirect chain is followed: {note}");
    assert_eq!(site.hits("/landing"), 1);
    let (_, note) = last_status(&mut c, &links["/loop"]).await;
    assert!(note.contains("more than 5 redirects"), "{note}");
    assert_eq!(site.hits("/loop"), 6, "the first request and 5 redirects");
    let ok = observations(&mut c, &links["/ok"]).await;
    assert_eq!((ok[0].vantage, ok[0].recorded_by.as_str()), (pb::Vantage::OutsideHk as i32, "service:links"));
    // One failure is not yet UNREACHABLE; neither is an inconclusive answer anything.
    for link in [&links["/slow"], &refused, &links["/odd"]] {
        assert!(observations(&mut c, link).await.is_empty(), "{}", link.canonical_url);
    }

    // The next round skips the removed links (due again only after `recheck_removed_every_ms`)
    // and records the second failure in a row as UNREACHABLE.
    let second = run(&mut c).await;
    assert_eq!((second.checked, second.removed, second.unreachable, second.failed), (8, 0, 3, 0), "{second:?}");
    assert_eq!(site.hits("/gone"), 1);
    let (status, note) = last_status(&mut c, &links["/slow"]).await;
    assert_eq!(status, S::Unreachable as i32);
    assert!(note.contains("timeout") && note.contains("2 failures in a row"), "{note}");
    let (status, note) = last_status(&mut c, &refused).await;
    assert_eq!(status, S::Unreachable as i32);
    assert!(note.contains("connect"), "{note}");

    let agents = site.agents.lock().unwrap().clone();
    let ua = format!("doxwatch-rechecker/{} (+privacy regulator link check)", env!("CARGO_PKG_VERSION"));
    assert!(agents.iter().all(|a| *a == ua), "{agents:?}");
    assert_eq!(*site.cookies_seen.lock().unwrap(), 0, "no cookies or credentials are sent");
    server.abort();
    app.stop().await;
}

async fn a_platform_not_available_page_is_removed(db: TestDatabase) {
    let (_site, addr, server) = Site::start(
        &[
            (
                "/examplechannel/1",
                Page::Status(200, "<div class=\"tgme_page_extra\">1 234 subscribers</div><p>post</p>"),
            ),
            (
                "/examplechannel/2",
                Page::Status(200, "<div class=\"tgme_page_extra\"></div>This channel can't be displayed"),
            ),
            ("/examplechannel/3", Page::Status(200, "<html><title>Telegram: Contact</title></html>")),
            ("/examplechannel/4", Page::Status(200, "<div class=\"tgme_page_extra\"></div>Video unavailable")),
        ],
        Duration::ZERO,
    )
    .await;
    // The test site stands in for Telegram: a host name reached at its address becomes a Telegram
    // domain, so the platform's rules (keyed by registry key) read its pages.
    const HOST: &str = "telegram-stand-in.test";
    let app = spawn_app_with(&db, |c| c.recheck.resolve = vec![(HOST.to_owned(), addr)]).await;
    let mut c = app.client.clone();
    let telegram = platform_named(&mut c, "Telegram").await;
    assert_eq!(telegram.registry_key, "telegram");
    c.add_platform_domain(pb::AddPlatformDomainRequest {
        platform: telegram.name.clone(),
        domain: HOST.into(),
        request_id: String::new(),
    })
    .await
    .unwrap();
    let base = format!("http://{HOST}:{}", addr.port());
    let live = link(&mut c, &format!("{base}/examplechannel/1"), SEEN).await;
    let gone = link(&mut c, &format!("{base}/examplechannel/2"), SEEN).await;
    let bare = link(&mut c, &format!("{base}/examplechannel/3"), SEEN).await;
    let youtube_words = link(&mut c, &format!("{base}/examplechannel/4"), SEEN).await;
    assert_eq!(live.platform, telegram.name);

    let round = run(&mut c).await;
    assert_eq!((round.checked, round.online, round.removed), (4, 2, 2), "{round:?}");
    assert_eq!(last_status(&mut c, &live).await.0, S::Online as i32);
    let (status, note) = last_status(&mut c, &gone).await;
    assert_eq!(status, S::Removed as i32);
    assert!(note.contains("telegram \"content not available\" page"), "{note}");
    assert_eq!(last_status(&mut c, &bare).await.0, S::Removed as i32);
    // YouTube's words on a Telegram page mean nothing.
    assert_eq!(last_status(&mut c, &youtube_words).await.0, S::Online as i32);
    server.abort();
    app.stop().await;
}

async fn a_removed_link_found_online_has_reappeared(db: TestDatabase) {
    let (site, addr, server) =
        Site::start(&[("/post", Page::Status(404, "gone")), ("/steady", Page::Status(200, "up"))], Duration::ZERO)
            .await;
    let app = spawn_app_with(&db, |c| c.recheck.removed_every = Duration::ZERO).await;
    let mut c = app.client.clone();
    let post = link(&mut c, &format!("http://{addr}/post"), SEEN).await;
    let steady = link(&mut c, &format!("http://{addr}/steady"), SEEN).await;

    let first = run(&mut c).await;
    assert_eq!((first.removed, first.online, first.reappeared), (1, 1, 0));
    site.set("/post", Page::Status(200, "reposted"));
    let second = run(&mut c).await;
    assert_eq!((second.online, second.reappeared), (2, 1), "{second:?}");

    let got = c.get_link(pb::GetLinkRequest { name: post.name.clone() }).await.unwrap().into_inner();
    assert_eq!((got.status, got.reappeared), (S::Online as i32, true));
    let never_removed = c.get_link(pb::GetLinkRequest { name: steady.name.clone() }).await.unwrap().into_inner();
    assert!(!never_removed.reappeared);
    let listed =
        c.list_links(pb::ListLinksRequest { reappeared: true, ..Default::default() }).await.unwrap().into_inner().links;
    assert_eq!(listed.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), vec![post.name.as_str()]);
    let stats = c.get_link_statistics(pb::GetLinkStatisticsRequest::default()).await.unwrap().into_inner();
    let total = stats.total.unwrap();
    assert_eq!((total.links, total.links_reappeared, total.links_removed), (2, 1, 0));

    // Removed again: no longer counted as reappeared.
    site.set("/post", Page::Status(410, "gone for good"));
    run(&mut c).await;
    let stats = c.get_link_statistics(pb::GetLinkStatisticsRequest::default()).await.unwrap().into_inner();
    assert_eq!(stats.total.unwrap().links_reappeared, 0);
    server.abort();
    app.stop().await;
}

async fn two_replicas_never_check_a_link_twice_in_a_round(db: TestDatabase) {
    const LINKS: usize = 24;
    let paths: Vec<String> = (0..LINKS).map(|i| format!("/p/{i}")).collect();
    let pages: Vec<(&str, Page)> = paths.iter().map(|p| (p.as_str(), Page::Status(200, "up"))).collect();
    // Each answer takes a while, so that both replicas are mid-round at once.
    let (site, addr, server) = Site::start(&pages, Duration::from_millis(150)).await;
    let settings = |c: &mut doxwatch_links::config::LinksConfig| c.recheck.concurrency = 3;
    let a = spawn_app_with(&db, settings).await;
    let b = spawn_app_with(&db, settings).await;
    let mut ca = a.client.clone();
    let mut cb = b.client.clone();
    let mut links = Vec::new();
    for path in &paths {
        links.push(link(&mut ca, &format!("http://{addr}{path}"), SEEN).await);
    }

    let (ra, rb) = tokio::join!(run(&mut ca), run(&mut cb));
    assert_eq!(ra.checked + rb.checked, LINKS as i64, "{ra:?} {rb:?}");
    assert!(ra.checked > 0 && rb.checked > 0, "both replicas took part: {ra:?} {rb:?}");
    for (path, link) in paths.iter().zip(&links) {
        assert_eq!(site.hits(path), 1, "{path} was fetched once");
        assert_eq!(observations(&mut ca, link).await.len(), 1, "{path} was recorded once");
    }
    server.abort();
    a.stop().await;
    b.stop().await;
}

async fn private_addresses_are_not_fetched_unless_allowed(db: TestDatabase) {
    let (site, addr, server) = Site::start(&[("/x", Page::Status(200, "up"))], Duration::ZERO).await;
    let (literal_url, named_url) = (format!("http://{addr}/x"), format!("http://localhost:{}/x", addr.port()));
    // Links on such addresses are not registered at all...
    let app = spawn_app_with(&db, |c| c.recheck.allow_private_addresses = false).await;
    let mut c = app.client.clone();
    let refused =
        register(&mut c, vec![registration(&literal_url, "", SEEN), registration(&named_url, "", SEEN)]).await;
    assert!(refused.iter().all(|r| r.link.is_none()), "{refused:?}");
    assert!(refused[0].error.contains("127.0.0.1, a private, loopback or link-local address"), "{refused:?}");
    assert!(refused[1].error.contains("localhost"), "{refused:?}");
    app.stop().await;
    // ...but a store may hold some from before that rule (or from a deployment that allowed
    // them), and the rechecker still never fetches them.
    let app = spawn_app_with(&db, |_| {}).await;
    let mut c = app.client.clone();
    let literal = link(&mut c, &literal_url, SEEN).await;
    let named = link(&mut c, &named_url, SEEN).await;
    app.stop().await;
    let app = spawn_app_with(&db, |c| c.recheck.allow_private_addresses = false).await;
    let mut c = app.client.clone();

    let round = run(&mut c).await;
    assert_eq!((round.checked, round.inconclusive), (2, 2), "{round:?}");
    assert_eq!(site.hits("/x"), 0, "nothing on a private address is fetched");
    assert!(observations(&mut c, &literal).await.is_empty());
    assert!(observations(&mut c, &named).await.is_empty());
    server.abort();
    app.stop().await;
}

async fn the_background_rechecker_runs_when_configured(db: TestDatabase) {
    let (site, addr, server) = Site::start(&[("/x", Page::Status(451, "blocked here"))], Duration::ZERO).await;
    let app = spawn_app_with(&db, |c| c.recheck.interval = Duration::from_secs(5)).await;
    let mut c = app.client.clone();
    let blocked = link(&mut c, &format!("http://{addr}/x"), SEEN).await;
    let found = eventually(Duration::from_secs(10), async || {
        Some(observations(&mut c, &blocked).await).filter(|found| !found.is_empty())
    })
    .await
    .unwrap_or_default();
    assert_eq!(found.len(), 1, "the background rechecker checked the new link");
    assert_eq!(found[0].status, S::AccessRestricted as i32);
    assert_eq!(site.hits("/x"), 1);
    server.abort();
    app.stop().await;
}

/// Every message of a streamed round: the links checked, then its summary.
async fn stream(client: &mut Client, seconds: i64) -> (Vec<pb::RecheckedLink>, pb::RecheckSummary) {
    let limit = prost_types::Duration { seconds, nanos: 0 };
    let request = pb::StreamRecheckRequest { time_limit: Some(limit) };
    let mut stream = client.stream_recheck(request).await.unwrap().into_inner();
    let (mut checked, mut summary) = (Vec::new(), None);
    while let Some(message) = stream.message().await.unwrap() {
        match message.event.expect("an event") {
            pb::stream_recheck_response::Event::Checked(l) => {
                assert!(summary.is_none(), "the summary comes last");
                checked.push(l);
            }
            pb::stream_recheck_response::Event::Summary(s) => summary = Some(s),
        }
    }
    (checked, summary.expect("a summary"))
}

async fn a_streamed_round_shows_each_link_and_ends_within_its_limit(db: TestDatabase) {
    let (_site, addr, server) = Site::start(
        &[
            ("/ok", Page::Status(200, "<p>a post</p>")),
            ("/gone", Page::Status(404, "not found")),
            ("/slow", Page::Slow(Duration::from_secs(60))),
        ],
        Duration::ZERO,
    )
    .await;
    let app = spawn_app_with(&db, |c| {
        // Longer than the round's limit: the slow page holds its check until the limit ends it.
        c.recheck.timeout = Duration::from_secs(30);
        c.recheck.failures_before_unreachable = 1;
    })
    .await;
    let mut c = app.client.clone();
    let base = format!("http://{addr}");
    let ok = link(&mut c, &format!("{base}/ok"), SEEN).await;
    let gone = link(&mut c, &format!("{base}/gone"), SEEN).await;
    let slow = link(&mut c, &format!("{base}/slow"), SEEN).await;
    let refused = link(&mut c, &format!("http://127.0.0.1:{}/nothing-listens", unused_port()), SEEN).await;

    let (checked, summary) = stream(&mut c, 2).await;
    let by_link: HashMap<String, pb::RecheckedLink> = checked.into_iter().map(|l| (l.link.clone(), l)).collect();
    let recorded = pb::RecheckOutcome::Recorded as i32;
    assert_eq!((by_link[&ok.name].outcome, by_link[&ok.name].status), (recorded, S::Online as i32));
    assert_eq!((by_link[&gone.name].outcome, by_link[&gone.name].status), (recorded, S::Removed as i32));
    let unreached = &by_link[&refused.name];
    assert_eq!((unreached.outcome, unreached.status), (recorded, S::Unreachable as i32), "{unreached:?}");
    assert!(unreached.detail.contains("network failure"), "what failed is said: {unreached:?}");
    assert!(!by_link.contains_key(&slow.name), "the slow link was not reached within the limit");
    assert!(summary.cut_short, "{summary:?}");
    assert_eq!(summary.still_due, 1, "{summary:?}");
    let counts = summary.counts.unwrap();
    assert_eq!((counts.checked, counts.online, counts.removed, counts.unreachable), (3, 1, 1, 1));
    assert!(observations(&mut c, &slow).await.is_empty(), "a check cut off records nothing");

    // The slow link was given back, not left claimed until its claim lapsed: the next round takes
    // it up again at once (and is cut short by it again) rather than finding nothing to claim.
    let (checked, again) = stream(&mut c, 1).await;
    assert!(checked.iter().all(|l| l.link != slow.name), "{checked:?}");
    assert!(again.cut_short && again.still_due >= 1, "{checked:?} {again:?}");

    for bad in [prost_types::Duration { seconds: 0, nanos: 0 }, prost_types::Duration { seconds: 7200, nanos: 0 }] {
        let refused = c.stream_recheck(pb::StreamRecheckRequest { time_limit: Some(bad) }).await.unwrap_err();
        assert_eq!(violated_fields(&refused), vec!["time_limit".to_owned()]);
    }
    server.abort();
    app.stop().await;
}
