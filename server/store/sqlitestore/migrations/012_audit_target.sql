-- The audit rows of one record, found without reading the whole log: the
-- restore of a record whose tombstone compaction removed continues from
-- the version its audited history reached.
CREATE INDEX audit_target ON audit (target, id);
