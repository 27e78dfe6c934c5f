-- Answers kept for request ids are deleted after their retention (request_id_retention_hours): an
-- index on when each was recorded keeps the sweep from reading the whole table.
CREATE INDEX IF NOT EXISTS idempotency_keys_recorded ON idempotency_keys (recorded_at);
