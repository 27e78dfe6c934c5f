-- Assessments of cases, referrals with their frozen evidence bundle and their timeline, and the
-- per-agency feed the agencies watch. Nothing here is overwritten: an assessment is superseded by
-- the next one of its case, and a referral's status is derived from its timeline.

-- `position` numbers a case's assessments 1, 2, ...; each supersedes the one before it.
CREATE TABLE assessments (
    id                         UUID PRIMARY KEY,
    case_name                  TEXT NOT NULL,
    position                   INTEGER NOT NULL,
    disclosed_without_consent  BOOLEAN NOT NULL,
    intent_or_recklessness     SMALLINT NOT NULL,
    harms_intended             TEXT NOT NULL,        -- comma-separated intake Harm numbers
    harm_caused                TEXT NOT NULL,
    hong_kong_nexus            SMALLINT NOT NULL,
    discloser                  SMALLINT NOT NULL,
    legal_basis                TEXT NOT NULL,        -- comma-separated LegalBasis numbers
    decision                   SMALLINT NOT NULL,
    reason                     TEXT NOT NULL,
    assessor                   TEXT NOT NULL,
    assessed_at                TIMESTAMPTZ NOT NULL,
    case_received_at           TIMESTAMPTZ NOT NULL,         -- intake's, when the case was assessed
    create_time                TIMESTAMPTZ NOT NULL,
    UNIQUE (case_name, position)
);

CREATE TABLE referrals (
    id                UUID PRIMARY KEY,
    case_name         TEXT NOT NULL,
    assessment_id     UUID NOT NULL REFERENCES assessments (id),
    agency            TEXT NOT NULL,
    referred_at       TIMESTAMPTZ NOT NULL,
    summary           TEXT NOT NULL,
    case_received_at  TIMESTAMPTZ NOT NULL,
    created_by        TEXT NOT NULL,
    create_time       TIMESTAMPTZ NOT NULL
);
CREATE INDEX referrals_case ON referrals (case_name);
CREATE INDEX referrals_agency ON referrals (agency, id);

-- The evidence bundle, one row per link, as link-tracking knew it at referral time.
CREATE TABLE referral_links (
    referral_id      UUID NOT NULL REFERENCES referrals (id),
    position         INTEGER NOT NULL,
    link             TEXT NOT NULL,
    canonical_url    TEXT NOT NULL,
    status           SMALLINT NOT NULL,
    evidence_sha256  TEXT NOT NULL,                  -- comma-separated lowercase hex
    PRIMARY KEY (referral_id, position)
);

-- The timeline. A valid timeline never reaches a status twice, so the key also stops two
-- replicas recording the same delivery, acknowledgement or outcome.
CREATE TABLE referral_events (
    id                UUID PRIMARY KEY,
    referral_id       UUID NOT NULL REFERENCES referrals (id),
    status            SMALLINT NOT NULL,
    occurred_at       TIMESTAMPTZ NOT NULL,
    record_time       TIMESTAMPTZ NOT NULL,
    actor             TEXT NOT NULL,
    agency_reference  TEXT NOT NULL,
    offence           TEXT NOT NULL,
    sentence          TEXT NOT NULL,
    reason            TEXT NOT NULL,
    note              TEXT NOT NULL,
    UNIQUE (referral_id, status)
);

-- Each agency's feed, in seq order. Entries of one agency are written under a per-agency lock,
-- so that seq order is commit order and a watcher that has read up to a seq never misses an
-- earlier one.
CREATE TABLE referral_feed (
    seq          BIGSERIAL PRIMARY KEY,
    agency       TEXT NOT NULL,
    referral_id  UUID NOT NULL REFERENCES referrals (id),
    kind         SMALLINT NOT NULL,                  -- 1 referred, 2 withdrawn
    record_time  TIMESTAMPTZ NOT NULL
);
CREATE INDEX referral_feed_agency ON referral_feed (agency, seq);

CREATE TABLE idempotency_keys (
    request_id    TEXT PRIMARY KEY,
    request_hash  BYTEA NOT NULL,
    response      BYTEA NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
