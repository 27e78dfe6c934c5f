//! Link-tracking's late records (see [`doxwatch_kit::late_records`]): links seen, observations,
//! removal requests and channel statuses at or before `$1` in business time and recorded at or
//! after `$2`. Sightings and removal requests keep no actor: they arrive from intake and liaison,
//! whose case or notice says who recorded it (the notice is the removal request's reference).

pub const LATE_RECORDS: doxwatch_kit::late_records::LateRecordsQuery = "\
    SELECT r.kind, r.id, r.parent, r.reference, r.business_time, r.record_time, r.recorded_by FROM ( \
      SELECT 4 AS kind, s.link_id AS id, s.link_id AS parent, '' AS reference, s.seen_at AS business_time, \
             s.record_time AS record_time, '' AS recorded_by \
      FROM link_sightings s WHERE s.seen_at <= $1 AND s.record_time >= $2 \
      UNION ALL \
      SELECT 5, o.id, o.link_id, '', o.observed_at, o.record_time, o.recorded_by \
      FROM observations o WHERE o.observed_at <= $1 AND o.record_time >= $2 \
      UNION ALL \
      SELECT 6, q.link_id, q.link_id, q.notice, q.served_at, q.record_time, '' \
      FROM removal_requests q WHERE q.served_at <= $1 AND q.record_time >= $2 \
      UNION ALL \
      SELECT 7, c.id, c.channel_id, '', c.effective_at, c.record_time, c.recorded_by \
      FROM channel_statuses c WHERE c.effective_at <= $1 AND c.record_time >= $2 \
    ) r ORDER BY r.record_time, r.kind, r.id, r.parent, r.reference LIMIT $3 OFFSET $4";
