-- Failed logins per user name and per client address, kept in the
-- database so that every replica of a server counts the same failures:
-- an attacker who spreads guesses across replicas gets no more of them.
CREATE TABLE login_failures (
	key TEXT PRIMARY KEY,        -- "user:NAME" or "addr:IP"
	failures INTEGER NOT NULL,   -- failures in the current window
	window_start BIGINT NOT NULL,
	last_failure BIGINT NOT NULL,
	locked_until BIGINT NOT NULL, -- 0: not locked
	lockouts INTEGER NOT NULL    -- lockouts in a row, for growing backoff
);
CREATE INDEX login_failures_last ON login_failures (last_failure);
