-- Who changed each field last, and when (microseconds): a JSON object
-- field → {"by": user, "at": time}, beside field_versions. A conflict's
-- answer names the author of the change the op met. Records written
-- before this have '{}', and the record's updated_by stands in.
ALTER TABLE records ADD COLUMN field_changes TEXT NOT NULL DEFAULT '{}';
