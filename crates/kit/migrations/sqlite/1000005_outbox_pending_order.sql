-- The relay claims the first due messages in the order they were written. With this index it
-- walks the pending messages in that order and stops at the batch it wants; before it, SQLite read
-- every due message through (state, next_attempt_at) and sorted them all on every claim, so a
-- backlog made each claim slower, on the one writer the service's own requests wait for.
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (state, seq);
