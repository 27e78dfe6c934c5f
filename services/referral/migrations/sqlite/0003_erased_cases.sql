-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- Cases whose personal data intake erased (EraseCaseData). While a referral of the case has not
-- ended, the case's data is held for the agency: `done_time` stays empty until the referral ends
-- and the erasure is made. The assessments and referrals stay for the figures.
CREATE TABLE erased_cases (
    case_name    TEXT PRIMARY KEY,
    erase_time   TEXT NOT NULL,
    record_time  TEXT NOT NULL,
    done_time    TEXT
);
