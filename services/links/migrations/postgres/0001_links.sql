-- Platforms and their domains, channels and their status history, links with their sightings
-- (which cases cite them, when they were seen), removal requests and observations. Everything a
-- figure "as at" a moment depends on is append-only and carries both business and record time.

CREATE TABLE platforms (
    id            UUID PRIMARY KEY,
    display_name  TEXT NOT NULL,
    kind          SMALLINT NOT NULL,
    registry_key  TEXT UNIQUE,
    create_time   TIMESTAMPTZ NOT NULL,
    update_time   TIMESTAMPTZ NOT NULL
);

CREATE TABLE platform_domains (
    domain       TEXT PRIMARY KEY,
    platform_id  UUID NOT NULL REFERENCES platforms (id),
    added_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX platform_domains_platform ON platform_domains (platform_id);

CREATE TABLE channels (
    id           UUID PRIMARY KEY,
    platform_id  UUID NOT NULL REFERENCES platforms (id),
    handle       TEXT NOT NULL,
    url          TEXT NOT NULL,
    create_time  TIMESTAMPTZ NOT NULL,
    UNIQUE (platform_id, handle)
);

CREATE TABLE channel_statuses (
    id            UUID PRIMARY KEY,
    channel_id    UUID NOT NULL REFERENCES channels (id),
    status        SMALLINT NOT NULL,
    effective_at  TIMESTAMPTZ NOT NULL,
    source        TEXT NOT NULL,
    recorded_by   TEXT NOT NULL,
    record_time   TIMESTAMPTZ NOT NULL
);
CREATE INDEX channel_statuses_channel ON channel_statuses (channel_id, effective_at);

CREATE TABLE links (
    id             UUID PRIMARY KEY,
    reported_url   TEXT NOT NULL,
    canonical_url  TEXT NOT NULL UNIQUE,
    platform_id    UUID NOT NULL REFERENCES platforms (id),
    channel_id     UUID REFERENCES channels (id),
    message_id     TEXT,
    create_time    TIMESTAMPTZ NOT NULL
);
CREATE INDEX links_platform ON links (platform_id, id);
CREATE INDEX links_channel ON links (channel_id, id);

-- Each time a link was seen, and by which case ('' when no case cites it).
CREATE TABLE link_sightings (
    link_id      UUID NOT NULL REFERENCES links (id),
    case_name    TEXT NOT NULL,
    seen_at      TIMESTAMPTZ NOT NULL,
    record_time  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (link_id, case_name, seen_at)
);
CREATE INDEX link_sightings_case ON link_sightings (case_name, link_id);
CREATE INDEX link_sightings_seen ON link_sightings (seen_at, link_id);

CREATE TABLE removal_requests (
    notice       TEXT NOT NULL,
    link_id      UUID NOT NULL REFERENCES links (id),
    served_at    TIMESTAMPTZ NOT NULL,
    record_time  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (notice, link_id)
);
CREATE INDEX removal_requests_link ON removal_requests (link_id, served_at);

CREATE TABLE observations (
    id           UUID PRIMARY KEY,
    link_id      UUID NOT NULL REFERENCES links (id),
    status       SMALLINT NOT NULL,
    observed_at  TIMESTAMPTZ NOT NULL,
    vantage      SMALLINT NOT NULL,
    source       SMALLINT NOT NULL,
    note         TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    record_time  TIMESTAMPTZ NOT NULL
);
CREATE INDEX observations_link ON observations (link_id, observed_at);

CREATE TABLE idempotency_keys (
    request_id    TEXT PRIMARY KEY,
    request_hash  BYTEA NOT NULL,
    response      BYTEA NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
