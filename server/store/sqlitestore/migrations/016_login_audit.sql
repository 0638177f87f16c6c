-- Lockouts are written to the audit log at most once an interval per key
-- (a user name or a client address): an attack spread over many addresses
-- would otherwise add a row for every few guesses at one name, without
-- bound. Each key keeps when its last such row was written and the
-- failures of the locks since then that no row carries yet, from when;
-- the next row, or the hourly compaction, writes them. They live here, not
-- in a server's memory, so that every replica of a server coalesces the
-- same way and a restart loses none.
ALTER TABLE login_failures ADD COLUMN audited_at BIGINT NOT NULL DEFAULT 0;      -- 0: no row since the count began
ALTER TABLE login_failures ADD COLUMN unaudited INTEGER NOT NULL DEFAULT 0;      -- failures of locks not yet in a row
ALTER TABLE login_failures ADD COLUMN unaudited_since BIGINT NOT NULL DEFAULT 0; -- the first of them; 0 with none
CREATE INDEX login_failures_unaudited ON login_failures (audited_at) WHERE unaudited > 0;
