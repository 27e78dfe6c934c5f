-- Reference numbers people can say on the phone (NTC-2019-000311): counted per year from 1, taken
-- from a counter row in the notice's own write transaction (its row lock orders replicas).
-- Notices drafted before references are numbered here in the order they were drafted, in years of
-- Hong Kong time, under the default prefix.
CREATE TABLE reference_counters (
    series       TEXT NOT NULL,
    year         INTEGER NOT NULL,
    last_number  BIGINT NOT NULL,
    PRIMARY KEY (series, year)
);

ALTER TABLE notices ADD COLUMN reference TEXT;

UPDATE notices SET reference = n.reference
FROM (
    SELECT id,
           'NTC-' || EXTRACT(YEAR FROM create_time AT TIME ZONE 'Asia/Hong_Kong')::INTEGER || '-' ||
           lpad((ROW_NUMBER() OVER (
               PARTITION BY EXTRACT(YEAR FROM create_time AT TIME ZONE 'Asia/Hong_Kong')
               ORDER BY create_time, id
           ))::TEXT, 6, '0') AS reference
    FROM notices
) n
WHERE n.id = notices.id;

INSERT INTO reference_counters (series, year, last_number)
SELECT 'notices', EXTRACT(YEAR FROM create_time AT TIME ZONE 'Asia/Hong_Kong')::INTEGER, COUNT(*)
FROM notices
GROUP BY 2;

CREATE UNIQUE INDEX notices_reference ON notices (reference);
