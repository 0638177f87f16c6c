-- The seq at which a record's row was inserted (a restore keeps it):
-- removals name only records that existed at the client's cursor.
ALTER TABLE records ADD COLUMN created_seq BIGINT NOT NULL DEFAULT 0;
-- Rows from before this column take the seq of their latest create in the
-- append-only audit log (a compacted tombstone's id can be created again).
UPDATE records SET created_seq = c.seq
FROM (SELECT target, MAX(seq) AS seq FROM audit WHERE action = 'create' GROUP BY target) AS c
WHERE c.target = records.collection || '/' || records.id;
