-- A case whose personal data was erased (EraseCase): when and by whom. Its row, status and
-- categories stay for the figures; its sealed columns hold nothing of whose it was.
ALTER TABLE cases ADD COLUMN erase_time TIMESTAMPTZ;
ALTER TABLE cases ADD COLUMN erased_by TEXT NOT NULL DEFAULT '';
