-- The answers kept for request ids (see crates/kit/src/idempotency.rs), owned by the kit. Stores made
-- before the kit shipped the table have it from their service's own first migration, so it is
-- created only where missing.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    request_id    TEXT PRIMARY KEY,
    request_hash  BYTEA NOT NULL,
    response      BYTEA NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL
);
-- Answers are deleted after their retention (request_id_retention_hours): an index on when each was
-- recorded keeps the sweep from reading the whole table.
CREATE INDEX IF NOT EXISTS idempotency_keys_recorded ON idempotency_keys (recorded_at);
