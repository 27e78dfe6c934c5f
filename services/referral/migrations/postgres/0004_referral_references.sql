-- Reference numbers people can say on the phone (REF-2019-000116): counted per year from 1, taken
-- from a counter row in the referral's own write transaction (its row lock orders replicas).
-- Referrals made before references are numbered here in the order they were made, in years of
-- Hong Kong time, under the default prefix.
CREATE TABLE reference_counters (
    series       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    last_number  BIGINT NOT NULL,
    PRIMARY KEY (series, year)
);

ALTER TABLE referrals ADD COLUMN reference TEXT;

UPDATE referrals SET reference = n.reference
FROM (
    SELECT id,
           'REF-' || EXTRACT(YEAR FROM referred_at AT TIME ZONE 'Asia/Hong_Kong')::INTEGER || '-' ||
           lpad((ROW_NUMBER() OVER (
               PARTITION BY EXTRACT(YEAR FROM referred_at AT TIME ZONE 'Asia/Hong_Kong')
               ORDER BY referred_at, id
           ))::TEXT, 6, '0') AS reference
    FROM referrals
) n
WHERE n.id = referrals.id;

INSERT INTO reference_counters (series, year, last_number)
SELECT 'referrals', EXTRACT(YEAR FROM referred_at AT TIME ZONE 'Asia/Hong_Kong')::INTEGER, COUNT(*)
FROM referrals
GROUP BY 2;

CREATE UNIQUE INDEX referrals_reference ON referrals (reference);
