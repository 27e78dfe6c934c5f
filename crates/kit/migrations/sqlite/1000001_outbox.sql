-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- The outbox every service keeps, owned by the kit (see crates/kit/src/outbox). Stores made before
-- the kit shipped it have the table from their service's own 0002_outbox migration, so it is
-- created only where missing. seq orders messages; a message waits for every earlier pending message
-- with its ordering_key.
CREATE TABLE IF NOT EXISTS outbox (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               BLOB NOT NULL UNIQUE,
    peer             TEXT NOT NULL,
    method           TEXT NOT NULL,
    ordering_key     TEXT NOT NULL,
    payload          BLOB NOT NULL,
    trace_context    TEXT NOT NULL,
    state            INTEGER NOT NULL,          -- 1 pending, 2 delivered, 3 rejected
    attempts         INTEGER NOT NULL,
    next_attempt_at  TEXT NOT NULL,
    claimed_by       TEXT,
    claimed_until    TEXT,
    last_error       TEXT,
    create_time      TEXT NOT NULL,
    done_time        TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_key ON outbox (ordering_key, state, seq);
