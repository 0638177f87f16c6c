-- The backlog reads the outbox one state at a time, in queue order, a
-- window at a time: (state, seq) serves that without sorting every op of a
-- state, and counting ops per state reads this index alone.
CREATE INDEX outbox_state ON outbox (state, seq);
