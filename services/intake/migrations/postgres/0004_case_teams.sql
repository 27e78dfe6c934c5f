-- Need-to-know: the team a case is assigned to (and optionally one officer of it). Officers of
-- that team see the case's personal data; others see it redacted unless they break the glass.
-- A case recorded before teams existed has none, and stays visible to every officer who may read
-- cases until a supervisor assigns it.
ALTER TABLE cases ADD COLUMN team TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN assigned_officer TEXT NOT NULL DEFAULT '';
