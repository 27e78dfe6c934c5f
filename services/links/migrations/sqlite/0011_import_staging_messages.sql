-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- An ImportLinks stream is staged a message at a time: one row holds the registrations of one
-- message, encoded (`store::imports`), at the stream position of its first registration. The
-- merge reads back a few rows, not one per registration; everything else is as before (see
-- `0005_import_staging`). Staged rows of an import still arriving are dropped with the old table:
-- a stream that spans the server's restart is broken anyway, and registers nothing.
DROP TABLE import_staging;
CREATE TABLE import_staging (
    import_id      BLOB NOT NULL,
    position       INTEGER NOT NULL,
    registrations  BLOB NOT NULL,
    stage_time     TEXT NOT NULL,
    PRIMARY KEY (import_id, position)
);
CREATE INDEX import_staging_stage_time ON import_staging (stage_time);
