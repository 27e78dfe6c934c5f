-- Evidence captures (the bytes live in the blob store under their SHA-256), their append-only
-- custody log, and the rechecker's claims: when each link is next due and which replica holds it.

CREATE TABLE evidence_captures (
    id           UUID PRIMARY KEY,
    link_id      UUID NOT NULL REFERENCES links (id),
    sha256       TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    media_type   TEXT NOT NULL,
    captured_at  TIMESTAMPTZ NOT NULL,
    captured_by  TEXT NOT NULL,
    note         TEXT NOT NULL,
    record_time  TIMESTAMPTZ NOT NULL
);
CREATE INDEX evidence_captures_link ON evidence_captures (link_id, captured_at);
CREATE INDEX evidence_captures_evidence ON evidence_captures (link_id, sha256);

CREATE TABLE custody_events (
    id           UUID PRIMARY KEY,
    link_id      UUID NOT NULL REFERENCES links (id),
    sha256       TEXT NOT NULL,
    kind         SMALLINT NOT NULL,          -- 1 captured, 2 fetched, 3 integrity failure
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    occurred_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX custody_events_evidence ON custody_events (link_id, sha256, occurred_at);

-- One row per link the rechecker knows; a link without a row is due at once.
CREATE TABLE recheck_claims (
    link_id               UUID PRIMARY KEY REFERENCES links (id),
    next_due_at           TIMESTAMPTZ NOT NULL,
    claimed_by            TEXT,
    claimed_until         TIMESTAMPTZ,
    consecutive_failures  INTEGER NOT NULL,
    last_checked_at       TIMESTAMPTZ
);
CREATE INDEX recheck_claims_due ON recheck_claims (next_due_at);
