//! Who may call what, through real gRPC with real certificates and tokens: every RPC of every
//! service against every kind of caller (the policy matrix), the tokens a verifier must refuse,
//! transport without TLS or without a client certificate, per-caller request ids and rate limits.

use std::{str::FromStr, time::Duration};

use base64::Engine;
use doxwatch_kit::{
    backend_tests,
    config::ServiceConfig,
    identity::Identity,
    outbox::RawBytes,
    policy::{Caller, Denial, Policy, Role, served_methods},
    run_app,
    testing::{
        ANY_PORT, OFFICER_ROLES, Officer, OfficerWith, Running, TEST_CLIENT, TestDatabase, no_peers, pki, start_service,
    },
};
use doxwatch_proto::{
    intake::{self as pb, intake_service_client::IntakeServiceClient},
    ops::{WhoAmIRequest, identity_service_client::IdentityServiceClient},
};
use doxwatch_suite_tests::{Suite, SuiteStores};
use tonic::{Code, Request, Status, transport::Channel};
use tonic_types::StatusExt;

/// Every kind of caller the matrix tries.
#[derive(Debug, Clone)]
enum Who {
    Service(&'static str),
    Agency(&'static str),
    Officer(Role),
    /// An officer's client that sends no token.
    Anonymous,
}

fn callers() -> Vec<Who> {
    let mut all: Vec<Who> = ["intake", "links", "liaison", "referral"].into_iter().map(Who::Service).collect();
    all.push(Who::Agency("POLICE"));
    all.extend(Role::ALL.iter().copied().map(Who::Officer));
    all.push(Who::Anonymous);
    all
}

/// Calls `method` with an empty message, as `who`. `Ok` when the call got past the server stack
/// (whatever the handler then said), the stack's refusal otherwise.
async fn call(service: &Running, who: &Who, method: &str) -> Result<(), Status> {
    let (identity, token) = match who {
        Who::Service(name) => (Identity::Service(name), None),
        Who::Agency(name) => (Identity::Agency((*name).to_owned()), None),
        Who::Officer(role) => {
            (Identity::Officer(TEST_CLIENT.to_owned()), Some(doxwatch_kit::testing::officer_token("matrix", &[*role])))
        }
        Who::Anonymous => (Identity::Officer(TEST_CLIENT.to_owned()), None),
    };
    let mut grpc = tonic::client::Grpc::new(service.channel_as(&identity));
    grpc.ready().await.map_err(|e| Status::unavailable(e.to_string()))?;
    let mut request = Request::new(futures::stream::once(async { Vec::<u8>::new() }));
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("ASCII"));
    }
    let path = http::uri::PathAndQuery::from_str(method).expect("a method path");
    match tokio::time::timeout(Duration::from_secs(5), grpc.streaming(request, path, RawBytes)).await {
        // A stream that is still open (a watch) was admitted.
        Err(_) | Ok(Ok(_)) => Ok(()),
        Ok(Err(status)) if matches!(status.code(), Code::Unauthenticated | Code::PermissionDenied) => Err(status),
        Ok(Err(_)) => Ok(()),
    }
}

fn target<'a>(suite: &'a Suite, method: &str) -> &'a Running {
    match method.split('.').nth(1) {
        Some("links") => &suite.links,
        Some("liaison") => &suite.liaison,
        Some("referral") => &suite.referral,
        _ => &suite.intake,
    }
}

fn reason(status: &Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

async fn every_rpc_admits_exactly_whom_the_policy_names(stores: SuiteStores) {
    let suite = Suite::start(&stores).await;
    let policy = Policy::default_policy();
    let mut checked = 0;
    for method in served_methods() {
        assert!(policy.rule(&method).is_some(), "{method} has no policy entry: it must have one");
        for who in callers() {
            let roles = match &who {
                Who::Officer(role) => Some([*role].into_iter().collect()),
                _ => None,
            };
            let caller = match &who {
                Who::Service(name) => Caller::Service(name),
                Who::Agency(name) => Caller::Agency(name),
                Who::Officer(_) => Caller::Officer(roles.as_ref()),
                Who::Anonymous => Caller::Officer(None),
            };
            let expected = policy.check(&method, &caller);
            let got = call(target(&suite, &method), &who, &method).await;
            match (expected, got) {
                (Ok(()), Ok(())) => {}
                (Err(Denial::Unauthenticated), Err(status)) => {
                    assert_eq!(status.code(), Code::Unauthenticated, "{who:?} {method}: {status:?}");
                    assert_eq!(reason(&status), "TOKEN_MISSING", "{who:?} {method}");
                }
                (Err(Denial::Forbidden(_)), Err(status)) => {
                    assert_eq!(status.code(), Code::PermissionDenied, "{who:?} {method}: {status:?}");
                    assert_eq!(reason(&status), "PERMISSION_DENIED", "{who:?} {method}");
                }
                (expected, got) => panic!("{who:?} calling {method}: the policy says {expected:?}, the server {got:?}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 900, "only {checked} calls checked");

    // What the policy must say, whatever the file: peer-only RPCs, the report reader's view.
    let officer = Who::Officer(Role::Supervisor);
    for method in [
        "/doxwatch.links.v1.LinksService/RegisterLinks",
        "/doxwatch.links.v1.LinksService/RecordRemovalRequests",
        "/doxwatch.referral.v1.AgencyReferralService/AcknowledgeReferral",
    ] {
        let status = call(target(&suite, method), &officer, method).await.expect_err(method);
        assert_eq!(status.code(), Code::PermissionDenied, "a supervisor calling {method}");
    }
    let reader = Who::Officer(Role::ReportReader);
    for method in [
        "/doxwatch.intake.v1.IntakeService/GetCase",
        "/doxwatch.intake.v1.IntakeService/ListCases",
        "/doxwatch.links.v1.LinksService/ListLinks",
        "/doxwatch.links.v1.LinksService/GetEvidence",
        "/doxwatch.referral.v1.ReferralService/ListReferrals",
        "/doxwatch.liaison.v1.LiaisonService/ListNotices",
    ] {
        let status = call(target(&suite, method), &reader, method).await.expect_err(method);
        assert_eq!(status.code(), Code::PermissionDenied, "a report reader calling {method}");
    }
    call(&suite.intake, &reader, "/doxwatch.intake.v1.IntakeService/GetIntakeStatistics").await.expect("statistics");
    let police = Who::Agency("POLICE");
    let status = call(&suite.intake, &police, "/doxwatch.intake.v1.IntakeService/GetCase").await.expect_err("GetCase");
    assert_eq!(status.code(), Code::PermissionDenied);
    let links = Who::Service("links");
    let status = call(&suite.intake, &links, "/doxwatch.intake.v1.IntakeService/TransitionCase")
        .await
        .expect_err("TransitionCase");
    assert_eq!(status.code(), Code::PermissionDenied);
    suite.stop().await;
}

fn a_case() -> pb::Case {
    pb::Case {
        kind: pb::CaseKind::Complaint as i32,
        received_at: Some(doxwatch_kit::testing::ts("2019-07-01T10:00:00+08:00")),
        channel: pb::IntakeChannel::OnlineForm as i32,
        summary: "Personal data posted with a call to harass.".to_owned(),
        data_subjects: vec![pb::DataSubject {
            display_name: "Chan Tai Man".to_owned(),
            category: pb::DataSubjectCategory::Student as i32,
            hong_kong_nexus: pb::HongKongNexus::Resident as i32,
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn cases_in_store(intake: &Running) -> usize {
    let mut client = IntakeServiceClient::with_interceptor(intake.channel.clone(), Officer(Some("officer-wong")));
    let page = client
        .list_cases(pb::ListCasesRequest { page_size: 100, ..Default::default() })
        .await
        .expect("list cases")
        .into_inner();
    page.cases.len()
}

async fn start_intake(db: &TestDatabase) -> Running {
    start_service(db, "intake", ANY_PORT, no_peers(), run_app!(doxwatch_intake::Application)).await
}

/// A raw call of CreateCase over `channel` with `authorization` as sent.
async fn create_with(channel: Channel, authorization: Option<String>) -> Result<pb::Case, Status> {
    let mut request = Request::new(pb::CreateCaseRequest { case: Some(a_case()), request_id: String::new() });
    if let Some(value) = authorization {
        request.metadata_mut().insert("authorization", value.parse().expect("ASCII"));
    }
    IntakeServiceClient::new(channel).create_case(request).await.map(|r| r.into_inner())
}

async fn tokens_that_must_not_pass_are_refused_and_change_nothing(db: TestDatabase) {
    let intake = start_intake(&db).await;
    let client = pki().material(&Identity::Officer(TEST_CLIENT.to_owned()));
    let thumbprint = client.thumbprint().expect("a thumbprint");
    let issuer = pki().issuer();
    let roles = OFFICER_ROLES;
    let hour = Duration::from_secs(3600);
    let signed =
        |claims: doxwatch_kit::token::Claims| Some(format!("Bearer {}", issuer.sign(&claims).expect("signed")));
    let base = || issuer.claims("officer-wong", roles, &thumbprint, hour);
    let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let claims_json = serde_json::to_string(&base()).expect("JSON");

    // The public key, used as an HMAC secret: the classic algorithm-confusion forgery.
    let jwks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(pki().jwks_path()).expect("the key set")).expect("JSON");
    let public = jwks["keys"][0]["x"].as_str().expect("a public key").to_owned();
    let hmac = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &base(),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .expect("an HMAC token");

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no token", None, "TOKEN_MISSING"),
        ("not a bearer", Some("Basic b2ZmaWNlcjpwdw==".into()), "TOKEN_INVALID"),
        ("garbage", Some("Bearer not-a-token".into()), "TOKEN_INVALID"),
        ("expired", signed(doxwatch_kit::token::Claims { exp: base().iat - 600, ..base() }), "TOKEN_EXPIRED"),
        ("not yet valid", signed(doxwatch_kit::token::Claims { nbf: base().iat + 600, ..base() }), "TOKEN_EXPIRED"),
        ("another audience", signed(doxwatch_kit::token::Claims { aud: "mail".into(), ..base() }), "TOKEN_INVALID"),
        (
            "another issuer",
            signed(doxwatch_kit::token::Claims { iss: "https://idp.invalid".into(), ..base() }),
            "TOKEN_INVALID",
        ),
        (
            "bound to another certificate",
            signed(doxwatch_kit::token::Claims {
                cnf: doxwatch_kit::token::Confirmation { x5t_s256: "AAAA".into() },
                ..base()
            }),
            "TOKEN_UNBOUND",
        ),
        (
            "unsigned (alg none)",
            Some(format!("Bearer {}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&claims_json))),
            "TOKEN_INVALID",
        ),
        ("HMAC with the public key", Some(format!("Bearer {hmac}")), "TOKEN_INVALID"),
    ];
    for (what, authorization, expected) in cases {
        let status = create_with(intake.channel.clone(), authorization).await.expect_err(what);
        assert_eq!(status.code(), Code::Unauthenticated, "{what}: {status:?}");
        assert_eq!(reason(&status), expected, "{what}: {}", status.message());
    }
    assert_eq!(cases_in_store(&intake).await, 0, "no refused call wrote a case");

    // A good token, copied to another client certificate, is useless there.
    let stolen = format!("Bearer {}", pki().token("officer-wong", roles));
    let laptop = intake.channel_as(&Identity::Officer("another-laptop".into()));
    let status = create_with(laptop, Some(stolen.clone())).await.expect_err("a copied token");
    assert_eq!(reason(&status), "TOKEN_UNBOUND");
    // With its own certificate it works, and whoami says who the service thinks the caller is.
    create_with(intake.channel.clone(), Some(stolen)).await.expect("the officer's own token");
    assert_eq!(cases_in_store(&intake).await, 1);
    let me =
        IdentityServiceClient::with_interceptor(intake.channel.clone(), OfficerWith("officer-lee", &[Role::Auditor]))
            .who_am_i(WhoAmIRequest {})
            .await
            .expect("whoami")
            .into_inner();
    assert_eq!(me.identity, format!("spiffe://doxwatch/officer/{TEST_CLIENT}"));
    assert_eq!((me.officer_id.as_str(), me.roles.clone()), ("officer-lee", vec!["auditor".to_owned()]));
    intake.stop().await;
}

async fn transport_without_tls_or_without_a_client_certificate_is_refused(db: TestDatabase) {
    let intake = start_intake(&db).await;
    let token = format!("Bearer {}", pki().token("officer-wong", OFFICER_ROLES));
    // Plaintext: the server speaks only TLS.
    let plaintext = Channel::from_shared(format!("http://{}", intake.addr)).expect("a URL").connect_lazy();
    let status = create_with(plaintext, Some(token.clone())).await.expect_err("plaintext");
    assert!(matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Internal), "{status:?}");
    // TLS that trusts the server but shows no certificate: the handshake is refused.
    let anonymous = Channel::from_shared(format!("https://{}", intake.addr))
        .expect("a URL")
        .tls_config(
            tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(pki().ca_pem())),
        )
        .expect("a TLS configuration")
        .connect_lazy();
    let status = create_with(anonymous, Some(token.clone())).await.expect_err("no client certificate");
    // The server's alert (CertificateRequired) or the connection it closed, depending on timing.
    assert!(matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled), "{status:?}");
    // A certificate from another CA.
    let (other_ca, _) = doxwatch_kit::pki::Authority::generate("another CA").expect("a CA");
    let foreign =
        other_ca.issue(&Identity::Officer(TEST_CLIENT.into()), &[], Duration::from_secs(3600)).expect("a cert");
    let foreign =
        doxwatch_kit::tls::TlsMaterial::from_pem(pki().ca_pem().to_owned(), foreign.cert_pem, foreign.key_pem)
            .expect("material");
    let channel = doxwatch_kit::peer::channel(&intake.url(), &foreign).expect("a channel");
    let status = create_with(channel, Some(token.clone())).await.expect_err("a foreign certificate");
    assert!(matches!(status.code(), Code::Unavailable | Code::Unknown | Code::Cancelled), "{status:?}");
    // The client refuses http:// rather than talk plaintext.
    let material = pki().material(&Identity::Officer(TEST_CLIENT.into()));
    assert!(doxwatch_kit::peer::channel(&format!("http://{}", intake.addr), &material).is_err());
    assert_eq!(cases_in_store(&intake).await, 0, "nothing was written");
    intake.stop().await;
}

async fn request_ids_belong_to_their_caller(db: TestDatabase) {
    let intake = start_intake(&db).await;
    let as_officer =
        |id: &'static str| IntakeServiceClient::with_interceptor(intake.channel.clone(), Officer(Some(id)));
    let request = |summary: &str| pb::CreateCaseRequest {
        case: Some(pb::Case { summary: summary.to_owned(), ..a_case() }),
        request_id: "shared-id-1".to_owned(),
    };
    let wong = as_officer("officer-wong").create_case(request("Wong's case.")).await.expect("Wong's").into_inner();
    // Another officer's id that happens to be the same neither replays Wong's case nor is blocked.
    let lee = as_officer("officer-lee").create_case(request("Lee's case.")).await.expect("Lee's").into_inner();
    assert_ne!(wong.name, lee.name);
    assert_eq!(lee.summary, "Lee's case.");
    // Each one's retry replays their own.
    let again = as_officer("officer-lee").create_case(request("Lee's case.")).await.expect("a retry").into_inner();
    assert_eq!(again.name, lee.name);
    assert_eq!(cases_in_store(&intake).await, 2);
    intake.stop().await;
}

async fn each_caller_is_rate_limited_on_its_own(db: TestDatabase) {
    let intake = start_service(&db, "intake", ANY_PORT, no_peers(), async |mut config: ServiceConfig| {
        config.security.rate_limits.per_second = 1;
        config.security.rate_limits.burst = 3;
        let app = doxwatch_intake::Application::build(&config).await.expect("intake builds");
        Running::start(app.local_addr(), |shutdown| app.run_until(shutdown)).await
    })
    .await;
    let mut wong = IntakeServiceClient::with_interceptor(intake.channel.clone(), Officer(Some("officer-wong")));
    let stats = || pb::GetIntakeStatisticsRequest::default();
    let mut refused = None;
    for _ in 0..6 {
        if let Err(status) = wong.get_intake_statistics(stats()).await {
            refused = Some(status);
            break;
        }
    }
    let refused = refused.expect("the limit was reached");
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(reason(&refused), "RATE_LIMITED");
    assert!(refused.get_details_retry_info().and_then(|r| r.retry_delay).is_some(), "a retry delay is given");
    // Another officer is not held back by Wong's calls.
    let mut lee = IntakeServiceClient::with_interceptor(intake.channel.clone(), Officer(Some("officer-lee")));
    lee.get_intake_statistics(stats()).await.expect("another caller's budget is its own");
    intake.stop().await;
}

backend_tests!(
    every_rpc_admits_exactly_whom_the_policy_names,
    tokens_that_must_not_pass_are_refused_and_change_nothing,
    transport_without_tls_or_without_a_client_certificate_is_refused,
    request_ids_belong_to_their_caller,
    each_caller_is_rate_limited_on_its_own,
);
