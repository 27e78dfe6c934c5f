-- SQLite form of the PostgreSQL migration of the same name: times are fixed-width UTC text.
-- A case whose personal data was erased (EraseCase): when and by whom. Its row, status and
-- categories stay for the figures; its sealed columns hold nothing of whose it was.
ALTER TABLE cases ADD COLUMN erase_time TEXT;
ALTER TABLE cases ADD COLUMN erased_by TEXT NOT NULL DEFAULT '';
