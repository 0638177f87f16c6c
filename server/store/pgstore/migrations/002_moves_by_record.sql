-- Removals look up a record's first move after a cursor.
CREATE INDEX moves_record ON moves (record_id, seq);
