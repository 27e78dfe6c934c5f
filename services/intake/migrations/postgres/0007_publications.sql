-- Situation reports as published: the figures (whole numbers by name, never text) and the moment
-- they were computed for, with who published them and when. Numbered like cases, in their own
-- counter series ("publications") under the prefix PUB.
CREATE TABLE publications (
    id               UUID PRIMARY KEY,
    reference        TEXT NOT NULL,
    as_of            TIMESTAMPTZ NOT NULL,
    recorded_before  TIMESTAMPTZ NOT NULL,
    figures          TEXT NOT NULL,          -- JSON array of [name, value]
    published_by     TEXT NOT NULL,
    publish_time     TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX publications_reference ON publications (reference);
