-- The sequence at which each ledger answer was stored, and the mark below
-- which answers may have been compacted: a resent op id the ledger no
-- longer knows, first sent from a cursor below the mark, may have been
-- applied already, and is answered outcome_unknown instead of being
-- applied a second time.
ALTER TABLE ledger ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE head ADD COLUMN ledger_through BIGINT NOT NULL DEFAULT 0;
-- Answers stored before this column were stored at some sequence up to
-- today's head, and earlier compactions left no mark: a server that has
-- taken changes is treated as if it had compacted every answer so far
-- (the safe side: an old resend is answered outcome_unknown, never
-- applied twice). A new server starts with no mark.
UPDATE ledger SET seq = (SELECT seq FROM head WHERE id = 1);
UPDATE head SET ledger_through = seq + 1 WHERE id = 1 AND seq > 0;
CREATE INDEX ledger_seq ON ledger (seq);
