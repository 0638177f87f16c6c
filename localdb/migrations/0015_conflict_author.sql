-- Who made the server's change a conflict met, and when, as the server
-- answered (the author of the conflicting fields' last change, or of the
-- record's last change from a server that does not say): the conflict
-- review names them. Conflicts stored before this say nothing ('' and 0).
ALTER TABLE conflicts ADD COLUMN theirs_by TEXT NOT NULL DEFAULT '';
ALTER TABLE conflicts ADD COLUMN theirs_at INTEGER NOT NULL DEFAULT 0;
