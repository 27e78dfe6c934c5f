-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Reference numbers people can say on the phone (REF-2019-000116): counted per year from 1, taken
-- from a counter row in the referral's own write transaction. Referrals made before references are
-- numbered here in the order they were made, in years of Hong Kong time (UTC+8, as it has been
-- since 1979), under the default prefix.
CREATE TABLE reference_counters (
    series       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    last_number  BIGINT NOT NULL,
    PRIMARY KEY (series, year)
);

ALTER TABLE referrals ADD COLUMN reference TEXT;

UPDATE referrals SET reference = (
    SELECT 'REF-' || n.year || '-' || printf('%06d', n.number)
    FROM (
        SELECT id,
               CAST(strftime('%Y', datetime(substr(referred_at, 1, 19), '+8 hours')) AS INTEGER) AS year,
               ROW_NUMBER() OVER (
                   PARTITION BY strftime('%Y', datetime(substr(referred_at, 1, 19), '+8 hours'))
                   ORDER BY referred_at, id
               ) AS number
        FROM referrals
    ) n
    WHERE n.id = referrals.id
);

INSERT INTO reference_counters (series, year, last_number)
SELECT 'referrals', CAST(strftime('%Y', datetime(substr(referred_at, 1, 19), '+8 hours')) AS INTEGER), COUNT(*)
FROM referrals
GROUP BY 2;

CREATE UNIQUE INDEX referrals_reference ON referrals (reference);
