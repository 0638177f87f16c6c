-- fields_entry: the seq of the journal entry whose after holds this op's
-- fields, or NULL when the op holds its own (fields). A new record's create
-- op and its journal entry are written together with the same fields; the
-- op refers to the entry's sealed copy instead of storing a second one,
-- which was a quarter of an imported note's bytes. The journal is
-- append-only, so the entry outlives the op; an op whose fields change
-- (an edit folded in, a new id) is saved with its own copy again.
ALTER TABLE outbox ADD COLUMN fields_entry INTEGER;
