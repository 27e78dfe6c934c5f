//! The gRPC face of evidence and rechecks: a capture streamed in (metadata first, then bytes),
//! bytes streamed out after their check, the listings, and a recheck round on demand.

use doxwatch_kit::{actor::Actor, error::FieldViolations, idempotency::RequestKey, page, timestamp, validate};
use doxwatch_proto::links as pb;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::{DEFAULT_PAGE_SIZE, LinksApi, MAX_PAGE_SIZE, checked, invalid};
use crate::{convert, domain::*};

pub type EvidenceStream = std::pin::Pin<Box<dyn Stream<Item = Result<pb::GetEvidenceResponse, Status>> + Send>>;

/// What a retried AddEvidence is compared by: its metadata and the SHA-256 of its bytes.
#[derive(Clone, PartialEq, prost::Message)]
struct AddEvidencePayload {
    #[prost(message, optional, tag = "1")]
    metadata: Option<pb::EvidenceMetadata>,
    #[prost(string, tag = "2")]
    sha256: String,
}

/// Checks a capture's metadata, every field at once.
fn new_capture(v: &mut FieldViolations, m: &pb::EvidenceMetadata) -> Option<NewCapture> {
    let link = v.check("metadata.link", LinkId::parse_name(&m.link));
    let media_type = v.check("metadata.media_type", normalize_media_type(&m.media_type));
    let captured_at = validate::business_time(v, "metadata.captured_at", m.captured_at.as_ref(), timestamp::now());
    let note = validate::text(v, "metadata.note", &m.note, MAX_NOTE_CHARS, false);
    let (link, (media_type, captured_at)) = link.zip(media_type.zip(captured_at))?;
    Some(NewCapture { link, media_type, captured_at, note })
}

impl LinksApi {
    pub(super) async fn add_evidence_call(
        &self,
        request: Request<Streaming<pb::AddEvidenceRequest>>,
    ) -> Result<Response<pb::Evidence>, Status> {
        let actor = Actor::from_request(&request)?;
        let mut stream = request.into_inner();
        let first = stream.next().await.transpose()?;
        let mut v = FieldViolations::new();
        let Some(pb::add_evidence_request::Content::Metadata(metadata)) = first.and_then(|m| m.content) else {
            v.add("metadata", "the first message must carry the metadata");
            return Err(invalid(v));
        };
        if let Some(why) = validate::request_id_problem(&metadata.request_id) {
            v.add("metadata.request_id", why);
        }
        let new = new_capture(&mut v, &metadata);
        let new = checked(v, new)?;
        self.evidence.require_link(new.link).await?;
        let mut message = 1usize;
        let chunks = stream.map(move |next| {
            let index = message;
            message += 1;
            match next?.content {
                Some(pb::add_evidence_request::Content::Chunk(bytes)) => Ok(bytes),
                _ => {
                    let mut v = FieldViolations::new();
                    v.add(format!("messages[{index}].chunk"), "every message after the first carries bytes only");
                    Err(invalid(v))
                }
            }
        });
        let stored = self.evidence.receive(Box::pin(chunks)).await?;
        let mut payload = metadata.clone();
        payload.request_id.clear();
        let key = RequestKey::new(
            "AddEvidence",
            &metadata.request_id,
            &AddEvidencePayload { metadata: Some(payload), sha256: stored.sha256.to_hex() },
        );
        let evidence = self.evidence.record(&actor, &new, stored, key, convert::evidence).await?;
        Ok(Response::new(evidence))
    }

    pub(super) async fn get_evidence_call(
        &self,
        request: Request<pb::GetEvidenceRequest>,
    ) -> Result<Response<EvidenceStream>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let name = v.check("name", EvidenceName::parse_name(&req.name));
        let reason = validate::text(&mut v, "reason", &req.reason, MAX_REASON_CHARS, true);
        let name = checked(v, name)?;
        let (captures, bytes) = self.evidence.fetch(&actor, name, &reason).await?;
        // The first capture record describes the bytes; later ones are captures of the same bytes.
        let head = pb::GetEvidenceResponse { evidence: captures.first().map(convert::evidence), chunk: Vec::new() };
        let body = bytes
            .map(|chunk| chunk.map(|chunk| pb::GetEvidenceResponse { evidence: None, chunk }).map_err(Status::from));
        let stream = futures::stream::once(async move { Ok(head) }).chain(body);
        Ok(Response::new(Box::pin(stream)))
    }

    pub(super) async fn list_evidence_call(
        &self,
        request: Request<pb::ListEvidenceRequest>,
    ) -> Result<Response<pb::ListEvidenceResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let link = v.check("link", LinkId::parse_name(&req.link));
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&req.link);
        let offset = v.check("page_token", page::decode_offset(&req.page_token, &fingerprint)).unwrap_or_default();
        let (link, limit) = checked(v, link.zip(limit))?;
        let captures = self.evidence.list(link, offset, limit + 1).await?;
        let next_page_token = next_token(captures.len(), limit, &fingerprint, offset);
        Ok(Response::new(pb::ListEvidenceResponse {
            evidence: captures.iter().take(limit as usize).map(convert::evidence).collect(),
            next_page_token,
        }))
    }

    pub(super) async fn list_custody_events_call(
        &self,
        request: Request<pb::ListCustodyEventsRequest>,
    ) -> Result<Response<pb::ListCustodyEventsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let name = v.check("evidence", EvidenceName::parse_name(&req.evidence));
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&req.evidence);
        let offset = v.check("page_token", page::decode_offset(&req.page_token, &fingerprint)).unwrap_or_default();
        let (name, limit) = checked(v, name.zip(limit))?;
        let events = self.evidence.custody(name, offset, limit + 1).await?;
        let next_page_token = next_token(events.len(), limit, &fingerprint, offset);
        Ok(Response::new(pb::ListCustodyEventsResponse {
            events: events.iter().take(limit as usize).map(convert::custody_event).collect(),
            next_page_token,
        }))
    }

    pub(super) async fn erase_case_data_call(
        &self,
        request: Request<pb::EraseCaseDataRequest>,
    ) -> Result<Response<pb::EraseCaseDataResponse>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        // Erasing again erases nothing more, so the call needs no stored answer; its key is checked
        // all the same.
        validate::request_key(&mut v, "EraseCaseData", &req.request_id, &req, |r| r.request_id.clear());
        let case = convert::name(&mut v, "case", &req.case, CaseRef::parse_name);
        let erase_time =
            validate::required_business_time(&mut v, "erase_time", req.erase_time.as_ref(), timestamp::now());
        let (case, erase_time) = checked(v, case.zip(erase_time))?;
        let done = self.evidence.erase_case(&actor, &case.name(), erase_time).await?;
        let count = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(pb::EraseCaseDataResponse {
            links_erased: count(done.links),
            captures_erased: count(done.captures),
            files_deleted: count(done.files),
        }))
    }

    pub(super) async fn run_recheck_call(
        &self,
        request: Request<pb::RunRecheckRequest>,
    ) -> Result<Response<pb::RunRecheckResponse>, Status> {
        Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "RunRecheck", &req.request_id, &req, |r| r.request_id.clear());
        checked(v, Some(()))?;
        Ok(Response::new(self.rechecker.run_once(key, convert::round).await?))
    }
}

/// The token of the next page of an offset listing, when there is one.
fn next_token(found: usize, limit: u32, fingerprint: &str, offset: u64) -> String {
    page::next_offset_token(fingerprint, offset, limit, found > limit as usize)
}
