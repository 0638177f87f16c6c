-- The list indexes held updated_at in descending order, so every new or
-- changed record, the newest of its list, went in at the front of its
-- range. A B-tree grows well only at its back: inserts at the front split
-- pages half-full, and an import of 100,000 notes wrote the four indexes'
-- pages twice as often as their entries needed. They now hold updated_at
-- ascending, and a list (newest first, ties newest id first) reads them
-- backwards.
DROP INDEX records_list;
DROP INDEX records_recent;
DROP INDEX records_matter;
DROP INDEX records_state;
CREATE INDEX records_list   ON records (collection, deleted, updated_at, id);
CREATE INDEX records_recent ON records (deleted, updated_at, id);
CREATE INDEX records_matter ON records (matter_id, deleted, updated_at, id);
CREATE INDEX records_state  ON records (state, deleted, updated_at, id) WHERE state <> 'synced';
