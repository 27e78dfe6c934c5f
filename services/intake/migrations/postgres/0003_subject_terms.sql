-- Version 3: version 2 was the outbox, which older stores still record (the kit owns it now).
-- Blind indexes of data subjects (see crates/kit/src/sealing.rs): one row per term of a subject's
-- name and per phone number, each an HMAC-SHA256 under the store's index key, so that "has this
-- person been doxxed before?" is answered without names in plain text. Rows follow subject
-- versions: a search matches the current version of a case's subjects.
CREATE TABLE case_subject_terms (
    case_id   UUID NOT NULL,
    version   INTEGER NOT NULL,
    position  INTEGER NOT NULL,
    digest    BYTEA NOT NULL,
    PRIMARY KEY (case_id, version, position, digest),
    FOREIGN KEY (case_id, version, position) REFERENCES case_subjects (case_id, version, position)
);
CREATE INDEX case_subject_terms_digest ON case_subject_terms (digest);
