-- SQLite form of the PostgreSQL migration of the same name. SQLite has one writer, so a write
-- adds to shard 0 alone; the table is the same, so that the reads are.
CREATE TABLE link_case_counts (
    link_id  BLOB NOT NULL REFERENCES links (id),
    shard    INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (link_id, shard)
);

INSERT INTO link_case_counts (link_id, shard, n) SELECT id, 0, case_count FROM links WHERE case_count <> 0;

ALTER TABLE links DROP COLUMN case_count;
