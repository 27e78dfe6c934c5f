//! Liaison's late records (see [`doxwatch_kit::late_records`]): the events of notices (drafted,
//! served, a reply recorded, closed, reminded, escalated, updated) at or before `$1` in business
//! time and recorded at or after `$2`, each with its actor and its notice's reference. Event kinds
//! 1 CREATED, 3 SERVED and 4 REPLY_RECORDED are late records of their own kind (8, 9, 10); the
//! others are changes (11).

pub const LATE_RECORDS: doxwatch_kit::late_records::LateRecordsQuery = "\
    SELECT r.kind, r.id, r.parent, r.reference, r.business_time, r.record_time, r.recorded_by FROM ( \
      SELECT CASE e.kind WHEN 1 THEN 8 WHEN 3 THEN 9 WHEN 4 THEN 10 ELSE 11 END AS kind, e.id AS id, \
             e.notice_id AS parent, COALESCE(n.reference, '') AS reference, e.occurred_at AS business_time, \
             e.record_time AS record_time, e.actor AS recorded_by \
      FROM notice_events e JOIN notices n ON n.id = e.notice_id \
      WHERE e.occurred_at <= $1 AND e.record_time >= $2 \
    ) r ORDER BY r.record_time, r.kind, r.id, r.parent LIMIT $3 OFFSET $4";
