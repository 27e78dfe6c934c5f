//! `doxwatch.ops.v1.AuditService`: the log for auditors and supervisors, filtered and paged, with
//! each record's flags for a supervisor's review.

use doxwatch_proto::ops::{self as pb, AuditAccess, AuditCheckpoint, AuditRecord, audit_service_server::AuditService};
use tonic::{Request, Response, Status};

use super::{
    Access, BREAK_GLASS, REDACTED,
    checkpoint::{AuditLog, CheckpointRow, IntoCheckpoint},
};
use crate::{
    db::Ts,
    error::{Error, FieldViolations},
    on_pool, page, timestamp,
};

const DEFAULT_PAGE_SIZE: u32 = 100;
pub(super) const MAX_PAGE_SIZE: u32 = 1000;

/// `doxwatch.ops.v1.AuditService`, served by every service for its own log.
#[derive(Clone)]
pub struct AuditApi {
    log: AuditLog,
}

impl AuditApi {
    pub fn new(log: AuditLog) -> Self {
        Self { log }
    }
}

#[derive(serde::Serialize)]
struct RecordFilter<'a> {
    officer: &'a str,
    resource: &'a str,
    after: Option<(i64, i32)>,
    before: Option<(i64, i32)>,
    access: i32,
    flagged: bool,
}

/// Resources one read must give for it to be flagged as a bulk read.
pub const BULK_READ: usize = 50;

/// A record's flags for a supervisor's review.
fn flags_of(access: AuditAccess, resources: usize, outcome: &str) -> Vec<String> {
    let mut flags = Vec::new();
    if outcome == BREAK_GLASS {
        flags.push("BREAK_GLASS".to_owned());
    }
    if outcome == REDACTED {
        flags.push("OUTSIDE_TEAM".to_owned());
    }
    if access == AuditAccess::Read && resources >= BULK_READ {
        flags.push("BULK_READ".to_owned());
    }
    flags
}

/// Reads of other teams' cases (redacted or whole) one officer may make in a day before each
/// further one is flagged `MANY_OUTSIDE_TEAM`.
pub const OUTSIDE_TEAM_PER_DAY: usize = 20;

impl AuditApi {
    /// Flags `MANY_OUTSIDE_TEAM` on each of `records` that is an officer's read of another team's
    /// case made when that officer had made [`OUTSIDE_TEAM_PER_DAY`] or more such reads in the 24
    /// hours up to it. One query per officer on the page, over the times the page spans.
    async fn flag_many_outside_team(&self, records: &mut [AuditRecord]) -> Result<(), sqlx::Error> {
        let outside = |r: &AuditRecord| !r.officer_id.is_empty() && (r.outcome == BREAK_GLASS || r.outcome == REDACTED);
        let at = |r: &AuditRecord| r.record_time.as_ref().and_then(|t| timestamp::from_proto(t).ok());
        let mut officers: Vec<String> = records.iter().filter(|r| outside(r)).map(|r| r.officer_id.clone()).collect();
        officers.sort();
        officers.dedup();
        for officer in officers {
            let times: Vec<time::OffsetDateTime> =
                records.iter().filter(|r| outside(r) && r.officer_id == officer).filter_map(at).collect();
            let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) else { continue };
            let since = *first - time::Duration::days(1);
            let seen: Vec<(Ts,)> = on_pool!(self.log.db.read(), p => {
                sqlx::query_as(
                    "SELECT recorded_at FROM audit_records WHERE officer = $1 AND outcome IN ($2, $3) \
                     AND recorded_at > $4 AND recorded_at <= $5 ORDER BY recorded_at",
                )
                .bind(&officer)
                .bind(BREAK_GLASS)
                .bind(REDACTED)
                .bind(Ts(since))
                .bind(Ts(*last))
                .fetch_all(p)
                .await?
            });
            let seen: Vec<time::OffsetDateTime> = seen.into_iter().map(|(t,)| t.0).collect();
            for record in records.iter_mut().filter(|r| outside(r) && r.officer_id == officer) {
                let Some(t) = at(record) else { continue };
                let day = seen.partition_point(|s| *s <= t - time::Duration::days(1));
                let upto = seen.partition_point(|s| *s <= t);
                if upto.saturating_sub(day) > OUTSIDE_TEAM_PER_DAY {
                    record.flags.push("MANY_OUTSIDE_TEAM".to_owned());
                }
            }
        }
        Ok(())
    }
}

type RecordRow = (i64, Ts, String, String, String, i16, String, String, String, String, String, Vec<u8>, Vec<u8>);

fn record_from_row(row: RecordRow) -> AuditRecord {
    let lines = |s: String| if s.is_empty() { Vec::new() } else { s.split('\n').map(str::to_owned).collect() };
    let access = match Access::from_code(row.5) {
        Some(Access::Read) => AuditAccess::Read,
        Some(Access::Write) => AuditAccess::Write,
        Some(Access::Denied) => AuditAccess::Denied,
        None => AuditAccess::Unspecified,
    };
    let resources = lines(row.6);
    let flags = flags_of(access, resources.len(), &row.10);
    AuditRecord {
        sequence: row.0,
        record_time: Some(timestamp::to_proto(row.1.0)),
        identity: row.2,
        officer_id: row.3,
        method: row.4,
        access: access as i32,
        resources,
        fields: lines(row.7),
        purpose: row.8,
        peer_address: row.9,
        outcome: row.10,
        previous_hash: row.11,
        hash: row.12,
        flags,
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_records(
        &self,
        request: Request<pb::ListAuditRecordsRequest>,
    ) -> Result<Response<pb::ListAuditRecordsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let after_time = crate::validate::optional_time(&mut v, "recorded_after", req.recorded_after.as_ref());
        let before_time = crate::validate::optional_time(&mut v, "recorded_before", req.recorded_before.as_ref());
        let access = match AuditAccess::try_from(req.access) {
            Ok(AuditAccess::Unspecified) => None,
            Ok(a) => Some(a as i32 as i16),
            Err(_) => {
                v.add("access", format!("{} is not an AuditAccess", req.access));
                None
            }
        };
        for (field, value) in [("officer_id", &req.officer_id), ("resource", &req.resource)] {
            if value.len() > 256 {
                v.add(field, "must be at most 256 characters");
            }
        }
        let filter = RecordFilter {
            officer: &req.officer_id,
            resource: &req.resource,
            after: page::instant(req.recorded_after.as_ref()),
            before: page::instant(req.recorded_before.as_ref()),
            access: req.access,
            flagged: req.flagged,
        };
        let fingerprint = page::filter_fingerprint(&filter);
        let cursor = v.check("page_token", page::decode_token::<i64>(&req.page_token, &fingerprint)).flatten();
        let Some(limit) = limit.filter(|_| v.is_empty()) else {
            return Err(crate::error::invalid_argument(&v));
        };
        let officer = Some(req.officer_id.as_str()).filter(|s| !s.is_empty());
        let resource = Some(req.resource.as_str()).filter(|s| !s.is_empty());
        let rows: Vec<RecordRow> = on_pool!(self.log.db.read(), p => {
            sqlx::query_as(
                "SELECT seq, recorded_at, identity, officer, method, access, resources, fields, purpose, peer, \
                 outcome, prev_hash, hash FROM audit_records \
                 WHERE seq > $1 AND ($2 IS NULL OR officer = $2) \
                 AND ($3 IS NULL OR seq IN (SELECT seq FROM audit_resources WHERE resource = $3)) \
                 AND ($4 IS NULL OR recorded_at >= $4) AND ($5 IS NULL OR recorded_at < $5) \
                 AND ($6 IS NULL OR access = $6) \
                 AND ($8 = 0 OR outcome IN ('BREAK_GLASS', 'REDACTED') \
                      OR (access = 1 AND (SELECT COUNT(*) FROM audit_resources r WHERE r.seq = audit_records.seq) >= $9)) \
                 ORDER BY seq LIMIT $7",
            )
            .bind(cursor.unwrap_or(0))
            .bind(officer)
            .bind(resource)
            .bind(after_time.map(Ts))
            .bind(before_time.map(Ts))
            .bind(access)
            .bind(i64::from(limit) + 1)
            .bind(i32::from(req.flagged))
            .bind(BULK_READ as i64)
            .fetch_all(p)
            .await
            .map_err(|e| Status::from(Error::from(e)))?
        });
        let more = rows.len() > limit as usize;
        let mut records: Vec<AuditRecord> = rows.into_iter().take(limit as usize).map(record_from_row).collect();
        self.flag_many_outside_team(&mut records).await.map_err(|e| Status::from(Error::from(e)))?;
        let next_page_token = match records.last() {
            Some(last) if more => page::encode_token(&fingerprint, &last.sequence),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListAuditRecordsResponse { records, next_page_token }))
    }

    async fn list_audit_checkpoints(
        &self,
        request: Request<pb::ListAuditCheckpointsRequest>,
    ) -> Result<Response<pb::ListAuditCheckpointsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE));
        let fingerprint = page::filter_fingerprint(&"checkpoints");
        let cursor = v.check("page_token", page::decode_token::<i64>(&req.page_token, &fingerprint)).flatten();
        let Some(limit) = limit.filter(|_| v.is_empty()) else {
            return Err(crate::error::invalid_argument(&v));
        };
        let rows: Vec<CheckpointRow> = on_pool!(self.log.db.read(), p => {
            sqlx::query_as(
                "SELECT record_count, head_hash, signed_at, key_id, signature FROM audit_checkpoints \
                 WHERE record_count > $1 ORDER BY record_count LIMIT $2",
            )
            .bind(cursor.unwrap_or(-1))
            .bind(i64::from(limit) + 1)
            .fetch_all(p)
            .await
            .map_err(|e| Status::from(Error::from(e)))?
        });
        let more = rows.len() > limit as usize;
        let checkpoints: Vec<AuditCheckpoint> =
            rows.into_iter().take(limit as usize).map(|r| r.into_proto(self.log.service)).collect();
        let next_page_token = match checkpoints.last() {
            Some(last) if more => page::encode_token(&fingerprint, &last.record_count),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListAuditCheckpointsResponse { checkpoints, next_page_token }))
    }

    async fn sign_audit_checkpoint(
        &self,
        _request: Request<pb::SignAuditCheckpointRequest>,
    ) -> Result<Response<AuditCheckpoint>, Status> {
        Ok(Response::new(self.log.checkpoint().await?))
    }
}
