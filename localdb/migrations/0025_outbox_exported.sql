-- outbox.exported marks a create that was still queued when this
-- device's records were exported as a backup: restored on another device,
-- the backup may bring the record to the server before this device sends
-- it. Nothing folds into such a create and a delete does not cancel it;
-- edits and deletes queue behind it and move onto the copy the server
-- answers with (as for an import's create, which the journal marks).
ALTER TABLE outbox ADD COLUMN exported INTEGER NOT NULL DEFAULT 0;
