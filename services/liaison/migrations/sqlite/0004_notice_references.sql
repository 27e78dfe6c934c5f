-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Reference numbers people can say on the phone (NTC-2019-000311): counted per year from 1, taken
-- from a counter row in the notice's own write transaction. Notices drafted before references are
-- numbered here in the order they were drafted, in years of Hong Kong time (UTC+8, as it has been
-- since 1979), under the default prefix.
CREATE TABLE reference_counters (
    series       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    last_number  BIGINT NOT NULL,
    PRIMARY KEY (series, year)
);

ALTER TABLE notices ADD COLUMN reference TEXT;

UPDATE notices SET reference = (
    SELECT 'NTC-' || n.year || '-' || printf('%06d', n.number)
    FROM (
        SELECT id,
               CAST(strftime('%Y', datetime(substr(create_time, 1, 19), '+8 hours')) AS INTEGER) AS year,
               ROW_NUMBER() OVER (
                   PARTITION BY strftime('%Y', datetime(substr(create_time, 1, 19), '+8 hours'))
                   ORDER BY create_time, id
               ) AS number
        FROM notices
    ) n
    WHERE n.id = notices.id
);

INSERT INTO reference_counters (series, year, last_number)
SELECT 'notices', CAST(strftime('%Y', datetime(substr(create_time, 1, 19), '+8 hours')) AS INTEGER), COUNT(*)
FROM notices
GROUP BY 2;

CREATE UNIQUE INDEX notices_reference ON notices (reference);
