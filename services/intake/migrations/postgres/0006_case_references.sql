-- Reference numbers people can say on the phone (DOX-2019-004122): counted per year from 1, taken
-- from a counter row in the case's own write transaction (its row lock orders replicas). Cases
-- recorded before references are numbered here in the order they were received, in years of Hong
-- Kong time, under the default prefix.
CREATE TABLE reference_counters (
    series       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    last_number  BIGINT NOT NULL,
    PRIMARY KEY (series, year)
);

ALTER TABLE cases ADD COLUMN reference TEXT;

UPDATE cases SET reference = n.reference
FROM (
    SELECT id,
           'DOX-' || EXTRACT(YEAR FROM received_at AT TIME ZONE 'Asia/Hong_Kong')::INTEGER || '-' ||
           lpad((ROW_NUMBER() OVER (
               PARTITION BY EXTRACT(YEAR FROM received_at AT TIME ZONE 'Asia/Hong_Kong')
               ORDER BY received_at, id
           ))::TEXT, 6, '0') AS reference
    FROM cases
) n
WHERE n.id = cases.id;

INSERT INTO reference_counters (series, year, last_number)
SELECT 'cases', EXTRACT(YEAR FROM received_at AT TIME ZONE 'Asia/Hong_Kong')::INTEGER, COUNT(*)
FROM cases
GROUP BY 2;

CREATE UNIQUE INDEX cases_reference ON cases (reference);
