-- outbox_due (state, next_attempt) is left over from before outbox_state
-- (state, seq): no query ranges over next_attempt by index (the next batch
-- reads in seq order with +state, clearing retries matches on state
-- alone), so outbox_state serves every read outbox_due served, and each
-- queued op paid for keeping both.
DROP INDEX outbox_due;
