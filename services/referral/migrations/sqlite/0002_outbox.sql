-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Effects owed to peers (see doxwatch.ops.v1.OutboxService). seq orders messages; a message
-- waits for every earlier pending message with its ordering_key.
CREATE TABLE outbox (
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
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_key ON outbox (ordering_key, state, seq);
