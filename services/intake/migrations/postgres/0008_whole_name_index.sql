-- Version 8: "the same person" is looked up by one index, not by a join over every term.
-- Each data subject gets one more blind index, of its whole name (its terms, sorted, as one
-- value), marked by `kind` 1; the rows of single terms and phone numbers are kind 0. A new case's
-- hint then reads the first matching cases in id order from the (digest, case_id) index and stops,
-- however many cases name the same person or share a common surname. Subjects stored before this
-- version get their whole-name index from the service's sweep at start (it needs the index key).
ALTER TABLE case_subject_terms ADD COLUMN kind SMALLINT NOT NULL DEFAULT 0;
DROP INDEX case_subject_terms_digest;
CREATE INDEX case_subject_terms_lookup ON case_subject_terms (digest, case_id, version);
