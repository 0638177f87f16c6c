-- undoes: on an undo entry, the seq of the entry it took back, so that a
-- second undo walks further back instead of undoing the same change again.
-- version: the server version of the record the entry speaks of (the one a
-- local change was based on, the one a server answer or pull gave it);
-- undoing a delete after the record left the device restores it on the
-- server's tombstone of that version.
ALTER TABLE journal ADD COLUMN undoes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE journal ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
