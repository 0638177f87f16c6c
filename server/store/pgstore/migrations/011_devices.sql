-- The devices each user signs in from. last_seen is when a token of the
-- device was last used (kept at most a minute stale, so requests do not
-- each write). revoked_at, when not 0, is when an admin revoked the
-- device: tokens given to it until then are refused with device_revoked,
-- which tells the device to wipe its copy; a later login (the owner
-- re-joining with the password) gets a token that works.
CREATE TABLE devices (
	user_name TEXT NOT NULL,
	device TEXT NOT NULL,
	first_seen BIGINT NOT NULL,
	last_seen BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0,
	revoked_by TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (user_name, device)
);
-- Devices that held tokens before this table: seen when their newest token was made.
INSERT INTO devices (user_name, device, first_seen, last_seen)
	SELECT user_name, device, MIN(created_at), MAX(created_at) FROM tokens GROUP BY user_name, device;
