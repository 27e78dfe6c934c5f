-- Cases, their data subjects (versioned, so statistics can be reproduced as recorded at a moment),
-- their timeline (status is derived from it, never overwritten), and request ids.

CREATE TABLE cases (
    id              UUID PRIMARY KEY,
    kind            SMALLINT NOT NULL,
    received_at     TIMESTAMPTZ NOT NULL,
    channel         SMALLINT NOT NULL,
    summary         TEXT NOT NULL,
    reported_urls   TEXT NOT NULL,          -- JSON array of strings, as reported
    complainant     TEXT,                   -- JSON object, personal data
    disclosed_data  TEXT NOT NULL,          -- JSON array of codes
    alleged_harm    TEXT NOT NULL,          -- JSON array of codes
    created_by      TEXT NOT NULL,
    create_time     TIMESTAMPTZ NOT NULL,
    update_time     TIMESTAMPTZ NOT NULL
);
CREATE INDEX cases_received_at ON cases (received_at);
CREATE INDEX cases_kind ON cases (kind, id);

-- Each change of a case's data subjects is a new version; the newest is current.
CREATE TABLE case_subject_versions (
    case_id      UUID NOT NULL REFERENCES cases (id),
    version      INTEGER NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (case_id, version)
);

CREATE TABLE case_subjects (
    case_id          UUID NOT NULL,
    version          INTEGER NOT NULL,
    position         INTEGER NOT NULL,
    display_name     TEXT NOT NULL,           -- personal data
    contact          TEXT,                    -- JSON object, personal data
    category         SMALLINT NOT NULL,
    hong_kong_nexus  SMALLINT NOT NULL,
    PRIMARY KEY (case_id, version, position),
    FOREIGN KEY (case_id, version) REFERENCES case_subject_versions (case_id, version)
);
CREATE INDEX case_subjects_category ON case_subjects (category, case_id);

CREATE TABLE case_events (
    id              UUID PRIMARY KEY,
    case_id         UUID NOT NULL REFERENCES cases (id),
    kind            SMALLINT NOT NULL,
    actor           TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    record_time     TIMESTAMPTZ NOT NULL,
    from_status     SMALLINT NOT NULL,       -- 0 when none
    to_status       SMALLINT NOT NULL,       -- 0 for events that do not change the status
    closure_reason  SMALLINT NOT NULL,
    duplicate_of    UUID,
    note            TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, occurred_at, id);

CREATE TABLE idempotency_keys (
    request_id    TEXT PRIMARY KEY,
    request_hash  BYTEA NOT NULL,
    response      BYTEA NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
