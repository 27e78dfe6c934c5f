-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- The audit log every service keeps, owned by the kit (see crates/kit/src/audit.rs). audit_head is
-- one row: the sequence and hash of the latest record. Appending locks it, so records chain in
-- commit order and the sequence has no gaps.
CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_records (
    seq          INTEGER PRIMARY KEY,
    recorded_at  TEXT NOT NULL,
    identity     TEXT NOT NULL,
    officer      TEXT NOT NULL,
    method       TEXT NOT NULL,
    access       INTEGER NOT NULL,     -- 1 read, 2 write, 3 denied
    resources    TEXT NOT NULL,         -- resource names, one per line
    fields       TEXT NOT NULL,         -- personal-data fields, one per line
    purpose      TEXT NOT NULL,
    peer         TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    prev_hash    BLOB NOT NULL,
    hash         BLOB NOT NULL
);
CREATE INDEX audit_records_officer ON audit_records (officer, seq);
CREATE INDEX audit_records_time ON audit_records (recorded_at, seq);

-- Which records name a resource: the data subject's question "who looked at my case".
CREATE TABLE audit_resources (
    resource  TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (resource, seq)
);

CREATE TABLE audit_checkpoints (
    record_count  INTEGER PRIMARY KEY,
    head_hash     BLOB NOT NULL,
    signed_at     TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    signature     BLOB NOT NULL
);
