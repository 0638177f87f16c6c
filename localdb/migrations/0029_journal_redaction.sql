-- The journal stays append-only but for one change: an entry's values
-- (before and after) may be removed, everything else of it kept. A record
-- that left the device out of its user's sight (its matter lost, moved
-- out of sight, or no longer shown by a full resync) takes its values out
-- of the journal with it, but for those an op still in the outbox names
-- (outbox.fields_entry): the user's own unsent work, kept as failed until
-- it is exported or discarded.
DROP TRIGGER journal_no_update;
CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
WHEN NOT (NEW.before IS NULL AND NEW.after IS NULL
    AND NEW.seq = OLD.seq AND NEW.at = OLD.at AND NEW.actor = OLD.actor AND NEW.kind = OLD.kind
    AND NEW.record_id = OLD.record_id AND NEW.collection = OLD.collection AND NEW.op_id = OLD.op_id
    AND NEW.summary = OLD.summary AND NEW.undoes = OLD.undoes AND NEW.version = OLD.version)
BEGIN
    SELECT RAISE(ABORT, 'the journal is append-only: only an entry''s values may be removed');
END;

-- Records that left out of sight before this version lose their values
-- now, as they would have then.
UPDATE journal SET before = NULL, after = NULL
WHERE (before IS NOT NULL OR after IS NOT NULL)
    AND record_id IN (SELECT g.record_id FROM gone_records g WHERE g.out_of_sight = 1
        AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = g.record_id))
    AND seq NOT IN (SELECT fields_entry FROM outbox WHERE fields_entry IS NOT NULL);
