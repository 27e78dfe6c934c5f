//! `doxwatch.ops.v1.LateRecordsService`, served by every service over its own records: what was
//! recorded at or after a moment with a business time at or before another, the records that
//! moved a published figure. Each service gives the one query that finds its records; this module
//! checks the request, pages through the answer and names the records.

use doxwatch_proto::ops::{self as pb, late_records_service_server::LateRecordsService};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    db::{Db, Ts},
    error::{self, Error, FieldViolations},
    on_tx, page, timestamp, validate,
};

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;

/// A service's query of its late records. It takes `$1` the `as_of` (business time at or before
/// it), `$2` the `recorded_after` (record time at or after it), `$3` a limit and `$4` an offset,
/// and yields, ordered by `record_time, kind, id, parent` so that pages are stable:
/// `kind` (a [`pb::LateRecordKind`]), `id` and `parent` (UUIDs, see [`record_name`]), `reference`,
/// `business_time`, `record_time` and `recorded_by`.
pub type LateRecordsQuery = &'static str;

#[derive(sqlx::FromRow)]
struct LateRecordRow {
    kind: i32,
    id: Uuid,
    parent: Uuid,
    reference: String,
    business_time: Ts,
    record_time: Ts,
    recorded_by: String,
}

/// The resource a late record of `kind` is, from its `id` and its `parent` (the link an
/// observation is of, the channel a status is of; the record itself otherwise).
pub fn record_name(kind: pb::LateRecordKind, id: Uuid, parent: Uuid) -> String {
    use pb::LateRecordKind as K;
    match kind {
        K::CaseReceived | K::CaseStatusChanged | K::CaseSubjectsChanged => format!("cases/{parent}"),
        K::LinkSeen | K::RemovalRequested => format!("links/{parent}"),
        K::LinkObserved => format!("links/{parent}/observations/{id}"),
        K::ChannelStatus => format!("channels/{parent}"),
        K::NoticeDrafted | K::NoticeServed | K::NoticeReply | K::NoticeChanged => format!("notices/{parent}"),
        K::Assessment => format!("assessments/{parent}"),
        K::Referral | K::ReferralEvent => format!("referrals/{parent}"),
        K::Unspecified => String::new(),
    }
}

/// The late records of one service's store.
pub struct LateRecordsApi {
    db: Db,
    query: LateRecordsQuery,
}

impl LateRecordsApi {
    pub fn new(db: Db, query: LateRecordsQuery) -> Self {
        Self { db, query }
    }

    async fn page(
        &self,
        as_of: OffsetDateTime,
        recorded_after: OffsetDateTime,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<pb::LateRecord>, Error> {
        let mut tx = self.db.begin_read().await?;
        let rows: Vec<LateRecordRow> = on_tx!(&mut tx, c => {
            sqlx::query_as(self.query)
                .bind(Ts(as_of))
                .bind(Ts(recorded_after))
                .bind(i64::from(limit))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(c)
                .await?
        });
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            let kind = pb::LateRecordKind::try_from(row.kind).unwrap_or(pb::LateRecordKind::Unspecified);
            records.push(pb::LateRecord {
                record: record_name(kind, row.id, row.parent),
                reference: row.reference,
                kind: kind as i32,
                business_time: Some(timestamp::to_proto(row.business_time.0)),
                record_time: Some(timestamp::to_proto(row.record_time.0)),
                recorded_by: row.recorded_by,
            });
        }
        Ok(records)
    }
}

#[tonic::async_trait]
impl LateRecordsService for LateRecordsApi {
    async fn list_late_records(
        &self,
        request: Request<pb::ListLateRecordsRequest>,
    ) -> Result<Response<pb::ListLateRecordsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let as_of = validate::required_business_time(&mut v, "as_of", req.as_of.as_ref(), timestamp::now());
        let recorded_after = match req.recorded_after.as_ref() {
            None => {
                v.add("recorded_after", "is required");
                None
            }
            some => validate::optional_time(&mut v, "recorded_after", some),
        };
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint =
            page::filter_fingerprint(&(page::instant(req.as_of.as_ref()), page::instant(req.recorded_after.as_ref())));
        let offset = v.check("page_token", page::decode_offset(&req.page_token, &fingerprint));
        let (Some(as_of), Some(recorded_after), Some(limit), Some(offset)) = (as_of, recorded_after, limit, offset)
        else {
            return Err(error::invalid_argument(&v));
        };
        if !v.is_empty() {
            return Err(error::invalid_argument(&v));
        }
        let mut records = self.page(as_of, recorded_after, offset, limit + 1).await.map_err(Status::from)?;
        let more = records.len() > limit as usize;
        records.truncate(limit as usize);
        let next_page_token = page::next_offset_token(&fingerprint, offset, limit, more);
        Ok(Response::new(pb::ListLateRecordsResponse { records, next_page_token }))
    }
}
