-- Attached files on this device. The bytes live in a content-addressed
-- store beside the database; these tables say which files are here, which
-- are moving, and which chunks of a download arrived.

-- local_files: complete, verified files held on this device. origin is
-- 'attached' (added here) or 'downloaded'.
CREATE TABLE local_files (
    hash     TEXT    PRIMARY KEY,
    size     INTEGER NOT NULL,
    origin   TEXT    NOT NULL CHECK (origin IN ('attached', 'downloaded')),
    added_at INTEGER NOT NULL
);

-- transfers: the queue of bytes to move, apart from the record outbox so
-- a large file never holds back record sync. One row per attachment and
-- direction; a finished transfer's row goes.
CREATE TABLE transfers (
    attachment_id TEXT    NOT NULL,
    direction     TEXT    NOT NULL CHECK (direction IN ('up', 'down')),
    hash          TEXT    NOT NULL,
    size          INTEGER NOT NULL,
    state         TEXT    NOT NULL CHECK (state IN ('queued', 'active', 'failed')),
    done_bytes    INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    next_attempt  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (attachment_id, direction)
);
CREATE INDEX transfers_due ON transfers (state, next_attempt);
CREATE INDEX transfers_hash ON transfers (hash);

-- transfer_chunks: the chunks of a download written and synced to disk,
-- so a download resumes after a kill or a reboot.
CREATE TABLE transfer_chunks (
    attachment_id TEXT    NOT NULL,
    n             INTEGER NOT NULL,
    PRIMARY KEY (attachment_id, n)
);

-- keep_offline: a matter's choice of which files to download eagerly;
-- a matter without a row keeps small files offline.
CREATE TABLE keep_offline (
    matter_id TEXT PRIMARY KEY,
    mode      TEXT NOT NULL CHECK (mode IN ('all', 'small', 'none'))
);

-- drop_imports: files imported from the drop folder, by path and content,
-- so a file is never imported twice, also across restarts.
CREATE TABLE drop_imports (
    path        TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    record_id   TEXT    NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (path, hash)
);
