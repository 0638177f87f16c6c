-- The pull cursor before an op was first sent (NULL: never sent). An op
-- resent after its answer was lost carries it, so that the server can tell
-- whether its record of that answer may have been compacted. Ops sent
-- before this column take 0, the safe side: the lowest cursor there is.
ALTER TABLE outbox ADD COLUMN sent_since INTEGER;
UPDATE outbox SET sent_since = 0 WHERE attempts > 0;
