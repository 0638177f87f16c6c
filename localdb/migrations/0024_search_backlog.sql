-- search_backlog holds the records whose full-text entry may be behind
-- their fields: a user's single write (a create, an edit, a delete, an
-- undo, a resolution, a pulled change to a record already here) records
-- its rid here instead of writing the entry in its own transaction. A
-- create's entry was 5 to 6 of the 20 pages its commit wrote (a new
-- full-text segment each time, and the merges they cause); this row is
-- one. The entries are written in batches: when writes pause, and before
-- any search, which therefore always sees every committed write. The row
-- is committed with the write, so a crash leaves it to the next batch.
CREATE TABLE search_backlog (
    rid INTEGER PRIMARY KEY
);
