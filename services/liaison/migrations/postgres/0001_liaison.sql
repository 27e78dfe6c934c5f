-- Platform contacts, notices with their items and cases, their timeline (served, closed, ...),
-- and the replies received. Everything a figure "as at" a moment depends on carries business and
-- record time and is never overwritten.

CREATE TABLE platform_contacts (
    platform                 TEXT PRIMARY KEY,
    legal_entity             TEXT NOT NULL,
    jurisdiction             TEXT NOT NULL,
    email                    TEXT NOT NULL,
    postal_address           TEXT NOT NULL,
    web_form_url             TEXT NOT NULL,
    in_app                   TEXT NOT NULL,
    language                 SMALLINT NOT NULL,
    accepted_service_before  BOOLEAN NOT NULL,
    notes                    TEXT NOT NULL,
    update_time              TIMESTAMPTZ NOT NULL,
    updated_by               TEXT NOT NULL
);

CREATE TABLE notices (
    id                 UUID PRIMARY KEY,
    platform           TEXT NOT NULL,
    kind               SMALLINT NOT NULL,
    legal_basis        TEXT NOT NULL,
    channel            TEXT,
    follows            UUID REFERENCES notices (id),
    reminds_kind       SMALLINT,
    deadline_override  TIMESTAMPTZ,
    created_by         TEXT NOT NULL,
    create_time        TIMESTAMPTZ NOT NULL,
    update_time        TIMESTAMPTZ NOT NULL
);
CREATE INDEX notices_platform ON notices (platform, id);

-- Items change only while the notice is a draft.
CREATE TABLE notice_items (
    notice_id  UUID NOT NULL REFERENCES notices (id),
    position   INTEGER NOT NULL,
    link       TEXT NOT NULL,
    action     SMALLINT NOT NULL,
    PRIMARY KEY (notice_id, position)
);
CREATE INDEX notice_items_link ON notice_items (link);

CREATE TABLE notice_cases (
    notice_id  UUID NOT NULL REFERENCES notices (id),
    case_name  TEXT NOT NULL,
    PRIMARY KEY (notice_id, case_name)
);

-- The timeline. A SERVED event carries the service method and the deadline fixed at service.
CREATE TABLE notice_events (
    id              UUID PRIMARY KEY,
    notice_id       UUID NOT NULL REFERENCES notices (id),
    kind            SMALLINT NOT NULL,
    actor           TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    record_time     TIMESTAMPTZ NOT NULL,
    note            TEXT NOT NULL,
    service_method  SMALLINT,
    deadline        TIMESTAMPTZ
);
CREATE INDEX notice_events_notice ON notice_events (notice_id, occurred_at);

-- Replies: one row for the reply as a whole (link = ''), one per item answered.
CREATE TABLE notice_replies (
    id           UUID PRIMARY KEY,
    notice_id    UUID NOT NULL REFERENCES notices (id),
    link         TEXT NOT NULL,
    outcome      SMALLINT NOT NULL,        -- 0 when the whole reply gave no single outcome
    text         TEXT NOT NULL,
    received_at  TIMESTAMPTZ NOT NULL,
    record_time  TIMESTAMPTZ NOT NULL,
    recorded_by  TEXT NOT NULL
);
CREATE INDEX notice_replies_notice ON notice_replies (notice_id, received_at);

CREATE TABLE idempotency_keys (
    request_id    TEXT PRIMARY KEY,
    request_hash  BYTEA NOT NULL,
    response      BYTEA NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
