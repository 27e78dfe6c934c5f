//! The referral service's late records (see [`doxwatch_kit::late_records`]): assessments,
//! referrals and the events of referrals after the first (delivered, acknowledged, an outcome,
//! withdrawn; status 1, PENDING, is the referral itself) at or before `$1` in business time and
//! recorded at or after `$2`, each with who recorded it.

pub const LATE_RECORDS: doxwatch_kit::late_records::LateRecordsQuery = "\
    SELECT r.kind, r.id, r.parent, r.reference, r.business_time, r.record_time, r.recorded_by FROM ( \
      SELECT 12 AS kind, a.id AS id, a.id AS parent, '' AS reference, a.assessed_at AS business_time, \
             a.create_time AS record_time, a.assessor AS recorded_by \
      FROM assessments a WHERE a.assessed_at <= $1 AND a.create_time >= $2 \
      UNION ALL \
      SELECT 13, f.id, f.id, COALESCE(f.reference, ''), f.referred_at, f.create_time, f.created_by \
      FROM referrals f WHERE f.referred_at <= $1 AND f.create_time >= $2 \
      UNION ALL \
      SELECT 14, e.id, e.referral_id, COALESCE(f.reference, ''), e.occurred_at, e.record_time, e.actor \
      FROM referral_events e JOIN referrals f ON f.id = e.referral_id \
      WHERE e.status <> 1 AND e.occurred_at <= $1 AND e.record_time >= $2 \
    ) r ORDER BY r.record_time, r.kind, r.id, r.parent LIMIT $3 OFFSET $4";
