//! The published statement of 8 November 2019 replayed end to end: the whole suite on fresh
//! stores, the scenario loaded through the public APIs, and the report as at noon that day
//! checked against every figure of the scenario file.

use doxwatch_report::{load, plan, report, scenario::Scenario};
use doxwatch_suite_tests::{Suite, SuiteStores};

mod statement_text;

const PUBLISHED: &str = include_str!("../../examples/scenarios/pcpd-2019-11-08.toml");

/// Every figure of a scenario file, by its dotted key, as the report gives it.
fn check_against(file: &str, report: &report::Report) {
    let expected: toml::Table = toml::from_str(file).unwrap();
    let actual = serde_json::to_value(report).unwrap();
    let get = |path: &str| -> serde_json::Value {
        let mut v = &actual;
        for part in path.split('.') {
            v = match part.parse::<usize>() {
                Ok(i) => &v[i],
                Err(_) => &v[part],
            };
        }
        v.clone()
    };
    let mut checked = 0;
    let mut walk = vec![(String::new(), toml::Value::Table(expected))];
    while let Some((path, value)) = walk.pop() {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if path.is_empty() { k } else { format!("{path}.{k}") };
                    walk.push((key, v));
                }
            }
            // The generator's seed is not a figure.
            toml::Value::Integer(_) if path == "seed" => {}
            toml::Value::Integer(n) => {
                let key = path.replace("links.suspended_channel", "links.suspended_channels.0");
                assert_eq!(get(&key), serde_json::json!(n), "{path}");
                checked += 1;
            }
            toml::Value::String(s) if path != "name" => {
                let key = match path.as_str() {
                    "links.suspended_channel.suspended_since" => {
                        "links.suspended_channels.0.suspended_since".to_owned()
                    }
                    other => other.to_owned(),
                };
                assert_eq!(get(&key), serde_json::json!(s), "{path}");
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 20, "only {checked} figures checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_published_statement_is_reproduced_from_the_system_s_own_data() {
    let checked = Scenario::parse(PUBLISHED).unwrap().check().unwrap();
    let plan = plan::generate(&checked);
    let stores = SuiteStores::sqlite();
    let suite = Suite::start(&stores).await;
    let endpoints = suite.endpoints();
    let started = std::time::Instant::now();
    let first = load::load(&checked, &plan, &endpoints, &load::Quiet).await.expect("the scenario loads");
    eprintln!("loaded in {:?}", started.elapsed());
    assert_eq!(first.already, 0, "a fresh suite has none of it: {first:?}");
    assert!(first.new >= plan.cases.len() as u64, "{first:?}");
    let noon = checked.as_of;
    let report = report::gather(&endpoints, noon, None).await.expect("a report");
    check_against(PUBLISHED, &report);
    let most_active = report.liaison.most_active_platform.as_ref().unwrap();
    assert_eq!(most_active.kind, "INSTANT_MESSAGING");
    // Every sentence of the statement, not only its figures, in Hong Kong's words.
    let hong_kong = jiff::tz::TimeZone::get("Asia/Hong_Kong").unwrap();
    let in_hong_kong = report::gather_in(&endpoints, noon, None, report::Form::PressSafe, &hong_kong).await.unwrap();
    statement_text::compare(&in_hong_kong, &statement_text::expected(&checked, &plan, &most_active.name));
    // In the press-safe words of the statement: the channel is counted, not named.
    let text = doxwatch_report::render::text(&report);
    assert!(text.contains(" One of its channels has been suspended since 7 November 2019."), "{text}");
    assert_eq!(report.links.suspended_channels[0].handle, None);
    assert!(report.pending_effects.values().all(|n| *n == 0));

    // Loading again (an interrupted load re-run) adds nothing.
    let second = load::load(&checked, &plan, &endpoints, &load::Quiet).await.expect("the scenario loads again");
    assert_eq!(second, load::Written { new: 0, already: first.new }, "a re-run says it changed nothing");
    let again = report::gather(&endpoints, noon, None).await.unwrap();
    assert_eq!(again, report);

    // No store holds the victims' names, phones or addresses, nor the complainants' names, in
    // plain text: not a table, not the WAL, not a stored answer or a queued request.
    let mut needles = Vec::new();
    for i in (0..plan.cases.len()).step_by((plan.cases.len() / 12).max(1)) {
        needles.push(format!("Test Subject {i:05}-0"));
        needles.push(format!("6{:07}", i * 10));
        needles.push(format!("Flat 0, Block {i}, Test Garden"));
        if plan.cases[i].kind == plan::Kind::Complaint {
            needles.push(format!("Test Complainant {i:05}"));
        }
    }
    let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
    for (store, db) in [
        ("intake", &stores.intake),
        ("links", &stores.links),
        ("liaison", &stores.liaison),
        ("referral", &stores.referral),
    ] {
        let found = db.plaintext(&needles).await;
        assert!(found.is_empty(), "personal data in plain text in {store}'s store: {found:?}");
    }
    // The scan can fail: the reported URLs, which are not sealed, are there.
    let url = plan.links[0].url.as_str();
    assert!(!stores.links.plaintext(&[url]).await.is_empty(), "the scan sees the links store");

    // Earlier moments give earlier, smaller figures.
    let october = report::gather(&endpoints, noon - time::Duration::days(30), None).await.unwrap();
    erasing_hundreds_of_cases_moves_no_figure(
        &suite,
        &endpoints,
        &[(noon, &report), (noon - time::Duration::days(30), &october)],
    )
    .await;
    assert!(october.cases.total < report.cases.total);
    assert!(
        october.liaison.removal_rate < report.liaison.removal_rate,
        "{} vs {}",
        october.liaison.removal_rate,
        report.liaison.removal_rate
    );
    suite.stop().await;
}

/// Erases every tenth case (referred ones among them) through the API, waits until every
/// service has passed the erasure on, and compares the reports of `moments` with those made before.
async fn erasing_hundreds_of_cases_moves_no_figure(
    suite: &Suite,
    endpoints: &doxwatch_report::Endpoints,
    moments: &[(time::OffsetDateTime, &report::Report)],
) {
    use doxwatch_kit::testing::Officer;
    use doxwatch_proto::{intake as pb, ops as ops_pb, referral as referral_pb};
    let mut intake = pb::intake_service_client::IntakeServiceClient::with_interceptor(
        suite.intake.channel.clone(),
        Officer(Some("supervisor-chan")),
    );
    let mut names = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = intake
            .list_cases(pb::ListCasesRequest { page_size: 1000, page_token, ..Default::default() })
            .await
            .expect("cases listed")
            .into_inner();
        names.extend(page.cases.into_iter().map(|c| (c.name, c.status)));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let chosen: Vec<&(String, i32)> = names.iter().step_by(10).collect();
    let referred: Vec<&str> =
        chosen.iter().filter(|(_, s)| *s == pb::CaseStatus::Referred as i32).map(|(n, _)| n.as_str()).collect();
    assert!(chosen.len() >= 300 && !referred.is_empty(), "{} chosen, {} referred", chosen.len(), referred.len());
    let started = std::time::Instant::now();
    for (name, _) in &chosen {
        let erased = intake
            .erase_case(pb::EraseCaseRequest { name: name.clone(), request_id: format!("erase {name}") })
            .await
            .expect("erased")
            .into_inner();
        assert!(erased.erase_time.is_some());
    }
    eprintln!("{} cases erased in {:?}", chosen.len(), started.elapsed());
    for service in [&suite.intake, &suite.referral, &suite.liaison] {
        let outbox = ops_pb::outbox_service_client::OutboxServiceClient::with_interceptor(
            service.channel.clone(),
            Officer(Some("supervisor-chan")),
        );
        let drained = doxwatch_suite_tests::eventually(std::time::Duration::from_secs(120), || {
            let mut outbox = outbox.clone();
            async move {
                let s = outbox.get_outbox_status(ops_pb::GetOutboxStatusRequest {}).await.ok()?.into_inner();
                (s.pending == 0).then_some(s)
            }
        })
        .await
        .expect("every erasure passed on");
        assert_eq!(drained.rejected, 0, "{drained:?}");
    }
    for (at, before) in moments {
        let after = report::gather(endpoints, *at, None).await.expect("a report");
        assert_eq!(serde_json::to_value(&after).unwrap(), serde_json::to_value(before).unwrap(), "as at {at}");
    }
    // The live referrals keep what the Police were sent; the erased cases keep no names.
    let mut referral = referral_pb::referral_service_client::ReferralServiceClient::with_interceptor(
        suite.referral.channel.clone(),
        Officer(Some("supervisor-chan")),
    );
    for case in referred.iter().take(5) {
        let listed = referral
            .list_referrals(referral_pb::ListReferralsRequest { case: case.to_string(), ..Default::default() })
            .await
            .expect("referrals listed")
            .into_inner();
        assert!(listed.referrals.iter().any(|r| !r.summary.is_empty()), "{case}: the live referral holds its summary");
        let read = intake.get_case(pb::GetCaseRequest { name: case.to_string() }).await.expect("read").into_inner();
        assert!(read.data_subjects.iter().all(|s| s.display_name.is_empty() && s.contact.is_none()), "{case}");
    }
}

const SECOND: &str = include_str!("../../examples/scenarios/synthetic-2020-03.toml");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_scenario_gives_its_own_figures_and_reports_can_be_reproduced_as_recorded() {
    let checked = Scenario::parse(SECOND).unwrap().check().unwrap();
    let plan = plan::generate(&checked);
    let stores = SuiteStores::sqlite();
    let suite = Suite::start(&stores).await;
    let endpoints = suite.endpoints();
    load::load(&checked, &plan, &endpoints, &load::Quiet).await.expect("the scenario loads");
    let at = checked.as_of;
    let published = report::gather(&endpoints, at, None).await.unwrap();
    check_against(SECOND, &published);
    assert_eq!(published.liaison.most_active_platform.as_ref().unwrap().kind, "FORUM");

    // More data arrives after the report was made: a backfilled case received before as_of. The
    // report was made just before the case was recorded.
    let mut intake = doxwatch_suite_tests::intake(&suite.intake);
    let backfill = intake
        .create_case(doxwatch_proto::intake::CreateCaseRequest {
            case: Some(doxwatch_proto::intake::Case {
                kind: doxwatch_proto::intake::CaseKind::Complaint as i32,
                received_at: Some(doxwatch_kit::timestamp::to_proto(at - time::Duration::days(10))),
                channel: doxwatch_proto::intake::IntakeChannel::Letter as i32,
                summary: "A paper complaint entered late".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let made = doxwatch_kit::timestamp::from_proto(&backfill.create_time.expect("the case's record time")).unwrap();
    let now = report::gather(&endpoints, at, None).await.unwrap();
    assert_eq!(now.cases.total, published.cases.total + 1, "the backfill shows in today's figures");
    let as_made = report::gather(&endpoints, at, Some(made)).await.unwrap();
    let mut expected = published.clone();
    expected.recorded_before = as_made.recorded_before.clone();
    assert_eq!(as_made, expected, "the report as recorded before it was made is the report that was made");

    // A service that does not answer fails the report, naming it.
    suite.liaison.stop().await;
    let err = report::gather(&endpoints, at, None).await.unwrap_err();
    assert!(err.to_string().contains("liaison"), "{err}");
    suite.referral.stop().await;
    suite.intake.stop().await;
    suite.links.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inconsistent_scenario_is_refused_before_anything_is_loaded() {
    let text = SECOND.replace("links_removed = 98", "links_removed = 150");
    let problems = Scenario::parse(&text).unwrap().check().unwrap_err();
    assert!(problems.iter().any(|p| p.contains("more links removed (150) than requested (140)")), "{problems:?}");
    // Nothing can be loaded without a checked scenario; the suite stays empty.
    let stores = SuiteStores::sqlite();
    let suite = Suite::start(&stores).await;
    let report = report::gather(&suite.endpoints(), time::OffsetDateTime::now_utc(), None).await.unwrap();
    assert_eq!((report.cases.total, report.links.links_involved), (0, 0));
    suite.stop().await;
}
