//! `doxwatch.ops.v1.OutboxService`, served by every service over its own outbox.

use doxwatch_proto::ops::{self as pb, outbox_service_server::OutboxService};
use time::OffsetDateTime;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use crate::{
    db::{Db, Ts},
    error::{self, FieldViolations},
    on_pool, page, timestamp,
};

pub struct OutboxApi {
    db: Db,
    service: &'static str,
}

impl OutboxApi {
    pub fn new(db: Db, service: &'static str) -> Self {
        Self { db, service }
    }
}

#[tonic::async_trait]
impl OutboxService for OutboxApi {
    async fn get_outbox_status(
        &self,
        _request: Request<pb::GetOutboxStatusRequest>,
    ) -> Result<Response<pb::OutboxStatus>, Status> {
        let status = super::status(&self.db).await.map_err(|e| error::internal(&e))?;
        let age = status.oldest_pending.map(|t| {
            let age = (OffsetDateTime::now_utc() - t).max(time::Duration::ZERO);
            prost_types::Duration { seconds: age.whole_seconds(), nanos: age.subsec_nanoseconds() }
        });
        Ok(Response::new(pb::OutboxStatus {
            service: self.service.to_owned(),
            pending: status.pending,
            oldest_pending_age: age,
            rejected: status.rejected,
            delivered: status.delivered,
        }))
    }

    async fn list_rejected_effects(
        &self,
        request: Request<pb::ListRejectedEffectsRequest>,
    ) -> Result<Response<pb::ListRejectedEffectsResponse>, Status> {
        let req = request.into_inner();
        let mut v = FieldViolations::new();
        let limit = v.check("page_size", page::page_size(req.page_size, 50, 500));
        let before = v.check("page_token", page::decode_token::<i64>(&req.page_token, "rejected")).flatten();
        let Some(limit) = limit.filter(|_| v.is_empty()) else {
            return Err(error::invalid_argument(&v));
        };
        if !self.db.keeps_outbox() {
            return Ok(Response::new(pb::ListRejectedEffectsResponse::default()));
        }
        type Row = (i64, Uuid, String, String, String, Option<String>, i32, Ts, Option<Ts>);
        let rows: Vec<Row> = on_pool!(self.db.read(), p => {
            sqlx::query_as(
                "SELECT seq, id, peer, method, ordering_key, last_error, attempts, create_time, done_time FROM outbox \
                 WHERE state = 3 AND seq < $1 ORDER BY seq DESC LIMIT $2",
            )
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit) + 1)
            .fetch_all(p)
            .await
            .map_err(|e| error::internal(&e))?
        });
        let more = rows.len() > limit as usize;
        let rows: Vec<Row> = rows.into_iter().take(limit as usize).collect();
        let next_page_token = match rows.last() {
            Some(last) if more => page::encode_token("rejected", &last.0),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListRejectedEffectsResponse {
            effects: rows
                .into_iter()
                .map(|(_, id, peer, method, key, error, attempts, created, done)| pb::RejectedEffect {
                    id: id.to_string(),
                    peer,
                    method,
                    key,
                    error: error.unwrap_or_default(),
                    attempts,
                    create_time: Some(timestamp::to_proto(created.0)),
                    reject_time: done.map(|t| timestamp::to_proto(t.0)),
                })
                .collect(),
            next_page_token,
        }))
    }
}
