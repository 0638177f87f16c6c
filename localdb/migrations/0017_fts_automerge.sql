-- The full-text index merges its segments once 16 of a size have piled up
-- instead of 4 (FTS5's largest setting). Every commit that writes
-- full-text rows adds a segment, and with 4 each entry was rewritten by
-- a merge about once per level of a fourfold tree: over a 100,000-note
-- import that was as much work as tokenizing the notes. With 16 there are
-- half as many levels. A search reads a few more segments (11 instead of 7
-- after such an import; `casefile search` over it took the same time);
-- what a search finds and its order do not depend on how the segments are
-- merged.
INSERT INTO records_fts (records_fts, rank) VALUES ('automerge', 16);
