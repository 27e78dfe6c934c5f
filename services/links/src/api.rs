//! The gRPC face of link-tracking: requests are checked and converted, handed to the service, and
//! the results converted back. Evidence and recheck calls are in `api/evidence.rs`.

mod evidence;
mod recheck;
mod statistics;

use doxwatch_kit::validate::checked;
use doxwatch_kit::{
    actor::Actor,
    error::{self, FieldViolations},
    page, timestamp, validate,
};
use doxwatch_proto::links::{self as pb, links_service_server::LinksService};
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;

use crate::{
    convert, domain::*, evidence::EvidenceService, recheck::Rechecker, service::Links, store::links::LinkFilter,
};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 1000;
/// The RPC whose callers may read channels; the policy says who they are.
const GET_CHANNEL: &str = "/doxwatch.links.v1.LinksService/GetChannel";

pub struct LinksApi {
    links: Links,
    evidence: EvidenceService,
    rechecker: std::sync::Arc<Rechecker>,
}

impl LinksApi {
    pub fn new(links: Links, evidence: EvidenceService, rechecker: std::sync::Arc<Rechecker>) -> Self {
        Self { links, evidence, rechecker }
    }
}

fn invalid(v: FieldViolations) -> Status {
    error::invalid_argument(&v)
}

fn page_of<T, K: serde::Serialize>(
    items: Vec<T>,
    limit: u32,
    fingerprint: &str,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, String) {
    let more = items.len() > limit as usize;
    let items: Vec<T> = items.into_iter().take(limit as usize).collect();
    let token = match items.last() {
        Some(last) if more => page::encode_token(fingerprint, &key(last)),
        _ => String::new(),
    };
    (items, token)
}

fn domain(v: &mut FieldViolations, field: &str, value: &str) -> Option<String> {
    v.check(field, normalize_domain(value))
}

#[tonic::async_trait]
impl LinksService for LinksApi {
    async fn create_platform(
        &self,
        request: Request<pb::CreatePlatformRequest>,
    ) -> Result<Response<pb::Platform>, Status> {
        Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "CreatePlatform", &req.request_id, &req, |r| r.request_id.clear());
        let Some(p) = req.platform.as_ref() else {
            v.add("platform", "is required");
            return Err(invalid(v));
        };
        let display_name =
            validate::line(&mut v, "platform.display_name", &p.display_name, MAX_DISPLAY_NAME_CHARS, true);
        let kind = validate::required(&mut v, "platform.kind", p.kind, PlatformKind::from_code);
        let mut domains: Vec<String> = Vec::new();
        if p.domains.len() > MAX_DOMAINS {
            v.add("platform.domains", format!("at most {MAX_DOMAINS} domains"));
        }
        for (i, d) in p.domains.iter().enumerate() {
            if let Some(d) = domain(&mut v, &format!("platform.domains[{i}]"), d) {
                if domains.contains(&d) {
                    v.add(format!("platform.domains[{i}]"), "is given twice");
                } else {
                    domains.push(d);
                }
            }
        }
        let kind = checked(v, kind)?;
        let platform = self.links.create_platform(display_name, kind, domains, key, convert::platform).await?;
        Ok(Response::new(platform))
    }

    async fn get_platform(&self, request: Request<pb::GetPlatformRequest>) -> Result<Response<pb::Platform>, Status> {
        let mut v = FieldViolations::new();
        let id = convert::name(&mut v, "name", &request.get_ref().name, PlatformId::parse_name);
        let platform = self.links.get_platform(checked(v, id)?).await?;
        Ok(Response::new(convert::platform(&platform)))
    }

    async fn list_platforms(
        &self,
        request: Request<pb::ListPlatformsRequest>,
    ) -> Result<Response<pb::ListPlatformsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let kind = validate::filter(&mut v, "kind", req.kind, PlatformKind::from_code);
        let fingerprint = page::filter_fingerprint(&req.kind);
        let after = v.check("page_token", page::decode_token::<Uuid>(&req.page_token, &fingerprint)).flatten();
        let limit = checked(v, limit)?;
        let platforms = self.links.list_platforms(kind, after, limit + 1).await?;
        let (platforms, next_page_token) = page_of(platforms, limit, &fingerprint, |p| p.id.0);
        Ok(Response::new(pb::ListPlatformsResponse {
            platforms: platforms.iter().map(convert::platform).collect(),
            next_page_token,
        }))
    }

    async fn update_platform(
        &self,
        request: Request<pb::UpdatePlatformRequest>,
    ) -> Result<Response<pb::Platform>, Status> {
        Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "UpdatePlatform", &req.request_id, &req, |r| r.request_id.clear());
        let Some(p) = req.platform.as_ref() else {
            v.add("platform", "is required");
            return Err(invalid(v));
        };
        let id = convert::name(&mut v, "platform.name", &p.name, PlatformId::parse_name);
        let (mut display_name, mut kind) = (None, None);
        match &req.update_mask {
            Some(mask) if !mask.paths.is_empty() => {
                for (i, path) in mask.paths.iter().enumerate() {
                    // As in every Update: a path named twice is a client's mistake, not a no-op.
                    if mask.paths[..i].contains(path) {
                        v.add(format!("update_mask.paths[{i}]"), format!("{path} is named twice"));
                        continue;
                    }
                    match path.as_str() {
                        "display_name" => {
                            display_name = Some(validate::line(
                                &mut v,
                                "platform.display_name",
                                &p.display_name,
                                MAX_DISPLAY_NAME_CHARS,
                                true,
                            ))
                        }
                        "kind" => kind = validate::required(&mut v, "platform.kind", p.kind, PlatformKind::from_code),
                        other => v.add(
                            format!("update_mask.paths[{i}]"),
                            format!("{other:?} cannot be updated (domains change with Add/RemovePlatformDomain)"),
                        ),
                    }
                }
            }
            _ => v.add("update_mask", "must name at least one field"),
        }
        let id = checked(v, id)?;
        let platform = self.links.update_platform(id, display_name, kind, key, convert::platform).await?;
        Ok(Response::new(platform))
    }

    async fn add_platform_domain(
        &self,
        request: Request<pb::AddPlatformDomainRequest>,
    ) -> Result<Response<pb::Platform>, Status> {
        Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "AddPlatformDomain", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "platform", &req.platform, PlatformId::parse_name);
        let d = domain(&mut v, "domain", &req.domain);
        let (id, d) = checked(v, id.zip(d))?;
        Ok(Response::new(self.links.add_domain(id, d, key, convert::platform).await?))
    }

    async fn remove_platform_domain(
        &self,
        request: Request<pb::RemovePlatformDomainRequest>,
    ) -> Result<Response<pb::Platform>, Status> {
        Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key =
            validate::request_key(&mut v, "RemovePlatformDomain", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "platform", &req.platform, PlatformId::parse_name);
        let d = domain(&mut v, "domain", &req.domain);
        let (id, d) = checked(v, id.zip(d))?;
        Ok(Response::new(self.links.remove_domain(id, d, key, convert::platform).await?))
    }

    async fn get_channel(&self, request: Request<pb::GetChannelRequest>) -> Result<Response<pb::Channel>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let id = convert::name(&mut v, "name", &req.name, ChannelId::parse_name);
        let as_of = convert::as_of(&mut v, "as_of", req.as_of.as_ref());
        let channel = self.links.get_channel(checked(v, id)?, as_of).await?;
        Ok(Response::new(convert::channel(&channel)))
    }

    async fn list_channels(
        &self,
        request: Request<pb::ListChannelsRequest>,
    ) -> Result<Response<pb::ListChannelsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let platform = convert::optional_name(&mut v, "platform", &req.platform, PlatformId::parse_name);
        let status = validate::filter(&mut v, "status", req.status, ChannelStatus::from_code);
        let as_of = convert::as_of(&mut v, "as_of", req.as_of.as_ref());
        let fingerprint =
            page::filter_fingerprint(&(&req.platform, req.status, req.as_of.as_ref().map(|t| (t.seconds, t.nanos))));
        let after = v.check("page_token", page::decode_token::<Uuid>(&req.page_token, &fingerprint)).flatten();
        let limit = checked(v, limit)?;
        let channels = self.links.list_channels(platform, status, as_of, after, limit + 1).await?;
        let (channels, next_page_token) = page_of(channels, limit, &fingerprint, |c| c.id.0);
        Ok(Response::new(pb::ListChannelsResponse {
            channels: channels.iter().map(convert::channel).collect(),
            next_page_token,
        }))
    }

    async fn record_channel_status(
        &self,
        request: Request<pb::RecordChannelStatusRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "RecordChannelStatus", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "channel", &req.channel, ChannelId::parse_name);
        let status = validate::required(&mut v, "status", req.status, ChannelStatus::from_code);
        let effective_at = validate::business_time(&mut v, "effective_at", req.effective_at.as_ref(), timestamp::now());
        let source = validate::text(&mut v, "source", &req.source, MAX_SOURCE_CHARS, true);
        let (id, (status, effective_at)) = checked(v, id.zip(status.zip(effective_at)))?;
        let channel =
            self.links.record_channel_status(&actor, id, status, effective_at, source, key, convert::channel).await?;
        Ok(Response::new(channel))
    }

    async fn register_links(
        &self,
        request: Request<pb::RegisterLinksRequest>,
    ) -> Result<Response<pb::RegisterLinksResponse>, Status> {
        Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "RegisterLinks", &req.request_id, &req, |r| r.request_id.clear());
        let registrations = convert::registrations(&mut v, "registrations", &req.registrations, timestamp::now());
        let registrations = checked(v, Some(registrations))?;
        let asked = req.registrations.clone();
        let response = self
            .links
            .register(&registrations, key, move |outcomes, links| {
                convert::registration_results(&asked, outcomes, links)
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn get_link(&self, request: Request<pb::GetLinkRequest>) -> Result<Response<pb::Link>, Status> {
        let mut v = FieldViolations::new();
        let id = convert::name(&mut v, "name", &request.get_ref().name, LinkId::parse_name);
        let links = self.links.get_links(&[checked(v, id)?]).await?;
        let link = links.first().ok_or_else(|| error::not_found(&request.get_ref().name))?;
        Ok(Response::new(convert::link(link)))
    }

    async fn batch_get_links(
        &self,
        request: Request<pb::BatchGetLinksRequest>,
    ) -> Result<Response<pb::BatchGetLinksResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        if req.names.is_empty() {
            v.add("names", "must name at least one link");
        } else if req.names.len() > MAX_BATCH_GET {
            v.add("names", format!("at most {MAX_BATCH_GET} names at once"));
        }
        let ids: Vec<LinkId> = req
            .names
            .iter()
            .take(MAX_BATCH_GET)
            .enumerate()
            .filter_map(|(i, n)| convert::name(&mut v, &format!("names[{i}]"), n, LinkId::parse_name))
            .collect();
        let ids = checked(v, Some(ids))?;
        let links = self.links.get_links(&ids).await?;
        Ok(Response::new(pb::BatchGetLinksResponse { links: links.iter().map(convert::link).collect() }))
    }

    async fn list_links(
        &self,
        request: Request<pb::ListLinksRequest>,
    ) -> Result<Response<pb::ListLinksResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let filter = LinkFilter {
            platform: convert::optional_name(&mut v, "platform", &req.platform, PlatformId::parse_name).map(|p| p.0),
            channel: convert::optional_name(&mut v, "channel", &req.channel, ChannelId::parse_name).map(|c| c.0),
            status: validate::filter(&mut v, "status", req.status, LinkStatus::from_code).map(LinkStatus::code),
            as_of: validate::optional_time(&mut v, "as_of", req.as_of.as_ref()),
            case: convert::optional_name(&mut v, "case", &req.case, CaseRef::parse_name).map(|c| c.name()),
            first_seen_after: validate::optional_time(&mut v, "first_seen_after", req.first_seen_after.as_ref()),
            first_seen_before: validate::optional_time(&mut v, "first_seen_before", req.first_seen_before.as_ref()),
            reappeared: req.reappeared,
        };
        let fingerprint = page::filter_fingerprint(&filter);
        let after = v.check("page_token", page::decode_token::<Uuid>(&req.page_token, &fingerprint)).flatten();
        let limit = checked(v, limit)?;
        let links = self.links.list_links(&filter, after, limit + 1).await?;
        let (links, next_page_token) = page_of(links, limit, &fingerprint, |l| l.id.0);
        Ok(Response::new(pb::ListLinksResponse { links: links.iter().map(convert::link).collect(), next_page_token }))
    }

    async fn list_link_citations(
        &self,
        request: Request<pb::ListLinkCitationsRequest>,
    ) -> Result<Response<pb::ListLinkCitationsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let link = convert::name(&mut v, "parent", &req.parent, LinkId::parse_name);
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&("citations", &req.parent));
        let after = v.check("page_token", page::decode_token::<String>(&req.page_token, &fingerprint)).flatten();
        let (link, limit) = checked(v, link.zip(limit))?;
        let citations = self.links.list_citations(link, after.as_deref().unwrap_or_default(), limit + 1).await?;
        let (citations, next_page_token) = page_of(citations, limit, &fingerprint, |c| c.case.name());
        Ok(Response::new(pb::ListLinkCitationsResponse {
            citations: citations.iter().map(convert::citation).collect(),
            next_page_token,
        }))
    }

    async fn import_links(
        &self,
        request: Request<Streaming<pb::ImportLinksRequest>>,
    ) -> Result<Response<pb::ImportLinksResponse>, Status> {
        Actor::from_request(&request)?;
        let mut stream = request.into_inner();
        // Staged as it arrives and merged at the end: a stream refused at any message keeps
        // nothing (see `service::import`).
        let mut import = self.links.begin_import().await?;
        let mut message = 0usize;
        while let Some(next) = stream.next().await {
            let next = match next {
                Ok(next) => next,
                Err(status) => {
                    import.discard().await;
                    return Err(status);
                }
            };
            let mut v = FieldViolations::new();
            let field = format!("messages[{message}].registrations");
            let registrations = convert::registrations(&mut v, &field, &next.registrations, timestamp::now());
            if !v.is_empty() {
                import.discard().await;
                return Err(invalid(v));
            }
            message += 1;
            import.stage(&registrations).await?;
        }
        let tally = import.merge().await?;
        Ok(Response::new(pb::ImportLinksResponse {
            new_links: tally.new_links,
            new_link_names: tally.new_link_names,
            known_links: tally.known_links,
            refused: tally.refused,
            refusals: tally
                .refusals
                .into_iter()
                .map(|(reason, (count, examples))| pb::RefusalCount { reason, count, examples })
                .collect(),
        }))
    }

    async fn record_removal_requests(
        &self,
        request: Request<pb::RecordRemovalRequestsRequest>,
    ) -> Result<Response<pb::RecordRemovalRequestsResponse>, Status> {
        Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key =
            validate::request_key(&mut v, "RecordRemovalRequests", &req.request_id, &req, |r| r.request_id.clear());
        let notice = convert::name(&mut v, "notice", &req.notice, NoticeRef::parse_name);
        if req.links.is_empty() {
            v.add("links", "must name at least one link");
        } else if req.links.len() > MAX_REMOVAL_LINKS {
            v.add("links", format!("at most {MAX_REMOVAL_LINKS} links at once"));
        }
        let mut ids: Vec<LinkId> = Vec::new();
        for (i, n) in req.links.iter().take(MAX_REMOVAL_LINKS).enumerate() {
            if let Some(id) = convert::name(&mut v, &format!("links[{i}]"), n, LinkId::parse_name) {
                if ids.contains(&id) {
                    v.add(format!("links[{i}]"), "is given twice");
                } else {
                    ids.push(id);
                }
            }
        }
        let served_at = validate::required_business_time(&mut v, "served_at", req.served_at.as_ref(), timestamp::now());
        let (notice, served_at) = checked(v, notice.zip(served_at))?;
        let response = self
            .links
            .record_removal_requests(notice, &ids, served_at, key, |recorded| pb::RecordRemovalRequestsResponse {
                recorded,
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn record_observations(
        &self,
        request: Request<pb::RecordObservationsRequest>,
    ) -> Result<Response<pb::RecordObservationsResponse>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "RecordObservations", &req.request_id, &req, |r| r.request_id.clear());
        if req.observations.is_empty() {
            v.add("observations", "must have at least one observation");
        } else if req.observations.len() > MAX_OBSERVATIONS {
            v.add("observations", format!("at most {MAX_OBSERVATIONS} observations at once"));
        }
        let now = timestamp::now();
        let mut observations = Vec::new();
        for (i, o) in req.observations.iter().take(MAX_OBSERVATIONS).enumerate() {
            let f = |name: &str| format!("observations[{i}].{name}");
            let link = convert::name(&mut v, &f("link"), &o.link, LinkId::parse_name);
            let status = validate::required(&mut v, &f("status"), o.status, LinkStatus::from_code);
            // Unset is the moment the service takes the observation (see CreateCase's received_at).
            let observed_at = validate::business_time(&mut v, &f("observed_at"), o.observed_at.as_ref(), now);
            let vantage = if o.vantage == 0 {
                Some(Vantage::Unknown)
            } else {
                validate::required(&mut v, &f("vantage"), o.vantage, Vantage::from_code)
            };
            let source = validate::required(&mut v, &f("source"), o.source, ObservationSource::from_code);
            if let Some(source) = source {
                may_claim(&actor, source, &f("source"))?;
            }
            let note = validate::text(&mut v, &f("note"), &o.note, MAX_NOTE_CHARS, false);
            if let (Some(link), Some(status), Some(observed_at), Some(vantage), Some(source)) =
                (link, status, observed_at, vantage, source)
            {
                observations.push(NewObservation { link, status, observed_at, vantage, source, note });
            }
        }
        let observations = checked(v, Some(observations))?;
        let response = self
            .links
            .record_observations(&actor, &observations, key, |recorded| pb::RecordObservationsResponse {
                observations: recorded.iter().map(convert::observation).collect(),
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn list_observations(
        &self,
        request: Request<pb::ListObservationsRequest>,
    ) -> Result<Response<pb::ListObservationsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let link = convert::name(&mut v, "link", &req.link, LinkId::parse_name);
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&req.link);
        let offset = v.check("page_token", page::decode_offset(&req.page_token, &fingerprint)).unwrap_or_default();
        let (link, limit) = checked(v, link.zip(limit))?;
        let observations = self.links.list_observations(link, offset, limit + 1).await?;
        let more = observations.len() > limit as usize;
        let next_page_token = page::next_offset_token(&fingerprint, offset, limit, more);
        Ok(Response::new(pb::ListObservationsResponse {
            observations: observations.iter().take(limit as usize).map(convert::observation).collect(),
            next_page_token,
        }))
    }

    async fn get_link_statistics(
        &self,
        request: Request<pb::GetLinkStatisticsRequest>,
    ) -> Result<Response<pb::LinkStatistics>, Status> {
        self.get_link_statistics_call(request).await
    }

    async fn add_evidence(
        &self,
        request: Request<Streaming<pb::AddEvidenceRequest>>,
    ) -> Result<Response<pb::Evidence>, Status> {
        self.add_evidence_call(request).await
    }

    type GetEvidenceStream = evidence::EvidenceStream;

    async fn get_evidence(
        &self,
        request: Request<pb::GetEvidenceRequest>,
    ) -> Result<Response<Self::GetEvidenceStream>, Status> {
        self.get_evidence_call(request).await
    }

    async fn list_evidence(
        &self,
        request: Request<pb::ListEvidenceRequest>,
    ) -> Result<Response<pb::ListEvidenceResponse>, Status> {
        self.list_evidence_call(request).await
    }

    async fn list_custody_events(
        &self,
        request: Request<pb::ListCustodyEventsRequest>,
    ) -> Result<Response<pb::ListCustodyEventsResponse>, Status> {
        self.list_custody_events_call(request).await
    }

    async fn erase_case_data(
        &self,
        request: Request<pb::EraseCaseDataRequest>,
    ) -> Result<Response<pb::EraseCaseDataResponse>, Status> {
        self.erase_case_data_call(request).await
    }

    async fn run_recheck(
        &self,
        request: Request<pb::RunRecheckRequest>,
    ) -> Result<Response<pb::RunRecheckResponse>, Status> {
        self.run_recheck_call(request).await
    }

    type StreamRecheckStream = recheck::RecheckStream;

    async fn stream_recheck(
        &self,
        request: Request<pb::StreamRecheckRequest>,
    ) -> Result<Response<Self::StreamRecheckStream>, Status> {
        self.stream_recheck_call(request).await
    }
}

/// Who may record which kind of observation: an officer their own checks, liaison a platform's
/// report, link-tracking's own rechecker (another replica's) an automated check. Without this an
/// officer could record a platform's "removed" claim, or a fake automated check.
fn may_claim(actor: &Actor, source: ObservationSource, field: &str) -> Result<(), Status> {
    let allowed = match source {
        ObservationSource::OfficerCheck => matches!(actor, Actor::Officer(_)),
        ObservationSource::PlatformReport => actor.is_service("liaison"),
        ObservationSource::AutomatedRecheck => actor.is_service("links"),
    };
    if allowed {
        return Ok(());
    }
    Err(doxwatch_kit::error::with_reason(
        tonic::Code::PermissionDenied,
        doxwatch_kit::error::CommonReason::PermissionDenied.as_str_name(),
        format!("{field}: {} may not record {source:?} observations", actor.name()),
    ))
}
