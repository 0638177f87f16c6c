-- gone_records remembers, of each record that left this device, the
-- server's copy it last knew: the version, and either the tombstone's
-- fields (sealed like base_fields) or that the record went out of sight
-- (its matter lost, or a full resync no longer showed it). An undo of the
-- record's delete restores it on exactly that copy: the journal's last
-- version and the fields before the delete need not belong together (a
-- pulled change, or this device's own unsent edit, came between them).
CREATE TABLE gone_records (
    record_id    TEXT PRIMARY KEY,
    collection   TEXT NOT NULL,
    version      INTEGER NOT NULL,
    out_of_sight INTEGER NOT NULL,
    fields       TEXT
) WITHOUT ROWID;
