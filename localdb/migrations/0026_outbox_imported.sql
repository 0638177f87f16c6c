-- outbox.imported marks an import's create (a backup restored on this
-- device) for as long as it holds the backup's values: the server may
-- hold the record already, and its copy, not the backup's older one, is
-- then taken. The journal entry holding a new create's fields says so
-- too, but an op written back (refused, retried, repaired) holds its own
-- fields and lost the mark with the reference; the column keeps it.
ALTER TABLE outbox ADD COLUMN imported INTEGER NOT NULL DEFAULT 0;
-- One lookup by seq an op: the journal may be long, the queue is short.
UPDATE outbox SET imported = 1 WHERE kind = 'create' AND base_version = 0
	AND EXISTS (SELECT 1 FROM journal j WHERE j.seq = outbox.fields_entry AND j.kind = 'import');
