-- The pull cursor before the attempt in flight. sent_since now records
-- only attempts that may have reached the server: once an attempt ends in
-- a way that leaves that open (an answer lost, a timeout, a crash), its
-- attempt_since becomes the op's sent_since; an attempt that surely never
-- got there (no connection, or the server said it was busy) leaves the op
-- as if unsent, so a device offline for months is not refused
-- outcome_unknown for changes the server never saw.
ALTER TABLE outbox ADD COLUMN attempt_since INTEGER;
