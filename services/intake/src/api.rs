//! The gRPC face of intake: requests are checked and converted to domain values, handed to the
//! service, and the results converted back. Nothing here decides anything.

use doxwatch_kit::{
    actor::Actor,
    as_at::AsAt,
    error::{self, FieldViolations},
    page, timestamp,
    validate::{self, request_key},
};
use doxwatch_proto::intake::{self as pb, intake_service_server::IntakeService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    access::{Sight, Viewer},
    convert,
    domain::*,
    service::{CaseKey, Intake},
    store::{CaseFilter, SubjectQuery},
};

mod publications;

pub use publications::publication_to_proto;

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;
const DEFAULT_EVENTS_PAGE_SIZE: u32 = 100;

pub struct IntakeApi {
    intake: Intake,
}

impl IntakeApi {
    pub fn new(intake: Intake) -> Self {
        Self { intake }
    }
}

fn invalid(v: FieldViolations) -> Status {
    error::invalid_argument(&v)
}

#[tonic::async_trait]
impl IntakeService for IntakeApi {
    async fn create_case(&self, request: Request<pb::CreateCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let actor = Actor::from_request(&request)?;
        let viewer = Viewer::of(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = request_key(&mut v, "CreateCase", &req.request_id, &req, |r| r.request_id.clear());
        let new = convert::new_case(req.case.as_ref(), timestamp::now());
        let new = match new {
            Ok(new) if v.is_empty() => new,
            Ok(_) => return Err(invalid(v)),
            Err(mut more) => {
                for x in v.iter() {
                    more.add(x.field.clone(), x.description.clone());
                }
                return Err(invalid(more));
            }
        };
        // The recording officer's team has the case until a supervisor assigns it.
        let new = NewCase { team: viewer.team().to_owned(), ..new };
        let case = self.intake.create_case(&actor, new, key, convert::case_to_proto).await?;
        Ok(Response::new(viewer.present(case)))
    }

    async fn get_case(&self, request: Request<pb::GetCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let viewer = Viewer::of(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let by_reference = req.name.strip_prefix("cases/").and_then(doxwatch_kit::reference::normalize);
        let key = match by_reference {
            Some(reference) => CaseKey::Reference(reference),
            None => CaseKey::Id(convert::case_id(&mut v, "name", &req.name).ok_or_else(|| invalid(v))?),
        };
        let (case, sight) = self.intake.get_case(key, &viewer).await?;
        Ok(Response::new(shown(&case, sight)))
    }

    async fn erase_case(&self, request: Request<pb::EraseCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = request_key(&mut v, "EraseCase", &req.request_id, &req, |r| r.request_id.clear());
        let Some(id) = convert::case_id(&mut v, "name", &req.name).filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let case = self.intake.erase_case(&actor, id, key, convert::case_to_proto).await?;
        Ok(Response::new(case))
    }

    async fn assign_case(&self, request: Request<pb::AssignCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = request_key(&mut v, "AssignCase", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::case_id(&mut v, "name", &req.name);
        let team = req.team.trim().to_owned();
        let team_ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
        if team.is_empty() {
            v.add("team", "is required");
        } else if team.len() > 64 || !team.chars().all(team_ok) {
            v.add("team", "must be 1 to 64 of a-z, 0-9, '-', '_' and '.'");
        }
        let officer = req.assigned_officer.trim().to_owned();
        if officer.len() > 128 || !validate::is_one_line(&officer) {
            v.add("assigned_officer", "must be at most 128 characters, on one line, without control characters");
        }
        let Some(id) = id.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let case = self.intake.assign_case(&actor, id, team, officer, key, convert::case_to_proto).await?;
        Ok(Response::new(case))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let viewer = Viewer::of(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let filter = CaseFilter {
            kind: convert::filter_code(&mut v, "kind", req.kind, CaseKind::from_code),
            status: convert::filter_code(&mut v, "status", req.status, CaseStatus::from_code),
            category: convert::filter_code(
                &mut v,
                "data_subject_category",
                req.data_subject_category,
                DataSubjectCategory::from_code,
            ),
            received_after: validate::optional_time(&mut v, "received_after", req.received_after.as_ref()),
            received_before: validate::optional_time(&mut v, "received_before", req.received_before.as_ref()),
            subject: subject_query(&mut v, &req.data_subject),
        };
        let fingerprint = page::filter_fingerprint(&filter);
        let after = v.check("page_token", page::decode_token::<Uuid>(&req.page_token, &fingerprint)).flatten();
        let Some(limit) = limit.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let cases = self.intake.list_cases(&filter, after, limit + 1, &viewer).await?;
        let more = cases.len() > limit as usize;
        let cases: Vec<(Case, Sight)> = cases.into_iter().take(limit as usize).collect();
        let next_page_token = match cases.last() {
            Some((last, _)) if more => page::encode_token(&fingerprint, &last.id.0),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListCasesResponse {
            cases: cases.iter().map(|(c, sight)| shown(c, *sight)).collect(),
            next_page_token,
        }))
    }

    async fn update_case(&self, request: Request<pb::UpdateCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let actor = Actor::from_request(&request)?;
        let viewer = Viewer::of(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = request_key(&mut v, "UpdateCase", &req.request_id, &req, |r| r.request_id.clear());
        let mut fields = Vec::new();
        match &req.update_mask {
            None => v.add("update_mask", "is required"),
            Some(mask) if mask.paths.is_empty() => v.add("update_mask", "must name at least one field"),
            Some(mask) => {
                for (i, path) in mask.paths.iter().enumerate() {
                    match UpdatableField::parse(path) {
                        Some(f) if !fields.contains(&f) => fields.push(f),
                        Some(_) => v.add(format!("update_mask.paths[{i}]"), format!("{path} is named twice")),
                        None => v.add(
                            format!("update_mask.paths[{i}]"),
                            format!("{path:?} cannot be updated (kind, received_at and status are fixed or moved by TransitionCase)"),
                        ),
                    }
                }
            }
        }
        let Some(case) = req.case.as_ref() else {
            v.add("case", "is required");
            return Err(invalid(v));
        };
        let id = convert::case_id(&mut v, "case.name", &case.name);
        let changes = convert::details(&mut v, "case", case, Some(&fields));
        let Some(id) = id.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let case = self.intake.update_case(&actor, id, &fields, &changes, key, convert::case_to_proto).await?;
        Ok(Response::new(viewer.present(case)))
    }

    async fn transition_case(&self, request: Request<pb::TransitionCaseRequest>) -> Result<Response<pb::Case>, Status> {
        let actor = Actor::from_request(&request)?;
        let viewer = Viewer::of(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = request_key(&mut v, "TransitionCase", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::case_id(&mut v, "name", &req.name);
        let to = match CaseStatus::from_code(req.to_status) {
            Some(to) => Some(to),
            None if req.to_status == 0 => {
                v.add("to_status", "is required");
                None
            }
            None => {
                v.add("to_status", format!("{} is not a known value", req.to_status));
                None
            }
        };
        let closure_reason = match (to, ClosureReason::from_code(req.closure_reason)) {
            (Some(CaseStatus::Closed), Some(r)) => Some(r),
            (Some(CaseStatus::Closed), None) => {
                v.add("closure_reason", "is required when closing a case");
                None
            }
            (_, None) if req.closure_reason == 0 => None,
            (_, _) => {
                v.add("closure_reason", "is given only when closing a case");
                None
            }
        };
        let duplicate_of = if closure_reason == Some(ClosureReason::Duplicate) {
            if req.duplicate_of.is_empty() {
                v.add("duplicate_of", "is required when closing a case as a duplicate");
                None
            } else {
                convert::case_id(&mut v, "duplicate_of", &req.duplicate_of)
            }
        } else {
            if !req.duplicate_of.is_empty() {
                v.add("duplicate_of", "is given only when closing a case as a duplicate");
            }
            None
        };
        let note = validate::text(&mut v, "note", &req.note, MAX_NOTE_CHARS, false);
        let occurred_at = v.check("occurred_at", timestamp::business_time(req.occurred_at.as_ref(), timestamp::now()));
        let (Some(id), Some(to), Some(occurred_at)) = (id, to, occurred_at) else {
            return Err(invalid(v));
        };
        if !v.is_empty() {
            return Err(invalid(v));
        }
        let transition = Transition { to, closure_reason, duplicate_of, note, occurred_at };
        let case = self.intake.transition_case(&actor, id, transition, key, convert::case_to_proto).await?;
        Ok(Response::new(viewer.present(case)))
    }

    async fn add_case_note(&self, request: Request<pb::AddCaseNoteRequest>) -> Result<Response<pb::CaseEvent>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = request_key(&mut v, "AddCaseNote", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::case_id(&mut v, "name", &req.name);
        let note = validate::text(&mut v, "note", &req.note, MAX_NOTE_CHARS, true);
        let occurred_at = v.check("occurred_at", timestamp::business_time(req.occurred_at.as_ref(), timestamp::now()));
        let (Some(id), Some(occurred_at)) = (id, occurred_at) else {
            return Err(invalid(v));
        };
        if !v.is_empty() {
            return Err(invalid(v));
        }
        let event = self.intake.add_note(&actor, id, note, occurred_at, key, convert::event_to_proto).await?;
        Ok(Response::new(event))
    }

    async fn list_case_events(
        &self,
        request: Request<pb::ListCaseEventsRequest>,
    ) -> Result<Response<pb::ListCaseEventsResponse>, Status> {
        let viewer = Viewer::of(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let id = convert::case_id(&mut v, "name", &req.name);
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_EVENTS_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&req.name);
        let offset = v.check("page_token", page::decode_offset(&req.page_token, &fingerprint));
        let (Some(id), Some(limit)) = (id, limit) else {
            return Err(invalid(v));
        };
        if !v.is_empty() {
            return Err(invalid(v));
        }
        let offset = offset.unwrap_or_default();
        let events = self.intake.list_events(id, offset, limit + 1, &viewer).await?;
        let more = events.len() > limit as usize;
        let events: Vec<CaseEvent> = events.into_iter().take(limit as usize).collect();
        let next_page_token = page::next_offset_token(&fingerprint, offset, limit, more);
        Ok(Response::new(pb::ListCaseEventsResponse {
            events: events.iter().map(convert::event_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn list_case_links(
        &self,
        request: Request<pb::ListCaseLinksRequest>,
    ) -> Result<Response<pb::ListCaseLinksResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let id = convert::case_id(&mut v, "name", &req.name);
        if req.page_size < 0 {
            v.add("page_size", "must not be negative");
        }
        let Some(id) = id.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let page_size = if req.page_size == 0 { 100 } else { req.page_size.min(1000) };
        let (links, registration_pending) = self.intake.case_links(id, page_size, req.page_token).await?;
        Ok(Response::new(pb::ListCaseLinksResponse {
            links: links.links,
            next_page_token: links.next_page_token,
            registration_pending,
        }))
    }

    async fn get_intake_statistics(
        &self,
        request: Request<pb::GetIntakeStatisticsRequest>,
    ) -> Result<Response<pb::IntakeStatistics>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let t = AsAt::from_request(&mut v, req.as_of.as_ref(), req.recorded_before.as_ref());
        let Some(t) = t.filter(|_| v.is_empty()) else {
            return Err(invalid(v));
        };
        let figures = self.intake.statistics(t).await?;
        Ok(Response::new(convert::figures_to_proto(&figures, t)))
    }

    async fn create_publication(
        &self,
        request: Request<pb::CreatePublicationRequest>,
    ) -> Result<Response<pb::Publication>, Status> {
        publications::create(&self.intake, request).await
    }

    async fn get_publication(
        &self,
        request: Request<pb::GetPublicationRequest>,
    ) -> Result<Response<pb::Publication>, Status> {
        publications::get(&self.intake, request).await
    }

    async fn list_publications(
        &self,
        request: Request<pb::ListPublicationsRequest>,
    ) -> Result<Response<pb::ListPublicationsResponse>, Status> {
        publications::list(&self.intake, request).await
    }
}

/// The longest `data_subject` search, and the most words it may have.
const MAX_SUBJECT_QUERY_CHARS: usize = 200;
const MAX_SUBJECT_QUERY_TERMS: usize = 10;

/// ListCases' `data_subject`: a phone number, or the words of a name.
fn subject_query(v: &mut FieldViolations, text: &str) -> Option<SubjectQuery> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.chars().count() > MAX_SUBJECT_QUERY_CHARS {
        v.add("data_subject", format!("at most {MAX_SUBJECT_QUERY_CHARS} characters"));
        return None;
    }
    let phone_like = text.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c));
    if phone_like {
        return match doxwatch_kit::sealing::phone_digits(text) {
            Some(digits) => Some(SubjectQuery::Phone(digits)),
            None => {
                v.add("data_subject", "a phone number has at least 8 digits");
                None
            }
        };
    }
    let terms = doxwatch_kit::sealing::name_terms(text);
    if terms.is_empty() {
        v.add("data_subject", "a name needs at least one letter or digit");
        None
    } else if terms.len() > MAX_SUBJECT_QUERY_TERMS {
        v.add("data_subject", format!("at most {MAX_SUBJECT_QUERY_TERMS} words"));
        None
    } else {
        Some(SubjectQuery::Name(terms))
    }
}

/// `case` as a caller with `sight` of it may see it.
fn shown(case: &Case, sight: Sight) -> pb::Case {
    let mut shown = convert::case_to_proto(case);
    if sight == Sight::Redacted {
        crate::access::redact(&mut shown);
    }
    shown
}
