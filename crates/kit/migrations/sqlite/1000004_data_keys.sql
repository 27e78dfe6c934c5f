-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- The data keys personal data is sealed with (see crates/kit/src/sealing.rs), each wrapped by the
-- service's key-encryption key, which is never stored here. purpose: 'seal' (AES-256-GCM; the
-- newest seals new values) or 'index' (the HMAC-SHA256 key of blind indexes).
CREATE TABLE IF NOT EXISTS data_keys (
    id           INTEGER PRIMARY KEY,
    purpose      TEXT NOT NULL,
    wrapped      BLOB NOT NULL,
    create_time  TEXT NOT NULL
);
