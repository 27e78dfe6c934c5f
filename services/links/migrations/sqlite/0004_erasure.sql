-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Cases whose personal data intake erased (EraseCaseData, from the referral service once no live
-- referral holds them). A link that only erased cases cite keeps its sightings, removal requests
-- and observations for the figures; its captures keep their records with an erase_time, and
-- their bytes are deleted.
CREATE TABLE erased_cases (
    case_name    TEXT PRIMARY KEY,
    erase_time   TEXT NOT NULL,
    record_time  TEXT NOT NULL
);
ALTER TABLE evidence_captures ADD COLUMN erase_time TEXT;
CREATE INDEX evidence_captures_sha256 ON evidence_captures (sha256);
