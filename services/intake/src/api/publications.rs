//! The gRPC face of publications: a request checked and converted, handed to the service, and
//! the publication converted back.

use doxwatch_kit::{
    actor::Actor,
    error::{self, FieldViolations},
    page,
    timestamp::{self, to_proto},
    validate::{self, request_key},
};
use doxwatch_proto::intake as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    domain::{MAX_FIGURES, NewPublication, Publication, PublicationId, figure_name_problem},
    publications::PublicationKey,
    service::Intake,
};

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 500;

pub fn publication_to_proto(p: &Publication) -> pb::Publication {
    pb::Publication {
        name: p.id.name(),
        reference: p.reference.clone(),
        as_of: Some(to_proto(p.as_of)),
        recorded_before: Some(to_proto(p.recorded_before)),
        figures: p
            .figures
            .iter()
            .map(|(name, value)| pb::PublishedFigure { name: name.clone(), value: *value })
            .collect(),
        publish_time: Some(to_proto(p.publish_time)),
        published_by: p.published_by.clone(),
    }
}

/// A publication as asked for: `as_of` not in the future, `recorded_before` neither (by this
/// server's clock, without the skew business times get: a later record must not fall before it)
/// nor before `as_of`, and figures that are whole numbers by well-formed, distinct names.
fn new_publication(v: &mut FieldViolations, p: Option<&pb::Publication>) -> Option<NewPublication> {
    let Some(p) = p else {
        v.add("publication", "is required");
        return None;
    };
    let now = timestamp::now();
    let as_of = validate::required_business_time(v, "publication.as_of", p.as_of.as_ref(), now);
    let recorded_before = match p.recorded_before.as_ref() {
        None => {
            v.add("publication.recorded_before", "is required");
            None
        }
        Some(ts) => match timestamp::from_proto(ts) {
            Err(why) => {
                v.add("publication.recorded_before", why);
                None
            }
            Ok(r) if r > now => {
                v.add("publication.recorded_before", "must not be in the future: the figures are of what was recorded");
                None
            }
            Ok(r) if as_of.is_some_and(|t| r < t) => {
                v.add("publication.recorded_before", "must not be before as_of");
                None
            }
            Ok(r) => Some(r),
        },
    };
    let figures = figures(v, &p.figures);
    Some(NewPublication { as_of: as_of?, recorded_before: recorded_before?, figures })
}

fn figures(v: &mut FieldViolations, given: &[pb::PublishedFigure]) -> Vec<(String, i64)> {
    if given.is_empty() {
        v.add("publication.figures", "needs at least one figure");
    } else if given.len() > MAX_FIGURES {
        v.add("publication.figures", format!("at most {MAX_FIGURES} figures"));
        return Vec::new();
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, f) in given.iter().enumerate() {
        if let Some(problem) = figure_name_problem(&f.name) {
            v.add(format!("publication.figures[{i}].name"), problem);
        } else if !seen.insert(f.name.as_str()) {
            v.add(format!("publication.figures[{i}].name"), format!("{} is named twice", f.name));
        }
        if f.value < 0 {
            v.add(format!("publication.figures[{i}].value"), "must not be negative");
        }
    }
    given.iter().map(|f| (f.name.clone(), f.value)).collect()
}

pub async fn create(
    intake: &Intake,
    request: Request<pb::CreatePublicationRequest>,
) -> Result<Response<pb::Publication>, Status> {
    let actor = Actor::from_request(&request)?;
    let req = request.into_inner();
    let mut v = FieldViolations::new();
    let key = request_key(&mut v, "CreatePublication", &req.request_id, &req, |r| r.request_id.clear());
    let new = new_publication(&mut v, req.publication.as_ref());
    let Some(new) = new.filter(|_| v.is_empty()) else {
        return Err(error::invalid_argument(&v));
    };
    let publication = intake.create_publication(&actor, new, key, publication_to_proto).await?;
    Ok(Response::new(publication))
}

pub async fn get(
    intake: &Intake,
    request: Request<pb::GetPublicationRequest>,
) -> Result<Response<pb::Publication>, Status> {
    let req = request.into_inner();
    let mut v = FieldViolations::new();
    let by_reference = req.name.strip_prefix("publications/").and_then(doxwatch_kit::reference::normalize);
    let key = match by_reference {
        Some(reference) => PublicationKey::Reference(reference),
        None => match v.check("name", PublicationId::parse_name(&req.name)) {
            Some(id) => PublicationKey::Id(id),
            None => return Err(error::invalid_argument(&v)),
        },
    };
    Ok(Response::new(publication_to_proto(&intake.publication(key).await?)))
}

pub async fn list(
    intake: &Intake,
    request: Request<pb::ListPublicationsRequest>,
) -> Result<Response<pb::ListPublicationsResponse>, Status> {
    let req = request.into_inner();
    let mut v = FieldViolations::new();
    let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
    let fingerprint = page::filter_fingerprint(&"publications");
    let after = v.check("page_token", page::decode_token::<Uuid>(&req.page_token, &fingerprint)).flatten();
    let Some(limit) = limit.filter(|_| v.is_empty()) else {
        return Err(error::invalid_argument(&v));
    };
    let found = intake.publications(after, limit + 1).await?;
    let more = found.len() > limit as usize;
    let page: Vec<&Publication> = found.iter().take(limit as usize).collect();
    let next_page_token = match page.last() {
        Some(last) if more => page::encode_token(&fingerprint, &last.id.0),
        _ => String::new(),
    };
    Ok(Response::new(pb::ListPublicationsResponse {
        publications: page.into_iter().map(publication_to_proto).collect(),
        next_page_token,
    }))
}
