-- A link's count of citing cases moves out of its row into a few counter rows of its own.
-- Every case that cites a link added one to `links.case_count`: a link that every case cites (the
-- forum thread all complaints name) had its row updated by every write in turn, each writer
-- waiting for the one before it, and each update leaving a dead version of the row that every
-- look-up of the link stepped over until it was pruned. A write now adds to one of the link's
-- counter rows (the shard it picks), its row in `links` untouched, and a link's count is the sum
-- of its counter rows (at most one per shard).
CREATE TABLE link_case_counts (
    link_id  UUID NOT NULL REFERENCES links (id),
    shard    SMALLINT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (link_id, shard)
);

INSERT INTO link_case_counts (link_id, shard, n) SELECT id, 0, case_count FROM links WHERE case_count <> 0;

ALTER TABLE links DROP COLUMN case_count;
