-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Which cases cite each link, one row per (link, case), and how many cite it: a link stays the
-- same size however many cases cite it. Its citing cases are read a page at a time
-- (ListLinkCitations) and counted from `links.case_count`, kept in the same transaction as the
-- citation, so no answer reads every citation of a popular link.
CREATE TABLE link_citations (
    link_id      BLOB NOT NULL REFERENCES links (id),
    case_name    TEXT NOT NULL,
    record_time  TEXT NOT NULL,
    PRIMARY KEY (link_id, case_name)
);

ALTER TABLE links ADD COLUMN case_count INTEGER NOT NULL DEFAULT 0;

INSERT INTO link_citations (link_id, case_name, record_time)
    SELECT link_id, case_name, MIN(record_time) FROM link_sightings WHERE case_name <> '' GROUP BY link_id, case_name;
UPDATE links SET case_count = (SELECT COUNT(*) FROM link_citations c WHERE c.link_id = links.id);

-- A link's first sighting by a seek rather than a scan of every sighting of the link.
CREATE INDEX link_sightings_first ON link_sightings (link_id, seen_at);
