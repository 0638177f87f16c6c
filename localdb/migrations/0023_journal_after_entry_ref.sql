-- From this version on, the journal entry of a push's answer keeps no
-- copy of the values its op sent when another entry holds them: its after
-- holds '@' and the seq of that entry (the op's outbox.fields_entry, its
-- create's), as records.fields may. No row changes here; the version
-- marks the format, so that an older casefile, which would read the
-- reference as the values, refuses the file (ErrNewerSchema) rather than
-- misreading it.
SELECT 1;
