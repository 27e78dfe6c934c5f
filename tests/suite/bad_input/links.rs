//! Link-tracking's mutating RPCs: CreatePlatform, UpdatePlatform, AddPlatformDomain,
//! RemovePlatformDomain, RecordChannelStatus, RegisterLinks (as intake), RecordRemovalRequests
//! (as liaison), RecordObservations, EraseCaseData (as referral), AddEvidence, RunRecheck,
//! StreamRecheck.

use doxwatch_links::domain::{
    MAX_DISPLAY_NAME_CHARS, MAX_DOMAINS, MAX_NOTE_CHARS, MAX_OBSERVATIONS, MAX_REASON_CHARS, MAX_REGISTRATIONS,
    MAX_REMOVAL_LINKS, MAX_SOURCE_CHARS,
};
use doxwatch_proto::links as pb;
use tonic::Code;

use super::{
    fixture::{Clients, Fixture, PRIMED, RECEIVED, at, evidence_upload, good_observation, oversized},
    intake::hostile_urls,
    rows,
    walk::{Class, Row, Walk, accepted, bad, refused, row},
};

/// Platform domains that are not host names, each refused as `field`.
fn hostile_domains<R: 'static>(
    field: &str,
    set: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
) -> Vec<Row<R>> {
    let long = format!("{}.example.com", "a.".repeat(125));
    let long_label = format!("{}.example.com", "b".repeat(64));
    [
        "127.0.0.1",
        "[::1]",
        "*.example.com",
        "exa_mple.com",
        "abc.com\r\nx",
        "https://example.com/",
        long.as_str(),
        long_label.as_str(),
    ]
    .into_iter()
    .map(|d| {
        let d = d.to_owned();
        row(Class::HostileDomain, bad(field), move |r| set(r, d.clone()))
    })
    .collect()
}

fn platform(r: &mut pb::CreatePlatformRequest) -> &mut pb::Platform {
    r.platform.get_or_insert_with(Default::default)
}

fn create_rows() -> Vec<Row<pb::CreatePlatformRequest>> {
    type R = pb::CreatePlatformRequest;
    let mut rows: Vec<Row<R>> = vec![
        row(Class::TooMany, bad("platform.domains"), |r: &mut R| {
            platform(r).domains = (0..=MAX_DOMAINS).map(|i| format!("d{i}.bad-input.example")).collect()
        }),
        row(Class::Duplicate, bad("platform.domains[1]"), |r: &mut R| {
            platform(r).domains = vec!["twice.bad-input.example".into(), "twice.bad-input.example".into()]
        }),
        row(Class::Missing, bad("platform"), |r: &mut R| r.platform = None),
        row(Class::Missing, bad("platform.kind"), |r: &mut R| platform(r).kind = 0),
        row(Class::UnknownEnum, bad("platform.kind"), |r: &mut R| platform(r).kind = 99),
        row(Class::Empty, bad("platform.display_name"), |r: &mut R| platform(r).display_name = " ".into()),
        row(Class::Oversized, refused(Code::ResourceExhausted, "RESOURCE_EXHAUSTED"), |r: &mut R| {
            platform(r).display_name = oversized()
        }),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = "bad-input-platform".into()
        }),
    ];
    rows.extend(rows::line("platform.display_name", MAX_DISPLAY_NAME_CHARS, |r: &mut R, s| {
        platform(r).display_name = s
    }));
    rows.extend(hostile_domains("platform.domains[0]", |r: &mut R, d| platform(r).domains = vec![d]));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn update_rows(f: &Fixture) -> Vec<Row<pb::UpdatePlatformRequest>> {
    type R = pb::UpdatePlatformRequest;
    fn platform(r: &mut R) -> &mut pb::Platform {
        r.platform.get_or_insert_with(Default::default)
    }
    let mask = |paths: &[&str]| Some(prost_types::FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() });
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("update_mask"), |r: &mut R| r.update_mask = None),
        row(Class::Missing, bad("platform"), |r: &mut R| r.platform = None),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = PRIMED[2].into()
        }),
        row(Class::Duplicate, bad("update_mask.paths[1]"), move |r: &mut R| {
            r.update_mask = mask(&["display_name", "display_name"])
        }),
        row(Class::UnknownEnum, bad("update_mask.paths[0]"), move |r: &mut R| r.update_mask = mask(&["domains"])),
        row(Class::UnknownEnum, bad("platform.kind"), move |r: &mut R| {
            r.update_mask = mask(&["kind"]);
            platform(r).kind = 99;
        }),
    ];
    rows.extend(rows::name("platform.name", "platforms", &f.link, |r: &mut R, n| platform(r).name = n));
    rows.extend(rows::line("platform.display_name", MAX_DISPLAY_NAME_CHARS, |r: &mut R, s| {
        platform(r).display_name = s
    }));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn domain_rows<R: 'static>(
    f: &Fixture,
    set_platform: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
    set_domain: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
    set_id: impl Fn(&mut R, String) + Copy + Send + Sync + 'static,
    primed: Option<&'static str>,
) -> Vec<Row<R>> {
    let mut rows = vec![row(Class::Missing, bad("domain"), move |r: &mut R| set_domain(r, String::new()))];
    if let Some(id) = primed {
        rows.push(row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), move |r: &mut R| {
            set_id(r, id.into())
        }));
    }
    rows.extend(rows::name("platform", "platforms", &f.case, set_platform));
    rows.extend(hostile_domains("domain", set_domain));
    rows.extend(rows::request_id(set_id));
    rows
}

fn channel_rows(f: &Fixture) -> Vec<Row<pb::RecordChannelStatusRequest>> {
    type R = pb::RecordChannelStatusRequest;
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("status"), |r: &mut R| r.status = 0),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = PRIMED[4].into()
        }),
        row(Class::UnknownEnum, bad("status"), |r: &mut R| r.status = 99),
    ];
    rows.extend(rows::name("channel", "channels", &f.link, |r: &mut R, n| r.channel = n));
    rows.extend(rows::time("effective_at", |r: &mut R, t| r.effective_at = t));
    rows.extend(rows::required_text("source", MAX_SOURCE_CHARS, |r: &mut R, s| r.source = s));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn register_rows(f: &Fixture) -> Vec<Row<pb::RegisterLinksRequest>> {
    type R = pb::RegisterLinksRequest;
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("registrations"), |r: &mut R| r.registrations.clear()),
        row(Class::TooMany, bad("registrations"), |r: &mut R| {
            r.registrations = vec![r.registrations[0].clone(); MAX_REGISTRATIONS + 1]
        }),
    ];
    // A registration without a case is a patrol's, and good: only a bad name is walked.
    let names =
        rows::owned_by_peer("registrations[0].case", "cases", &f.link, |r: &mut R, n| r.registrations[0].case = n);
    rows.extend(names.into_iter().filter(|row| row.class != Class::Missing));
    rows.extend(rows::time("registrations[0].seen_at", |r: &mut R, t| r.registrations[0].seen_at = t));
    // A bad URL is refused on its own (REFUSED in the response, nothing stored), not the request.
    let urls = hostile_urls("registrations[0].url", |r: &mut R, u| r.registrations[0].url = u);
    rows.extend(urls.into_iter().map(|mut row| {
        row.expect = accepted();
        row
    }));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn removal_rows(f: &Fixture) -> Vec<Row<pb::RecordRemovalRequestsRequest>> {
    type R = pb::RecordRemovalRequestsRequest;
    let mut rows: Vec<Row<R>> = vec![
        row(Class::TooMany, bad("links"), |r: &mut R| {
            r.links = (0..=MAX_REMOVAL_LINKS).map(|i| format!("links/0190a1b2-c3d4-7e5f-8a9b-{i:012x}")).collect()
        }),
        row(Class::Duplicate, bad("links[1]"), |r: &mut R| r.links.push(r.links[0].clone())),
        row(Class::Missing, bad("links"), |r: &mut R| r.links.clear()),
        row(Class::Missing, bad("served_at"), |r: &mut R| r.served_at = None),
        row(Class::Backdated, refused(Code::FailedPrecondition, "BEFORE_FIRST_SIGHTING"), |r: &mut R| {
            r.served_at = at("2019-06-01T09:00:00+08:00")
        }),
    ];
    rows.extend(rows::owned_by_peer("notice", "notices", &f.case, |r: &mut R, n| r.notice = n));
    rows.extend(rows::reference("links[0]", "links", &f.case, |r: &mut R, n| r.links[0] = n));
    rows.extend(rows::time("served_at", |r: &mut R, t| r.served_at = t));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn observation_rows(f: &Fixture) -> Vec<Row<pb::RecordObservationsRequest>> {
    type R = pb::RecordObservationsRequest;
    fn o(r: &mut R) -> &mut pb::Observation {
        &mut r.observations[0]
    }
    let mut rows: Vec<Row<R>> = vec![
        row(Class::TooMany, bad("observations"), |r: &mut R| r.observations = vec![o(r).clone(); MAX_OBSERVATIONS + 1]),
        row(Class::Missing, bad("observations"), |r: &mut R| r.observations.clear()),
        row(Class::Missing, bad("observations[0].status"), |r: &mut R| o(r).status = 0),
        row(Class::UnknownEnum, bad("observations[0].status"), |r: &mut R| o(r).status = 99),
        row(Class::UnknownEnum, bad("observations[0].vantage"), |r: &mut R| o(r).vantage = 99),
        row(Class::Missing, bad("observations[0].source"), |r: &mut R| o(r).source = 0),
        row(Class::UnknownEnum, bad("observations[0].source"), |r: &mut R| o(r).source = 99),
        row(Class::Backdated, refused(Code::FailedPrecondition, "BEFORE_FIRST_SIGHTING"), |r: &mut R| {
            o(r).observed_at = at("2019-06-01T09:00:00+08:00")
        }),
        row(Class::ReusedRequestId, refused(Code::Aborted, "REQUEST_ID_REUSED"), |r: &mut R| {
            r.request_id = "bad-input-observation".into();
            o(r).note = "another note".into();
        }),
    ];
    rows.extend(rows::reference("observations[0].link", "links", &f.case, |r: &mut R, n| o(r).link = n));
    rows.extend(rows::time("observations[0].observed_at", |r: &mut R, t| o(r).observed_at = t));
    rows.extend(rows::text("observations[0].note", MAX_NOTE_CHARS, |r: &mut R, s| o(r).note = s));
    rows.extend(rows::request_id(|r: &mut R, id| r.request_id = id));
    rows
}

fn erase_rows(f: &Fixture) -> Vec<Row<pb::EraseCaseDataRequest>> {
    type R = pb::EraseCaseDataRequest;
    rows::erase(&f.link, |r: &mut R, n| r.case = n, |r: &mut R, t| r.erase_time = t, |r: &mut R, id| r.request_id = id)
}

fn evidence_rows(f: &Fixture) -> Vec<Row<Vec<pb::AddEvidenceRequest>>> {
    type R = Vec<pb::AddEvidenceRequest>;
    fn meta(r: &mut R) -> &mut pb::EvidenceMetadata {
        match &mut r[0].content {
            Some(pb::add_evidence_request::Content::Metadata(m)) => m,
            _ => unreachable!("the first message carries the metadata"),
        }
    }
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("metadata"), |r: &mut R| {
            r.remove(0);
        }),
        row(Class::Empty, bad("metadata.media_type"), |r: &mut R| meta(r).media_type = String::new()),
        row(Class::ControlInLine, bad("metadata.media_type"), |r: &mut R| meta(r).media_type = "image/png\r\nx".into()),
    ];
    rows.extend(rows::name("metadata.link", "links", &f.case, |r: &mut R, n| meta(r).link = n));
    rows.extend(rows::time("metadata.captured_at", |r: &mut R, t| meta(r).captured_at = t));
    rows.extend(rows::text("metadata.note", MAX_NOTE_CHARS, |r: &mut R, s| meta(r).note = s));
    rows.extend(rows::request_id(|r: &mut R, id| meta(r).request_id = id).into_iter().map(|mut row| {
        row.expect = bad("metadata.request_id");
        row
    }));
    rows
}

fn fetch_rows(f: &Fixture) -> Vec<Row<pb::GetEvidenceRequest>> {
    type R = pb::GetEvidenceRequest;
    let (link, unknown) = (f.link.clone(), format!("{}/evidence/{}", f.link, "ab".repeat(32)));
    let mut rows: Vec<Row<R>> = vec![
        row(Class::Missing, bad("name"), |r: &mut R| r.name = String::new()),
        row(Class::MalformedName, bad("name"), |r: &mut R| r.name = "links/x/evidence/zz".into()),
        row(Class::ForeignName, bad("name"), move |r: &mut R| r.name = link.clone()),
        row(Class::UnknownName, refused(Code::NotFound, "NOT_FOUND"), move |r: &mut R| r.name = unknown.clone()),
    ];
    rows.extend(rows::required_text("reason", MAX_REASON_CHARS, |r: &mut R, s| r.reason = s));
    rows
}

pub async fn walk(w: &mut Walk, c: &Clients, f: &Fixture) {
    let links = &c.links;
    let base = pb::CreatePlatformRequest {
        platform: Some(pb::Platform {
            display_name: "Another Forum".into(),
            kind: pb::PlatformKind::Forum as i32,
            domains: vec!["another.bad-input.example".into()],
            ..Default::default()
        }),
        request_id: String::new(),
    };
    w.rpc(
        "CreatePlatform",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.create_platform(r).await.map(drop) }
        },
        create_rows(),
    )
    .await;

    let base = pb::UpdatePlatformRequest {
        platform: Some(pb::Platform {
            name: f.own_platform.clone(),
            display_name: "Renamed".into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["display_name".into()] }),
        request_id: String::new(),
    };
    w.rpc(
        "UpdatePlatform",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.update_platform(r).await.map(drop) }
        },
        update_rows(f),
    )
    .await;

    let base = pb::AddPlatformDomainRequest {
        platform: f.own_platform.clone(),
        domain: "extra.bad-input.example".into(),
        request_id: String::new(),
    };
    type Add = pb::AddPlatformDomainRequest;
    let rows = domain_rows(
        f,
        |r: &mut Add, p| r.platform = p,
        |r: &mut Add, d| r.domain = d,
        |r: &mut Add, id| r.request_id = id,
        Some(PRIMED[3]),
    );
    w.rpc(
        "AddPlatformDomain",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.add_platform_domain(r).await.map(drop) }
        },
        rows,
    )
    .await;

    let base = pb::RemovePlatformDomainRequest {
        platform: f.own_platform.clone(),
        domain: f.own_domain.clone(),
        request_id: String::new(),
    };
    type Remove = pb::RemovePlatformDomainRequest;
    let rows = domain_rows(
        f,
        |r: &mut Remove, p| r.platform = p,
        |r: &mut Remove, d| r.domain = d,
        |r: &mut Remove, id| r.request_id = id,
        None,
    );
    w.rpc(
        "RemovePlatformDomain",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.remove_platform_domain(r).await.map(drop) }
        },
        rows,
    )
    .await;

    let base = pb::RecordChannelStatusRequest {
        channel: f.channel.clone(),
        status: pb::ChannelStatus::Suspended as i32,
        effective_at: at("2019-08-01T00:00:00+08:00"),
        source: "platform announcement".into(),
        request_id: String::new(),
    };
    w.rpc(
        "RecordChannelStatus",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.record_channel_status(r).await.map(drop) }
        },
        channel_rows(f),
    )
    .await;

    let base = pb::RegisterLinksRequest {
        registrations: vec![pb::LinkRegistration {
            url: "https://t.me/badinput/2".into(),
            case: f.case.clone(),
            seen_at: at(RECEIVED),
        }],
        request_id: String::new(),
    };
    let register = |r| {
        let mut c = links.clone();
        async move {
            let results = c.register_links(r).await?.into_inner().results;
            match results.iter().find(|r| r.outcome != pb::RegistrationOutcome::Refused as i32) {
                Some(kept) => Err(tonic::Status::unknown(format!("{} was registered", kept.url))),
                None => Ok(()),
            }
        }
    };
    w.rpc("RegisterLinks", &base, register, register_rows(f)).await;

    let base = pb::RecordRemovalRequestsRequest {
        notice: f.notice.clone(),
        links: vec![f.link.clone()],
        served_at: at("2019-07-10T10:00:00+08:00"),
        request_id: String::new(),
    };
    w.rpc(
        "RecordRemovalRequests",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.record_removal_requests(r).await.map(drop) }
        },
        removal_rows(f),
    )
    .await;

    let mut observation = good_observation(&f.link);
    observation.observed_at = at("2019-07-03T09:00:00+08:00");
    let base = pb::RecordObservationsRequest { observations: vec![observation], request_id: String::new() };
    w.rpc(
        "RecordObservations",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.record_observations(r).await.map(drop) }
        },
        observation_rows(f),
    )
    .await;

    let base = pb::EraseCaseDataRequest {
        case: f.case.clone(),
        erase_time: at("2020-01-01T00:00:00Z"),
        request_id: String::new(),
    };
    w.rpc(
        "EraseCaseData (links)",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.erase_case_data(r).await.map(drop) }
        },
        erase_rows(f),
    )
    .await;

    let base = evidence_upload(&f.link);
    w.rpc(
        "AddEvidence",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.add_evidence(tokio_stream::iter(r)).await.map(drop) }
        },
        evidence_rows(f),
    )
    .await;

    // A fetch of evidence is a read that writes: the custody log records who fetched it and why.
    let base = pb::GetEvidenceRequest { name: f.evidence.clone(), reason: "evidence bundle for referral".into() };
    w.rpc(
        "GetEvidence",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.get_evidence(r).await.map(drop) }
        },
        fetch_rows(f),
    )
    .await;

    let base = pb::RunRecheckRequest { request_id: String::new() };
    let rows = rows::request_id(|r: &mut pb::RunRecheckRequest, id| r.request_id = id);
    w.rpc(
        "RunRecheck",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.run_recheck(r).await.map(drop) }
        },
        rows,
    )
    .await;

    // The streamed round's one input: a time limit of 1 s to 1 h.
    type S = pb::StreamRecheckRequest;
    let base = S { time_limit: Some(prost_types::Duration { seconds: 1, nanos: 0 }) };
    let limit = |seconds: i64, nanos: i32| Some(prost_types::Duration { seconds, nanos });
    let rows: Vec<Row<S>> = vec![
        row(Class::OverLong, bad("time_limit"), move |r: &mut S| r.time_limit = limit(3601, 0)),
        row(Class::NanosOutOfRange, bad("time_limit"), move |r: &mut S| r.time_limit = limit(1, 1_000_000_000)),
        row(Class::NanosOutOfRange, bad("time_limit"), move |r: &mut S| r.time_limit = limit(1, -1)),
    ];
    w.rpc(
        "StreamRecheck",
        &base,
        |r| {
            let mut c = links.clone();
            async move { c.stream_recheck(r).await.map(drop) }
        },
        rows,
    )
    .await;
}
