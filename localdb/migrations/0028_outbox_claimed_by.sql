-- outbox.claimed_by names the handle (a process's open database) that
-- handed an op in syncing to its syncer. Several processes may hold the
-- database open; only ops whose owner ended (its lock file in
-- <database>-claims no longer held) go back to the queue, not those a
-- live syncer is sending. Ops claimed before the column name no owner
-- and are taken back when the database is next opened, as before.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
