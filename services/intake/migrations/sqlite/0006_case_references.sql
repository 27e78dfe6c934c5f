-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Reference numbers people can say on the phone (DOX-2019-004122): counted per year from 1, taken
-- from a counter row in the case's own write transaction. Cases recorded before references are
-- numbered here in the order they were received, in years of Hong Kong time (UTC+8, as it has been
-- since 1979), under the default prefix.
CREATE TABLE reference_counters (
    series       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    last_number  BIGINT NOT NULL,
    PRIMARY KEY (series, year)
);

ALTER TABLE cases ADD COLUMN reference TEXT;

UPDATE cases SET reference = (
    SELECT 'DOX-' || n.year || '-' || printf('%06d', n.number)
    FROM (
        SELECT id,
               CAST(strftime('%Y', datetime(substr(received_at, 1, 19), '+8 hours')) AS INTEGER) AS year,
               ROW_NUMBER() OVER (
                   PARTITION BY strftime('%Y', datetime(substr(received_at, 1, 19), '+8 hours'))
                   ORDER BY received_at, id
               ) AS number
        FROM cases
    ) n
    WHERE n.id = cases.id
);

INSERT INTO reference_counters (series, year, last_number)
SELECT 'cases', CAST(strftime('%Y', datetime(substr(received_at, 1, 19), '+8 hours')) AS INTEGER), COUNT(*)
FROM cases
GROUP BY 2;

CREATE UNIQUE INDEX cases_reference ON cases (reference);
