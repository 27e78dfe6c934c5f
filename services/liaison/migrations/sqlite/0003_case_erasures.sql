-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Cases whose personal data intake erased (EraseCaseData). A notice that names only erased cases
-- keeps its items, kinds, times and outcomes for the figures; its replies' texts and its timeline's
-- notes are emptied.
CREATE TABLE erased_cases (
    case_name    TEXT PRIMARY KEY,
    erase_time   TEXT NOT NULL,
    record_time  TEXT NOT NULL
);
CREATE INDEX notice_cases_case ON notice_cases (case_name);
