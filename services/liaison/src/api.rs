//! The gRPC face of liaison.

use doxwatch_kit::validate::checked;
use doxwatch_kit::{
    actor::Actor,
    error::{self, FieldViolations},
    page, timestamp, validate,
};
use doxwatch_proto::liaison::{self as pb, liaison_service_server::LiaisonService};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    convert,
    domain::*,
    service::{DraftField, LetterFormat, Liaison, NoticeFilter},
};

const DEFAULT_PAGE_SIZE: u32 = 50;
/// A timeline's entries are small and read in order: a longer default page, as intake's.
const DEFAULT_EVENTS_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;

pub struct LiaisonApi {
    liaison: Liaison,
}

impl LiaisonApi {
    pub fn new(liaison: Liaison) -> Self {
        Self { liaison }
    }
}

fn as_at(v: &mut FieldViolations, field: &str, ts: Option<&prost_types::Timestamp>) -> AsAt {
    let now = timestamp::now();
    AsAt::now(validate::business_time(v, field, ts, now).unwrap_or(now))
}

#[tonic::async_trait]
impl LiaisonService for LiaisonApi {
    async fn set_platform_contact(
        &self,
        request: Request<pb::SetPlatformContactRequest>,
    ) -> Result<Response<pb::PlatformContact>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "SetPlatformContact", &req.request_id, &req, |r| r.request_id.clear());
        let contact = match &req.contact {
            Some(c) => convert::contact_in(&mut v, c),
            None => {
                v.add("contact", "is required");
                None
            }
        };
        let contact = checked(v, contact)?;
        Ok(Response::new(self.liaison.set_contact(&actor, contact, key, convert::contact_out).await?))
    }

    async fn get_platform_contact(
        &self,
        request: Request<pb::GetPlatformContactRequest>,
    ) -> Result<Response<pb::PlatformContact>, Status> {
        let mut v = FieldViolations::new();
        let platform = convert::contact_name(&mut v, "name", &request.get_ref().name);
        let contact = self.liaison.get_contact(checked(v, platform)?).await?;
        Ok(Response::new(convert::contact_out(&contact)))
    }

    async fn list_platform_contacts(
        &self,
        request: Request<pb::ListPlatformContactsRequest>,
    ) -> Result<Response<pb::ListPlatformContactsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let after = v.check("page_token", page::decode_token::<String>(&req.page_token, "contacts")).flatten();
        let limit = checked(v, limit)?;
        let contacts = self.liaison.list_contacts(after.as_deref().unwrap_or(""), limit + 1).await?;
        let more = contacts.len() > limit as usize;
        let contacts: Vec<_> = contacts.into_iter().take(limit as usize).collect();
        let next_page_token = match contacts.last() {
            Some(last) if more => page::encode_token("contacts", &last.platform.name()),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListPlatformContactsResponse {
            contacts: contacts.iter().map(convert::contact_out).collect(),
            next_page_token,
        }))
    }

    async fn create_notice(&self, request: Request<pb::CreateNoticeRequest>) -> Result<Response<pb::Notice>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "CreateNotice", &req.request_id, &req, |r| r.request_id.clear());
        let Some(n) = req.notice.as_ref() else {
            v.add("notice", "is required");
            return Err(error::invalid_argument(&v));
        };
        let draft = convert::draft(&mut v, n, true);
        let draft = checked(v, Some(draft))?;
        Ok(Response::new(self.liaison.create(&actor, draft, key, convert::notice_out).await?))
    }

    async fn get_notice(&self, request: Request<pb::GetNoticeRequest>) -> Result<Response<pb::Notice>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let by_reference = req.name.strip_prefix("notices/").and_then(doxwatch_kit::reference::normalize);
        let id = match &by_reference {
            Some(_) => None,
            None => convert::name(&mut v, "name", &req.name, NoticeId::parse_name),
        };
        let t = as_at(&mut v, "as_of", req.as_of.as_ref());
        let notice = match by_reference {
            Some(reference) if v.is_empty() => self.liaison.get_by_reference(&reference).await?,
            _ => self.liaison.get(checked(v, id)?).await?,
        };
        Ok(Response::new(convert::notice_out(&notice, t)))
    }

    async fn list_notices(
        &self,
        request: Request<pb::ListNoticesRequest>,
    ) -> Result<Response<pb::ListNoticesResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let filter = NoticeFilter {
            platform: convert::optional_name(&mut v, "platform", &req.platform, PlatformRef::parse_name),
            kind: validate::filter(&mut v, "kind", req.kind, NoticeKind::from_code),
            status: validate::filter(&mut v, "status", req.status, NoticeStatus::from_code),
            overdue: req.overdue,
            t: as_at(&mut v, "as_of", req.as_of.as_ref()),
            served_after: validate::optional_time(&mut v, "served_after", req.served_after.as_ref()),
            served_before: validate::optional_time(&mut v, "served_before", req.served_before.as_ref()),
        };
        let fingerprint = page::filter_fingerprint(&NoticesFilter {
            platform: &req.platform,
            kind: req.kind,
            status: req.status,
            overdue: req.overdue,
            as_of: page::instant(req.as_of.as_ref()),
            served_after: page::instant(req.served_after.as_ref()),
            served_before: page::instant(req.served_before.as_ref()),
        });
        let after = v.check("page_token", page::decode_token::<Uuid>(&req.page_token, &fingerprint)).flatten();
        let limit = checked(v, limit)?;
        let notices = self.liaison.list(&filter, after, limit + 1).await?;
        let more = notices.len() > limit as usize;
        let notices: Vec<Notice> = notices.into_iter().take(limit as usize).collect();
        let next_page_token = match notices.last() {
            Some(last) if more => page::encode_token(&fingerprint, &last.id.0),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListNoticesResponse {
            notices: notices.iter().map(|n| convert::notice_out(n, filter.t)).collect(),
            next_page_token,
        }))
    }

    async fn update_notice(&self, request: Request<pb::UpdateNoticeRequest>) -> Result<Response<pb::Notice>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "UpdateNotice", &req.request_id, &req, |r| r.request_id.clear());
        let Some(n) = req.notice.as_ref() else {
            v.add("notice", "is required");
            return Err(error::invalid_argument(&v));
        };
        let id = convert::name(&mut v, "notice.name", &n.name, NoticeId::parse_name);
        let mut fields = Vec::new();
        match &req.update_mask {
            Some(mask) if !mask.paths.is_empty() => {
                for (i, path) in mask.paths.iter().enumerate() {
                    // As in every Update: a path named twice is a client's mistake, not a no-op.
                    if mask.paths[..i].contains(path) {
                        v.add(format!("update_mask.paths[{i}]"), format!("{path} is named twice"));
                        continue;
                    }
                    let field = match path.as_str() {
                        "items" => DraftField::Items,
                        "cases" => DraftField::Cases,
                        "legal_basis" => DraftField::LegalBasis,
                        "channel" => DraftField::Channel,
                        "deadline" => DraftField::Deadline,
                        other => {
                            v.add(format!("update_mask.paths[{i}]"), format!("{other:?} cannot be updated"));
                            continue;
                        }
                    };
                    fields.push(field);
                }
            }
            _ => v.add("update_mask", "must name at least one field"),
        }
        let changes = convert::draft(&mut v, n, false);
        let id = checked(v, id)?;
        Ok(Response::new(self.liaison.update(&actor, id, &fields, changes, key, convert::notice_out).await?))
    }

    async fn serve_notice(&self, request: Request<pb::ServeNoticeRequest>) -> Result<Response<pb::Notice>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "ServeNotice", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "name", &req.name, NoticeId::parse_name);
        let served_at = validate::business_time(&mut v, "served_at", req.served_at.as_ref(), timestamp::now());
        let method = validate::required(&mut v, "service_method", req.service_method, ServiceMethod::from_code);
        let (id, (served_at, method)) = checked(v, id.zip(served_at.zip(method)))?;
        Ok(Response::new(self.liaison.serve(&actor, id, served_at, method, key, convert::notice_out).await?))
    }

    async fn record_reply(&self, request: Request<pb::RecordReplyRequest>) -> Result<Response<pb::Notice>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "RecordReply", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "name", &req.name, NoticeId::parse_name);
        let reply = convert::reply(&mut v, &req);
        let id = checked(v, id)?;
        Ok(Response::new(self.liaison.record_reply(&actor, id, reply, key, convert::notice_out).await?))
    }

    async fn close_notice(&self, request: Request<pb::CloseNoticeRequest>) -> Result<Response<pb::Notice>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "CloseNotice", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "name", &req.name, NoticeId::parse_name);
        let reason = validate::text(&mut v, "reason", &req.reason, 2000, true);
        let occurred_at = match &req.occurred_at {
            None => None,
            some => validate::business_time(&mut v, "occurred_at", some.as_ref(), timestamp::now()),
        };
        let id = checked(v, id)?;
        Ok(Response::new(self.liaison.close(&actor, id, reason, occurred_at, key, convert::notice_out).await?))
    }

    async fn remind_notice(&self, request: Request<pb::RemindNoticeRequest>) -> Result<Response<pb::Notice>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "RemindNotice", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "name", &req.name, NoticeId::parse_name);
        let id = checked(v, id)?;
        Ok(Response::new(
            self.liaison.follow_up(&actor, id, NoticeKind::Reminder, None, key, convert::notice_out).await?,
        ))
    }

    async fn escalate_notice(
        &self,
        request: Request<pb::EscalateNoticeRequest>,
    ) -> Result<Response<pb::Notice>, Status> {
        let actor = Actor::from_request(&request)?;
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "EscalateNotice", &req.request_id, &req, |r| r.request_id.clear());
        let id = convert::name(&mut v, "name", &req.name, NoticeId::parse_name);
        let to_kind = validate::required(&mut v, "to_kind", req.to_kind, NoticeKind::from_code);
        if to_kind.is_some_and(|k| !k.is_escalation()) {
            v.add("to_kind", "must be INJUNCTION_NOTICE, CESSATION_NOTICE or SUMMONS");
        }
        let legal_basis = validate::line(&mut v, "legal_basis", &req.legal_basis, MAX_LEGAL_BASIS_CHARS, false);
        let (id, to_kind) = checked(v, id.zip(to_kind))?;
        let legal_basis = (!legal_basis.is_empty()).then_some(legal_basis);
        Ok(Response::new(self.liaison.follow_up(&actor, id, to_kind, legal_basis, key, convert::notice_out).await?))
    }

    async fn list_notice_events(
        &self,
        request: Request<pb::ListNoticeEventsRequest>,
    ) -> Result<Response<pb::ListNoticeEventsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let id = convert::name(&mut v, "name", &req.name, NoticeId::parse_name);
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_EVENTS_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&req.name);
        let offset = v.check("page_token", page::decode_offset(&req.page_token, &fingerprint)).unwrap_or_default();
        let (id, limit) = checked(v, id.zip(limit))?;
        let mut events = self.liaison.events(id, offset, limit + 1).await?;
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        Ok(Response::new(pb::ListNoticeEventsResponse {
            events: events.iter().map(convert::event_out).collect(),
            next_page_token: page::next_offset_token(&fingerprint, offset, limit, more),
        }))
    }

    async fn render_notice(
        &self,
        request: Request<pb::RenderNoticeRequest>,
    ) -> Result<Response<pb::RenderedNotice>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let id = convert::name(&mut v, "name", &req.name, NoticeId::parse_name);
        let language = validate::filter(&mut v, "language", req.language, Language::from_code);
        let format = validate::filter(&mut v, "format", req.format, |c| (1..=2).contains(&c).then_some(c));
        let id = checked(v, id)?;
        let format =
            if format == Some(pb::RenderFormat::Html as i32) { LetterFormat::Html } else { LetterFormat::Markdown };
        let letter = self.liaison.render(id, language, format).await?;
        Ok(Response::new(pb::RenderedNotice {
            content: letter.content,
            media_type: letter.media_type.to_owned(),
            language: letter.language.code(),
        }))
    }

    async fn erase_case_data(
        &self,
        request: Request<pb::EraseCaseDataRequest>,
    ) -> Result<Response<pb::EraseCaseDataResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let key = validate::request_key(&mut v, "EraseCaseData", &req.request_id, &req, |r| r.request_id.clear());
        let case = convert::name(&mut v, "case", &req.case, CaseRef::parse_name);
        let erase_time =
            validate::required_business_time(&mut v, "erase_time", req.erase_time.as_ref(), timestamp::now());
        let (case, erase_time) = checked(v, case.zip(erase_time))?;
        let response = self
            .liaison
            .erase_case_data(case, erase_time, key, |notices| pb::EraseCaseDataResponse {
                notices_erased: i32::try_from(notices).unwrap_or(i32::MAX),
            })
            .await?;
        Ok(Response::new(response))
    }

    async fn get_liaison_statistics(
        &self,
        request: Request<pb::GetLiaisonStatisticsRequest>,
    ) -> Result<Response<pb::LiaisonStatistics>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let t = AsAt::from_request(&mut v, req.as_of.as_ref(), req.recorded_before.as_ref());
        let platform = convert::optional_name(&mut v, "platform", &req.platform, PlatformRef::parse_name);
        let t = checked(v, t)?;
        let figures = self.liaison.figures(t, platform).await?;
        Ok(Response::new(convert::statistics_out(&figures, t)))
    }
}

/// The filters of a ListNotices call, as its page tokens are bound to them.
#[derive(serde::Serialize)]
struct NoticesFilter<'a> {
    platform: &'a str,
    kind: i32,
    status: i32,
    overdue: bool,
    as_of: Option<(i64, i32)>,
    served_after: Option<(i64, i32)>,
    served_before: Option<(i64, i32)>,
}
