-- The sequence of each record's last change of its own. A grant gives a
-- matter's records new sequences so that they reach the new member, but
-- changes none of them: compaction raises its mark by when a tombstone
-- was deleted, not by when a grant last sent it again, so that a grant
-- never makes an old tombstone look new and forces a full resync on
-- devices that pulled well inside the retention.
ALTER TABLE records ADD COLUMN changed_seq BIGINT NOT NULL DEFAULT 0;
UPDATE records SET changed_seq = seq;
-- Rows from before this column take the sequence of their latest change
-- in the append-only audit log (a grant since may have moved their seq).
UPDATE records SET changed_seq = c.seq
FROM (SELECT target, MAX(seq) AS seq FROM audit WHERE action IN ('create', 'restore', 'update', 'delete') GROUP BY target) AS c
WHERE c.target = records.collection || '/' || records.id AND c.seq < records.seq;
