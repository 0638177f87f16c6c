-- From this version on, a record written by a create or an import keeps
-- one copy of its values: records.fields holds '@' and the seq of its
-- create's journal entry, whose after holds the values (as the create op
-- refers to it by outbox.fields_entry). No row changes here; the version
-- marks the format, so that an older casefile, which would read the
-- reference as the values, refuses the file (ErrNewerSchema) rather than
-- misreading it.
SELECT 1;
