-- Lists filtered by matter or by state read one window of an index instead
-- of walking every record of the collection; a record's journal is found by
-- index (a partial index on record_id != '' is not used for record_id = ?).
DROP INDEX records_matter;
CREATE INDEX records_matter ON records (matter_id, deleted, updated_at DESC, id);
DROP INDEX records_state;
CREATE INDEX records_state ON records (state, deleted, updated_at DESC, id);
DROP INDEX journal_record;
CREATE INDEX journal_record ON journal (record_id, seq);
