-- Casefile's local database, first version.

-- records holds what the user sees (fields, deleted) next to the last copy
-- the server confirmed (base_fields, version, base_deleted). fields is always
-- base_fields overlaid by the record's queued ops.
CREATE TABLE records (
    rid          INTEGER PRIMARY KEY,            -- rowid, shared with records_fts
    id           TEXT    NOT NULL UNIQUE,
    collection   TEXT    NOT NULL,
    matter_id    TEXT    NOT NULL DEFAULT '',
    fields       TEXT    NOT NULL DEFAULT '{}',  -- JSON, what the user sees
    base_fields  TEXT,                           -- JSON, last server copy; NULL until the server has it
    version      INTEGER NOT NULL DEFAULT 0,     -- server version of base_fields
    base_deleted INTEGER NOT NULL DEFAULT 0,     -- the server has deleted it
    deleted      INTEGER NOT NULL DEFAULT 0,     -- hidden from lists
    state        TEXT    NOT NULL DEFAULT 'synced',
    updated_at   INTEGER NOT NULL,               -- unix nanoseconds
    resync_mark  INTEGER NOT NULL DEFAULT 0      -- not yet seen by a full resync
);
CREATE INDEX records_list   ON records (collection, deleted, updated_at DESC, id);
CREATE INDEX records_recent ON records (deleted, updated_at DESC, id);
CREATE INDEX records_matter ON records (matter_id, collection);
CREATE INDEX records_state  ON records (state);
CREATE INDEX records_resync ON records (resync_mark) WHERE resync_mark = 1;

-- records_fts indexes the searchable text of each record (rowid = records.rid).
-- Contentless: the text lives in records.fields only.
CREATE VIRTUAL TABLE records_fts USING fts5 (
    body,
    content = '',
    contentless_delete = 1,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- outbox is the queue of ops waiting for the server, in seq order.
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id        TEXT    NOT NULL UNIQUE,
    record_id    TEXT    NOT NULL,  -- no foreign key: ops outlive records dropped by revoked access
    collection   TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('create', 'update', 'delete')),
    fields       TEXT,              -- JSON, the changed fields (all for a create)
    base_values  TEXT,              -- JSON, each changed field's value before the change
    base_version INTEGER NOT NULL DEFAULT 0,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'syncing', 'retrying', 'failed', 'conflict')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    error_code   TEXT    NOT NULL DEFAULT '',
    next_attempt INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX outbox_record ON outbox (record_id, seq);
CREATE INDEX outbox_due    ON outbox (state, next_attempt);

-- conflicts holds one open conflict per record until a person resolves it.
CREATE TABLE conflicts (
    record_id      TEXT    PRIMARY KEY REFERENCES records (id) ON DELETE CASCADE,
    collection     TEXT    NOT NULL,
    op_id          TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    base_version   INTEGER NOT NULL,
    theirs_version INTEGER NOT NULL,
    fields         TEXT    NOT NULL,  -- JSON []model.FieldConflict
    mine           TEXT,              -- JSON
    theirs         TEXT,              -- JSON
    created_at     INTEGER NOT NULL
);

-- journal is append-only: what happened, for people to read.
CREATE TABLE journal (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    record_id  TEXT    NOT NULL DEFAULT '',
    collection TEXT    NOT NULL DEFAULT '',
    op_id      TEXT    NOT NULL DEFAULT '',
    summary    TEXT    NOT NULL,
    before     TEXT,
    after      TEXT
);
CREATE INDEX journal_record ON journal (record_id, seq) WHERE record_id != '';

CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
BEGIN
    SELECT RAISE(ABORT, 'the journal is append-only');
END;
CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
BEGIN
    SELECT RAISE(ABORT, 'the journal is append-only');
END;

-- meta holds sync settings: cursor, last_sync, resync.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
