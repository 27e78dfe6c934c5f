-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- The registrations of an ImportLinks stream while it arrives. An import is staged here in short
-- transactions, then merged into the links in one transaction once its stream has ended well, so
-- that a refused or broken stream registers nothing, whatever its size, and the server holds no
-- more than a batch of it in memory. Rows of an import whose server died are swept after a day.
CREATE TABLE import_staging (
    import_id   BLOB NOT NULL,
    position    INTEGER NOT NULL,
    url         TEXT NOT NULL,
    case_name   TEXT NOT NULL,
    seen_at     TEXT NOT NULL,
    stage_time  TEXT NOT NULL,
    PRIMARY KEY (import_id, position)
);
CREATE INDEX import_staging_stage_time ON import_staging (stage_time);
