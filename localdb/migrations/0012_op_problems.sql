-- The fields the server refused in a failed op, and why in one word
-- (unknown_field, required, invalid): an editor marks them. Field names
-- only, never values, so nothing here needs sealing. Rows of an op that
-- was sent again are replaced by its next answer and ignored meanwhile
-- (only failed ops are read).
CREATE TABLE op_problems (
    seq INTEGER NOT NULL REFERENCES outbox(seq) ON DELETE CASCADE,
    collection TEXT NOT NULL,
    field TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (seq, collection, field)
);
