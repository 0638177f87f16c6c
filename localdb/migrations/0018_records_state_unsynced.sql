-- records_state held every record, and nearly every record is synced:
-- each record a pull or a push answer made synced paid for an entry no
-- read used (a list of synced records walks records_recent or
-- records_list in their order). It now holds the records that are not
-- synced. A list of one other state reads it (the query also says
-- state <> 'synced', so that the planner may), and the count of synced
-- records is the total less the others.
DROP INDEX records_state;
CREATE INDEX records_state ON records (state, deleted, updated_at DESC, id) WHERE state <> 'synced';
