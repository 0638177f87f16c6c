-- The change sequence, the compaction mark and the audit chain's tail, in
-- one row every writer locks.
CREATE TABLE head (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL,
	compacted_through BIGINT NOT NULL,
	audit_n BIGINT NOT NULL,
	audit_hash TEXT NOT NULL
);
INSERT INTO head (id, seq, compacted_through, audit_n, audit_hash) VALUES (1, 0, 0, 0, '');

CREATE TABLE users (
	name TEXT PRIMARY KEY,
	role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
	password_hash TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE tokens (
	hash TEXT PRIMARY KEY,
	user_name TEXT NOT NULL REFERENCES users (name),
	device TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_user ON tokens (user_name, device);

CREATE TABLE records (
	id TEXT PRIMARY KEY,
	collection TEXT NOT NULL,
	matter_id TEXT NOT NULL,
	version BIGINT NOT NULL,
	seq BIGINT NOT NULL UNIQUE,
	deleted BOOLEAN NOT NULL,
	fields TEXT NOT NULL,
	field_versions TEXT NOT NULL,
	created_by TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_by TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX records_matter_seq ON records (matter_id, seq);
CREATE INDEX records_tombstones ON records (updated_at) WHERE deleted;

CREATE TABLE members (
	user_name TEXT NOT NULL REFERENCES users (name),
	matter_id TEXT NOT NULL,
	PRIMARY KEY (user_name, matter_id)
);
CREATE INDEX members_matter ON members (matter_id);

CREATE TABLE access_events (
	seq BIGINT PRIMARY KEY,
	user_name TEXT NOT NULL,
	matter_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	at BIGINT NOT NULL
);
CREATE INDEX access_events_user ON access_events (user_name, seq);
CREATE INDEX access_events_at ON access_events (at);

CREATE TABLE moves (
	seq BIGINT PRIMARY KEY,
	record_id TEXT NOT NULL,
	from_matter TEXT NOT NULL,
	to_matter TEXT NOT NULL,
	at BIGINT NOT NULL
);
CREATE INDEX moves_at ON moves (at);

CREATE TABLE ledger (
	op_id TEXT PRIMARY KEY,
	user_name TEXT NOT NULL,
	device TEXT NOT NULL,
	at BIGINT NOT NULL,
	result TEXT NOT NULL
);
CREATE INDEX ledger_at ON ledger (at);

CREATE TABLE audit (
	id BIGINT PRIMARY KEY,
	seq BIGINT NOT NULL,
	at BIGINT NOT NULL,
	actor TEXT NOT NULL,
	device TEXT NOT NULL,
	action TEXT NOT NULL,
	target TEXT NOT NULL,
	before_digest TEXT NOT NULL,
	after_digest TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
-- Append-only: the server never changes or deletes an audit row.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
