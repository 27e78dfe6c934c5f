-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Situation reports as published: the figures (whole numbers by name, never text) and the moment
-- they were computed for, with who published them and when.
CREATE TABLE publications (
    id               BLOB PRIMARY KEY,
    reference        TEXT NOT NULL,
    as_of            TEXT NOT NULL,
    recorded_before  TEXT NOT NULL,
    figures          TEXT NOT NULL,          -- JSON array of [name, value]
    published_by     TEXT NOT NULL,
    publish_time     TEXT NOT NULL
);
CREATE UNIQUE INDEX publications_reference ON publications (reference);
