-- The blob store of a PostgreSQL server: the index and the bytes.
CREATE TABLE IF NOT EXISTS blob_files (
    hash       TEXT PRIMARY KEY,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_chunks (
    hash TEXT NOT NULL,
    n    INTEGER NOT NULL,
    sum  TEXT NOT NULL,
    PRIMARY KEY (hash, n)
);
CREATE TABLE IF NOT EXISTS blob_staged (
    upload    TEXT NOT NULL,
    n         INTEGER NOT NULL,
    sum       TEXT NOT NULL,
    size      BIGINT NOT NULL,
    user_name TEXT NOT NULL,
    at        BIGINT NOT NULL,
    PRIMARY KEY (upload, n)
);
CREATE TABLE IF NOT EXISTS blob_proofs (
    record_id TEXT PRIMARY KEY,
    matter_id TEXT NOT NULL,
    hash      TEXT NOT NULL,
    size      BIGINT NOT NULL,
    user_name TEXT NOT NULL,
    at        BIGINT NOT NULL
);
-- Which matter a proof's record had once told whether the matter held the
-- file; records move, so the server asks the records (Provers) instead.
DROP INDEX IF EXISTS blob_proofs_matter;
CREATE INDEX IF NOT EXISTS blob_proofs_hash ON blob_proofs (hash);
CREATE INDEX IF NOT EXISTS blob_proofs_user ON blob_proofs (user_name);
CREATE INDEX IF NOT EXISTS blob_staged_user ON blob_staged (user_name);
-- Uploads committed whose arrival the server has not audited yet: the
-- commit writes the row, the audit row's writing removes it. It holds
-- what the audit row says, so it outlives its proof if need be.
CREATE TABLE IF NOT EXISTS blob_unaudited (
    record_id TEXT PRIMARY KEY,
    hash      TEXT NOT NULL,
    size      BIGINT NOT NULL,
    user_name TEXT NOT NULL,
    device    TEXT NOT NULL,
    at        BIGINT NOT NULL
);
-- PostgreSQL keeps the bytes too, so every replica serves every file.
CREATE TABLE IF NOT EXISTS blob_data (
    hash TEXT NOT NULL,
    n    INTEGER NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (hash, n)
);
CREATE TABLE IF NOT EXISTS blob_staged_data (
    upload TEXT NOT NULL,
    n      INTEGER NOT NULL,
    data   BYTEA NOT NULL,
    PRIMARY KEY (upload, n)
);
