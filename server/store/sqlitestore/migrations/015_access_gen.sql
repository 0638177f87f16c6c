-- A counter of changes to who may do what: every change to a token, to a
-- device's revocation, to a user or to a membership adds one, whoever
-- makes it (a push that creates a matter, `casefile admin` from another
-- process, a hand-written statement). A server that read an answer about
-- a token's holder or a membership at count n may give it again while the
-- count is still n, without reading it (store.Reader.AccessGen).
CREATE TABLE access_gen (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n BIGINT NOT NULL
);
INSERT INTO access_gen (id, n) VALUES (1, 0);
CREATE TRIGGER access_gen_tokens_update AFTER UPDATE ON tokens BEGIN UPDATE access_gen SET n = n + 1; END;
CREATE TRIGGER access_gen_tokens_delete AFTER DELETE ON tokens BEGIN UPDATE access_gen SET n = n + 1; END;
CREATE TRIGGER access_gen_devices_revoke AFTER UPDATE OF revoked_at ON devices BEGIN UPDATE access_gen SET n = n + 1; END;
CREATE TRIGGER access_gen_devices_delete AFTER DELETE ON devices BEGIN UPDATE access_gen SET n = n + 1; END;
CREATE TRIGGER access_gen_users_update AFTER UPDATE ON users BEGIN UPDATE access_gen SET n = n + 1; END;
CREATE TRIGGER access_gen_users_delete AFTER DELETE ON users BEGIN UPDATE access_gen SET n = n + 1; END;
CREATE TRIGGER access_gen_members_insert AFTER INSERT ON members BEGIN UPDATE access_gen SET n = n + 1; END;
CREATE TRIGGER access_gen_members_update AFTER UPDATE ON members BEGIN UPDATE access_gen SET n = n + 1; END;
CREATE TRIGGER access_gen_members_delete AFTER DELETE ON members BEGIN UPDATE access_gen SET n = n + 1; END;
