ALTER TABLE announcements DROP COLUMN digest_id;
DROP TABLE digests;
