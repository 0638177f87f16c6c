-- What compaction keeps of a tombstone it removes: the collection and
-- matter the record was deleted in, and its version. A restore of the
-- record (an edit of it kept over its delete, an undo) reads it to tell
-- the members of that matter that the record left it, when it comes back
-- in another, and to refuse it to a user who never could see it there.
CREATE TABLE graves (
	id TEXT PRIMARY KEY,
	collection TEXT NOT NULL,
	matter_id TEXT NOT NULL,
	version BIGINT NOT NULL
);
