-- An entry of what the server told (a pull's, or an answer to an op)
-- about a record that has already left the device out of its user's
-- sight (an answer to an op sent before its matter was lost, a pull
-- page's note written after its drops) is kept without its values, as
-- the entries written before it were (0029): whichever path writes it,
-- the journal holds no value the server told of such a record again.
-- The user's own entries are not touched: one written just before its
-- record comes back (an import's, which the new row refers to for its
-- fields) must keep what it holds. A pull's entry names the user who
-- made the change, so it goes by kind, not by actor.
CREATE TRIGGER journal_out_of_sight AFTER INSERT ON journal
WHEN NEW.kind IN ('pull', 'applied', 'merged', 'conflict', 'rejected') AND (NEW.before IS NOT NULL OR NEW.after IS NOT NULL)
    AND EXISTS (SELECT 1 FROM gone_records g WHERE g.record_id = NEW.record_id AND g.out_of_sight = 1)
    AND NOT EXISTS (SELECT 1 FROM records r WHERE r.id = NEW.record_id)
BEGIN
    UPDATE journal SET before = NULL, after = NULL WHERE seq = NEW.seq;
END;
