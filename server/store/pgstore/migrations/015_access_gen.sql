-- A counter of changes to who may do what: every change to a token, to a
-- device's revocation, to a user or to a membership adds one, whoever
-- makes it (a push that creates a matter, `casefile admin`, another
-- replica, a hand-written statement). A server that read an answer about
-- a token's holder or a membership at count n may give it again while the
-- count is still n, without reading it (store.Reader.AccessGen).
CREATE TABLE access_gen (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	n BIGINT NOT NULL
);
INSERT INTO access_gen (id, n) VALUES (1, 0);
CREATE FUNCTION access_gen_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE access_gen SET n = n + 1;
	RETURN NULL;
END
$$;
CREATE TRIGGER access_gen_tokens AFTER UPDATE OR DELETE OR TRUNCATE ON tokens FOR EACH STATEMENT EXECUTE FUNCTION access_gen_bump();
CREATE TRIGGER access_gen_devices_revoke AFTER UPDATE OF revoked_at ON devices FOR EACH STATEMENT EXECUTE FUNCTION access_gen_bump();
CREATE TRIGGER access_gen_devices AFTER DELETE OR TRUNCATE ON devices FOR EACH STATEMENT EXECUTE FUNCTION access_gen_bump();
CREATE TRIGGER access_gen_users AFTER UPDATE OR DELETE OR TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION access_gen_bump();
CREATE TRIGGER access_gen_members AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON members FOR EACH STATEMENT EXECUTE FUNCTION access_gen_bump();
