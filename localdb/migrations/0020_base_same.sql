-- base_fields may now hold '=' (baseSame): the server's copy is the record's
-- fields as stored, so a synced record keeps one copy of its values, not
-- two. The text is neither JSON nor sealed, so a casefile that predates it
-- could not read such a row; this version number makes it refuse the file.
SELECT 1;
